/**
 * Building an exemplar from the labels a user passes to `inc`/`observe`.
 *
 * @module
 */

import type { Exemplar, Labels } from "../model.ts";
import { validateExemplarLabels, wellFormedLabels } from "../validation.ts";

/**
 * Validates exemplar labels and stamps them with the value and the current wall-clock time;
 * `undefined` for an empty label set (ignored, as the Python client does).
 */
export function makeExemplar(
  metricName: string,
  exemplarLabels: Labels,
  value: number,
): Exemplar | undefined {
  validateExemplarLabels(metricName, exemplarLabels);
  // An empty label set carries no reference to anything: keep the previous exemplar instead.
  if (isEmpty(exemplarLabels)) return undefined;
  return Object.freeze({
    labels: Object.freeze(wellFormedLabels(exemplarLabels)),
    value,
    timestamp: Date.now() / 1000,
  });
}

function isEmpty(labels: Labels): boolean {
  for (const _ in labels) return false;
  return true;
}
