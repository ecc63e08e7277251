/**
 * The `prefix` option shared by the runtime collectors.
 *
 * @module
 */

import { validateMetricName } from "../validation.ts";

/**
 * Returns `names` with `prefix` prepended to each, after checking that the prefix is a string
 * and that every resulting name is a valid metric name (`collector` names the caller in errors).
 */
export function prefixedNames<Names extends Readonly<Record<string, string>>>(
  collector: string,
  prefix: unknown,
  names: Names,
): { readonly [K in keyof Names]: string } {
  if (typeof prefix !== "string") {
    throw new TypeError(`${collector}: prefix must be a string, got ${typeof prefix}`);
  }
  const prefixed = Object.fromEntries(
    Object.entries(names).map(([key, name]) => [key, prefix + name]),
  ) as { [K in keyof Names]: string };
  for (const name of Object.values(prefixed)) validateMetricName(name);
  return prefixed;
}
