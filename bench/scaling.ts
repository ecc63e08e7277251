/**
 * Scaling: exposition time and heap bytes per series at 1k, 10k and 100k series, histograms
 * (two labels, the same 14 bucket bounds on both sides) and counters (two labels), for us and
 * for prom-client 15.1.3.
 * Each measurement runs in a fresh process, so neither library's heap weighs on the other.
 *
 * Bytes per series is the growth of V8's heap plus its external memory (typed-array storage)
 * across creating the series and observing ten values into each, after a full GC; "after a
 * scrape" adds what the first exposition leaves behind (any text a library keeps for the next
 * scrape; we keep none). Each side first creates and scrapes a throwaway metric of the same kind
 * (`warmUp`), so that the one-time cost of compiling its code is not spread over the series.
 *
 * Run: `deno run -A --v8-flags=--expose-gc bench/scaling.ts` (add `counter` or `histogram` to
 * measure one kind only)
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { Counter, Histogram, Registry } from "../mod.ts";
import {
  fillOurs,
  fillPromClient,
  type LabelPairs,
  labelPairs,
  labelsLiteral,
  SAME_BUCKETS,
} from "./fixtures.ts";

type Side = "ours" | "prom-client";
type Kind = "histogram" | "counter";

const SIZES = [1_000, 10_000, 100_000];

/** One side at one size, as measured by a child process. */
interface Measurement {
  readonly side: Side;
  readonly kind: Kind;
  readonly series: number;
  readonly bytesPerSeries: number;
  readonly bytesPerSeriesAfterScrape: number;
  readonly medianMs: number;
  readonly outputBytes: number;
}

declare function gc(): void;

/** Holds the label values for the whole measurement, so they never count as freed. */
let labelValuesKept: LabelPairs = [];

/**
 * Heap plus external memory after full collections. V8 frees the memory of collected typed
 * arrays on a background thread, so each collection is followed by a pause: without it, the
 * warm-up's freed arrays were still counted before the fill and made small sizes read low.
 */
