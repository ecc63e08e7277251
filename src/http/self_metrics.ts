/**
 * The endpoint's own metrics, as client_golang's `promhttp` offers them (see the
 * `selfMetrics` option of `metricsHandler`).
 *
 * @module
 */

import { Counter } from "../metrics/counter.ts";
import { Gauge } from "../metrics/gauge.ts";
import { Histogram } from "../metrics/histogram.ts";
import type { Registry } from "../registry.ts";

/** The endpoint's own metrics (see `selfMetrics`). */
export interface SelfMetrics {
  readonly requests: Counter;
  readonly inFlight: Gauge;
  readonly duration: Histogram;
}

/** Self metrics by registry, so that handlers sharing a registry share them too. */
const selfMetricsByRegistry = new WeakMap<Registry, SelfMetrics>();

export function selfMetricsIn(registry: Registry): SelfMetrics {
  let metrics = selfMetricsByRegistry.get(registry);
  if (metrics === undefined) {
    const requests = new Counter({
      name: "promhttp_metric_handler_requests_total",
      help: "Total number of scrapes by HTTP status code.",
      labelNames: ["code"],
      registry,
    });
    // As client_golang does: the usual codes are present from the start, at 0.
    for (const code of ["200", "500", "503"]) requests.labels(code);
    metrics = {
      requests,
      inFlight: new Gauge({
        name: "promhttp_metric_handler_requests_in_flight",
        help: "Current number of scrapes being served.",
        registry,
      }),
      duration: new Histogram({
        name: "promhttp_metric_handler_request_duration_seconds",
        help: "Time taken to answer a scrape, in seconds.",
        registry,
      }),
    };
    selfMetricsByRegistry.set(registry, metrics);
  }
  return metrics;
}
