/**
 * The `names` filter of `collect({ names })` applied to merged families. It goes through a
 * throwaway `Registry`, so the rule of which sample names a family exposes stays in one place.
 *
 * @module
 */

import type { MetricFamily } from "../model.ts";
import { type CollectOptions, Registry } from "../registry.ts";

/** Keeps the families `options.names` asks for (all of them when no names are given). */
export function selectFamilies(
  families: MetricFamily[],
  options: CollectOptions = {},
): Promise<MetricFamily[]> | MetricFamily[] {
  if (options.names === undefined) return families;
  const registry = new Registry();
  registry.register({ collect: () => families });
  return registry.collect({ names: options.names });
}
