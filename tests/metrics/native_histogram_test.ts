import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Histogram, Registry } from "../../mod.ts";
import {
  type HistogramPoint,
  mergeNativeBuckets,
  NativeHistogram,
  schemaForBucketFactor,
} from "../../src/exposition/mod.ts";
import { mergeSnapshots } from "../../src/workers/mod.ts";
import {
  bucketIndex,
  bucketUpperBound,
  decodeBuckets,
  encodeBuckets,
} from "../../src/metrics/native_histogram.ts";
import { infinityIndex } from "../../src/metrics/native_buckets.ts";

/** The populated buckets of a state, as `index: count` (positive) and `-index: count` (negative). */
function bucketMap(
  h: NativeHistogram,
): { positive: Map<number, number>; negative: Map<number, number> } {
  const b = h.buckets();
  const positive = decodeBuckets(b.positiveSpans, b.positiveDeltas);
  const negative = decodeBuckets(b.negativeSpans, b.negativeDeltas);
  return {
    positive: new Map(positive.indices.map((index, i) => [index, positive.counts[i]])),
    negative: new Map(negative.indices.map((index, i) => [index, negative.counts[i]])),
  };
}

Deno.test("schemaForBucketFactor: the finest schema whose factor does not exceed it", () => {
  const table: [number, number][] = [
    [1.1, 3],
    [2, 0],
    [1.5, 1],
    [1.01, 7],
    [1.0001, 8],
    [4, -1],
    [65536, -4],
    [1e300, -4],
  ];
  for (const [factor, schema] of table) {
    assert.equal(schemaForBucketFactor(factor), schema, `${factor}`);
  }
  for (const bad of [1, 0.5, NaN, Infinity]) {
    assert.throws(() => schemaForBucketFactor(bad), RangeError);
  }
});

Deno.test("bucketIndex: each value lands in the bucket whose bounds enclose it, every schema", () => {
  let seed = 7;
  const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let schema = -4; schema <= 8; schema++) {
    for (let i = 0; i < 2000; i++) {
      const value = 2 ** ((next() - 0.5) * 200) * (1 + next());
      const index = bucketIndex(value, schema);
      assert.ok(
        bucketUpperBound(index - 1, schema) < value && value <= bucketUpperBound(index, schema),
        `${value} at schema ${schema}: index ${index}`,
      );
    }
    // Powers of two are upper bounds (inclusive), also below 1 at negative schemas.
    for (const k of [-9, -5, -1, 0, 1, 4, 10]) {
      const expected = schema >= 0 ? k * 2 ** schema : Math.ceil(k / 2 ** -schema) + 0;
      assert.equal(bucketIndex(2 ** k, schema), expected, `2^${k} at schema ${schema}`);
    }
  }
  // Subnormals: read from the bits too.
  assert.equal(bucketIndex(Number.MIN_VALUE, 0), -1074);
  assert.equal(bucketIndex(3 * Number.MIN_VALUE, 0), -1072);
});

Deno.test("NativeHistogram: zero, negatives, NaN and ±Inf go where the spec puts them", () => {
  const h = new NativeHistogram({ bucketFactor: 2, zeroThreshold: 0.001 });
  for (const v of [0, 0.001, -0.0005, 1e-300, 3, -3, -3, NaN, Infinity, -Infinity]) h.observe(v);
  assert.equal(h.count, 10);
  assert.ok(Number.isNaN(h.sum));
  assert.equal(h.zeroCount, 4);
  const { positive, negative } = bucketMap(h);
  // 3 is in (2, 4]: index 2 at schema 0; ±Inf one past the largest double's bucket (1024).
  assert.deepEqual([...positive], [[2, 1], [1025, 1]]);
  assert.deepEqual([...negative], [[2, 2], [1025, 1]]);
  assert.equal(h.populatedBuckets, 4);
});

Deno.test("NativeHistogram: spans and deltas fill gaps of up to two buckets, as client_golang", () => {
  const counts = [1, 2, 3, 1, 5];
  const indices = [-2, -1, 1, 4, 8];
  const wire = encodeBuckets({ indices, counts });
  assert.deepEqual(wire.spans, [{ offset: -2, length: 7 }, { offset: 3, length: 1 }]);
  assert.deepEqual(wire.deltas, [1, 1, -2, 3, -3, 0, 1, 4]);
  assert.deepEqual(decodeBuckets(wire.spans, wire.deltas), { indices, counts });
  assert.throws(() => decodeBuckets([{ offset: 0, length: 2 }], [1]), TypeError);
  assert.throws(() => decodeBuckets([{ offset: 0, length: 2 }], [1, -2]), TypeError);
});

