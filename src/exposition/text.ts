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
  hasSum,
  TextBuilder,
} from "../format.ts";
import type { MetricFamily } from "../model.ts";

/** Content type of the Prometheus text format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Renders families in the text format 0.0.4.
 *
 * @example
 * ```ts
 * import { renderText } from "@deno-prom/client";
 * renderText([{ type: "gauge", name: "up_jobs", help: "jobs", points: [{ labels: {}, value: 2 }] }]);
 * // "# HELP up_jobs jobs\n# TYPE up_jobs gauge\nup_jobs 2.0\n"
 * ```
 */
export function renderText(families: readonly MetricFamily[]): string {
  const out = new TextBuilder();
  for (const family of families) {
    const name = family.name;
    switch (family.type) {
      case "counter": {
        const sampleName = name + "_total";
        out.add(header(sampleName, family.help, "counter"));
        for (const point of family.points) {
          out.add(sampleName + formatLabels(point.labels) + " " + formatFloat(point.value) + "\n");
        }
        break;
      }
      case "gauge":
      case "unknown": {
        out.add(header(name, family.help, family.type === "gauge" ? "gauge" : "untyped"));
        for (const point of family.points) {
          out.add(name + formatLabels(point.labels) + " " + formatFloat(point.value) + "\n");
        }
        break;
      }
      case "histogram": {
        out.add(header(name, family.help, "histogram"));
        for (const point of family.points) {
          const { before, after } = formatLabelsSplit(point.labels, "le");
          const bucketPrefix = name + "_bucket" + before;
          const closing = after + " ";
          const boundTexts = formatBounds(point.upperBounds);
          const bucketCounts = point.bucketCounts;
          for (let i = 0; i < boundTexts.length; i++) {
            out.add(bucketPrefix + boundTexts[i] + closing + formatFloat(bucketCounts[i]) + "\n");
          }
          const labelText = formatLabels(point.labels);
          out.add(name + "_count" + labelText + " " + formatFloat(point.count) + "\n");
          if (hasSum(point)) {
            out.add(name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n");
          }
        }
        break;
      }
      case "summary": {
        out.add(header(name, family.help, "summary"));
        for (const point of family.points) {
          addQuantileLines(out, name, point);
          const labelText = formatLabels(point.labels);
          out.add(name + "_count" + labelText + " " + formatFloat(point.count) + "\n");
          out.add(name + "_sum" + labelText + " " + formatFloat(point.sum) + "\n");
        }
        break;
      }
      case "info": {
        const sampleName = name + "_info";
        out.add(header(sampleName, family.help, "gauge"));
        for (const point of family.points) {
          out.add(sampleName + formatLabels(point.labels) + " 1.0\n");
        }
        break;
      }
      case "stateset": {
        out.add(header(name, family.help, "gauge"));
        for (const point of family.points) addStateLines(out, name, point);
        break;
      }
    }
  }
  return out.finish();
}

function header(name: string, help: string, type: string): string {
  return "# HELP " + name + " " + escapeHelpText(help) + "\n# TYPE " + name + " " + type + "\n";
}
