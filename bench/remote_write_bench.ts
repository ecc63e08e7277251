/**
 * A whole remote write (gather + encode + Snappy, as `remoteWrite` does it, without the
 * network) against a text scrape of the same registry, for 10,000 counter series with three
 * labels, 10,000 classic histogram series and 10,000 native histogram series: the ratio of
 * their CPU times (medians of the ratios of interleaved rounds), the bytes per sample sent,
 * how much of the write is Snappy, a `RemoteWriter` write (staleness included), and the same
 * write encoded from `collect()` snapshots (as for a source that is not a registry).
 *
 * Run: `deno run -A bench/remote_write_bench.ts` (prints the ratios), or
 * `deno bench --allow-all bench/remote_write_bench.ts`.
 *
 * @module
 */

import process from "node:process";
import { Counter, Histogram, Registry, RemoteWriter } from "../mod.ts";
import { renderRegistryBytes } from "../src/exposition/registry_render.ts";
import { escapeFamily } from "../src/exposition/escaping.ts";
import { snappyCompress, snappyDecompress } from "../src/encoding/snappy.ts";
import { encodeWrite, extraLabels, type WriteItem } from "../src/push/remote_write/encoder.ts";
import { gather } from "../src/push/remote_write/write.ts";
import { fillOurs, labelPairs } from "./fixtures.ts";

const SERIES = 10_000;
const ROUNDS = 11;
/** As `remoteWrite` encodes with its default options. */
const SETTINGS = {
  labels: extraLabels({ job: "bench", instance: "host-1" }, "bench"),
  exemplars: true,
  nativeHistograms: true,
  maxSeries: 2_000,
  maxBytes: 4 * 1024 * 1024,
};

/**
 * 10k counter series with three labels: `method` and `route` as the other benchmarks make them
 * (100 × 100), and `status` (5 values).
 */
function counterRegistry(): Registry {
  const registry = new Registry();
  const counter = new Counter({
    name: "http_requests",
    help: "requests",
    labelNames: ["method", "route", "status"],
    registry,
  });
  for (const [i, pair] of labelPairs(SERIES).entries()) {
    counter.labels({ ...pair, status: String(200 + (i % 5)) }).inc(i);
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

/** What a scrape serves: the byte renderer's text 0.0.4. */
async function scrape(registry: Registry): Promise<Uint8Array> {
  return await renderRegistryBytes(registry, { format: "text" });
}

/** What a source that is not a registry gives: its snapshots. */
async function collect(registry: Registry): Promise<WriteItem[]> {
  return (await registry.collect()).map((family) => escapeFamily(family, "underscores"));
}

/** The requests of one write, compressed, in batches as `remoteWrite` sends them. */
function encodeAndCompress(items: readonly WriteItem[]): Uint8Array[] {
  return encodeWrite(items, SETTINGS, Date.now()).requests.map((request) => request.body);
}

async function write(registry: Registry): Promise<Uint8Array[]> {
  return encodeAndCompress(await gather(registry));
}

async function writeFromSnapshots(registry: Registry): Promise<Uint8Array[]> {
  return encodeAndCompress(await collect(registry));
}

/** A `RemoteWriter` (staleness included) whose receiver answers at once, without a network. */
function writerOf(registry: Registry): RemoteWriter {
  return new RemoteWriter({
    url: "http://127.0.0.1:9/api/v1/write",
    registry,
    labels: { job: "bench", instance: "host-1" },
    fetch: () => Promise.resolve(new Response(null, { status: 204 })),
  });
}

/** CPU milliseconds per call of `body` over `calls` calls. */
async function cpuMs(body: () => unknown, calls: number): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await body();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / calls;
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1];
}

/** Each body's CPU time per call, measured in alternation: `times[k][round]`. */
async function sideBySide(bodies: readonly (() => unknown)[], calls: number): Promise<number[][]> {
  for (let i = 0; i < 3; i++) for (const body of bodies) await body();
  const times: number[][] = bodies.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, body] of bodies.entries()) times[k].push(await cpuMs(body, calls));
  }
  return times;
}

/** The median over the rounds of `a ÷ b` measured in the same round, with the spread. */
function ratioOf(a: number[], b: number[]): string {
  const ratios = a.map((ms, round) => ms / b[round]).sort((x, y) => x - y);
  return `${median(ratios).toFixed(2)}× (${ratios[0].toFixed(2)}–${ratios.at(-1)!.toFixed(2)})`;
}

const fixtures = [
  ["counter", counterRegistry],
  ["histogram", () => histogramRegistry()],
  ["native histogram", () => histogramRegistry(true)],
] as const;

for (const [kind, make] of fixtures) {
  const registry = make();
  const group = `remote_write.${kind.replace(" ", "_")}.10k`;
  const options = { group, n: 20, warmup: 3 };
  Deno.bench(`text 0.0.4 scrape, 10k ${kind} series`, { ...options, baseline: true }, async () => {
    await scrape(registry);
  });
  Deno.bench(`remote write, 10k ${kind} series`, options, async () => {
    await write(registry);
  });
}

if (import.meta.main && !Deno.args.includes("--bench")) {
  for (const [kind, make] of fixtures) {
    const registry = make();
    const writer = writerOf(registry);
    const items = await gather(registry);
    const samples = encodeWrite(items, SETTINGS, Date.now()).series;
    const bodies = encodeAndCompress(items);
    const sent = bodies.reduce((sum, bytes) => sum + bytes.length, 0);
    const plain = bodies.map((body) => snappyDecompress(body));
    const calls = kind === "counter" ? 10 : 2;
    const [whole, text, metrics, byWriter, compressOnly, snapshots] = await sideBySide([
      () => write(registry),
      () => scrape(registry),
      () => registry.metrics(),
      () => writer.flush(),
      () => plain.map((request) => snappyCompress(request)),
      () => writeFromSnapshots(registry),
    ], calls);
    const ms = (times: number[]) => `${median(times).toFixed(2)} ms`;
    console.log(
      `${kind}: ${samples} samples; protobuf ${
        plain.reduce((sum, bytes) => sum + bytes.length, 0)
      } B → snappy ${sent} B: ` +
        `${(sent / samples).toFixed(1)} B/sample\n` +
        `  CPU per call: write ${ms(whole)} (of which snappy ${ms(compressOnly)}); scrape ${
          ms(text)
        }; metrics() ${ms(metrics)}\n` +
        `  write ÷ scrape ${ratioOf(whole, text)}; write ÷ metrics() ${ratioOf(whole, metrics)}\n` +
        `  RemoteWriter write (staleness included): ${ms(byWriter)}, ÷ scrape ${
          ratioOf(byWriter, text)
        }\n` +
        `  from snapshots: write ${ms(snapshots)}, ÷ scrape ${ratioOf(snapshots, text)}, ` +
        `÷ write ${ratioOf(snapshots, whole)}`,
    );
    await writer.stop();
  }
}
