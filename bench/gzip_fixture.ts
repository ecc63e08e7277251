/**
 * The 10,000-series registry of the gzip benchmarks (`gzip_bench.ts`, `gzip_load.ts`), made the
 * same way as `bench/promhttp/main.go` makes it for client_golang.
 *
 * @module
 */

import { Histogram, Registry } from "../mod.ts";
import { labelPairs, observationsFor, ourRequestsCounter } from "./fixtures.ts";

/** 10,000 series: 9,000 counter series and 1,000 histogram series (11 bounds), two labels. */
export function registryOf10kSeries(): Registry {
  const registry = new Registry();
  const requests = ourRequestsCounter(registry);
  for (const [i, labels] of labelPairs(9_000).entries()) requests.labels(labels).inc(i);
  const latency = new Histogram({
    name: "http_request_duration_seconds",
    help: "latency",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registry,
  });
  for (const [i, labels] of labelPairs(1_000).entries()) {
    const child = latency.labels(labels);
    for (const value of observationsFor(i)) child.observe(value);
  }
  return registry;
}
