/**
 * Number formatting and escaping shared by every text format. Each rule lives in one function.
 *
 * @module
 */

import type { HistogramPoint, Labels } from "../model.ts";
import { isLegacyLabelName, wellFormed } from "../validation.ts";
import {
  type LabelColumns,
  type LabelShape,
  seriesColumnsOf,
  seriesSlotOf,
  type SortedLabel,
} from "../metrics/label_sets.ts";

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
  // Fast path for the other values written in fixed notation (exponents -4..5 when positive,
  // -4..15 when negative): JavaScript's `String` gives the same shortest round-trip digits in
  // fixed notation there, and the integers were handled above.
  if (value >= 1e-4 ? value < 1e6 : value <= -1e-4 && value > -1e16) return String(value);
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
 * A label name as written inside `{…}`: as it is when in the legacy alphabet, else quoted like a
 * value (`"http.method"`), as the UTF-8 text formats of Prometheus 3 write it. Names reach
 * exposition quoted only under the `allow-utf-8` escaping: the other schemes rename them first.
 */
export function formatLabelName(name: string): string {
  return isLegacyLabelName(name) ? name : '"' + escapeLabelValue(name) + '"';
}

/**
 * A metric name as written in `# HELP`, `# TYPE` and `# UNIT` lines: quoted when `quoted` (a
 * name outside the legacy alphabet under the `allow-utf-8` escaping).
 */
export function formatMetricName(name: string, quoted: boolean): string {
  return quoted ? '"' + escapeLabelValue(name) + '"' : name;
}

/**
 * The start of a sample line, `name{a="1"}`, or `{"my.name",a="1"}` when the name must be quoted.
 * `labelText` is empty or starts with `{`.
 */
