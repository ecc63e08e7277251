// Remote write reads a Registry's counters, gauges and histograms straight from their storage
// (`gatherWriteItems`); the request must be the very bytes the snapshot encoder makes of
// `registry.collect()`: compressed block, and the request inside it.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type Labels,
  type MetricFamily,
  Registry,
  Summary,
} from "../mod.ts";
import { escapeFamily } from "../src/exposition/escaping.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  gatherWriteItems,
  remoteWriteLabels,
  type WriteItems,
  type WriteOptions,
} from "../src/push/write_request.ts";
import { remoteWrite } from "../src/push/remote_write.ts";
import { seededRandom } from "./support/random.ts";
import { snappyDecompress, snappyElements } from "./support/snappy.ts";
import { decodeWriteRequest, seriesLines } from "./push_remote_write_support.ts";

const TIMESTAMP = 1_700_000_000_123;

/** What `remoteWrite` encoded before the direct path: the escaped snapshot. */
async function snapshotItems(registry: Registry): Promise<MetricFamily[]> {
  return (await registry.collect()).map((family) => escapeFamily(family, "underscores"));
}

/** How many metrics of `items` are read from storage (not snapshots). */
function readDirectly(items: WriteItems): number {
  return items.filter((item) => "metric" in item).length;
}

/**
 * The direct request equals the snapshot one for `extra` labels, compressed and laid out, or
 * both throw the same error. Returns how many metrics were read directly.
 */
async function assertSameBothWays(
  registry: Registry,
  extra: Record<string, string>,
  what: string,
  options: WriteOptions = {},
): Promise<number> {
  const labels = remoteWriteLabels(extra);
  const items = await gatherWriteItems(registry);
  assert.ok(items !== undefined, what);
  const families = await snapshotItems(registry);
  let expected: Uint8Array | Error;
  try {
    expected = encodeCompressedWriteRequest(families, labels, TIMESTAMP, options).slice();
  } catch (error) {
    expected = error as Error;
  }
  if (expected instanceof Error) {
    assert.throws(() => encodeCompressedWriteRequest(items, labels, TIMESTAMP, options), {
      name: expected.name,
      message: expected.message,
    }, what);
    return readDirectly(items);
  }
  const block = encodeCompressedWriteRequest(items, labels, TIMESTAMP, options);
  assert.deepEqual(block, expected, `${what}: compressed block`);
  const flat = encodeWriteRequest(families, labels, TIMESTAMP, options).slice();
  assert.deepEqual(
    encodeWriteRequest(items, labels, TIMESTAMP, options).slice(),
    flat,
    `${what}: request`,
  );
  assert.deepEqual(snappyDecompress(block), flat, `${what}: block decodes to the request`);
  return readDirectly(items);
}

const VALUES = [
  "GET",
  "POST",
  "a\\b",
  'say "hi"',
  "line\nbreak",
  "ünï",
  "日本",
  "",
  "x".repeat(200),
];
const NUMBERS = [0, 1, 2.5, 0.001, 1e-7, 123456789, 4095, 1e21, 0.1 + 0.2, -0, NaN, Infinity];
/** Finite, non-negative: what a counter takes. */
const AMOUNTS = [0, 1, 2.5, 0.001, 1e-7, 123456789, 4095, 1e21, 0.1 + 0.2];
const EXTRAS: Record<string, string>[] = [
  { job: "test", instance: "host-1" },
  { job: "t", A: "first", zzz: "last", route: "added" },
  // No job: series without an own `job` fail, alike both ways.
  { instance: "i" },
  { job: "j", instance: "" },
];

