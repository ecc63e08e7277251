/**
 * Number formatting and escaping shared by every text format. Each rule lives in one function.
 *
 * @module
 */

import type { HistogramPoint, Labels } from "./model.ts";

/**
 * Formats a sample value the way Prometheus' official Python and Go clients do: `2.0`, `0.149`,
 * `1e-05`, `1e+16`, `1.5e+06`, `+Inf`, `-Inf`, `NaN`.
 *
 * The rule is Python's shortest round-trip `repr` (fixed notation for exponents -4..15, at least
 * one decimal digit), except that positive values of a million or more switch to exponent
 * notation as Go does. Python 0.16 wrote `e+010` for [1e10, 1e16); we write the fixed `e+10`.
 */
export function formatFloat(value: number): string {
  // Fast path for the common small integers: `3` → `3.0`.
  if (Number.isInteger(value) && value < 1e6 && value > -1e16) {
    return value === 0 && 1 / value < 0 ? "-0.0" : value + ".0";
  }
  if (value !== value) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  // toExponential() with no argument gives the shortest digits that round-trip.
  const exponential = value.toExponential();
  const ePos = exponential.indexOf("e");
  const negative = value < 0;
  const mantissa = exponential.slice(negative ? 1 : 0, ePos);
  const exponent = Number(exponential.slice(ePos + 1));
  const digits = mantissa.replace(".", "");
  const sign = negative ? "-" : "";
  if (!negative && exponent >= 6) {
    // Go-style: exponent notation from 1e6 up, with the shortest mantissa.
    return mantissaWithExponent(digits, exponent);
  }
  if (exponent < -4 || exponent >= 16) {
    return sign + mantissaWithExponent(digits, exponent);
  }
  if (exponent < 0) {
    return sign + "0." + "0".repeat(-exponent - 1) + digits;
  }
  if (digits.length <= exponent + 1) {
    return sign + digits + "0".repeat(exponent + 1 - digits.length) + ".0";
  }
  return sign + digits.slice(0, exponent + 1) + "." + digits.slice(exponent + 1);
}

function mantissaWithExponent(digits: string, exponent: number): string {
  const mantissa = digits.length === 1 ? digits : digits[0] + "." + digits.slice(1);
  const absExponent = Math.abs(exponent);
  return mantissa + (exponent < 0 ? "e-" : "e+") + (absExponent < 10 ? "0" : "") + absExponent;
}

/** Escapes a HELP text for the 0.0.4 text format: backslash and newline. */
export function escapeHelpText(help: string): string {
  return wellFormed(help).replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** Escapes a HELP text for OpenMetrics: backslash, newline and double quote. */
export function escapeHelpOpenMetrics(help: string): string {
  return escapeLabelValue(help);
}

/** Escapes a label value (both formats): backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  const text = wellFormed(value);
  // Most values need no escaping; avoid three replaceAll scans for them.
  if (!/[\\"\n]/.test(text)) return text;
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/**
 * Replaces lone UTF-16 surrogates with U+FFFD so that the output is always valid UTF-8 (a
 * lone surrogate has no UTF-8 encoding; TextEncoder would do the same at the last moment).
 */
function wellFormed(text: string): string {
  return text.isWellFormed() ? text : text.toWellFormed();
}

/** Compares label names by UTF-16 code units, which is code-point order for these ASCII names. */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The formatted label set of a series, split around one extra label (`le`, `quantile`, or a
 * state set's own name) that the format inserts in name order: `before + value + after`.
 */
export interface LabelSplit {
  /** Text from `{` up to and including the extra label's opening quote. */
  readonly before: string;
  /** Text from the extra label's closing quote to `}`. */
  readonly after: string;
}

// Snapshots reuse the same frozen `labels` object for a series across scrapes, so the
// formatted text can be cached by identity and exposition does not re-escape every scrape.
const plainCache = new WeakMap<Labels, string>();
const splitCaches = new Map<string, WeakMap<Labels, LabelSplit>>();

/** `{a="1",b="2"}` (names sorted), or an empty string for no labels. Cached per labels object. */
export function formatLabels(labels: Labels): string {
  let text = plainCache.get(labels);
  if (text === undefined) {
    text = formatLabelPairs(labels, Object.keys(labels).sort(byName));
    plainCache.set(labels, text);
  }
  return text;
}

/** Formats labels in the given name order (no caching). */
function formatLabelPairs(labels: Labels, names: readonly string[]): string {
  if (names.length === 0) return "";
  let text = "{";
  for (let i = 0; i < names.length; i++) {
    if (i > 0) text += ",";
    text += names[i] + '="' + escapeLabelValue(labels[names[i]]) + '"';
  }
  return text + "}";
}

/** Formats `labels` plus one extra label named `extraName`, split around the extra value. */
export function formatLabelsSplit(labels: Labels, extraName: string): LabelSplit {
  let cache = splitCaches.get(extraName);
  if (cache === undefined) {
    cache = new WeakMap();
    splitCaches.set(extraName, cache);
  }
  let split = cache.get(labels);
  if (split === undefined) {
    const names = Object.keys(labels).filter((name) => name !== extraName).sort(byName);
    let before = "{";
    let after = '"';
    let placed = false;
    for (const name of names) {
      const pair = name + '="' + escapeLabelValue(labels[name]) + '"';
      if (!placed && name > extraName) {
        placed = true;
        after += "," + pair;
      } else if (placed) {
        after += "," + pair;
      } else {
        before += pair + ",";
      }
    }
    before += extraName + '="';
    after += "}";
    split = { before, after };
    cache.set(labels, split);
  }
  return split;
}

/**
 * Whether a histogram series exposes `_sum`: not when its buckets go below zero, since the sum
 * of observations that may be negative is no counter (the rule of OpenMetrics and the Python
 * client alike).
 */
export function hasSum(point: HistogramPoint): boolean {
  return point.upperBounds[0] >= 0;
}
