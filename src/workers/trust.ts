/**
 * The trust boundary of the worker aggregators: families from BroadcastChannel messages and
 * snapshot files are as untrusted as a custom collector's, and an aggregator is often served
 * with no `Registry` in between (`metricsHandler({ registry: cluster })`, `remoteWrite`). So the
 * merged families pass the registry's own check: a bad family is dropped and reported once per
 * streak, the rest goes on.
 *
 * @module
 */

import type { InvalidFamilyError } from "../exposition/validate.ts";
import type { MetricFamily } from "../model.ts";
import { Registry } from "../registry.ts";

/** Drops and reports the families no exposition may carry; see {@linkcode familyGate}. */
export type FamilyGate = (
  families: readonly MetricFamily[],
  onError: (error: InvalidFamilyError) => void,
) => Promise<MetricFamily[]>;

/**
 * A gate with its own memory of what it reported (a family that stays bad is reported again
 * only after it was good in between), made by a private registry that collects the families
 * it is given: one rule and one streak logic for every untrusted source.
 */
export function familyGate(): FamilyGate {
  let current: readonly MetricFamily[] = [];
  const registry = new Registry();
  registry.register({ collect: () => current as MetricFamily[] });
  return async (families, onError) => {
    current = families;
    try {
      return await registry.collect({ onError });
    } finally {
      current = [];
    }
  };
}