Deno.test("remote write direct: the request equals the snapshot encoder's over random operations", async () => {
  const realNow = Date.now;
  // What the narrow native histogram went through, over all seeds.
  const seen = { schemaDropped: false, zeroWidened: false, reset: false, negative: false };
  for (let seed = 1; seed <= 14; seed++) {
    const next = seededRandom(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    const registry = new Registry();
    const constLabels = seed % 3 === 0 ? { region: 'eu "1"', zone: "b" } : undefined;
    const utf8 = seed % 4 === 0;
    const counter = new Counter({
      name: utf8 ? "http.requests" : "requests",
      help: "requests\\served\nhere",
      labelNames: utf8 ? ["method", "route.name"] : ["method", "route"],
      constLabels,
      registry,
    });
    const owned = new Counter({
      name: "owned",
      help: "own job and instance, an upper-case name",
      labelNames: ["job", "instance", "Zed"],
      registry,
      unit: seed % 2 === 0 ? "bytes" : undefined,
    });
    const plain = new Counter({ name: "plain_total", help: "no labels", registry });
    const gauge = new Gauge({ name: "temperature", help: "t", labelNames: ["room"], registry });
    const functions = new Gauge({ name: "pulled", help: "p", labelNames: ["k"], registry });
    const histogram = new Histogram({
      name: "latency_seconds",
      help: "latency",
      labelNames: ["code", "method", "zzz"],
      constLabels,
      native: seed % 2 === 0,
      registry,
    });
    const negative = new Histogram({
      name: "delta",
      help: "no sum",
      buckets: [-1, 0, 1],
      registry,
    });
    const unlabelledHistogram = new Histogram({ name: "unl", help: "u", registry });
    // Few buckets allowed: the schema drops, the zero bucket widens, or the series resets.
    const narrow = new Histogram({
      name: "narrow",
      help: "native, few buckets",
      labelNames: ["k"],
      buckets: [0],
      native: {
        maxBuckets: 6,
        maxZeroThreshold: seed % 3 === 1 ? 0.5 : 0,
        minResetDurationMs: seed % 3 === 2 ? 50 : 0,
        zeroThreshold: seed % 2 === 0 ? 0.01 : 0,
      },
      registry,
    });
    const summary = new Summary({ name: "sizes", help: "s", labelNames: ["k"], registry });
    new Info({ name: "build", help: "b", registry }).info({ version: "1.0" });
    const state = new Enum({ name: "mode", help: "m", states: ["a", "b"], registry });
    state.state("b");
    registry.register({
      collect: () => [{
        type: "gauge" as const,
        name: "custom",
        help: "c",
        points: [{ labels: { job: "custom", z: String(seed) } as Labels, value: seed }],
      }],
    });
    const observed = new Map<string, number>();
    let clock = realNow();
    Date.now = () => clock;
    for (let op = 0; op < 400; op++) {
      clock += 10;
      const method = pick(VALUES);
      const route = pick(VALUES);
      switch (Math.floor(next() * 12)) {
        case 0:
          if (next() < 0.2) {
            counter.labels(method, route).inc(pick(AMOUNTS), { trace_id: route.slice(0, 20) });
          } else counter.labels(method, route).inc(pick(AMOUNTS));
          break;
        case 1:
          owned.labels(pick(["", "own"]), pick(["", "i-1", "i-2"]), method).inc(op);
          break;
        case 2:
          plain.inc(op);
          break;
        case 3:
          gauge.labels(route).set(next() < 0.5 ? pick(NUMBERS) : -pick(NUMBERS));
          break;
        case 4:
          histogram.labels(pick(VALUES), method, route).observe(
            pick(AMOUNTS) * (next() < 0.5 ? 1 : -1),
            next() < 0.2 ? { "span.id": method.slice(0, 20), trace_id: String(op) } : undefined,
          );
          break;
        case 5:
          negative.observe(next() * 4 - 2);
          unlabelledHistogram.observe(next());
          break;
        case 6:
          summary.labels(method).observe(op);
          break;
        case 7:
          if (next() < 0.5) counter.remove(method, route);
          break;
        case 8:
          if (next() < 0.05) gauge.clear();
          break;
        case 9:
          // Value functions send the gauge through its snapshot.
          if (seed % 2 === 1 && next() < 0.1) functions.labels(method).setFunction(() => op);
          else functions.labels(method).set(op);
          break;
        case 10:
          // Many series, then most removed: the index compacts.
          if (next() < 0.1) {
            for (let i = 0; i < 40; i++) counter.labels("bulk", String(i)).inc();
            for (let i = 0; i < 40; i++) if (i % 8) counter.remove("bulk", String(i));
          }
          break;
        case 11: {
          // Positive, negative and zero observations over a wide range; removals.
          const magnitude = next() < 0.2 ? 0 : 10 ** (next() * 12 - 6);
          const key = pick(["a", "b", ""]);
          narrow.labels(key).observe(next() < 0.4 ? -magnitude : magnitude);
          observed.set(key, (observed.get(key) ?? 0) + 1);
          if (next() < 0.02) {
            const removed = pick(["a", "b", ""]);
            narrow.remove(removed);
            observed.delete(removed);
          }
          break;
        }
      }
    }
    Date.now = realNow;
    for (const point of narrow.collect()[0].points) {
      if (point.schema! < 3) seen.schemaDropped = true;
      if (point.zeroThreshold! > 0.01) seen.zeroWidened = true;
      if (point.count < observed.get(point.labels.k)!) seen.reset = true;
      if (point.negativeSpans!.length > 0) seen.negative = true;
    }
    for (const extra of EXTRAS) {
      const direct = await assertSameBothWays(
        registry,
        extra,
        `seed ${seed} ${JSON.stringify(extra)}`,
      );
      // counter (unless UTF-8 named), owned, plain, temperature, histograms; "pulled" too
      // unless it has value functions.
      assert.ok(direct >= 6, `seed ${seed}: ${direct} metrics read directly`);
    }
    await assertSameBothWays(registry, EXTRAS[0], `seed ${seed} without exemplars, natives`, {
      exemplars: false,
      nativeHistograms: false,
    });
  }
  assert.deepEqual(seen, { schemaDropped: true, zeroWidened: true, reset: true, negative: true });
});

Deno.test("remote write direct: many series, twice (label bytes kept from the first request)", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "reqs",
    help: "r",
    labelNames: ["method", "route"],
    registry,
  });
  const histogram = new Histogram({ name: "h", help: "h", labelNames: ["route"], registry });
  for (let i = 0; i < 3000; i++) {
    counter.labels(`m${i % 7}`, `/r/${i}`).inc(i);
    histogram.labels(`/r/${i % 300}`).observe(i / 1000);
  }
  for (let round = 0; round < 2; round++) {
    assert.equal(await assertSameBothWays(registry, { job: "t" }, `round ${round}`), 2);
  }
  const request = decodeWriteRequest(
    snappyDecompress(
      encodeCompressedWriteRequest(
        (await gatherWriteItems(registry))!,
        remoteWriteLabels({ job: "t" }),
        TIMESTAMP,
      ),
    ),
  );
  // 14 default buckets, the count and the sum per histogram series.
  assert.equal(request.series.length, 3000 + 300 * 17);
  assert.ok(seriesLines(request).includes('reqs_total{job="t",method="m3",route="/r/2999"} 2999'));
});

