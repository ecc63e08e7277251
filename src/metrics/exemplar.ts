/**
 * Building an exemplar from the labels a user passes to `inc`/`observe`.
 *
 * @module
 */

import type { Exemplar, Labels } from "../model.ts";
import { validateExemplarLabels } from "../validation.ts";

/** Validates exemplar labels and stamps them with the value and the current wall-clock time. */
export function makeExemplar(metricName: string, exemplarLabels: Labels, value: number): Exemplar {
  validateExemplarLabels(metricName, exemplarLabels);
  return Object.freeze({
    labels: Object.freeze({ ...exemplarLabels }),
    value,
    timestamp: Date.now() / 1000,
  });
}
