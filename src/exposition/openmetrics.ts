/**
 * The OpenMetrics 1.0 text format: `_total` and `_created` series, `# UNIT`, `info` and
 * `stateset` types, exemplars, and the closing `# EOF`. The lines are written by the byte
 * renderer's family writer (`family_writer.ts`), which every text path shares.
 *
 * @module
 */

import type { MetricFamily } from "../model.ts";
import type { EscapingScheme } from "../validation.ts";
import { DEFAULT_ESCAPING } from "./escaping.ts";
import { familiesText } from "./family_writer.ts";

/** Content type of OpenMetrics 1.0.0 text. */
export const OPENMETRICS_CONTENT_TYPE =
  "application/openmetrics-text; version=1.0.0; charset=utf-8";

/**
 * Renders families as OpenMetrics 1.0 text, ending with `# EOF`. Names outside the legacy
 * alphabet are written as `escaping` says (default `underscores`); under `allow-utf-8` they are
 * quoted, as in `{"http.requests_total",method="GET"} 1.0`.
 *
 * @example
 * ```ts
 * import { renderOpenMetrics } from "@deno-prom/client/exposition";
 * renderOpenMetrics([{ type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }] }]);
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n# EOF\n"
 * ```
 */
export function renderOpenMetrics(
  families: readonly MetricFamily[],
  escaping: EscapingScheme = DEFAULT_ESCAPING,
): string {
  return familiesText(families, true, escaping);
}