Deno.test("remote write direct: numbers are read when collect() would have read them", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "jobs", help: "j", labelNames: ["k"], registry });
  const histogram = new Histogram({ name: "h", help: "h", buckets: [1], registry });
  counter.labels("a").inc();
  histogram.observe(0.5);
  // An async collector first: the metrics after it are read after it resolved, as collect()
  // collects them.
  let resolve = () => {};
  const waited = new Promise<void>((done) => resolve = done);
  const registryWithWait = new Registry();
  const before = new Counter({ name: "before", help: "b", registry: registryWithWait });
  registryWithWait.register({ collect: async () => (await waited, []) });
  before.inc();

  const gathering = gatherWriteItems(registry);
  // Changed after the call: not in this request.
  counter.labels("a").inc(10);
  counter.labels("b").inc();
  histogram.observe(0.5);
  counter.remove("a");
  const lines = seriesLines(decodeWriteRequest(
    encodeWriteRequest((await gathering)!, remoteWriteLabels({ job: "t" }), TIMESTAMP),
  ));
  assert.deepEqual(lines, [
    'jobs_total{job="t",k="a"} 1',
    'h_bucket{job="t",le="1.0"} 1',
    'h_bucket{job="t",le="+Inf"} 1',
    'h_count{job="t"} 1',
    'h_sum{job="t"} 0.5',
  ]);

  const waiting = gatherWriteItems(registryWithWait);
  before.inc();
  resolve();
  const beforeLines = seriesLines(decodeWriteRequest(
    encodeWriteRequest((await waiting)!, remoteWriteLabels({ job: "t" }), TIMESTAMP),
  ));
  assert.deepEqual(beforeLines, ['before_total{job="t"} 1']);
});

