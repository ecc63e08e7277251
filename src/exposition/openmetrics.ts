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
  hasSum,
  TextBuilder,
} from "../format.ts";
import type { Exemplar, MetricFamily } from "../model.ts";

/** Content type of OpenMetrics 1.0.0 text. */
export const OPENMETRICS_CONTENT_TYPE =
  "application/openmetrics-text; version=1.0.0; charset=utf-8";

/**
 * Renders families as OpenMetrics 1.0 text, ending with `# EOF`.
 *
 * @example
 * ```ts
 * import { renderOpenMetrics } from "@deno-prom/client";
 * renderOpenMetrics([{ type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }] }]);
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n# EOF\n"
 * ```
 */
export function renderOpenMetrics(families: readonly MetricFamily[]): string {
  const out = new TextBuilder();
  for (const family of families) {
    const name = family.name;
    out.add(
      "# HELP " + name + " " + escapeHelpOpenMetrics(family.help) + "\n# TYPE " + name +
        " " + family.type + "\n",
    );
    if (family.unit !== undefined && family.unit !== "") {
      out.add("# UNIT " + name + " " + family.unit + "\n");
    }
    switch (family.type) {
      case "counter": {
        for (const point of family.points) {
          const labelText = formatLabels(point.labels);
          out.add(
            name + "_total" + labelText + " " + formatFloat(point.value) +
              formatExemplar(point.exemplar) + "\n",
          );
          if (point.created !== undefined) {
            out.add(name + "_created" + labelText + " " + formatFloat(point.created) + "\n");
          }
        }
        break;
      }
      case "gauge":
      case "unknown": {
        for (const point of family.points) {
          out.add(name + formatLabels(point.labels) + " " + formatFloat(point.value) + "\n");
        }
        break;
      }
      case "histogram": {
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, "le");
          const bucketPrefix = name + "_bucket" + before;
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
          out.add(name + "_count" + labelText + " " + formatFloat(point.count) + "\n");
          if (hasSum(point)) {
            out.add(name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n");
          }
          if (point.created !== undefined) {
            out.add(name + "_created" + labelText + " " + formatFloat(point.created) + "\n");
          }
        }
        break;
      }
      case "summary": {
        for (const point of family.points) {
          addQuantileLines(out, name, point);
          const labelText = formatLabels(point.labels);
          out.add(name + "_count" + labelText + " " + formatFloat(point.count) + "\n");
          out.add(name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n");
          if (point.created !== undefined) {
            out.add(name + "_created" + labelText + " " + formatFloat(point.created) + "\n");
          }
        }
        break;
      }
      case "info": {
        for (const point of family.points) {
          out.add(name + "_info" + formatLabels(point.labels) + " 1.0\n");
        }
        break;
      }
      case "stateset": {
        for (const point of family.points) addStateLines(out, name, point);
        break;
      }
    }
  }
  out.add("# EOF\n");
  return out.finish();
}

/** ` # {trace_id="abc"} 0.5 1700000000.123`, or nothing without an exemplar. */
function formatExemplar(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return "";
  return " # " + (formatLabels(exemplar.labels) || "{}") + " " + formatFloat(exemplar.value) +
    (exemplar.timestamp === undefined ? "" : " " + String(exemplar.timestamp));
}
