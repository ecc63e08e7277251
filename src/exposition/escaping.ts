/**
 * Writing metric and label names for a scraper: each family is renamed as the negotiated
 * escaping scheme says before a format writes it. Under every scheme but `dots`, families
 * whose names are all in the legacy alphabet (nearly all of them) are passed through untouched.
 *
 * @module
 */

import { labelSourceOf, type LabelTextSource } from "./format.ts";
import type { Exemplar, Labels, MetricFamily } from "../model.ts";
import { escapeName, type EscapingScheme, needsEscaping } from "../validation.ts";

/** What a scraper gets when it does not name an escaping scheme (the Prometheus 3 default). */
export const DEFAULT_ESCAPING: EscapingScheme = "underscores";

/**
 * Whether `scheme` writes every name of the legacy alphabet as it is: all but `dots`, which
 * doubles their underscores. A renderer that writes legacy names from its own copy of them
 * can serve only these schemes.
 */
export function keepsLegacyNames(scheme: EscapingScheme | undefined): boolean {
  return scheme !== "dots";
}

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
  if (!needsEscaping(family.name, scheme, nameKind) && !anyPointNeedsEscaping(family, scheme)) {
    return family;
  }
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
 * Whether `scheme` changes a label (or exemplar label) name of a point. The labels of a
 * metric's own series all come from one label index with the same names, so only the first
 * point from each index is looked at.
 */
function anyPointNeedsEscaping(family: MetricFamily, scheme: EscapingScheme): boolean {
  let checkedSource: LabelTextSource | undefined;
  for (const point of family.points) {
    const labels = point.labels;
    const source = labelSourceOf(labels);
    if (source === undefined || source !== checkedSource) {
      if (anyNeedsEscaping(labels, scheme)) return true;
      checkedSource = source;
    }
    if ("exemplar" in point && point.exemplar !== undefined) {
      if (anyNeedsEscaping(point.exemplar.labels, scheme)) return true;
    }
    if ("exemplars" in point && point.exemplars !== undefined) {
      for (const exemplar of point.exemplars) {
        if (exemplar !== undefined && anyNeedsEscaping(exemplar.labels, scheme)) return true;
      }
    }
  }
  return false;
}

function anyNeedsEscaping(labels: Labels, scheme: EscapingScheme): boolean {
  for (const name in labels) {
    if (needsEscaping(name, scheme, "label")) return true;
  }
  return false;
}

/**
 * Per scheme, the escaped copy of each label set escaped before. Label sets are not changed once
 * made, and a snapshot source that keeps its series' label objects from scrape to scrape (the
 * OTLP receiver's store) then gets the same escaped object each time, whose formatted text the
 * writers cache: its UTF-8 names are escaped and formatted once, not at every scrape.
 */
const escapedLabelsBy = new Map<EscapingScheme, WeakMap<Labels, Labels>>();

function escapeLabels(labels: Labels, scheme: EscapingScheme): Labels {
  let cache = escapedLabelsBy.get(scheme);
  const cached = cache?.get(labels);
  if (cached !== undefined) return cached;
  if (!anyNeedsEscaping(labels, scheme)) return labels;
  const escaped: Record<string, string> = {};
  for (const name of Object.keys(labels)) {
    escaped[escapeName(name, scheme, "label")] = labels[name];
  }
  if (cache === undefined) escapedLabelsBy.set(scheme, cache = new WeakMap());
  cache.set(labels, escaped);
  return escaped;
}

/** The exemplar with its label names written as `scheme` says (the same object if unchanged). */
export function escapeExemplar(exemplar: Exemplar, scheme: EscapingScheme): Exemplar {
  if (!anyNeedsEscaping(exemplar.labels, scheme)) return exemplar;
  return { ...exemplar, labels: escapeLabels(exemplar.labels, scheme) };
}
