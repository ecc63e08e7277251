/**
 * Remote write's hot path side by side with the text exposition of the same registry: encoding
 * 10,000 series as a snappy-compressed `WriteRequest` (collect + protobuf + snappy) against
 * producing the 0.0.4 text (collect + render), for counters and for histograms. Also prints the
 * request sizes and snappy's compression ratio, and the time ratio measured directly.
 *
 * Run: `deno bench --allow-all bench/remote_write_bench.ts`
 *
 * @module
 */

import { Counter, Histogram, Registry, renderText } from "../mod.ts";
import { snappyCompress } from "../src/encoding/snappy.ts";
import { encodeWriteRequest, remoteWriteLabels } from "../src/push/remote_write.ts";
import { fillOurs, labelPairs, labelsLiteral } from "./fixtures.ts";

const SERIES = 10_000;
const LABELS = remoteWriteLabels({ job: "bench", instance: "host-1" });

function counterRegistry(): Registry {
  const registry = new Registry();
  const counter = new Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registry,
  });
  for (const [i, labels] of labelPairs(SERIES).entries()) {
    counter.labels(labelsLiteral(labels)).inc(i);
  }
  return registry;
}

function histogramRegistry(): Registry {
  const registry = new Registry();
  fillOurs(
    new Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      labelNames: ["method", "route"],
      registry,
    }),
    labelPairs(SERIES),
  );
  return registry;
}

async function text(registry: Registry): Promise<string> {
  return renderText(await registry.collect());
}

async function writeRequest(registry: Registry): Promise<Uint8Array> {
  return snappyCompress(encodeWriteRequest(await registry.collect(), LABELS, Date.now()));
}

/** Median of `runs` timings of `body`, after two warm-up runs. */
async function medianMs(body: () => Promise<unknown>, runs = 15): Promise<number> {
  await body();
  await body();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await body();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(runs / 2)];
}

for (
  const [kind, make] of [["counter", counterRegistry], ["histogram", histogramRegistry]] as const
) {
  const registry = make();
  const group = `remote_write.${kind}.10k`;
  Deno.bench(`text 0.0.4, 10k ${kind} series (collect + render)`, {
    group,
    baseline: true,
    n: 20,
    warmup: 3,
  }, async () => {
    await text(registry);
  });
  Deno.bench(`remote write, 10k ${kind} series (collect + protobuf + snappy)`, {
    group,
    n: 20,
    warmup: 3,
  }, async () => {
    await writeRequest(registry);
  });

  // Sizes and the direct ratio, printed once (the bench table above shows the same comparison).
  const textBytes = new TextEncoder().encode(await text(registry)).length;
  const protobufBytes = encodeWriteRequest(await registry.collect(), LABELS, Date.now()).length;
  const snappyBytes = (await writeRequest(registry)).length;
  const textMs = await medianMs(() => text(registry));
  const writeMs = await medianMs(() => writeRequest(registry));
  console.log(
    `${kind}: text ${textBytes} B; protobuf ${protobufBytes} B → snappy ${snappyBytes} B ` +
      `(ratio ${(protobufBytes / snappyBytes).toFixed(1)}:1); median text ${
        textMs.toFixed(1)
      } ms, remote write ${writeMs.toFixed(1)} ms (${(writeMs / textMs).toFixed(2)}× the text)`,
  );
}
