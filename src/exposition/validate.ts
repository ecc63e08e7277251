/**
 * The trust boundary of exposition: families from custom collectors, snapshot files and
 * BroadcastChannel messages are checked before a wire format writes them, so that a broken or
 * hostile source can neither inject text nor make the output unreadable. A bad family is dropped
 * and reported; the rest of the scrape goes on.
 *
 * @module
 */

import { formatLabels } from "./format.ts";
import type { Exemplar, Labels, MetricFamily, MetricType } from "../model.ts";
import {
  describeClash,
  escapedNameClash,
  escapeName,
  type EscapingScheme,
  EXEMPLAR_MAX_CHARACTERS,
  isLegacyLabelName,
  validateLabelName,
  validateMetricName,
  validateUnit,
  wellFormed,
} from "../validation.ts";

/**
 * A family that was dropped from the output because it cannot be exposed as it is: the
 * message names the family and what is wrong with it.
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { InvalidFamilyError } from "@deno-prom/client/exposition";
 * const registry = new Registry();
 * registry.register({
 *   collect: () => [{ type: "counter", name: "jobs", help: "", points: [{ labels: {}, value: -1 }] }],
 * });
 * const errors: InvalidFamilyError[] = [];
 * await registry.metrics({ onError: (error) => errors.push(error) }); // "" (jobs dropped)
 * errors[0].message; // 'metric family "jobs" dropped: series {}: counter value -1 is negative'
 * ```
 */
export class InvalidFamilyError extends TypeError {
  /** The family's name as given (or a description when it has none). */
  readonly family: string;
  /** What is wrong with it. */
  readonly reason: string;

  /** Makes the error for `family` (its name) and `reason`. */
  constructor(family: string, reason: string) {
    super(`metric family ${JSON.stringify(family)} dropped: ${reason}`);
    this.name = "InvalidFamilyError";
    this.family = family;
    this.reason = reason;
  }
}

const TYPES = new Set(["counter", "gauge", "histogram", "summary", "info", "stateset", "unknown"]);

/** Label names each type adds itself, which a point's own labels may not use. */
const RESERVED_LABELS: Readonly<Record<string, string>> = { histogram: "le", summary: "quantile" };

/**
 * Checks one family from an untrusted source against every rule the text formats and their
 * parsers (promtool, the Python client) hold: names, label names and values, one series per
 * label set, and per type: counters neither negative nor NaN, histograms with increasing bounds
 * ending in `+Inf` and cumulative integer counts whose last is `count`, summaries with quantiles
 * in [0, 1], distinct states, valid exemplars. Pure: returns the problem, throws nothing.
 *
 * @example
 * ```ts
 * import { validateFamily } from "@deno-prom/client/exposition";
 * validateFamily({ type: "gauge", name: "ok", help: "", points: [{ labels: {}, value: 1 }] }); // undefined
 * validateFamily({ type: "gauge", name: "a\nb", help: "", points: [] })?.message;
 * // 'metric family "a\nb" dropped: invalid metric name "a\nb": …'
 * ```
 */
export function validateFamily(family: MetricFamily): InvalidFamilyError | undefined {
  const problem = problemOf(family as unknown);
  if (problem === undefined) return undefined;
  const given = family as { name?: unknown } | null;
  const name = given !== null && typeof given === "object" && typeof given.name === "string"
    ? given.name
    : String(given?.name ?? "(no name)");
  return new InvalidFamilyError(name, problem);
}