async function usedMemory(): Promise<number> {
  for (let round = 0; round < 3; round++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = Deno.memoryUsage();
  return usage.heapUsed + usage.external;
}

/** Creates `pairs.length` series of `kind` on one side; returns that side's `metrics()`. */
function fill(side: Side, kind: Kind, pairs: LabelPairs): () => Promise<string> {
  const name = kind === "histogram" ? "http_request_duration_seconds" : "http_requests_total";
  const labelNames = ["method", "route"];
  if (side === "ours") {
    const registry = new Registry({ maxSeriesPerMetric: Infinity }); // up to 100k series
    if (kind === "histogram") {
      fillOurs(new Histogram({ name, help: "request durations", labelNames, registry }), pairs);
    } else {
      const counter = new Counter({ name, help: "requests", labelNames, registry });
      for (const [i, pair] of pairs.entries()) counter.labels(labelsLiteral(pair)).inc(i);
    }
    return () => registry.metrics();
  }
  const registry = new client.Registry();
  const registers = [registry];
  if (kind === "histogram") {
    fillPromClient(
      new client.Histogram({
        name,
        help: "request durations",
        labelNames,
        buckets: SAME_BUCKETS,
        registers,
      }),
      pairs,
    );
  } else {
    const counter = new client.Counter({ name, help: "requests", labelNames, registers });
    for (const [i, pair] of pairs.entries()) counter.labels(labelsLiteral(pair)).inc(i);
  }
  return () => registry.metrics();
}

/** Child mode: measure one side at one size and print the result as JSON. */
async function measure(side: Side, kind: Kind, series: number): Promise<Measurement> {
  const runs = series >= 100_000 ? 7 : series >= 10_000 ? 21 : 41;
  // The label values are the caller's: made before the baseline, so that only what each
  // library keeps for a series is counted (the `{method, route}` objects are made at each
  // call, as callers write them, and prom-client keeps them).
  const pairs = labelPairs(series);
  labelValuesKept = pairs;
  await warmUp(side, kind);
  const before = await usedMemory();
  const metrics = fill(side, kind, pairs);
  const afterCreation = await usedMemory();
  const outputBytes = await scrapeLength(metrics);
  const afterScrape = await usedMemory();
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = performance.now();
    await metrics();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  if (labelValuesKept.length !== series) throw new Error("label values were not kept");
  return {
    side,
    kind,
    series,
    bytesPerSeries: (afterCreation - before) / series,
    bytesPerSeriesAfterScrape: (afterScrape - before) / series,
    medianMs: times[times.length >> 1],
    outputBytes,
  };
}

/**
 * Creates, fills and scrapes a throwaway 1,000-series metric of the same kind on the same side,
 * so that what either library compiles or sets up once (V8's code for its functions, its
 * caches of formatted bounds) is not counted per series.
 */
async function warmUp(side: Side, kind: Kind): Promise<void> {
  const metrics = fill(
    side,
    kind,
    labelPairs(1_000).map((pair) => ({ ...pair, method: "w" + pair.method })),
  );
  // Several scrapes, so that V8 has optimised the exposition code before the baseline is taken
  // (two left its optimised code to be counted in the first measured scrape).
  for (let scrape = 0; scrape < 8; scrape++) await scrapeLength(metrics);
}

/**
 * Scrapes once and returns the text's length (one byte per character: it is ASCII here). In
 * its own function so that nothing of the text stays referenced from the caller's frame.
 */
async function scrapeLength(metrics: () => Promise<string>): Promise<number> {
  return (await metrics()).length;
}

async function runChild(side: Side, kind: Kind, series: number): Promise<Measurement> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--measure",
      side,
      kind,
      String(series),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`measuring ${side} at ${series} ${kind} series failed`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

async function main(): Promise<void> {
  // `bench/scaling.ts counter` (or `histogram`) measures one kind only.
  const kinds = (["histogram", "counter"] as const).filter((kind) =>
    Deno.args.length === 0 || Deno.args.includes(kind)
  );
  for (const kind of kinds) {
    console.log(
      kind === "histogram"
        ? "Histogram series: 2 labels, 14 bounds + Inf, 10 observations each"
        : "Counter series: 2 labels",
    );
    console.log(
      "| series | side | metrics() median | µs/series | bytes/series | bytes/series after a scrape |",
    );
    console.log("|---|---|---|---|---|---|");
    const results: Measurement[] = [];
    for (const series of SIZES) {
      for (const side of ["prom-client", "ours"] as const) {
        const result = await runChild(side, kind, series);
        results.push(result);
        console.log(
          `| ${series.toLocaleString("en")} | ${side} | ${result.medianMs.toFixed(1)} ms | ${
            (result.medianMs * 1000 / series).toFixed(2)
          } | ${result.bytesPerSeries.toFixed(0)} | ${
            result.bytesPerSeriesAfterScrape.toFixed(0)
          } |`,
        );
      }
    }
    console.log();
    for (const series of SIZES) {
      const [theirs, ours] = results.filter((result) => result.series === series);
      console.log(
        `${series.toLocaleString("en")} ${kind} series: ${
          (theirs.medianMs / ours.medianMs).toFixed(1)
        }× faster; bytes per series ${
          (ours.bytesPerSeries / theirs.bytesPerSeries * 100).toFixed(0)
        }% of prom-client's, ${
          (ours.bytesPerSeriesAfterScrape / theirs.bytesPerSeriesAfterScrape * 100).toFixed(0)
        }% after a scrape`,
      );
    }
    console.log();
  }
}

if (typeof (globalThis as { gc?: unknown }).gc !== "function") {
  console.error("run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
const measureIndex = Deno.args.indexOf("--measure");
if (measureIndex >= 0) {
  const side = Deno.args[measureIndex + 1] as Side;
  const kind = Deno.args[measureIndex + 2] as Kind;
  const series = Number(Deno.args[measureIndex + 3]);
  console.log(JSON.stringify(await measure(side, kind, series)));
} else {
  await main();
}
