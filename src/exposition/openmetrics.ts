/**
 * The OpenMetrics 1.0 text format: `_total` and `_created` series, `# UNIT`, `info` and
 * `stateset` types, exemplars, and the closing `# EOF`.
 *
 * @module
 */

import {
  addQuantileLines,
  addStateLines,
  escapeHelpOpenMetrics,
  formatBounds,
  formatFloat,
  formatLabels,
  formatLabelsSplit,
  formatMetricName,
  hasSum,
  seriesText,
  TextBuilder,
} from "./format.ts";
import type { Exemplar, MetricFamily } from "../model.ts";
import { type EscapingScheme, isLegacyMetricName } from "../validation.ts";
import { DEFAULT_ESCAPING, escapeFamily } from "./escaping.ts";

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
  const out = new TextBuilder();
  for (const given of families) {
    const family = escapeFamily(given, escaping);
    const name = family.name;
    // Only under `allow-utf-8` can a name still be outside the legacy alphabet here.
    const quoted = !isLegacyMetricName(name);
    const written = formatMetricName(name, quoted);
    out.add(
      "# HELP " + written + " " + escapeHelpOpenMetrics(family.help) + "\n# TYPE " + written +
        " " + family.type + "\n",
    );
    if (family.unit !== undefined && family.unit !== "") {
      out.add("# UNIT " + written + " " + family.unit + "\n");
    }
    switch (family.type) {
      case "counter": {
        for (const point of family.points) {
          const labelText = formatLabels(point.labels);
          out.add(
            seriesText(name + "_total", labelText, quoted) + " " + formatFloat(point.value) +
              formatExemplar(point.exemplar) + "\n",
          );
          if (point.created !== undefined) {
            out.add(
              seriesText(name + "_created", labelText, quoted) + " " +
                formatFloat(point.created) + "\n",
            );
          }
        }
        break;
      }
      case "gauge":
      case "unknown": {
        for (const point of family.points) {
          out.add(
            seriesText(name, formatLabels(point.labels), quoted) + " " + formatFloat(point.value) +
              "\n",
          );
        }
        break;
      }
      case "histogram": {
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, "le");
          const bucketPrefix = seriesText(name + "_bucket", before, quoted);
          const closing = after + " ";
          const boundTexts = formatBounds(point.upperBounds);
          const bucketCounts = point.bucketCounts;
          const exemplars = point.exemplars;
          for (let i = 0; i < boundTexts.length; i++) {
            out.add(
              bucketPrefix + boundTexts[i] + closing + formatFloat(bucketCounts[i]) +
                formatExemplar(exemplars?.[i]) + "\n",
            );
          }
          const labelText = formatLabels(point.labels);
          out.add(
            seriesText(name + "_count", labelText, quoted) + " " + formatFloat(point.count) + "\n",
          );
          if (hasSum(point)) {
            out.add(
              seriesText(name + "_sum", labelText, quoted) + " " + formatFloat(point.sum) + "\n",
            );
          }
          if (point.created !== undefined) {
            out.add(
              seriesText(name + "_created", labelText, quoted) + " " +
                formatFloat(point.created) + "\n",
            );
          }
        }
        break;
      }
      case "summary": {
        for (const point of family.points) {
          addQuantileLines(out, name, point, quoted);
          const labelText = formatLabels(point.labels);
          out.add(
            seriesText(name + "_count", labelText, quoted) + " " + formatFloat(point.count) + "\n",
          );
          out.add(
            seriesText(name + "_sum", labelText, quoted) + " " + formatFloat(point.sum) + "\n",
          );
          if (point.created !== undefined) {
            out.add(
              seriesText(name + "_created", labelText, quoted) + " " +
                formatFloat(point.created) + "\n",
            );
          }
        }
        break;
      }
      case "info": {
        for (const point of family.points) {
          out.add(seriesText(name + "_info", formatLabels(point.labels), quoted) + " 1.0\n");
        }
        break;
      }
      case "stateset": {
        for (const point of family.points) addStateLines(out, name, point, quoted);
        break;
      }
    }
  }
  out.add("# EOF\n");
  return out.finish();
}

/** ` # {trace_id="abc"} 0.5 1700000000.123`, or nothing without an exemplar. */
export function formatExemplar(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return "";
  return " # " + (formatLabels(exemplar.labels) || "{}") + " " + formatFloat(exemplar.value) +
    (exemplar.timestamp === undefined ? "" : " " + String(exemplar.timestamp));
}
