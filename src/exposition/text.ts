/**
 * The Prometheus text exposition format, version 0.0.4 — byte for byte what the official
 * Python client prints (with its `_created` series disabled).
 *
 * @module
 */

import {
  addQuantileLines,
  addStateLines,
  escapeHelpText,
  formatBounds,
  formatFloat,
  formatLabels,
  formatLabelsSplit,
  formatMetricName,
  hasSum,
  seriesText,
  TextBuilder,
} from "./format.ts";
import type { MetricFamily } from "../model.ts";
import { type EscapingScheme, isLegacyMetricName } from "../validation.ts";
import { DEFAULT_ESCAPING, escapeFamily } from "./escaping.ts";

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
  const out = new TextBuilder();
  for (const given of families) {
    const family = escapeFamily(given, escaping);
    const name = family.name;
    // Only under `allow-utf-8` can a name still be outside the legacy alphabet here.
    const quoted = !isLegacyMetricName(name);
    switch (family.type) {
      case "counter": {
        const sampleName = name + "_total";
        out.add(header(sampleName, family.help, "counter", quoted));
        for (const point of family.points) {
          out.add(
            seriesText(sampleName, formatLabels(point.labels), quoted) + " " +
              formatFloat(point.value) + "\n",
          );
        }
        break;
      }
      case "gauge":
      case "unknown": {
        out.add(header(name, family.help, family.type === "gauge" ? "gauge" : "untyped", quoted));
        for (const point of family.points) {
          out.add(
            seriesText(name, formatLabels(point.labels), quoted) + " " + formatFloat(point.value) +
              "\n",
          );
        }
        break;
      }
      case "histogram": {
        out.add(header(name, family.help, "histogram", quoted));
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, "le");
          const bucketPrefix = seriesText(name + "_bucket", before, quoted);
          const closing = after + " ";
          const boundTexts = formatBounds(point.upperBounds);
          const bucketCounts = point.bucketCounts;
          for (let i = 0; i < boundTexts.length; i++) {
            out.add(bucketPrefix + boundTexts[i] + closing + formatFloat(bucketCounts[i]) + "\n");
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
        }
        break;
      }
      case "summary": {
        out.add(header(name, family.help, "summary", quoted));
        for (const point of family.points) {
          addQuantileLines(out, name, point, quoted);
          const labelText = formatLabels(point.labels);
          out.add(
            seriesText(name + "_count", labelText, quoted) + " " + formatFloat(point.count) + "\n",
          );
          out.add(
            seriesText(name + "_sum", labelText, quoted) + " " + formatFloat(point.sum) + "\n",
          );
        }
        break;
      }
      case "info": {
        const sampleName = name + "_info";
        out.add(header(sampleName, family.help, "gauge", quoted));
        for (const point of family.points) {
          out.add(seriesText(sampleName, formatLabels(point.labels), quoted) + " 1.0\n");
        }
        break;
      }
      case "stateset": {
        out.add(header(name, family.help, "gauge", quoted));
        for (const point of family.points) addStateLines(out, name, point, quoted);
        break;
      }
    }
  }
  return out.finish();
}

function header(name: string, help: string, type: string, quoted: boolean): string {
  const written = formatMetricName(name, quoted);
  return "# HELP " + written + " " + escapeHelpText(help) + "\n# TYPE " + written + " " + type +
    "\n";
}