function problemOf(family: unknown): string | undefined {
  if (family === null || typeof family !== "object") return `not an object: ${typeof family}`;
  const { type, name, help, unit, points } = family as Record<string, unknown>;
  if (typeof type !== "string" || !TYPES.has(type)) return `unknown type ${JSON.stringify(type)}`;
  const nameProblem = thrownBy(() => {
    validateMetricName(name);
    // A state set's name is also the label holding each state.
    if (type === "stateset") validateLabelName(name);
  });
  if (nameProblem !== undefined) return nameProblem;
  const familyName = name as string;
  if (typeof help !== "string") return "help is not a string";
  if (unit !== undefined && unit !== "") {
    const unitProblem = thrownBy(() => validateUnit(familyName, unit));
    if (unitProblem !== undefined) return unitProblem;
    if (!familyName.endsWith("_" + unit)) return `name does not end with its unit "_${unit}"`;
    if (type === "info" || type === "stateset") return `a ${type} cannot have a unit`;
  }
  if (!Array.isArray(points)) return "points is not an array";
  const reserved = type === "stateset" ? familyName : RESERVED_LABELS[type];
  const seen = new Set<string>();
  for (const point of points) {
    if (point === null || typeof point !== "object") return "a point is not an object";
    const labelProblem = problemOfLabels(point.labels, reserved);
    if (labelProblem !== undefined) return labelProblem;
    // The formatted text is what the scraper tells series apart by (it is cached for the
    // output that follows); two points writing the same text would be one series twice.
    const text = formatLabels(point.labels);
    if (seen.has(text)) return `two series have the labels ${text || "{}"}`;
    seen.add(text);
    const pointProblem = problemOfPoint(type, point);
    if (pointProblem !== undefined) return `series ${text || "{}"}: ${pointProblem}`;
  }
  return undefined;
}

function problemOfLabels(labels: unknown, reserved: string | undefined): string | undefined {
  if (labels === null || typeof labels !== "object") return "a point has no labels object";
  const names = Object.keys(labels);
  let allLegacy = true;
  for (const labelName of names) {
    if (isLegacyLabelName(labelName) && !labelName.startsWith("__")) {
      // The common case, checked without the full rule.
    } else {
      const nameProblem = thrownBy(() => validateLabelName(labelName));
      if (nameProblem !== undefined) return nameProblem;
      allLegacy = false;
    }
    if (labelName === reserved) return `label name "${labelName}" is reserved for this type`;
    if (typeof (labels as Record<string, unknown>)[labelName] !== "string") {
      return `label "${labelName}" is not a string`;
    }
  }
  if (allLegacy) return undefined;
  const clash = escapedNameClash(names);
  return clash === undefined ? undefined : describeClash(clash, "");
}

// deno-lint-ignore no-explicit-any
function problemOfPoint(type: string, point: any): string | undefined {
  switch (type) {
    case "counter":
      return counterLike("counter value", point.value) ??
        optionalTimestamp("created", point.created) ??
        (point.exemplar === undefined ? undefined : problemOfExemplar(point.exemplar));
    case "gauge":
    case "unknown":
      return typeof point.value === "number" ? undefined : "value is not a number";
    case "histogram":
      return problemOfHistogram(point);
    case "summary":
      return problemOfSummary(point);
    case "info":
      return undefined;
    case "stateset":
      return problemOfStates(point.states);
  }
  return undefined;
}

function problemOfHistogram(
  // deno-lint-ignore no-explicit-any
  point: any,
): string | undefined {
  const { upperBounds, bucketCounts, count, sum, exemplars } = point;
  if (!Array.isArray(upperBounds) || upperBounds.length === 0) return "no upper bounds";
  if (!Array.isArray(bucketCounts) || bucketCounts.length !== upperBounds.length) {
    return "bucketCounts and upperBounds differ in length";
  }
  if (upperBounds[upperBounds.length - 1] !== Infinity) return "the last bucket is not +Inf";
  for (let i = 0; i < upperBounds.length; i++) {
    const bound = upperBounds[i];
    if (typeof bound !== "number" || bound !== bound) {
      return `bucket bound ${bound} is not a number`;
    }
    if (i > 0 && !(bound > upperBounds[i - 1])) return "bucket bounds are not increasing";
    const problem = countLike(`bucket count`, bucketCounts[i]);
    if (problem !== undefined) return problem;
    if (i > 0 && bucketCounts[i] < bucketCounts[i - 1]) {
      return "bucket counts are not cumulative (they decrease)";
    }
  }
  const countProblem = countLike("count", count);
  if (countProblem !== undefined) return countProblem;
  if (count !== bucketCounts[bucketCounts.length - 1]) {
    return `count ${count} differs from the +Inf bucket ${bucketCounts[bucketCounts.length - 1]}`;
  }
  // `_sum` is written only when no bucket is below zero, and is then a counter.
  if (upperBounds[0] >= 0) {
    const sumProblem = counterLike("sum", sum);
    if (sumProblem !== undefined) return sumProblem;
  } else if (typeof sum !== "number") {
    return "sum is not a number";
  }
  if (exemplars !== undefined) {
    if (!Array.isArray(exemplars) || exemplars.length > upperBounds.length) {
      return "exemplars do not match the buckets";
    }
    for (const exemplar of exemplars) {
      if (exemplar === undefined) continue;
      const problem = problemOfExemplar(exemplar);
      if (problem !== undefined) return problem;
    }
  }
  return optionalTimestamp("created", point.created);
}

