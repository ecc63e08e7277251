// Remote write's compressed request: the encoder tells the Snappy compressor which bytes repeat
// earlier ones; whatever it tells, the block must decode to exactly the uncompressed request,
// for every metric type, many series per point, custom labels objects and added labels.
import assert from "node:assert/strict";
import { Counter, Enum, Gauge, Histogram, Info, Registry, Summary } from "../mod.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  remoteWriteLabels,
} from "../src/push/remote_write.ts";
import { snappyDecompress } from "./support/snappy.ts";

function fullRegistry(series: number): Registry {
  const registry = new Registry();
  const labelNames = ["method", "route"];
  const counter = new Counter({ name: "requests", help: "r", labelNames, registry });
  const gauge = new Gauge({ name: "in_flight", help: "g", labelNames, registry });
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
        labels: { instance: i % 2 ? "own" : "", z: `${i}`, A: "upper" },
        value: i,
      })),
    }],
  });
  return registry;
}

for (const series of [1, 40, 3000]) {
  Deno.test(`remote write: the compressed request decodes to the request, ${series} series`, async () => {
    const registry = fullRegistry(series);
    const families = await registry.collect();
    const labels = remoteWriteLabels({ job: "test", instance: "host-1" });
    const plain = encodeWriteRequest(families, labels, 1_700_000_000_123);
    const compressed = encodeCompressedWriteRequest(families, labels, 1_700_000_000_123);
    assert.deepEqual(snappyDecompress(compressed), plain);
    // Repeats are copied, not spelled out: far smaller than the request.
    if (series > 1) assert.ok(compressed.length * 5 < plain.length, `${compressed.length}`);
  });
}