Deno.test("remote write direct: compaction after the request was gathered changes nothing in it", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "c", help: "c", labelNames: ["k"], registry });
  for (let i = 0; i < 100; i++) counter.labels(String(i)).inc(i);
  const expected = await assertSameBothWays(registry, { job: "t" }, "before");
  assert.equal(expected, 1);
  const labels = remoteWriteLabels({ job: "t" });
  const snapshotBlock = encodeCompressedWriteRequest(await snapshotItems(registry), labels, 1);
  const items = (await gatherWriteItems(registry))!;
  for (let i = 0; i < 90; i++) counter.remove(String(i));
  counter.labels("new").inc(); // compacts: the live series move down
  assert.deepEqual(encodeCompressedWriteRequest(items, labels, 1), snapshotBlock);
});

Deno.test("remote write direct: a registry with a prefix or default labels uses snapshots", async () => {
  for (const options of [{ prefix: "app_" }, { defaultLabels: { env: "prod" } }]) {
    const registry = new Registry(options);
    new Counter({ name: "jobs", help: "j", registry }).inc();
    assert.equal(await gatherWriteItems(registry), undefined);
  }
});

Deno.test("remoteWrite: a Registry's metrics are read without collect(); other sources are collected", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "direct", help: "d", labelNames: ["k"], registry });
  counter.labels("x").inc(3);
  counter.collect = () => {
    throw new Error("collect() must not be called on the direct path");
  };
  const bodies: Uint8Array[] = [];
  const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
    bodies.push(new Uint8Array(await new Response(init!.body).arrayBuffer()));
    return new Response(null, { status: 204 });
  };
  await remoteWrite("http://receiver.test/api/v1/write", {
    registry,
    labels: { job: "t" },
    fetch,
  });
  assert.deepEqual(seriesLines(decodeWriteRequest(snappyDecompress(bodies[0]))), [
    'direct_total{job="t",k="x"} 3',
  ]);
  // Another source: its collect() is what is sent.
  await remoteWrite("http://receiver.test/api/v1/write", {
    registry: {
      collect: () => [{ type: "gauge", name: "g", help: "g", points: [{ labels: {}, value: 2 }] }],
    },
    labels: { job: "t" },
    fetch,
  });
  assert.deepEqual(seriesLines(decodeWriteRequest(snappyDecompress(bodies[1]))), ['g{job="t"} 2']);
});

Deno.test("remote write direct: a label value last written more than 64 KiB back is copied with a 4-byte offset", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "far", help: "f", labelNames: ["route", "n"], registry });
  // Each route recurs 2,000 series (about 200 KB) after its last occurrence.
  for (let i = 0; i < 5000; i++) counter.labels(`/route/${i % 2000}`, String(i)).inc(i);
  await assertSameBothWays(registry, { job: "t" }, "far");
  const block = encodeCompressedWriteRequest(
    (await gatherWriteItems(registry))!,
    remoteWriteLabels({ job: "t" }),
    TIMESTAMP,
  );
  assert.ok(snappyElements(block).some((element) => element.kind === "copy4"));
});