export function seriesText(sampleName: string, labelText: string, quoted: boolean): string {
  if (!quoted) return sampleName + labelText;
  const quotedName = '"' + escapeLabelValue(sampleName) + '"';
  return labelText === "" ? "{" + quotedName + "}" : "{" + quotedName + "," + labelText.slice(1);
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

// A metric's snapshot labels remember the series they came from (`seriesColumnsOf`), so that
// exposition writes their text from the metric's dictionaries: values escaped once per distinct
// value, names in an order found once per metric, no text kept per series. Any other labels
// object (a custom collector's, a merged snapshot's, an info series') has its text cached in a
// WeakMap, since such objects are usually kept from one scrape to the next.
const labelTextCache = new WeakMap<Labels, string>();

/** Writes the label text of a metric's series (see `labelSourceOf`). */
export interface LabelTextSource {
  /** `{a="1",b="2"}` for the series at `slot`. */
  textOf(slot: number): string;
  /** The text split around `extraName`, or `undefined` when the series has such a label. */
  splitOf(slot: number, extraName: string): LabelSplit | undefined;
}

/** Escaped dictionary values, by the dictionary's value array (which only grows). */
const escapedCache = new WeakMap<readonly string[], string[]>();

/**
 * `values` (a label dictionary's, by id) escaped for the text formats, kept per dictionary and
 * extended when it grew: each distinct value is escaped once.
 */
export function escapedValues(values: readonly string[]): readonly string[] {
  let escaped = escapedCache.get(values);
  if (escaped === undefined) escapedCache.set(values, escaped = []);
  for (let id = escaped.length; id < values.length; id++) {
    const value = values[id];
    const text = escapeLabelValue(value);
    // The same string when nothing needed escaping, so a value is kept once.
    escaped.push(text === value ? value : text);
  }
  return escaped;
}

/** Where an extra label goes among the sorted labels, and the text around the values. */
export interface SplitPieces {
  /** How many own labels sort before the extra one. */
  readonly valuesBefore: number;
  /** `valuesBefore + 1` pieces around the first `valuesBefore` values, ending with `extra="`. */
  readonly before: readonly string[];
  /** Pieces around the other values, starting after the extra value, ending with `}`. */
  readonly after: readonly string[];
}

/**
 * The text around the escaped values of a metric's own labels, in name order: `pieces[0]`,
 * then for each own label (`sortedPositions`) its value and the next piece; constant labels
 * (and a registry's default labels the series lack) are written into the pieces.
 */
export class LabelPieces {
  /** Positions (declared order) of the own labels in name order. */
  readonly sortedPositions: readonly number[];
  /** One more piece than own labels. */
  readonly pieces: readonly string[];
  readonly #sorted: readonly SortedLabel[];
  readonly #splits = new Map<string, SplitPieces | undefined>();

  constructor(shape: LabelShape, defaults: Labels | undefined) {
    let sorted = shape.sorted;
    if (defaults !== undefined) {
      const taken = new Set(sorted.map((label) => label.name));
      const added = Object.keys(defaults).filter((name) => !taken.has(name)).map((name) => ({
        name,
        position: -1,
        constValue: defaults[name],
      }));
      sorted = [...sorted, ...added].sort((a, b) => a.name < b.name ? -1 : 1);
    }
    this.#sorted = sorted;
    this.sortedPositions = shape.sortedPositions;
    this.pieces = sorted.length === 0 ? [""] : piecesAround(sorted, "{", false, "}");
  }

  /** How to write the labels with `extraName` inserted; `undefined` if it is one of them. */
  split(extraName: string): SplitPieces | undefined {
    if (this.#splits.has(extraName)) return this.#splits.get(extraName);
    let split: SplitPieces | undefined;
    if (!this.#sorted.some((label) => label.name === extraName)) {
      const before = this.#sorted.filter((label) => label.name < extraName);
      const after = this.#sorted.filter((label) => label.name > extraName);
      const extra = formatLabelName(extraName) + '="';
      split = {
        valuesBefore: before.filter((label) => label.position >= 0).length,
        before: piecesAround(before, "{", false, (before.length > 0 ? "," : "") + extra),
        after: piecesAround(after, '"', true, "}"),
      };
    }
    this.#splits.set(extraName, split);
    return split;
  }
}

/** Pieces by label shape, then by the registry's default labels (`NO_DEFAULTS` for none). */
const piecesCache = new WeakMap<LabelShape, WeakMap<Labels, LabelPieces>>();
const NO_DEFAULTS: Labels = Object.freeze({});

/** The label pieces of a metric's series, with a registry's `defaults` (kept per pair). */
export function labelPiecesOf(shape: LabelShape, defaults?: Labels): LabelPieces {
  let byDefaults = piecesCache.get(shape);
  if (byDefaults === undefined) piecesCache.set(shape, byDefaults = new WeakMap());
  const key = defaults ?? NO_DEFAULTS;
  let pieces = byDefaults.get(key);
  if (pieces === undefined) byDefaults.set(key, pieces = new LabelPieces(shape, defaults));
  return pieces;
}

/**
 * The constant text around the values of the own labels among `labels` (in name order):
 * `open`, then `name="` for each label (after a comma when `comma` or after the first), a
 * constant label's value written in, then `close`. One more piece than own labels.
 */
function piecesAround(
  labels: readonly SortedLabel[],
  open: string,
  comma: boolean,
  close: string,
): string[] {
  const pieces: string[] = [];
  let text = open;
  for (const label of labels) {
    text += (comma ? "," : "") + formatLabelName(label.name) + '="';
    comma = true;
    if (label.position < 0) {
      text += escapeLabelValue(label.constValue) + '"';
    } else {
      pieces.push(text);
      text = '"';
    }
  }
  pieces.push(text + close);
  return pieces;
}

/** The label text of the series of one version of a metric's label columns. */
class ColumnsText implements LabelTextSource {
  readonly #columns: LabelColumns;
  readonly #pieces: LabelPieces;
  readonly #escaped: (readonly string[])[];

  constructor(columns: LabelColumns) {
    this.#columns = columns;
    this.#pieces = labelPiecesOf(columns.shape);
    this.#escaped = columns.valuesByPosition.map(escapedValues);
  }

  #escapedValue(slot: number, position: number): string {
    const columns = this.#columns;
    const id = columns.seriesIds[slot * columns.width + position];
    let escaped = this.#escaped[position];
    if (id >= escaped.length) {
      escaped = this.#escaped[position] = escapedValues(columns.valuesByPosition[position]);
    }
    return escaped[id];
  }

  textOf(slot: number): string {
    const pieces = this.#pieces.pieces;
    const sortedPositions = this.#pieces.sortedPositions;
    let text = pieces[0];
    for (let i = 0; i < sortedPositions.length; i++) {
      text += this.#escapedValue(slot, sortedPositions[i]) + pieces[i + 1];
    }
    return text;
  }

  splitOf(slot: number, extraName: string): LabelSplit | undefined {
    const split = this.#pieces.split(extraName);
    if (split === undefined) return undefined;
    const sortedPositions = this.#pieces.sortedPositions;
    const valuesBefore = split.valuesBefore;
    let before = split.before[0];
    for (let i = 0; i < valuesBefore; i++) {
      before += this.#escapedValue(slot, sortedPositions[i]) + split.before[i + 1];
    }
    let after = split.after[0];
    for (let i = valuesBefore; i < sortedPositions.length; i++) {
      after += this.#escapedValue(slot, sortedPositions[i]) + split.after[i - valuesBefore + 1];
    }
    return { before, after };
  }
}

const columnsTexts = new WeakMap<LabelColumns, ColumnsText>();

/**
 * The label text source of `labels` when it is a labels object of a metric's series (see
 * `seriesColumnsOf`): every labels object from one source has the same label names.
 */
export function labelSourceOf(labels: Labels): LabelTextSource | undefined {
  const columns = seriesColumnsOf(labels);
  if (columns === undefined) return undefined;
  // The points of a family come from one metric's columns: the last ones asked for are
  // usually asked for again.
  if (columns === lastColumns) return lastText;
  let text = columnsTexts.get(columns);
  if (text === undefined) columnsTexts.set(columns, text = new ColumnsText(columns));
  lastColumns = columns;
  lastText = text;
  return text;
}

// The last columns `labelSourceOf` read and their text source (weakly held otherwise: these
// two keep one metric's columns alive until another metric's labels are read).
let lastColumns: LabelColumns | undefined;
let lastText: ColumnsText | undefined;

/** `{a="1",b="2"}` (names sorted), or an empty string for no labels. */
export function formatLabels(labels: Labels): string {
  const source = labelSourceOf(labels);
  if (source !== undefined) return source.textOf(seriesSlotOf(labels));
  let text = labelTextCache.get(labels);
  if (text === undefined) {
    text = formatLabelPairs(labels, Object.keys(labels).sort(byName));
    labelTextCache.set(labels, text);
  }
  return text;
}

/**
 * Formats labels in the given name order (no caching). Built with `join`, which gives a flat
 * string: text cached for every scrape is then copied, not walked piece by piece, each time.
 */
function formatLabelPairs(labels: Labels, names: readonly string[]): string {
  if (names.length === 0) return "";
  const parts = ["{"];
  for (let i = 0; i < names.length; i++) {
    if (i > 0) parts.push(",");
    parts.push(formatPair(labels, names[i]));
  }
  parts.push("}");
  return parts.join("");
}

function formatPair(labels: Labels, name: string): string {
  return formatLabelName(name) + '="' + escapeLabelValue(labels[name]) + '"';
}

/** Formats `labels` plus one extra label named `extraName`, split around the extra value. */
export function formatLabelsSplit(labels: Labels, extraName: string): LabelSplit {
  const stamped = labelSourceOf(labels)?.splitOf(seriesSlotOf(labels), extraName);
  if (stamped !== undefined) return stamped;
  if (Object.hasOwn(labels, extraName)) return splitWithout(labels, extraName);
  const text = formatLabels(labels);
  const extraOpening = formatLabelName(extraName) + '="';
  if (text === "") return { before: "{" + extraOpening, after: '"}' };
  // The extra pair goes after every pair whose name sorts before it; each such pair takes its
  // formatted length plus a comma, after the opening brace.
  let splitAt = 1;
  for (const name in labels) {
    if (name < extraName && Object.hasOwn(labels, name)) {
      splitAt += formatPair(labels, name).length + 1;
    }
  }
  if (splitAt === text.length) {
    return { before: text.slice(0, -1) + "," + extraOpening, after: '"}' };
  }
  return { before: text.slice(0, splitAt) + extraOpening, after: '",' + text.slice(splitAt) };
}

/** The split of a label set that has a label named like the extra one, which it replaces. */
function splitWithout(labels: Labels, extraName: string): LabelSplit {
  const names = Object.keys(labels).filter((name) => name !== extraName).sort(byName);
  let before = "{";
  let after = '"';
  for (const name of names) {
    if (name > extraName) after += "," + formatPair(labels, name);
    else before += formatPair(labels, name) + ",";
  }
  return { before: before + formatLabelName(extraName) + '="', after: after + "}" };
}

// A histogram's upper bounds are one frozen array shared by all its series and scrapes.
const boundsCache = new WeakMap<readonly number[], readonly string[]>();

/** The formatted upper bounds of a histogram (`0.005`, …, `+Inf`), cached per bounds array. */
export function formatBounds(upperBounds: readonly number[]): readonly string[] {
  let texts = boundsCache.get(upperBounds);
  if (texts === undefined) {
    texts = upperBounds.map(formatFloat);
    boundsCache.set(upperBounds, texts);
  }
  return texts;
}

/**
 * Whether a histogram series exposes `_sum`: not when its buckets go below zero, since the sum
 * of observations that may be negative is no counter (the rule of OpenMetrics and the Python
 * client alike).
 */
export function hasSum(point: HistogramPoint): boolean {
  return point.upperBounds[0] >= 0;
}
