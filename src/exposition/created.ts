/**
 * Leaving out the `_created` series (the Python client's `PROMETHEUS_DISABLE_CREATED_SERIES`):
 * OpenMetrics then writes no `_created` line for counters, histograms and summaries, which
 * halves the output of counters. The text format 0.0.4 never writes them.
 *
 * @module
 */

import type { MetricFamily } from "../model.ts";

/** The family without creation times: the same object when it has none to drop. */
export function withoutCreated(family: MetricFamily): MetricFamily {
  if (family.type !== "counter" && family.type !== "histogram" && family.type !== "summary") {
    return family;
  }
  // deno-lint-ignore no-explicit-any
  const points = (family.points as readonly any[]).map((point) => {
    if (point.created === undefined) return point;
    const { created: _created, ...rest } = point;
    return rest;
  });
  return { ...family, points } as MetricFamily;
}
