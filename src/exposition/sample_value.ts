/**
 * One sample's value among families, found by its exposed name and labels the way the Python
 * client's `get_sample_value` finds it (for `Registry.getSampleValue`).
 *
 * @module
 */

import type { Labels, MetricFamily } from "../model.ts";
import { formatFloat, hasSum } from "./format.ts";

/** Whether `labels` plus the optional `extraName="extraValue"` is exactly `wanted`. */
function sameLabels(
  labels: Labels,
  wanted: Labels,
  extraName?: string,
  extraValue?: string,
): boolean {
  let count = 0;
  for (const name in labels) {
    if (!Object.hasOwn(labels, name) || name === extraName) continue;
    if (wanted[name] !== labels[name] || !Object.hasOwn(wanted, name)) return false;
    count++;
  }
  if (extraName !== undefined) {
    if (wanted[extraName] !== extraValue || !Object.hasOwn(wanted, extraName)) return false;
    count++;
  }
  let wantedCount = 0;
  for (const name in wanted) if (Object.hasOwn(wanted, name)) wantedCount++;
  return count === wantedCount;
}

/**
 * The value of the sample `name{labels}` among `families`, as the text formats name samples
 * (`x_total`, `x_created`, `x_bucket` with `le`, `x_count`, `x_sum`, a summary's `quantile`,
 * `x_info`, a state set's label named after it), or `undefined` when there is none.
 */
export function findSampleValue(
  families: readonly MetricFamily[],
  name: string,
  labels: Labels,
): number | undefined {
  for (const family of families) {
    const base = family.name;
    if (!name.startsWith(base)) continue;
    const suffix = name.slice(base.length);
    for (const point of family.points) {
      const created = "created" in point ? point.created : undefined;
      if (suffix === "_created" && created !== undefined && sameLabels(point.labels, labels)) {
        return created;
      }
    }
    switch (family.type) {
      case "counter":
      case "gauge":
      case "unknown":
        // A counter's value is `x_total`; a gauge's is `x` itself.
        if (suffix !== (family.type === "counter" ? "_total" : "")) break;
        for (const point of family.points) {
          if (sameLabels(point.labels, labels)) return point.value;
        }
        break;
      case "histogram":
        for (const point of family.points) {
          if (suffix === "_bucket") {
            const bounds = point.upperBounds;
            for (let i = 0; i < bounds.length; i++) {
              if (sameLabels(point.labels, labels, "le", formatFloat(bounds[i]))) {
                return point.bucketCounts[i];
              }
            }
          } else if (sameLabels(point.labels, labels)) {
            if (suffix === "_count") return point.count;
            if (suffix === "_sum" && hasSum(point)) return point.sum;
          }
        }
        break;
      case "summary":
        for (const point of family.points) {
          if (suffix === "") {
            for (const { quantile, value } of point.quantiles) {
              if (sameLabels(point.labels, labels, "quantile", formatFloat(quantile))) return value;
            }
          } else if (sameLabels(point.labels, labels)) {
            if (suffix === "_count") return point.count;
            if (suffix === "_sum") return point.sum;
          }
        }
        break;
      case "info":
        if (suffix !== "_info") break;
        for (const point of family.points) {
          if (sameLabels(point.labels, labels)) return 1;
        }
        break;
      case "stateset":
        if (suffix !== "") break;
        for (const point of family.points) {
          for (const state of point.states) {
            if (sameLabels(point.labels, labels, base, state.name)) return state.enabled ? 1 : 0;
          }
        }
        break;
    }
  }
  return undefined;
}
