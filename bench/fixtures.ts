/**
 * Shared set-up for the benchmarks: the same label values and observations for prom-client
 * and for us, so both sides expose the same text.
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import type client from "npm:prom-client@15.1.3";
import { Counter, DEFAULT_BUCKETS, Histogram, Registry } from "../mod.ts";

/**
 * The bucket bounds both sides use: ours by default (those of Prometheus' Python client),
 * prom-client given them explicitly. prom-client's own default, like the Go client's, has 11
 * bounds (no 0.075, 0.75 and 7.5); giving it the same 14 makes both sides search the same
 * buckets and print the same lines.
 */
export const SAME_BUCKETS: number[] = [...DEFAULT_BUCKETS];

/** Label sets `{method, route}` for `count` distinct series (100 routes per method). */
export function labelPairs(count: number): { method: string; route: string }[] {
  const pairs = [];
  for (let i = 0; i < count; i++) {
    pairs.push({ method: `m${Math.floor(i / 100)}`, route: `/route/${i % 100}` });
  }
  return pairs;
}

/** Ten observations per series, spread over the 14 bounds. */
export function observationsFor(series: number): number[] {
  return Array.from({ length: 10 }, (_, k) => (((series * 31 + k * 7919) % 12_000) / 1000));
}

/** One label set per series, as {@linkcode labelPairs} makes them. */
export type LabelPairs = readonly { method: string; route: string }[];

/**
 * A fresh `{method, route}` object with the values of `pair`, as a caller writes it at the
 * call: prom-client keeps the object it is given as the series' labels, we keep a copy.
 */
export function labelsLiteral(pair: LabelPairs[number]): { method: string; route: string } {
  return { method: pair.method, route: pair.route };
}

/** Creates one series per label set in a prom-client histogram and observes into each. */
export function fillPromClient(histogram: client.Histogram<string>, pairs: LabelPairs): void {
  for (const [i, labels] of pairs.entries()) {
    const child = histogram.labels(labelsLiteral(labels));
    for (const value of observationsFor(i)) child.observe(value);
  }
}

/** Creates one series per label set in one of our histograms and observes into each. */
export function fillOurs(histogram: Histogram, pairs: LabelPairs): void {
  for (const [i, labels] of pairs.entries()) {
    const child = histogram.labels(labelsLiteral(labels));
    for (const value of observationsFor(i)) child.observe(value);
  }
}

/** How the 1,000-series registry of the server benchmarks is made up. */
export const SERVER_SERIES = { counters: 500, histograms: 500 } as const;

/**
 * A prom-client registry of 1,000 series: 500 counter series and 500 histogram series
 * (`SAME_BUCKETS`), two labels each, with the same values as {@linkcode ourServerRegistry}.
 */
export function promClientServerRegistry(promClient: typeof client): client.Registry {
  const registry = new promClient.Registry();
  const counter = new promClient.Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registers: [registry],
  });
  for (const [i, labels] of labelPairs(SERVER_SERIES.counters).entries()) {
    counter.labels(labelsLiteral(labels)).inc(i);
  }
  fillPromClient(
    new promClient.Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      buckets: SAME_BUCKETS,
      labelNames: ["method", "route"],
      registers: [registry],
    }),
    labelPairs(SERVER_SERIES.histograms),
  );
  return registry;
}

/** The counter every side-by-side benchmark fills: `http_requests_total{method, route}`. */
export function ourRequestsCounter(registry: Registry): Counter {
  return new Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registry,
    maxSeries: Infinity, // benches fill it with up to 100k series
  });
}

/** Our registry with the same 1,000 series as {@linkcode promClientServerRegistry}. */
export function ourServerRegistry(): Registry {
  const registry = new Registry();
  const counter = ourRequestsCounter(registry);
  for (const [i, labels] of labelPairs(SERVER_SERIES.counters).entries()) {
    counter.labels(labelsLiteral(labels)).inc(i);
  }
  fillOurs(
    new Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      labelNames: ["method", "route"],
      registry,
    }),
    labelPairs(SERVER_SERIES.histograms),
  );
  return registry;
}

/** Reads `PORT n` from a benchmark server child's stdout (the load benchmarks start them). */
export async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening; it printed: ${seen}`);
    seen += value;
    const match = seen.match(/PORT (\d+)/);
    if (match) {
      reader.releaseLock();
      return Number(match[1]);
    }
  }
}
