/**
 * The names a registry's metrics are written as under the escapings where distinct names can
 * meet, so that registering a metric that some scraper would read as a registered one is
 * refused like a duplicate (`a.b` and `a_b` under `underscores`, `a.b` and `U__a_2e_b` under
 * `values`).
 *
 * Two schemes are enough. `dots` writes `_`, `.` and every other character outside the
 * alphabet apart where `underscores` writes them all as `_`, so two names that `dots` writes
 * alike are written alike by `underscores` too; two names equal as they are (`allow-utf-8`)
 * are a plain duplicate. A legacy name is written as it is under both, so only UTF-8 names
 * are kept here: a legacy one is found among the registry's own names.
 *
 * @module
 */

import type { Collector, Labels } from "../model.ts";
import {
  describeClash,
  escapedNameClash,
  escapeName,
  type EscapingScheme,
  isLegacyMetricName,
} from "../validation.ts";

const SCHEMES: readonly EscapingScheme[] = ["underscores", "values"];

/** The suffixes sample names add to their family's name (see `exposedNames`). */
const SAMPLE_SUFFIXES = ["_total", "_created", "_bucket", "_count", "_sum", "_info"];

/**
 * The family a sample name among a collector's `sampleNames` belongs to: the name itself, or
 * the one it is with a sample suffix (`jobs` for `jobs_total` when `jobs` is among them).
 */
function familyOfSample(sampleName: string, sampleNames: readonly string[]): string {
  for (const suffix of SAMPLE_SUFFIXES) {
    if (!sampleName.endsWith(suffix)) continue;
    const family = sampleName.slice(0, -suffix.length);
    if (sampleNames.includes(family)) return family;
  }
  return sampleName;
}

/** What a UTF-8 sample name is written as under one of the schemes. */
interface WrittenName {
  /** The family it belongs to, as registered. */
  readonly family: string;
  /** `scheme + "\n" + ` the family's name escaped, then the suffix. */
  readonly key: string;
}

/** What a collector's UTF-8 sample names are written as under each scheme. */
function writtenNames(sampleNames: readonly string[]): WrittenName[] {
  const written: WrittenName[] = [];
  for (const sampleName of sampleNames) {
    if (isLegacyMetricName(sampleName)) continue;
    const family = familyOfSample(sampleName, sampleNames);
    const suffix = sampleName.slice(family.length);
    for (const scheme of SCHEMES) {
      written.push({ family, key: scheme + "\n" + escapeName(family, scheme) + suffix });
    }
  }
  return written;
}

/** The registered owners of the written forms of UTF-8 sample names. */
export class WrittenNames {
  readonly #owners = new Map<string, { collector: Collector; family: string }>();

  /**
   * Throws a `TypeError` when a scraper asking for some escaping would read one of
   * `collector`'s names as a registered one (`ownerOf` gives the collector registered under a
   * name as it is), or one of its label names as one of the registry's `defaultLabels`, which
   * every series gets. Otherwise records the collector's written names.
   */
  add(
    collector: Collector,
    ownerOf: (name: string) => Collector | undefined,
    defaultLabels: Labels | undefined,
  ): void {
    if (defaultLabels !== undefined) checkDefaultLabels(collector, defaultLabels);
    const sampleNames = collector.sampleNames ?? [];
    const written = writtenNames(sampleNames);
    for (const { family, key } of written) {
      const name = key.slice(key.indexOf("\n") + 1);
      const legacyOwner = ownerOf(name);
      if (legacyOwner !== undefined) {
        refuse(family, key, familyOfSample(name, legacyOwner.sampleNames ?? []));
      }
      const owner = this.#owners.get(key);
      if (owner !== undefined) refuse(family, key, owner.family);
    }
    if (this.#owners.size > 0) {
      for (const sampleName of sampleNames) {
        for (const scheme of SCHEMES) {
          const key = scheme + "\n" + sampleName;
          const owner = this.#owners.get(key);
          if (owner !== undefined) {
            refuse(familyOfSample(sampleName, sampleNames), key, owner.family);
          }
        }
      }
    }
    for (const { family, key } of written) this.#owners.set(key, { collector, family });
  }

  /** Forgets `collector`'s written names. */
  delete(collector: Collector): void {
    for (const { key } of writtenNames(collector.sampleNames ?? [])) {
      if (this.#owners.get(key)?.collector === collector) this.#owners.delete(key);
    }
  }

  /** Forgets every name. */
  clear(): void {
    this.#owners.clear();
  }
}

function refuse(name: string, key: string, other: string): never {
  const [scheme, written] = key.split("\n");
  throw new TypeError(
    `a metric named "${name}" cannot be registered: scrapers that ask for the ${scheme} ` +
      `escaping would read "${written}" both from it and from the registered metric "${other}"`,
  );
}

/**
 * Throws a `TypeError` when a label name of a metric (its `labelNames`) and one of the
 * registry's default labels would be written alike; a label of the very same name is not a
 * clash (the series keeps its own value).
 */
function checkDefaultLabels(collector: Collector, defaultLabels: Labels): void {
  const labelNames = (collector as { labelNames?: unknown }).labelNames;
  if (!Array.isArray(labelNames)) return;
  const clash = escapedNameClash([...new Set([...labelNames, ...Object.keys(defaultLabels)])]);
  if (clash === undefined) return;
  const name = (collector as { name?: unknown }).name;
  throw new TypeError(
    describeClash(clash, ` of metric ${JSON.stringify(name)} and its registry's defaultLabels`),
  );
}