// deno-lint-ignore no-explicit-any
function problemOfSummary(point: any): string | undefined {
  const problem = countLike("count", point.count) ?? counterLike("sum", point.sum) ??
    optionalTimestamp("created", point.created);
  if (problem !== undefined) return problem;
  if (!Array.isArray(point.quantiles)) return "quantiles is not an array";
  const seen = new Set<number>();
  for (const entry of point.quantiles) {
    const quantile = entry?.quantile;
    if (typeof quantile !== "number" || !(quantile >= 0 && quantile <= 1)) {
      return `quantile ${quantile} is not in [0, 1]`;
    }
    if (seen.has(quantile)) return `quantile ${quantile} is given twice`;
    seen.add(quantile);
    const value = entry.value;
    if (typeof value !== "number") return `the value of quantile ${quantile} is not a number`;
    // The OpenMetrics parsers refuse negative quantile values (NaN means "no data").
    if (value < 0) return `the value of quantile ${quantile} is negative`;
  }
  return undefined;
}

function problemOfStates(states: unknown): string | undefined {
  if (!Array.isArray(states)) return "states is not an array";
  const seen = new Set<string>();
  for (const state of states) {
    if (typeof state?.name !== "string") return "a state has no name";
    if (typeof state.enabled !== "boolean") return `state "${state.name}" is not true or false`;
    const written = wellFormed(state.name);
    if (seen.has(written)) return `state "${state.name}" is given twice`;
    seen.add(written);
  }
  return undefined;
}

function problemOfExemplar(exemplar: Exemplar): string | undefined {
  if (exemplar === null || typeof exemplar !== "object") return "an exemplar is not an object";
  if (typeof exemplar.value !== "number") return "an exemplar value is not a number";
  const timestampProblem = optionalTimestamp("exemplar timestamp", exemplar.timestamp);
  if (timestampProblem !== undefined) return timestampProblem;
  const labels: Labels = exemplar.labels;
  const labelProblem = problemOfLabels(labels, undefined);
  if (labelProblem !== undefined) return `exemplar: ${labelProblem}`;
  let characters = 0;
  for (const name of Object.keys(labels)) {
    for (const _ of name) characters++;
    for (const _ of labels[name]) characters++;
  }
  if (characters > EXEMPLAR_MAX_CHARACTERS) {
    return `exemplar labels have ${characters} characters, more than ${EXEMPLAR_MAX_CHARACTERS}`;
  }
  return undefined;
}

/** A counter's value or a sum: a number, neither NaN nor negative. */
function counterLike(what: string, value: unknown): string | undefined {
  if (typeof value !== "number") return `${what} is not a number`;
  if (value !== value) return `${what} is NaN`;
  if (value < 0) return `${what} ${value} is negative`;
  return undefined;
}

/** A count of observations: a whole, finite, non-negative number. */
function countLike(what: string, value: unknown): string | undefined {
  const problem = counterLike(what, value);
  if (problem !== undefined) return problem;
  return Number.isInteger(value) ? undefined : `${what} ${value} is not a whole number`;
}

function optionalTimestamp(what: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === "number" && Number.isFinite(value)
    ? undefined
    : `${what} ${String(value)} is not a finite number`;
}

