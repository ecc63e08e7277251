/**
 * Remote write's hot path side by side with the text exposition of the same registry, for
 * 10,000 counter series, 10,000 histogram series and 10,000 native histogram series (native
 * only: the `+Inf` bucket, count and sum, and the native series, which the text leaves out): the snappy-compressed `WriteRequest` as
 * `remoteWrite` encodes a `Registry` (its metrics read from their storage: `gatherWriteItems`
 * + `encodeCompressedWriteRequest`) against (a) the 0.0.4 text from snapshots (collect +
 * `renderText`) and (b) the byte renderer's 0.0.4 text (`renderRegistryBytes`: what a scrape
 * costs). Also the request from snapshots (what any other source costs), the request sizes and
 * snappy's compression ratio (and, for comparison, the ratio of searching the laid-out request).
 *
 * Run: `deno run -A bench/remote_write_bench.ts` (the side-by-side ratios: CPU time, medians of
 * the ratios of interleaved rounds), or `deno bench --allow-all bench/remote_write_bench.ts`.
 *
 * @module
 */

import process from "node:process";
import { Histogram, Registry } from "../mod.ts";
import { renderText } from "../src/exposition/mod.ts";
import { renderRegistryBytes } from "../src/exposition/registry_render.ts";
import { snappyCompress } from "../src/encoding/snappy.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  gatherWriteItems,
  remoteWriteLabels,
} from "../src/push/write_request.ts";
import { fillOurs, labelPairs, labelsLiteral, ourRequestsCounter } from "./fixtures.ts";

const SERIES = 10_000;
const LABELS = remoteWriteLabels({ job: "bench", instance: "host-1" });
const ROUNDS = 11;

function counterRegistry(): Registry {
  const registry = new Registry();
  const counter = ourRequestsCounter(registry);
  for (const [i, labels] of labelPairs(SERIES).entries()) {
    counter.labels(labelsLiteral(labels)).inc(i);
  }
  return registry;
}

function histogramRegistry(native = false): Registry {
  const registry = new Registry();
  fillOurs(
    new Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      labelNames: ["method", "route"],
      native,
      registry,
    }),
    labelPairs(SERIES),
  );
  return registry;
}

/** (a) The text from snapshots. */
async function text(registry: Registry): Promise<string> {
  return renderText(await registry.collect());
}

/** (b) The text a scrape serves: the byte renderer's. */
async function bytes(registry: Registry): Promise<Uint8Array> {
  return (await renderRegistryBytes(registry, { format: "text" }))!;
}

/** What `remoteWrite` sends for a `Registry`: read from storage, compressed while encoded. */
async function writeRequest(registry: Registry): Promise<Uint8Array> {
  return encodeCompressedWriteRequest((await gatherWriteItems(registry))!, LABELS, Date.now());
}

/** What `remoteWrite` sends for any other source: the same request from snapshots. */
async function snapshotRequest(registry: Registry): Promise<Uint8Array> {
  return encodeCompressedWriteRequest(await registry.collect(), LABELS, Date.now());
}

/** CPU milliseconds per call of `body` over `calls` calls (CPU time, not wall time). */
async function cpuMs(body: () => Promise<unknown>, calls: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await body();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / calls;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1];
}

/**
 * Each body's CPU time per call, measured in alternation (`ROUNDS` rounds of `calls` calls
 * each, after a warm-up): `times[k][round]`.
 */
async function sideBySide(
  bodies: readonly (() => Promise<unknown>)[],
  calls: number,
): Promise<number[][]> {
  for (let i = 0; i < 3; i++) for (const body of bodies) await body();
  const times: number[][] = bodies.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, body] of bodies.entries()) times[k].push(await cpuMs(body, calls));
  }
  return times;
}

/**
 * The median over the rounds of `a ÷ b` measured in the same round: a machine whose load
 * changes during the run then disturbs the ratio little. With the spread (lowest, highest).
 */
function ratioOf(a: number[], b: number[]): string {
  const ratios = a.map((ms, round) => ms / b[round]);
  const sorted = [...ratios].sort((x, y) => x - y);
  return `${median(ratios).toFixed(2)}× (${sorted[0].toFixed(2)}–${
    sorted[sorted.length - 1].toFixed(2)
  })`;
}

for (
  const [kind, make] of [
    ["counter", counterRegistry],
    ["histogram", () => histogramRegistry()],
    ["native histogram", () => histogramRegistry(true)],
  ] as const
) {
  const registry = make();
  const group = `remote_write.${kind.replace(" ", "_")}.10k`;
  const options = { group, n: 20, warmup: 3 };
  Deno.bench(`text 0.0.4 bytes, 10k ${kind} series (byte renderer)`, {
    ...options,
    baseline: true,
  }, async () => {
    await bytes(registry);
  });
  Deno.bench(`text 0.0.4, 10k ${kind} series (collect + render)`, options, async () => {
    await text(registry);
  });
  Deno.bench(`remote write, 10k ${kind} series (from storage)`, options, async () => {
    await writeRequest(registry);
  });
  Deno.bench(`remote write, 10k ${kind} series (from snapshots)`, options, async () => {
    await snapshotRequest(registry);
  });

  // Sizes, and the ratios measured directly, printed once.
  const textBytes = (await bytes(registry)).length;
  const flat = encodeWriteRequest((await gatherWriteItems(registry))!, LABELS, Date.now());
  const snappyBytes = (await writeRequest(registry)).length;
  const searchedBytes = snappyCompress(flat).length;
  const times = await sideBySide(
    [
      () => writeRequest(registry),
      () => text(registry),
      () => bytes(registry),
      () => snapshotRequest(registry),
    ],
    kind === "counter" ? 20 : 2,
  );
  const [write, snapshotText, byteText, fromSnapshots] = times;
  const ms = (series: number[]) => `${median(series).toFixed(2)} ms`;
  console.log(
    `${kind}: text ${textBytes} B; protobuf ${flat.length} B → snappy ${snappyBytes} B (ratio ${
      (flat.length / snappyBytes).toFixed(1)
    }:1; searched ${(flat.length / searchedBytes).toFixed(1)}:1)\n` +
      `  CPU per call: remote write ${ms(write)}; (a) collect + renderText ${
        ms(snapshotText)
      }; (b) byte renderer ${ms(byteText)}; remote write from snapshots ${ms(fromSnapshots)}\n` +
      `  remote write ÷ (a) ${ratioOf(write, snapshotText)}, ÷ (b) ${
        ratioOf(write, byteText)
      }; from snapshots ÷ (a) ${ratioOf(fromSnapshots, snapshotText)} ` +
      `(medians of ${ROUNDS} rounds' ratios, lowest–highest)`,
  );
}
