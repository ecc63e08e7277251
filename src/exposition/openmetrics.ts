/**
 * The OpenMetrics 1.0 text format: `_total` and `_created` series, `# UNIT`, `info` and
 * `stateset` types, exemplars, and the closing `# EOF`.
 *
 * @module
 */

import {
  escapeHelpOpenMetrics,
  escapeLabelValue,
  formatFloat,
  formatLabels,
  formatLabelsSplit,
  hasSum,
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
 * import { renderOpenMetrics } from "./mod.ts";
 * renderOpenMetrics([{ type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }] }]);
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n# EOF\n"
 * ```
 */
export function renderOpenMetrics(families: readonly MetricFamily[]): string {
  let out = "";
  for (const family of families) {
    const name = family.name;
    out += "# HELP " + name + " " + escapeHelpOpenMetrics(family.help) + "\n# TYPE " + name +
      " " + family.type + "\n";
    if (family.unit !== undefined && family.unit !== "") {
      out += "# UNIT " + name + " " + family.unit + "\n";
    }
    switch (family.type) {
      case "counter": {
        for (const point of family.points) {
          const labelText = formatLabels(point.labels);
          out += name + "_total" + labelText + " " + formatFloat(point.value) +
            formatExemplar(point.exemplar) + "\n";
          if (point.created !== undefined) {
            out += name + "_created" + labelText + " " + formatFloat(point.created) + "\n";
          }
        }
        break;
      }
      case "gauge":
      case "unknown": {
        for (const point of family.points) {
          out += name + formatLabels(point.labels) + " " + formatFloat(point.value) + "\n";
        }
        break;
      }
      case "histogram": {
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, "le");
          const bucketPrefix = name + "_bucket" + before;
          const upperBounds = point.upperBounds;
          for (let i = 0; i < upperBounds.length; i++) {
            out += bucketPrefix + formatFloat(upperBounds[i]) + after + " " +
              formatFloat(point.bucketCounts[i]) + formatExemplar(point.exemplars?.[i]) + "\n";
          }
          const labelText = formatLabels(point.labels);
          out += name + "_count" + labelText + " " + formatFloat(point.count) + "\n";
          if (hasSum(point)) {
            out += name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n";
          }
          if (point.created !== undefined) {
            out += name + "_created" + labelText + " " + formatFloat(point.created) + "\n";
          }
        }
        break;
      }
      case "summary": {
        for (const point of family.points) {
          if (point.quantiles.length > 0) {
            const { before, after } = formatLabelsSplit(point.labels, "quantile");
            for (const { quantile, value } of point.quantiles) {
              out += name + before + formatFloat(quantile) + after + " " + formatFloat(value) +
                "\n";
            }
          }
          const labelText = formatLabels(point.labels);
          out += name + "_count" + labelText + " " + formatFloat(point.count) + "\n";
          out += name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n";
          if (point.created !== undefined) {
            out += name + "_created" + labelText + " " + formatFloat(point.created) + "\n";
          }
        }
        break;
      }
      case "info": {
        for (const point of family.points) {
          out += name + "_info" + formatLabels(point.labels) + " 1.0\n";
        }
        break;
      }
      case "stateset": {
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, name);
          for (const state of point.states) {
            out += name + before + escapeLabelValue(state.name) + after +
              (state.enabled ? " 1.0\n" : " 0.0\n");
          }
        }
        break;
      }
    }
  }
  return out + "# EOF\n";
}

/** ` # {trace_id="abc"} 0.5 1700000000.123`, or nothing without an exemplar. */
function formatExemplar(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return "";
  return " # " + (formatLabels(exemplar.labels) || "{}") + " " + formatFloat(exemplar.value) +
    (exemplar.timestamp === undefined ? "" : " " + String(exemplar.timestamp));
}
