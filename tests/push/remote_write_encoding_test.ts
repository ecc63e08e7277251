// Remote write's encoder merges each point's labels with the added ones once per metric (for
// labels from a metric's series) or once per key list (for other labels objects): every way
// of giving the same labels must give the same bytes, for every metric type.
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
} from "../../mod.ts";
import { snappyCompress } from "../../src/encoding/snappy.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  remoteWriteLabels,
} from "../support/remote_write_encoding.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { decodeWriteRequest } from "../support/remote_write_receiver.ts";

function fullRegistry(series: number): Registry {
  const registry = new Registry();
  const labelNames = ["method", "route"];
  const counter = new Counter({ name: "requests", help: "r", labelNames, registry });
  const gauge = new Gauge({ name: "in_flight", help: "g", labelNames, registry });
  // Next to the counter and gauge, with other labels but the same kind of series.
  const other = new Gauge({ name: "other", help: "g", labelNames: ["code"], registry });
  const histogram = new Histogram({ name: "latency_seconds", help: "h", labelNames, registry });
  const summary = new Summary({
    name: "size_bytes",
    help: "s",
    labelNames,
    percentiles: [0.5, 0.9, 0.99],
    registry,
  });
  for (let i = 0; i < series; i++) {
    const labels = { method: `m${i % 7}`, route: `/r/${i}` + (i % 5 === 0 ? "/ünïcödé" : "") };
    counter.labels(labels).inc(i);
    gauge.labels(labels).set(-i / 3);
    other.labels(`${i % 4}`).set(i);
    for (let k = 0; k < 5; k++) histogram.labels(labels).observe(((i * 31 + k * 17) % 200) / 10);
    summary.labels(labels).observe(i);
  }
  new Info({ name: "build", help: "i", registry }).info({ version: "1.2.3" });
  new Enum({ name: "phase", help: "e", states: ["a", "b", "c"], registry }).state("b");
  // A custom collector's labels: no label source, a label named like the added one.
  registry.register({
    collect: () => [{
      type: "gauge" as const,
      name: "custom",
      help: "c",
      points: Array.from({ length: 50 }, (_, i) => ({
        // Every third point lacks a label: consecutive points with other keys.
        labels: (i % 3 === 0
          ? { z: `${i}`, A: "upper" }
          : { instance: i % 2 ? "own" : "", z: `${i}`, A: "upper" }) as Labels,
        value: i,
      })),
    }],
  });
  return registry;
}

/** The families with every labels object replaced by `relabel(labels)`. */
function withLabels(
  families: readonly MetricFamily[],
  relabel: (labels: Labels, index: number) => Labels,
): MetricFamily[] {
  return families.map((family) => ({
    ...family,
    points: (family.points as readonly { labels: Labels }[]).map((point, index) => ({
      ...point,
      labels: relabel(point.labels, index),
    })),
  } as MetricFamily));
}

/** The same labels with their keys in another order (rotated by `by`). */
function reordered(labels: Labels, by: number): Labels {
  const keys = Object.keys(labels);
  const turn = keys.length === 0 ? 0 : by % keys.length;
  return Object.fromEntries(
    [...keys.slice(turn), ...keys.slice(0, turn)].map((k) => [k, labels[k]]),
  );
}

for (const series of [1, 40, 3000]) {
  Deno.test(`remote write: a metric's labels, plain copies and reordered keys encode alike, ${series} series`, async () => {
    const families = await fullRegistry(series).collect();
    const labels = remoteWriteLabels({ job: "test", instance: "host-1" });
    const encode = (given: readonly MetricFamily[]) =>
      encodeWriteRequest(given, labels, 1_700_000_000_123).slice();
    // The metric's own labels carry their source (one merge plan per metric); copies do not
    // (a plan per key list); reordered keys must not reuse a plan made for another order.
    const stamped = encode(families);
    assert.deepEqual(encode(withLabels(families, (l) => ({ ...l }))), stamped);
    assert.deepEqual(encode(withLabels(families, (l, i) => reordered(l, i))), stamped);
    const request = decodeWriteRequest(snappyDecompress(snappyCompress(stamped)));
    assert.ok(request.series.length > series);
  });
}

// --- compressed ----------------------------------------------------------------------------------

/** The compressed request must decode (strictly) to exactly the request. */
function assertCompressesExactly(families: readonly MetricFamily[], extra = { job: "test" }) {
  const labels = remoteWriteLabels(extra);
  const flat = encodeWriteRequest(families, labels, 1_700_000_000_123).slice();
  const block = encodeCompressedWriteRequest(families, labels, 1_700_000_000_123);
  assert.deepEqual(snappyDecompress(block), flat);
  return { flat, block };
}

/** A custom collector's histogram: per point its own bounds, labels and counts. */
function histogramFamily(
  points: { labels: Labels; upperBounds: number[]; counts: number[]; sum: number }[],
): MetricFamily {
  return {
    type: "histogram",
    name: "custom_seconds",
    help: "h",
    points: points.map(({ labels, upperBounds, counts, sum }) => ({
      labels,
      upperBounds,
      bucketCounts: counts,
      count: counts[counts.length - 1],
      sum,
    })),
  } as unknown as MetricFamily;
}

for (const series of [1, 40, 3000]) {
  Deno.test(`remote write: the compressed request decodes to the request, every type, ${series} series`, async () => {
    const families = await fullRegistry(series).collect();
    const { flat, block } = assertCompressesExactly(families);
    // Repeats are found: far smaller than the request.
    if (series > 1) assert.ok(block.length * 5 < flat.length, `${flat.length} → ${block.length}`);
    // Labels objects without a label source, and reordered: the same request (their series
    // are searched for repeats, a metric's own are copied from where they were written).
    assert.deepEqual(
      snappyDecompress(
        encodeCompressedWriteRequest(
          withLabels(families, (l, i) => reordered(l, i)),
          remoteWriteLabels({ job: "test" }),
          1_700_000_000_123,
        ),
      ),
      flat,
    );
  });
}

