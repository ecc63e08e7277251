/**
 * Writing UTF-8 metric and label names for a scraper: each family is renamed as the negotiated
 * escaping scheme says before a text format writes it. Families whose names are all in the
 * legacy alphabet (nearly all of them) are passed through untouched.
 *
 * @module
 */

import { labelSourceOf, type LabelTextSource } from "./format.ts";
import type { Exemplar, Labels, MetricFamily } from "../model.ts";
import {
  escapeName,
  type EscapingScheme,
  isLegacyLabelName,
  isLegacyMetricName,
} from "../validation.ts";

/** What a scraper gets when it does not name an escaping scheme (the Prometheus 3 default). */
export const DEFAULT_ESCAPING: EscapingScheme = "underscores";

/**
 * The family with its name, label names and exemplar label names written as `scheme` says:
 * the same object when nothing needs renaming (always under `allow-utf-8`). A state set's name
 * is also a label name, so it is escaped with the label alphabet.
 *
 * @example
 * ```ts
 * import { escapeFamily } from "@deno-prom/client/exposition";
 * escapeFamily(
 *   { type: "gauge", name: "queue.depth", help: "", points: [{ labels: { "queue.name": "a" }, value: 1 }] },
 *   "underscores",
 * ); // { type: "gauge", name: "queue_depth", help: "", points: [{ labels: { queue_name: "a" }, value: 1 }] }
 * ```
 */
export function escapeFamily(family: MetricFamily, scheme: EscapingScheme): MetricFamily {
  if (scheme === "allow-utf-8") return family;
  const nameKind = family.type === "stateset" ? "label" : "metric";
  const legacyName = nameKind === "label"
    ? isLegacyLabelName(family.name)
    : isLegacyMetricName(family.name);
  if (legacyName && !anyPointNeedsEscaping(family)) return family;
  const name = escapeName(family.name, scheme, nameKind);
  // deno-lint-ignore no-explicit-any
  const points = (family.points as readonly any[]).map((point) => {
    const escaped = { ...point, labels: escapeLabels(point.labels, scheme) };
    if (point.exemplar !== undefined) escaped.exemplar = escapeExemplar(point.exemplar, scheme);
    if (point.exemplars !== undefined) {
      escaped.exemplars = point.exemplars.map((exemplar: Exemplar | undefined) =>
        exemplar === undefined ? undefined : escapeExemplar(exemplar, scheme)
      );
    }
    return escaped;
  });
  return { ...family, name, points } as MetricFamily;
}

/**
 * Whether a point has a label (or exemplar label) name outside the legacy alphabet. The labels
 * of a metric's own series all come from one label index with the same names, so only the first
 * point from each index is looked at.
 */
function anyPointNeedsEscaping(family: MetricFamily): boolean {
  let checkedSource: LabelTextSource | undefined;
  for (const point of family.points) {
    const labels = point.labels;
    const source = labelSourceOf(labels);
    if (source === undefined || source !== checkedSource) {
      if (!legacyNames(labels)) return true;
      checkedSource = source;
    }
    if ("exemplar" in point && point.exemplar !== undefined) {
      if (!legacyNames(point.exemplar.labels)) return true;
    }
    if ("exemplars" in point && point.exemplars !== undefined) {
      for (const exemplar of point.exemplars) {
        if (exemplar !== undefined && !legacyNames(exemplar.labels)) return true;
      }
    }
  }
  return false;
}

function legacyNames(labels: Labels): boolean {
  for (const name in labels) {
    if (!isLegacyLabelName(name)) return false;
  }
  return true;
}

function escapeLabels(labels: Labels, scheme: EscapingScheme): Labels {
  if (legacyNames(labels)) return labels;
  const escaped: Record<string, string> = {};
  for (const name of Object.keys(labels)) {
    escaped[escapeName(name, scheme, "label")] = labels[name];
  }
  return escaped;
}

/** The exemplar with its label names written as `scheme` says (the same object if legacy). */
export function escapeExemplar(exemplar: Exemplar, scheme: EscapingScheme): Exemplar {
  if (legacyNames(exemplar.labels)) return exemplar;
  return { ...exemplar, labels: escapeLabels(exemplar.labels, scheme) };
}