Deno.test("NativeHistogram: past maxBuckets the resolution halves, merging bucket pairs", () => {
  const h = new NativeHistogram({ bucketFactor: 1.1, maxBuckets: 20 });
  const values = Array.from({ length: 200 }, (_, i) => 1.03 ** i);
  for (const v of values) h.observe(v);
  assert.ok(h.schema < 3, `schema ${h.schema}`);
  assert.ok(h.populatedBuckets <= 20, `${h.populatedBuckets} buckets`);
  // The same observations straight into the schema it ended with give the same buckets.
  const direct = new NativeHistogram({ bucketFactor: 2 ** (2 ** -h.schema), maxBuckets: 0 });
  assert.equal(direct.schema, h.schema);
  for (const v of values) direct.observe(v);
  assert.deepEqual(bucketMap(h), bucketMap(direct));
});

Deno.test("NativeHistogram: past maxBuckets the zero bucket widens up to maxZeroThreshold", () => {
  const h = new NativeHistogram({ bucketFactor: 2, maxBuckets: 3, maxZeroThreshold: 0.3 });
  for (const v of [0.1, 0.2, 1, 3]) h.observe(v);
  // 0.1 is in (1/16, 1/8]: that bucket joined the zero bucket, whose threshold is now 0.125.
  assert.equal(h.zeroThreshold, 0.125);
  assert.equal(h.zeroCount, 1);
  assert.equal(h.schema, 0);
  assert.deepEqual([...bucketMap(h).positive.keys()], [-2, 0, 2]);
});

Deno.test("NativeHistogram: past maxBuckets a series resets once minResetDurationMs has passed", async () => {
  const h = new NativeHistogram({ bucketFactor: 2, maxBuckets: 2, minResetDurationMs: 100 });
  h.observe(1);
  h.observe(4);
  // Too early to reset: the resolution halves instead.
  assert.equal(h.observe(16), false);
  assert.equal(h.schema, -1);
  await new Promise((resolve) => setTimeout(resolve, 150));
  // A fourth bucket: now the series starts afresh with only this observation.
  assert.equal(h.observe(64), true);
  assert.equal(h.count, 1);
  assert.equal(h.sum, 64);
  assert.equal(h.schema, 0);
  assert.deepEqual([...bucketMap(h).positive], [[6, 1]]);
});

Deno.test("NativeHistogram: a spread too wide for one window lowers the resolution, memory stays bounded", () => {
  const h = new NativeHistogram({ bucketFactor: 1.0001, maxBuckets: 0 }); // schema 8
  h.observe(1e-30);
  h.observe(1e30);
  // 200 octaves × 2^4 buckets fit in 4096 indices; × 2^5 do not.
  assert.equal(h.schema, 4);
  assert.ok(h.windowBytes <= 5 * 4096, `${h.windowBytes} bytes`);
  assert.equal(h.populatedBuckets, 2);
});

Deno.test("mergeNativeBuckets: different schemas merge at the coarser one, as if observed there", () => {
  const values = Array.from({ length: 300 }, (_, i) => 0.001 * 1.05 ** i * (i % 7 === 0 ? -1 : 1));
  const fine = new NativeHistogram({ bucketFactor: 1.1 });
  const coarse = new NativeHistogram({ bucketFactor: 1.5 });
  const expected = new NativeHistogram({ bucketFactor: 1.5 });
  values.forEach((v, i) => (i % 2 === 0 ? fine : coarse).observe(v));
  for (const v of values) expected.observe(v);
  assert.equal(fine.schema, 3);
  assert.equal(coarse.schema, 1);
  assert.deepEqual(mergeNativeBuckets(fine.buckets(), coarse.buckets()), expected.buckets());
  assert.deepEqual(mergeNativeBuckets(coarse.buckets(), fine.buckets()), expected.buckets());
});

Deno.test("mergeNativeBuckets: the wider zero bucket takes in the other's buckets below it", () => {
  const narrow = new NativeHistogram({ bucketFactor: 2, zeroThreshold: 0.01 });
  const wide = new NativeHistogram({ bucketFactor: 2, zeroThreshold: 0.25 });
  for (const v of [0.05, 0.2, 0.3, 1]) narrow.observe(v);
  wide.observe(0.1);
  wide.observe(2);
  const merged = mergeNativeBuckets(narrow.buckets(), wide.buckets());
  // 0.05 (bucket up to 1/16) goes to zero; 0.2 is in (1/8, 1/4], which the threshold 0.25 covers.
  assert.equal(merged.zeroThreshold, 0.25);
  assert.equal(merged.zeroCount, 3);
  assert.deepEqual(decodeBuckets(merged.positiveSpans, merged.positiveDeltas), {
    indices: [-1, 0, 1],
    counts: [1, 1, 1],
  });
});

