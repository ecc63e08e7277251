/**
 * Format choice and rendering: which wire formats exist, the `Content-Type` of each, and the one
 * function that turns families into a body in any of them. Registries, the handler and the
 * writers call these; nothing here knows where families come from.
 *
 * @module
 */

import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./openmetrics.ts";
import { PROMETHEUS_CONTENT_TYPE, renderText } from "./text.ts";
import { PROTOBUF_CONTENT_TYPE, renderProtobuf } from "./protobuf.ts";
import { DEFAULT_ESCAPING, escapeFamily } from "./escaping.ts";
import { renderFamilies } from "./byte_render.ts";
import type { MetricFamily } from "../model.ts";
import type { EscapingScheme } from "../validation.ts";

/**
 * The wire formats: Prometheus text 0.0.4, OpenMetrics 1.0, or the delimited
 * protobuf format (`io.prometheus.client.MetricFamily`, bytes rather than text).
 */
export type ExpositionFormat = "text" | "openmetrics" | "protobuf";

/**
 * The `Content-Type` of each format.
 *
 * @example
 * ```ts
 * import { contentTypeOf } from "@deno-prom/client/exposition";
 * contentTypeOf("openmetrics"); // "application/openmetrics-text; version=1.0.0; charset=utf-8"
 * ```
 */
export function contentTypeOf(format: ExpositionFormat): string {
  if (format === "protobuf") return PROTOBUF_CONTENT_TYPE;
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/**
 * Renders families in a text format, writing names as `escaping` says (default
 * `underscores`).
 *
 * @example
 * ```ts
 * import type { MetricFamily } from "@deno-prom/client";
 * import { render } from "@deno-prom/client/exposition";
 * const up: MetricFamily = {
 *   type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }],
 * };
 * render([up], "openmetrics");
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n# EOF\n"
 * render([up], "protobuf"); // a Uint8Array: one length-delimited MetricFamily
 * ```
 */
export function render(
  families: readonly MetricFamily[],
  format: Exclude<ExpositionFormat, "protobuf">,
  escaping?: EscapingScheme,
): string;
/** Renders families in the protobuf format. */
export function render(
  families: readonly MetricFamily[],
  format: "protobuf",
  escaping?: EscapingScheme,
): Uint8Array;
/** Renders families in the given format: text for the text formats, bytes for protobuf. */
export function render(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): string | Uint8Array;
export function render(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): string | Uint8Array {
  if (format === "protobuf") {
    const scheme = escaping ?? DEFAULT_ESCAPING;
    return renderProtobuf(families.map((family) => escapeFamily(family, scheme)));
  }
  return format === "openmetrics"
    ? renderOpenMetrics(families, escaping)
    : renderText(families, escaping);
}

/** Renders families in the given format as the bytes of a response body. */
export function renderBytes(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): Uint8Array<ArrayBuffer> {
  if (format === "protobuf") return render(families, format, escaping) as Uint8Array<ArrayBuffer>;
  return renderFamilies(families, { format, escaping });
}
