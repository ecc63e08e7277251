/**
 * Snapshots crossing a boundary (a `BroadcastChannel` message, a file) as JSON text. Text costs
 * the receivers of a broadcast almost nothing until one of them needs the families, and is what a
 * file holds anyway.
 *
 * JSON has no `Infinity` or `NaN` (every histogram has a `+Inf` bound): {@linkcode encodeSnapshot}
 * writes them as the strings `"Infinity"`, `"-Infinity"` and `"NaN"`, and
 * {@linkcode decodeFamilies} turns them back into numbers while it checks the families' shape —
 * only where a number belongs, so a label value `"NaN"` stays a string. A malformed snapshot is
 * refused with a clear error instead of breaking a merge.
 *
 * @module
 */

import type { MetricFamily, MetricType } from "../model.ts";

/** JSON text of `value`, with non-finite numbers written as strings. */
export function encodeSnapshot(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, item) =>
      typeof item === "number" && !(item > -Infinity && item < Infinity) ? String(item) : item,
  );
}

const FAMILY_TYPES: ReadonlySet<MetricType> = new Set([
  "counter",
  "gauge",
  "histogram",
  "summary",
  "info",
  "stateset",
  "unknown",
]);

type Shape = Record<string, unknown>;

/** Thrown for the first problem found; turned into a `TypeError` naming the source. */
class ShapeProblem extends Error {}

function isObject(value: unknown): value is Shape {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A number as written by `encodeSnapshot`: a JSON number or one of the non-finite strings. */
function wireNumber(value: unknown, what: string): number {
  if (typeof value === "number") return value;
  if (value === "Infinity" || value === "-Infinity" || value === "NaN") return Number(value);
  throw new ShapeProblem(`${what} that is not a number`);
}

/** Revives the optional numeric field `field` of `object` in place. */
function optionalNumber(object: Shape, field: string, what: string): void {
  if (object[field] !== undefined) object[field] = wireNumber(object[field], what);
}

function numberArray(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new ShapeProblem(`${what} that is not an array`);
  for (let i = 0; i < value.length; i++) value[i] = wireNumber(value[i], what);
  return value;
}

function checkLabels(value: unknown, what: string): void {
  if (!isObject(value)) throw new ShapeProblem(`${what} without labels`);
  for (const name in value) {
    if (typeof value[name] !== "string") throw new ShapeProblem(`${what} with a non-string label`);
  }
}

function reviveExemplar(value: unknown): void {
  if (value === undefined || value === null) return;
  if (!isObject(value)) throw new ShapeProblem("a malformed exemplar");
  checkLabels(value.labels, "an exemplar");
  value.value = wireNumber(value.value, "an exemplar value");
  optionalNumber(value, "timestamp", "an exemplar timestamp");
}

/** Checks one point of a family of type `type`, reviving its numbers in place. */
function revivePoint(type: MetricType, point: unknown): void {
  if (!isObject(point)) throw new ShapeProblem("a point that is not an object");
  checkLabels(point.labels, "a point");
  switch (type) {
    case "counter":
    case "gauge":
    case "unknown":
      point.value = wireNumber(point.value, "a value");
      optionalNumber(point, "created", "a created time");
      optionalNumber(point, "updated", "an update time");
      reviveExemplar(point.exemplar);
      return;
    case "histogram": {
      const upperBounds = numberArray(point.upperBounds, "bucket bounds");
      const bucketCounts = numberArray(point.bucketCounts, "bucket counts");
      if (upperBounds.length !== bucketCounts.length || upperBounds.at(-1) !== Infinity) {
        throw new ShapeProblem("a histogram point whose buckets do not end at +Inf");
      }
      point.count = wireNumber(point.count, "a count");
      point.sum = wireNumber(point.sum, "a sum");
      optionalNumber(point, "created", "a created time");
      if (point.exemplars !== undefined) {
        if (!Array.isArray(point.exemplars)) throw new ShapeProblem("malformed exemplars");
        // JSON writes the missing exemplars of a sparse list as null.
        point.exemplars = point.exemplars.map((exemplar) => exemplar ?? undefined);
        (point.exemplars as unknown[]).forEach(reviveExemplar);
      }
      return;
    }
    case "summary":
      point.count = wireNumber(point.count, "a count");
      point.sum = wireNumber(point.sum, "a sum");
      optionalNumber(point, "created", "a created time");
      if (!Array.isArray(point.quantiles)) throw new ShapeProblem("a summary without quantiles");
      for (const quantile of point.quantiles) {
        if (!isObject(quantile)) throw new ShapeProblem("a malformed quantile");
        quantile.quantile = wireNumber(quantile.quantile, "a quantile");
        quantile.value = wireNumber(quantile.value, "a quantile value");
      }
      return;
    case "info":
      return;
    case "stateset":
      if (
        !Array.isArray(point.states) ||
        !point.states.every((state) =>
          isObject(state) && typeof state.name === "string" && typeof state.enabled === "boolean"
        )
      ) {
        throw new ShapeProblem("a state set point without states");
      }
      return;
  }
}

/**
 * Returns `value` (parsed from {@linkcode encodeSnapshot}'s JSON) as families, after checking
 * their shape and reviving non-finite numbers in place; throws a `TypeError` naming `source`
 * (a worker, a file) and the first problem found.
 */
export function decodeFamilies(value: unknown, source: string): MetricFamily[] {
  if (!Array.isArray(value)) throw new TypeError(`${source}: families must be an array`);
  for (const family of value) {
    if (!isObject(family) || typeof family.name !== "string") {
      throw new TypeError(`${source}: a family without a name`);
    }
    const where = `${source}: family "${family.name}"`;
    if (!FAMILY_TYPES.has(family.type as MetricType)) {
      throw new TypeError(`${where} has an unknown type ${JSON.stringify(family.type)}`);
    }
    if (typeof family.help !== "string") throw new TypeError(`${where} has no help text`);
    if (!Array.isArray(family.points)) throw new TypeError(`${where} has no points`);
    try {
      for (const point of family.points) revivePoint(family.type as MetricType, point);
    } catch (error) {
      if (error instanceof ShapeProblem) throw new TypeError(`${where} has ${error.message}`);
      throw error;
    }
  }
  return value as MetricFamily[];
}