Deno.test("Histogram native only: text formats carry count, sum and the +Inf bucket", async () => {
  const registry = new Registry();
  const h = new Histogram({ name: "rpc_seconds", help: "rpc latency", native: true, registry });
  h.observe(0.25);
  h.observe(3);
  assert.equal(
    await registry.metrics(),
    [
      "# HELP rpc_seconds rpc latency",
      "# TYPE rpc_seconds histogram",
      'rpc_seconds_bucket{le="+Inf"} 2.0',
      "rpc_seconds_count 2.0",
      "rpc_seconds_sum 3.25",
      "",
    ].join("\n"),
  );
  const [family] = await registry.collect();
  const point = family.points[0] as HistogramPoint;
  assert.equal(point.schema, 3);
  assert.equal(point.zeroThreshold, 2 ** -128);
  assert.deepEqual(point.positiveSpans, [{ offset: -16, length: 1 }, { offset: 28, length: 1 }]);
  assert.deepEqual(point.positiveDeltas, [1, 0]);
});

Deno.test("Histogram classic + native: the classic series are unchanged", async () => {
  const make = (native: boolean) => {
    const registry = new Registry();
    const h = new Histogram({
      name: "job_duration_seconds",
      help: "duration of job",
      labelNames: ["job_name"],
      buckets: [1, 2, 3, 10, 20, 50, 100],
      registry,
      ...(native ? { native: { bucketFactor: 1.1 } } : {}),
    });
    for (const v of [0.149, 2, 70]) h.labels("test_job").observe(v);
    return registry;
  };
  const withNative = make(true);
  const text = (await withNative.metrics()).replace(/_created\{[^}]*\} [0-9.e+]+\n/g, "");
  const classic = (await make(false).metrics()).replace(/_created\{[^}]*\} [0-9.e+]+\n/g, "");
  assert.equal(text, classic);
  const point = (await withNative.collect())[0].points[0] as HistogramPoint;
  assert.equal(point.schema, 3);
  assert.equal(point.zeroCount, 0);
});

Deno.test("Histogram native: series keep their buckets when others are removed and slots compact", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "q_seconds",
    help: "q",
    labelNames: ["id"],
    native: { bucketFactor: 2 },
    registry,
  });
  for (let i = 0; i < 64; i++) h.labels(String(i)).observe(2 ** (i % 10));
  const removed = h.labels("3");
  for (let i = 0; i < 60; i++) h.remove(String(i));
  // A removed child still works on its own state; the live ones kept theirs.
  removed.observe(1);
  h.labels("63").observe(0.5);
  const points = (await registry.collect())[0].points as HistogramPoint[];
  assert.deepEqual(points.map((p) => p.labels.id), ["60", "61", "62", "63"]);
  const p63 = points[3];
  assert.equal(p63.count, 2);
  // 0.5 in bucket -1, 8 in bucket 3: a gap of three empty buckets starts a new span.
  assert.deepEqual(p63.positiveSpans, [{ offset: -1, length: 1 }, { offset: 3, length: 1 }]);
  assert.deepEqual(p63.positiveDeltas, [1, 0]);
  assert.deepEqual(points[0].positiveSpans, [{ offset: 0, length: 1 }]);
});

Deno.test("Histogram native: a reset past maxBuckets restarts the classic counts too", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "r_seconds",
    help: "r",
    buckets: [1],
    native: { bucketFactor: 2, maxBuckets: 1, minResetDurationMs: 100 },
    registry,
  });
  h.observe(0.5);
  await new Promise((resolve) => setTimeout(resolve, 150));
  h.observe(8);
  const point = (await registry.collect())[0].points[0] as HistogramPoint;
  assert.equal(point.count, 1);
  assert.equal(point.sum, 8);
  assert.deepEqual(point.bucketCounts, [0, 1]);
  assert.deepEqual(point.positiveSpans, [{ offset: 3, length: 1 }]);
});

