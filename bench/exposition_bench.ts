/**
 * Exposition benchmarks: `await registry.metrics()` here and in prom-client 15.1.3 (the
 * baseline), for the same series with the same observations.
 *
 * Run: `deno bench --allow-all bench/exposition_bench.ts`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { Histogram, metricsHandler, Registry } from "../mod.ts";

/** A plain text scrape through the handler, its streamed body read to the end. */
async function scrape(handle: (request: Request) => Promise<Response>): Promise<void> {
  const reader = (await handle(new Request("http://localhost/metrics"))).body!.getReader();
  while (!(await reader.read()).done);
}
import {
  fillOurs,
  fillPromClient,
  labelPairs,
  ourRequestsCounter,
  SAME_BUCKETS,
} from "./fixtures.ts";

// --- 10,000 histogram series, 2 labels, the 14 default bounds of the Python client ---------

{
  const SERIES = 10_000;
  const promRegistry = new client.Registry();
  const ourRegistry = new Registry();
  fillPromClient(
    new client.Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      buckets: SAME_BUCKETS,
      labelNames: ["method", "route"],
      registers: [promRegistry],
    }),
    labelPairs(SERIES),
  );
  fillOurs(
    new Histogram({
      name: "http_request_duration_seconds",
      help: "request durations",
      labelNames: ["method", "route"],
      registry: ourRegistry,
    }),
    labelPairs(SERIES),
  );
  Deno.bench(
    "prom-client registry.metrics(), 10k histogram series",
    { group: "metrics.histogram.10k", baseline: true, n: 10, warmup: 2 },
    async () => {
      await promRegistry.metrics();
    },
  );
  Deno.bench(
    "ours registry.metrics(), 10k histogram series",
    { group: "metrics.histogram.10k", n: 10, warmup: 2 },
    async () => {
      await ourRegistry.metrics();
    },
  );
  const handle = metricsHandler({ registry: ourRegistry, compression: false, format: "text" });
  Deno.bench(
    "ours metricsHandler scrape (byte renderer, streamed), 10k histogram series",
    { group: "metrics.histogram.10k", n: 10, warmup: 2 },
    async () => {
      await scrape(handle);
    },
  );
}

// --- 10,000 counter series, 2 labels ------------------------------------------------------

{
  const SERIES = 10_000;
  const promRegistry = new client.Registry();
  const ourRegistry = new Registry();
  const promCounter = new client.Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registers: [promRegistry],
  });
  const ourCounter = ourRequestsCounter(ourRegistry);
  for (const [i, labels] of labelPairs(SERIES).entries()) {
    promCounter.labels(labels).inc(i);
    ourCounter.labels(labels).inc(i);
  }
  Deno.bench(
    "prom-client registry.metrics(), 10k counter series",
    { group: "metrics.counter.10k", baseline: true, n: 20, warmup: 2 },
    async () => {
      await promRegistry.metrics();
    },
  );
  Deno.bench(
    "ours registry.metrics(), 10k counter series",
    { group: "metrics.counter.10k", n: 20, warmup: 2 },
    async () => {
      await ourRegistry.metrics();
    },
  );
  const handle = metricsHandler({ registry: ourRegistry, compression: false, format: "text" });
  Deno.bench(
    "ours metricsHandler scrape (byte renderer, streamed), 10k counter series",
    { group: "metrics.counter.10k", n: 20, warmup: 2 },
    async () => {
      await scrape(handle);
    },
  );
}
