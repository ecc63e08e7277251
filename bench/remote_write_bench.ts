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

import process from "node:process";
import { Histogram, Registry, renderText } from "../mod.ts";
import { snappyCompress } from "../src/encoding/snappy.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  remoteWriteLabels,
} from "../src/push/write_request.ts";
import { fillOurs, labelPairs, labelsLiteral, ourRequestsCounter } from "./fixtures.ts";

const SERIES = 10_000;
const LABELS = remoteWriteLabels({ job: "bench", instance: "host-1" });

function counterRegistry(): Registry {
  const registry = new Registry();
  const counter = ourRequestsCounter(registry);
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

/** What `remoteWrite` sends: the request compressed while it is encoded. */
async function writeRequest(registry: Registry): Promise<Uint8Array> {
  return encodeCompressedWriteRequest(await registry.collect(), LABELS, Date.now());
}

/** The request laid out, then compressed by searching it (the way before). */
async function searchedRequest(registry: Registry): Promise<Uint8Array> {
  return snappyCompress(encodeWriteRequest(await registry.collect(), LABELS, Date.now()));
}

/** CPU milliseconds per call of `body` over `calls` calls (CPU time, not wall time). */
async function cpuMs(body: () => Promise<unknown>, calls: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await body();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / calls;
}

/**
 * The text's and the remote write's CPU time per call, measured in alternation (9 rounds of
 * `calls` calls each, after a warm-up), and the median of each round's ratio: a machine whose
 * load changes during the run then disturbs the ratio little.
 */
async function sideBySide(
  text: () => Promise<unknown>,
  write: () => Promise<unknown>,
  calls: number,
): Promise<{ textMs: number; writeMs: number; ratio: number }> {
  for (let i = 0; i < 3; i++) await text(), await write();
  const texts: number[] = [];
  const writes: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < 9; round++) {
    const textMs = await cpuMs(text, calls);
    const writeMs = await cpuMs(write, calls);
    texts.push(textMs);
    writes.push(writeMs);
    ratios.push(writeMs / textMs);
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
  return { textMs: median(texts), writeMs: median(writes), ratio: median(ratios) };
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
  Deno.bench(`remote write laid out, then snappy-searched, 10k ${kind} series`, {
    group,
    n: 20,
    warmup: 3,
  }, async () => {
    await searchedRequest(registry);
  });

  // Sizes and the direct ratio, printed once (the bench table above shows the same comparison).
  const textBytes = new TextEncoder().encode(await text(registry)).length;
  const protobufBytes = encodeWriteRequest(await registry.collect(), LABELS, Date.now()).length;
  const snappyBytes = (await writeRequest(registry)).length;
  const searchedBytes = (await searchedRequest(registry)).length;
  const calls = kind === "counter" ? 20 : 2;
  const { textMs, writeMs, ratio } = await sideBySide(
    () => text(registry),
    () => writeRequest(registry),
    calls,
  );
  const searched = await sideBySide(
    () => text(registry),
    () => searchedRequest(registry),
    calls,
  );
  console.log(
    `${kind}: text ${textBytes} B; protobuf ${protobufBytes} B → snappy ${snappyBytes} B ` +
      `(ratio ${(protobufBytes / snappyBytes).toFixed(1)}:1; searched ${
        (protobufBytes / searchedBytes).toFixed(1)
      }:1); CPU per call: text ${textMs.toFixed(1)} ms, remote write ${writeMs.toFixed(1)} ms (${
        ratio.toFixed(2)
      }× the text; laid out + searched ${searched.ratio.toFixed(2)}×; medians of ratios)`,
  );
}