Deno.test("Histogram native: bad options are refused with the metric's name", () => {
  const registry = new Registry();
  // `native: false` is off: the default classic buckets.
  const off = new Histogram({ name: "off", help: "off", native: false, registry });
  assert.equal(off.upperBounds.length, 15);
  assert.throws(
    () => new Histogram({ name: "a", help: "a", native: { bucketFactor: 1 }, registry }),
    /RangeError: histogram "a": native histogram bucketFactor must be above 1/,
  );
  assert.throws(
    () => new Histogram({ name: "b", help: "b", native: { maxBuckets: -1 }, registry }),
    RangeError,
  );
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => new Histogram({ name: "c", help: "c", native: "yes" as any, registry }),
    TypeError,
  );
});

Deno.test("worker merge: native histograms of different schemas merge at the coarser one", async () => {
  const snapshot = async (worker: string, bucketFactor: number | undefined, values: number[]) => {
    const registry = new Registry();
    const h = new Histogram({
      name: "lat_seconds",
      help: "l",
      ...(bucketFactor === undefined ? { buckets: [] } : { native: { bucketFactor } }),
      registry,
    });
    for (const v of values) h.observe(v);
    return { worker, live: true, families: await registry.collect() };
  };
  const fine = await snapshot("1", 1.1, [0.1, 0.2, 0.3]);
  const coarse = await snapshot("2", 2, [0.15, 5]);
  const point = mergeSnapshots([fine, coarse])[0].points[0] as HistogramPoint;
  const expected = new NativeHistogram({ bucketFactor: 2 });
  for (const v of [0.1, 0.2, 0.3, 0.15, 5]) expected.observe(v);
  const { schema, zeroCount, positiveSpans, positiveDeltas } = expected.buckets();
  assert.deepEqual(
    {
      schema: point.schema,
      zeroCount: point.zeroCount,
      positiveSpans: point.positiveSpans,
      positiveDeltas: point.positiveDeltas,
      count: point.count,
      bucketCounts: point.bucketCounts,
    },
    { schema, zeroCount, positiveSpans, positiveDeltas, count: 5, bucketCounts: [5] },
  );
  // A classic-only worker cannot be merged with a native one.
  const classic = await snapshot("3", undefined, [1]);
  assert.throws(
    () => mergeSnapshots([fine, classic]),
    /histogram "lat_seconds" is native in one worker and classic only in another/,
  );
});

Deno.test("memory: a native series of a typical latency distribution (factor 1.1) takes ≤ 1 KiB", () => {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const SERIES = 2000;
  // Log-normal latencies, median 50 ms, σ = 1: 1 ms … 3 s, about 90 populated buckets.
  let seed = 1;
  const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const samples = Array.from({ length: 5000 }, () => {
    const z = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
    return 0.05 * Math.exp(z);
  });
  const registry = new Registry();
  const classic = new Histogram({
    name: "c_seconds",
    help: "c",
    labelNames: ["id"],
    buckets: [],
    registry,
  });
  const native = new Histogram({
    name: "n_seconds",
    help: "n",
    labelNames: ["id"],
    native: true,
    registry,
  });
  const children = [];
  for (let i = 0; i < SERIES; i++) children.push(classic.labels(String(i)));
  gc();
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < SERIES; i++) children.push(native.labels(String(i)));
  for (let i = 0; i < SERIES; i++) {
    const child = children[SERIES + i];
    for (let j = 0; j < 500; j++) child.observe(samples[(i * 7 + j) % samples.length]);
  }
  gc();
  const perSeries = (Deno.memoryUsage().heapUsed - before) / SERIES;
  const classicRef = children[0];
  classicRef.observe(1);
  console.log(
    `native series (factor 1.1, ~90 buckets), incl. its labels and child: ${
      perSeries.toFixed(0)
    } bytes`,
  );
  assert.ok(perSeries <= 1024, `${perSeries} bytes per native series`);
});

/**
 * The reference `buckets()`: every observation's bucket at the state's final schema counted in a
 * map, sorted, then spans and deltas written the plain way (a new span past a gap of three or
 * more empty buckets, zero counts for a gap of one or two).
 */