function thrownBy(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * The names a family named `name` exposes: its own, its metadata names and its sample names
 * (what the `name[]` filter matches, and what two families must not share).
 */
export function exposedNames(name: string, type: MetricType): string[] {
  switch (type) {
    case "counter":
      return [name, name + "_total", name + "_created"];
    case "histogram":
      return [name, name + "_bucket", name + "_count", name + "_sum", name + "_created"];
    case "summary":
      return [name, name + "_count", name + "_sum", name + "_created"];
    case "info":
      return [name, name + "_info"];
    default:
      return [name];
  }
}

/**
 * The names a family claims in the output under `scheme`. Two families claiming one name
 * would give two HELP/TYPE blocks for it. A state set's name is also a label name, and is
 * written with the label alphabet.
 */
function claimedNames(family: MetricFamily, scheme: EscapingScheme): string[] {
  const kind = family.type === "stateset" ? "label" : "metric";
  return exposedNames(escapeName(family.name, scheme, kind), family.type);
}

/**
 * The schemes whose outputs are checked for a name two families claim, once some family has
 * a UTF-8 name. `dots` is not among them: it writes `_`, `.` and every other character outside
 * the alphabet apart where `underscores` writes them all as `_`, so two names that `dots` writes
 * alike are written alike by `underscores` too. `allow-utf-8` is checked: a state set's name is
 * escaped as a label name, where `:` is outside the alphabet, so a state set and a gauge both
 * named `a:b` are written apart under the other schemes, but alike there.
 */
const UTF8_CLAIM_SCHEMES: readonly EscapingScheme[] = ["underscores", "values", "allow-utf-8"];
/**
 * Without UTF-8 names, `underscores` (which then writes every name as it is) is enough: no
 * scheme writes two distinct legacy names alike.
 */
const LEGACY_CLAIM_SCHEMES: readonly EscapingScheme[] = ["underscores"];

/** Options of {@linkcode checkFamilies}. */
export interface CheckFamiliesOptions {
  /**
   * Families known to be valid (a registered metric's own): only their names are checked for
   * clashes, and they keep their names when an untrusted family claims one of them too.
   */
  readonly trusted?: ReadonlySet<MetricFamily>;
  /**
   * Families their source checked against every rule of {@linkcode validateFamily} already (the
   * OTLP receiver's, checked when received): not checked again, but their names claimed in
   * order with the untrusted ones, which they do not outrank.
   */
  readonly checkedAtSource?: ReadonlySet<MetricFamily>;
  /** Called with each family dropped. */
  readonly onInvalid: (error: InvalidFamilyError) => void;
}

/**
 * Keeps the families that can be exposed: every untrusted family must pass
 * {@linkcode validateFamily}, and no family may claim a name another one already has under
 * any escaping a scraper can ask for (trusted families first, then in order). A family is
 * dropped whatever the scraper at hand asked for, so that every scraper sees the same
 * families. Each family dropped goes to `onInvalid`.
 */
export function checkFamilies(
  families: readonly MetricFamily[],
  options: CheckFamiliesOptions,
): MetricFamily[] {
  const trusted = options.trusted;
  let schemes = LEGACY_CLAIM_SCHEMES;
  // Per scheme, each name claimed in its output and the family claiming it.
  const claimedBy = [new Map<string, MetricFamily>()];
  // The names of the family at hand under each scheme (claim() runs to its end each time).
  const namesBy: string[][] = [];
  const kept = new Set<MetricFamily>();
  const claim = (family: MetricFamily): void => {
    namesBy[0] = claimedNames(family, "underscores");
    if (schemes === LEGACY_CLAIM_SCHEMES && namesBy[0][0] !== family.name) {
      // The first UTF-8 name: every name claimed so far is legacy, written as it is under
      // every scheme checked.
      schemes = UTF8_CLAIM_SCHEMES;
      for (let i = 1; i < schemes.length; i++) claimedBy.push(new Map(claimedBy[0]));
    }
    for (let i = 0; i < schemes.length; i++) {
      const names = i === 0 ? namesBy[0] : namesBy[i] = claimedNames(family, schemes[i]);
      const claimed = claimedBy[i];
      const clash = names.find((name) => claimed.has(name));
      if (clash === undefined) continue;
      const how = exposedNames(family.name, family.type).includes(clash)
        ? ""
        : ` (as the ${schemes[i]} escaping writes it)`;
      options.onInvalid(
        new InvalidFamilyError(
          family.name,
          `it exposes "${clash}"${how}, which metric family "${
            claimed.get(clash)!.name
          }" exposes already`,
        ),
      );
      return;
    }
    for (let i = 0; i < schemes.length; i++) {
      for (const name of namesBy[i]) claimedBy[i].set(name, family);
    }
    kept.add(family);
  };
  if (trusted !== undefined) {
    for (const family of families) if (trusted.has(family)) claim(family);
  }
  for (const family of families) {
    if (trusted?.has(family)) continue;
    const error = options.checkedAtSource?.has(family) ? undefined : validateFamily(family);
    if (error !== undefined) options.onInvalid(error);
    else claim(family);
  }
  return families.filter((family) => kept.has(family));
}