Deno.test("remote write: the compressed request, histograms whose points differ in shape", () => {
  const bounds = [0.1, 1, Infinity];
  const other = [0.5, 5, 50, Infinity];
  const points: Parameters<typeof histogramFamily>[0] = [];
  for (let i = 0; i < 60; i++) {
    // Values change length (9 → 10 → 100), a label goes missing, bounds change, the label that
    // differs moves from last to first, values are NaN, -0, Infinity, huge or tiny.
    const labels: Labels = i % 7 === 3
      ? { route: `/r/${i * 17}` }
      : i % 11 === 5
      ? { a: `${i}`, route: "/same", z: "é" }
      : { a: "x", route: `/r/${i * 17}`, z: `${i % 3}` };
    const weird = [NaN, -0, 0, Infinity, -Infinity, 1e300, 5e-324][i % 7];
    const upperBounds = i % 13 === 6 ? other : bounds;
    const counts = upperBounds.map((_, k) => k === 1 && i % 5 === 0 ? weird : i * k + (i % 4));
    points.push({ labels, upperBounds, counts, sum: i % 9 === 0 ? weird : i / 7 });
  }
  assertCompressesExactly([histogramFamily(points)], { job: "test", instance: "" } as never);
  // Points alike but for one value of the same length: before "__name__" (upper case), between
  // it and "le", after "le"; both sides of "le" at once.
  const alike = (labelsOf: (i: number) => Labels) =>
    points.map((p, i) => ({ ...p, upperBounds: bounds, labels: labelsOf(i) }));
  for (
    const labelsOf of [
      (i: number) => ({ A: `${i % 10}`, code: "200", route: "/x" }),
      (i: number) => ({ A: "a", code: `${i % 10}`, route: "/x" }),
      (i: number) => ({ A: "a", code: "200", route: `/${i % 10}` }),
      (i: number) => ({ A: "a", code: `${i % 10}`, route: `/${i % 10}` }),
    ]
  ) {
    assertCompressesExactly([histogramFamily(alike(labelsOf))]);
  }
  // The added label sorting between the point's own labels, and "le" given by the point too.
  assertCompressesExactly(
    [histogramFamily(points.map((p) => ({ ...p, labels: { ...p.labels, le: "own", b: "1" } })))],
    { job: "test", instance: "i", zz: "last" } as never,
  );
});

Deno.test("remote write: a request larger than 64 KiB compresses and decodes exactly", () => {
  // Points of 5,000 buckets: the previous point's series are more than 64 KiB back.
  const upperBounds = [...Array.from({ length: 4999 }, (_, k) => k + 1), Infinity];
  const points = Array.from({ length: 3 }, (_, i) => ({
    labels: { route: `/r/${i}` },
    upperBounds,
    counts: upperBounds.map((_, k) => k * (i + 1)),
    sum: i,
  }));
  const { block } = assertCompressesExactly([histogramFamily(points)]);
  assert.ok(block.length < 1024 * 1024);
});

Deno.test("remote write: pre-encoded labels of a metric's series — own job/instance, empty values, constant labels, non-ASCII — encode like plain copies", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "reqs",
    help: "r",
    labelNames: ["route", "method", "instance", "job", "Zed", "ü"],
    constLabels: { a_const: "k", zz: "q" },
    registry,
  });
  const gauge = new Gauge({ name: "g", help: "g", labelNames: ["instance", "x"], registry });
  new Gauge({ name: "g2", help: "g", constLabels: { b: "x" }, registry }).set(3);
  for (let i = 0; i < 300; i++) {
    counter.labels(
      `/r/${i}ü`,
      i % 3 ? `m${i % 5}` : "",
      i % 4 ? "" : "own",
      i % 7 ? "" : "j",
      `${i % 2}`,
      "x".repeat(i % 150),
    ).inc(i);
    gauge.labels(i % 2 ? "" : "i", `${i}`).set(-i);
  }
  new Info({ name: "build", help: "i", labelNames: ["v"], registry }).labels("1").info({
    version: "1.2.3",
  });
  const families = await registry.collect();
  const extras: Record<string, string>[] = [
    { job: "test", instance: "host" },
    { job: "t", zzz: "last", A: "first" },
  ];
  for (const extra of extras) {
    const labels = remoteWriteLabels(extra);
    // Twice: the second request reads the labels' bytes kept from the first.
    for (let round = 0; round < 2; round++) {
      const stamped = encodeWriteRequest(families, labels, 1_700_000_000_123).slice();
      const plain = encodeWriteRequest(
        withLabels(families, (l) => ({ ...l })),
        labels,
        1_700_000_000_123,
      );
      assert.deepEqual(stamped, plain.slice());
      const request = decodeWriteRequest(stamped);
      const own = request.series.find((series) =>
        series.labels.some(([name, value]) => name === "route" && value === "/r/0ü")
      )!;
      assert.deepEqual(own.labels.map(([name, value]) => `${name}=${value}`), [
        ...(extra.A ? ["A=first"] : []),
        "Zed=0",
        "__name__=reqs_total",
        "a_const=k",
        "instance=own",
        "job=j",
        "route=/r/0ü",
        ...(extra.zzz ? ["zz=q", "zzz=last"] : ["zz=q"]),
      ]);
    }
  }
});