function referenceBuckets(values: readonly number[], h: NativeHistogram) {
  const schema = h.schema;
  const signs = { positive: new Map<number, number>(), negative: new Map<number, number>() };
  let zeroCount = 0;
  for (const value of values) {
    if (Number.isNaN(value)) continue;
    if (Math.abs(value) <= h.zeroThreshold) {
      zeroCount++;
      continue;
    }
    const magnitude = Math.abs(value);
    const index = magnitude === Infinity ? infinityIndex(schema) : bucketIndex(magnitude, schema);
    const map = value > 0 ? signs.positive : signs.negative;
    map.set(index, (map.get(index) ?? 0) + 1);
  }
  const wire = (map: Map<number, number>) => {
    const spans: { offset: number; length: number }[] = [];
    const deltas: number[] = [];
    let previous = 0;
    let end = 0;
    for (const index of [...map.keys()].sort((a, b) => a - b)) {
      if (spans.length === 0 || index - end > 2) {
        spans.push({ offset: index - end, length: 0 });
        end = index;
      }
      for (; end < index; end++) {
        deltas.push(0 - previous);
        previous = 0;
        spans[spans.length - 1].length++;
      }
      deltas.push(map.get(index)! - previous);
      previous = map.get(index)!;
      spans[spans.length - 1].length++;
      end = index + 1;
    }
    return { spans, deltas };
  };
  const positive = wire(signs.positive);
  const negative = wire(signs.negative);
  return {
    schema,
    zeroThreshold: h.zeroThreshold,
    zeroCount,
    positiveSpans: positive.spans,
    positiveDeltas: positive.deltas,
    negativeSpans: negative.spans,
    negativeDeltas: negative.deltas,
  };
}

Deno.test("NativeHistogram.buckets: equals a plain reference over random observations", () => {
  let seed = 11;
  const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let run = 0; run < 300; run++) {
    const schema = Math.floor(next() * 13) - 4;
    const h = new NativeHistogram({
      bucketFactor: 2 ** (2 ** -schema),
      // Some runs hit the bucket limit and lower the schema while observing.
      maxBuckets: run % 3 === 0 ? 8 + Math.floor(next() * 20) : 0,
    });
    // Bucket indices from a narrow range, so gaps of 0, 1, 2 and 3+ empty buckets all occur;
    // now and then zero, NaN, ±Inf and the largest doubles (whose bucket is next to ±Inf's).
    const center = Math.floor((next() - 0.5) * 40);
    const value = () => {
      const pick = next();
      if (pick < 0.03) return 0;
      if (pick < 0.05) return NaN;
      if (pick < 0.08) return next() < 0.5 ? Infinity : -Infinity;
      if (pick < 0.11) return (next() < 0.5 ? 1 : -1) * Number.MAX_VALUE / 2 ** (next() * 3);
      const index = center + Math.floor(next() * 12);
      const magnitude = bucketUpperBound(index, h.schema) * (1 - next() * 1e-3);
      return next() < 0.3 ? -magnitude : magnitude;
    };
    const values: number[] = [];
    const steps = 1 + Math.floor(next() * 60);
    let previous: { got: ReturnType<NativeHistogram["buckets"]>; expected: unknown } | undefined;
    for (let step = 0; step < steps; step++) {
      // Interleaved: a few observations, then zero, one or two buckets() calls.
      const observations = Math.floor(next() * 4);
      for (let k = 0; k < observations; k++) {
        const v = value();
        values.push(v);
        h.observe(v);
      }
      const calls = Math.floor(next() * 3);
      for (let c = 0; c < calls; c++) {
        const got = h.buckets();
        const expected = referenceBuckets(values, h);
        assert.deepEqual(got, expected, `run ${run} step ${step}: ${JSON.stringify(values)}`);
        if (previous !== undefined) {
          // An earlier result is not changed by later observations.
          assert.deepEqual(previous.got, previous.expected, `run ${run}: an earlier result`);
        }
        previous = { got, expected };
      }
    }
  }
});

Deno.test("NativeHistogram.buckets: reset and every observation kind show in the next result", () => {
  const h = new NativeHistogram({ bucketFactor: 2, zeroThreshold: 0.001 });
  h.observe(3);
  const first = h.buckets();
  const kept = h.buckets();
  assert.deepEqual(kept, first);
  h.observe(0); // zero bucket only
  assert.equal(h.buckets().zeroCount, 1);
  assert.equal(h.buckets().zeroCount, 1);
  assert.equal(h.buckets().zeroCount, 1);
  h.observe(-3);
  assert.deepEqual(h.buckets().negativeDeltas, [1]);
  h.observe(Infinity);
  assert.deepEqual(h.buckets().positiveSpans, [{ offset: 2, length: 1 }, {
    offset: 1022,
    length: 1,
  }]);
  h.buckets();
  h.buckets();
  h.reset();
  assert.deepEqual(h.buckets(), {
    schema: 0,
    zeroThreshold: 0.001,
    zeroCount: 0,
    positiveSpans: [],
    positiveDeltas: [],
    negativeSpans: [],
    negativeDeltas: [],
  });
  assert.deepEqual(first.positiveDeltas, [1]);
  assert.deepEqual(kept.positiveDeltas, [1]);
});
