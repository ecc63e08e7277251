/**
 * The Prometheus text exposition format, version 0.0.4 — byte for byte what the official
 * Python client prints (with its `_created` series disabled). The lines are written by the byte
 * renderer's family writer (`family_writer.ts`), which every text path shares.
 *
 * @module
 */

import type { MetricFamily } from "../model.ts";
import type { EscapingScheme } from "../validation.ts";
import { DEFAULT_ESCAPING } from "./escaping.ts";
import { familiesText } from "./family_writer.ts";

/** Content type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Renders families in the text format 0.0.4. Names are written as `escaping` says (default
 * `underscores`); under `allow-utf-8` those outside the legacy alphabet are quoted, as in
 * `{"http.requests_total",method="GET"} 1.0`.
 *
 * @example
 * ```ts
 * import { renderText } from "@deno-prom/client/exposition";
 * renderText([{ type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }] }]);
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n"
 * ```
 */
export function renderText(
  families: readonly MetricFamily[],
  escaping: EscapingScheme = DEFAULT_ESCAPING,
): string {
  return familiesText(families, false, escaping);
}