Deno.test("remote write direct: series with the same bytes (an empty own label and the added one) are copied whole", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "twin", help: "t", labelNames: ["instance"], registry });
  const histogram = new Histogram({
    name: "twin_h",
    help: "t",
    labelNames: ["instance"],
    registry,
  });
  // An empty own label is no label: the added `instance="x"` applies, as for the series "x".
  for (const instance of ["", "x", "", "x"]) {
    counter.labels(instance).inc(2);
    histogram.labels(instance).observe(0.3);
  }
  await assertSameBothWays(registry, { job: "t", instance: "x" }, "twins");
  const lines = seriesLines(decodeWriteRequest(snappyDecompress(encodeCompressedWriteRequest(
    (await gatherWriteItems(registry))!,
    remoteWriteLabels({ job: "t", instance: "x" }),
    TIMESTAMP,
  ))));
  assert.deepEqual(lines.slice(0, 2), [
    'twin_total{instance="x",job="t"} 4',
    'twin_total{instance="x",job="t"} 4',
  ]);
});

Deno.test("remote write direct: series that repeat the one before but for a few labels and value bytes", async () => {
  // Runs of series whose own labels keep their ids (copied with the series before), labels that
  // change at the same length, labels whose lengths change while the series' length does not
  // (then nothing may be copied at the old places), empty values standing in for added labels,
  // removed series between, exemplars after runs, values differing in any byte (NaN, -0, large,
  // fractional).
  const registry = new Registry();
  const counter = new Counter({
    name: "runs",
    help: "r",
    labelNames: ["job", "instance", "Zed"],
    registry,
  });
  const gauge = new Gauge({ name: "levels", help: "l", labelNames: ["a", "b"], registry });
  const numbers = [0, -0, 1, 2, 2.5, 1e21, 0.1 + 0.2, NaN, 123456789, 4095];
  for (let i = 0; i < 400; i++) {
    // `job` in runs of 40 (one of them empty: the added label stands in), `instance` flipping
    // between two values of one length every 8 series (each comes back after the other),
    // `Zed` changing every series, one series in 50 longer.
    const job = ["GET", "PUT", "", "POST"][Math.floor(i / 40) % 4];
    const instance = ["GET", "PUT"][(i >> 3) % 2];
    const zed = ["a1", "a2", "a3"][i % 3] + (i % 50 === 49 ? "x" : "");
    // Now and then an exemplar (a tail: not copied with the series before).
    const exemplar = i % 37 === 36 ? { trace_id: `t${i}` } : undefined;
    counter.labels(job, instance, zed).inc(Math.abs(numbers[i % 9]) || 0, exemplar);
    gauge.labels(`a${Math.floor(i / 20)}`, `b${i % 13}`).set(numbers[(i * 3) % numbers.length]);
  }
  counter.remove("PUT", "GET", "a2");
  gauge.remove("a3", "b5");
  const extras: Record<string, string>[] = [{ job: "test", instance: "host-1", Zed: "z" }, {
    job: "t",
  }];
  for (const extra of extras) {
    assert.equal(await assertSameBothWays(registry, extra, JSON.stringify(extra)), 2);
  }
  // Own labels that swap lengths: each series as long as the one before, its parts moved (so
  // not the series before with a few bytes changed).
  const swapped = new Registry();
  const owned = new Counter({
    name: "owned",
    help: "o",
    labelNames: ["a", "b"],
    registry: swapped,
  });
  owned.labels("GET", "POSTED").inc();
  owned.labels("POSTED", "GET").inc();
  owned.labels("PUT", "GETTER").inc(2);
  assert.equal(await assertSameBothWays(swapped, { job: "j" }, "lengths swapped"), 1);
});
