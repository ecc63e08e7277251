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
} from "../mod.ts";
import { snappyCompress } from "../src/encoding/snappy.ts";
import { encodeWriteRequest, remoteWriteLabels } from "../src/push/remote_write.ts";
import { snappyDecompress } from "./support/snappy.ts";
import { decodeWriteRequest } from "./push_remote_write_support.ts";

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
