/**
 * The naming and value rules that more than one module applies, each in one function with its
 * error message: metric and label names, UTF-8 and escaping, help and unit, amounts and
 * observations, buckets, exemplars, durations. Metrics, the exposition checks of custom
 * families, push, remote write, the HTTP middleware and the worker aggregation call these
 * instead of repeating them; a check of an option only one module has stays in that module.
 *
 * @module
 */

const LEGACY_METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LEGACY_LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// C0 controls and DEL: valid UTF-8, but no sane name holds them, and a newline in a name is
// how text is injected into an exposition.
// deno-lint-ignore no-control-regex
const CONTROL_CHARACTER_RE = /[\u0000-\u001f\u007f]/;

/** Whether `name` is a metric name of the legacy alphabet, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function isLegacyMetricName(name: string): boolean {
  return LEGACY_METRIC_NAME_RE.test(name);
}

/** Whether `name` is a label name of the legacy alphabet, `[a-zA-Z_][a-zA-Z0-9_]*`. */
export function isLegacyLabelName(name: string): boolean {
  return LEGACY_LABEL_NAME_RE.test(name);
}

/**
 * How names are written for a scraper (Prometheus' "UTF-8 escaping schemes", negotiated with
 * `escaping=` in `Accept`), as prometheus/common's `EscapeName` and client_java's
 * `escapeName` write them:
 *
 * - `allow-utf-8`: as they are (quoted where the format needs it);
 * - `underscores`: every character outside the legacy alphabet becomes `_` (the default for
 *   scrapers that do not say); legacy names are unchanged;
 * - `dots`: `_` becomes `__`, `.` becomes `_dot_`, any other character outside the alphabet
 *   `__`. This applies to legacy names too (`a_b` is written `a__b`), so that the scheme can
 *   be read back;
 * - `values`: legacy names are unchanged; any other name is written `U__`, then each `_` as
 *   `__` and each character outside the alphabet as `_<hex code point>_` (`_FFFD_` for a lone
 *   surrogate).
 *
 * Label names have no `:` in their alphabet, so a `:` in a label name is escaped (unlike
 * prometheus/common, which keeps it and so writes label names the text parsers refuse:
 * prometheus/prometheus#18380).
 */
export type EscapingScheme = "allow-utf-8" | "underscores" | "dots" | "values";

/** Every {@linkcode EscapingScheme}, for parsing and validation. */
export const ESCAPING_SCHEMES: readonly EscapingScheme[] = Object.freeze([
  "allow-utf-8",
  "underscores",
  "dots",
  "values",
]);

/**
 * Whether `scheme` changes `name` (see {@linkcode EscapingScheme}): a name outside the legacy
 * alphabet under any scheme but `allow-utf-8`, and under `dots` also a legacy name holding `_`.
 */
export function needsEscaping(
  name: string,
  scheme: EscapingScheme,
  kind: "metric" | "label" = "metric",
): boolean {
  if (scheme === "allow-utf-8" || name === "") return false;
  const legacy = kind === "metric" ? isLegacyMetricName(name) : isLegacyLabelName(name);
  return !legacy || (scheme === "dots" && name.includes("_"));
}

/**
 * Writes `name` as `scheme` says (see {@linkcode EscapingScheme}), byte for byte as
 * prometheus/common's `EscapeName` does; the name itself when the scheme leaves it as it is.
 * `kind` picks the alphabet: metric names may hold `:`, label names may not.
 *
 * @example
 * ```ts
 * import { escapeName } from "@deno-prom/client/exposition";
 * escapeName("http.server.duration", "underscores"); // "http_server_duration"
 * escapeName("http.server_duration", "dots"); // "http_dot_server__duration"
 * escapeName("http_server_duration", "dots"); // "http__server__duration"
 * escapeName("http.server", "values"); // "U__http_2e_server"
 * escapeName("http_server", "values"); // "http_server"
 * ```
 */
export function escapeName(
  name: string,
  scheme: EscapingScheme,
  kind: "metric" | "label" = "metric",
): string {
  if (!needsEscaping(name, scheme, kind)) return name;
  const allowsColon = kind === "metric";
  let escaped = scheme === "values" ? "U__" : "";
  let position = 0;
  for (const character of name) {
    const codePoint = character.codePointAt(0)!;
    const isLegal = isLegacyCharacter(codePoint, position === 0, allowsColon);
    position++;
    if (scheme === "underscores") {
      escaped += isLegal ? character : "_";
    } else if (character === "_") {
      escaped += "__";
    } else if (isLegal) {
      escaped += character;
    } else if (scheme === "dots") {
      escaped += character === "." ? "_dot_" : "__";
    } else {
      const isScalar = codePoint < 0xd800 || (codePoint > 0xdfff && codePoint <= 0x10ffff);
      escaped += isScalar ? "_" + codePoint.toString(16) + "_" : "_FFFD_";
    }
  }
  return escaped;
}

function isLegacyCharacter(codePoint: number, first: boolean, allowsColon: boolean): boolean {
  return (codePoint >= 0x61 && codePoint <= 0x7a) || (codePoint >= 0x41 && codePoint <= 0x5a) ||
    codePoint === 0x5f || (allowsColon && codePoint === 0x3a) ||
    (!first && codePoint >= 0x30 && codePoint <= 0x39);
}

/**
 * Whether `name` is a valid name under the UTF-8 rules of Prometheus 3: a non-empty string that
 * encodes as UTF-8 (no lone surrogate). Control characters are refused as well.
 */
function isUtf8Name(name: unknown): name is string {
  return typeof name === "string" && name !== "" && isWellFormed(name) &&
    !CONTROL_CHARACTER_RE.test(name);
}

const NAME_RULE = "a non-empty UTF-8 string without control characters";

/**
 * Throws a `TypeError` unless `name` is a valid metric name: any non-empty UTF-8 string without
 * control characters (Prometheus 3). Names outside the legacy alphabet `[a-zA-Z_:][a-zA-Z0-9_:]*`
 * are escaped or quoted at exposition, as the scraper negotiates.
 */
export function validateMetricName(name: unknown): asserts name is string {
  if (typeof name === "string" && LEGACY_METRIC_NAME_RE.test(name)) return;
  if (!isUtf8Name(name)) {
    throw new TypeError(`invalid metric name ${JSON.stringify(name)}: it must be ${NAME_RULE}`);
  }
}

/**
 * Throws a `TypeError` unless `name` is a valid, non-reserved label name: any non-empty UTF-8
 * string without control characters that does not start with `__`.
 */
export function validateLabelName(name: unknown, metricName?: string): asserts name is string {
  const where = metricName === undefined ? "" : ` of metric "${metricName}"`;
  if (!(typeof name === "string" && LEGACY_LABEL_NAME_RE.test(name)) && !isUtf8Name(name)) {
    throw new TypeError(
      `invalid label name ${JSON.stringify(name)}${where}: it must be ${NAME_RULE}`,
    );
  }
  if (name.startsWith("__")) {
    throw new TypeError(
      `label name "${name}"${where} is reserved: names starting with "__" are for Prometheus' own use`,
    );
  }
}

/**
 * The one rule for text that becomes a label value or a help text: lone UTF-16 surrogates
 * (which have no UTF-8 encoding) become U+FFFD on entry, so that `"/a\ud800"` and `"/a\udbff"`
 * are one series, exposed once, rather than two series printed as the same line. A well-formed
 * string is returned as it is (no copy).
 */
export function wellFormed(text: string): string {
  return isWellFormed(text) ? text : toWellFormed(text);
}

/** A copy of `labels` whose values went through {@linkcode wellFormed}. */
export function wellFormedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const copy: Record<string, string> = {};
  for (const name of Object.keys(labels)) copy[name] = wellFormed(labels[name]);
  return copy;
}

// `isWellFormed`/`toWellFormed` are ES2024; older engines get the same result from a regex.
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const hasWellFormed = typeof String.prototype.isWellFormed === "function" &&
  typeof String.prototype.toWellFormed === "function";

/** Whether `text` has no lone surrogate (encodes as UTF-8 without loss). */
export function isWellFormed(text: string): boolean {
  if (hasWellFormed) return text.isWellFormed();
  LONE_SURROGATE_RE.lastIndex = 0;
  return !LONE_SURROGATE_RE.test(text);
}

function toWellFormed(text: string): string {
  return hasWellFormed ? text.toWellFormed() : text.replace(LONE_SURROGATE_RE, "\ufffd");
}

/**
 * The schemes under which two distinct names can be written alike. `allow-utf-8` writes each as
 * it is; `dots` writes `_`, `.` and every other character outside the alphabet apart where
 * `underscores` writes them all as `_`, so two names `dots` writes alike are written alike by
 * `underscores` too (a property tests/exposition/name_clash_test.ts checks).
 */
const MERGING_SCHEMES: readonly EscapingScheme[] = Object.freeze(["underscores", "values"]);

/** Two names that a scraper asking for `scheme` would read as one, `written`. */
export interface EscapedNameClash {
  /** The name met first. */
  readonly first: string;
  /** The name that meets it. */
  readonly second: string;
  /** What both are written as. */
  readonly written: string;
  /** The escaping under which they meet. */
  readonly scheme: EscapingScheme;
}

/**
 * Two of `labelNames` that some scraper would read as one, because the escaping it asks for
 * writes both alike (`http.method` and `http_method` under `underscores`, `a-b` and `a_b`
 * under `dots`, `a.b` and `U__a_2e_b` under `values`), or `undefined`. Legacy names never meet
 * (each scheme writes distinct legacy names apart), so only a set with a UTF-8 name is looked
 * at closely.
 */
export function escapedNameClash(labelNames: readonly string[]): EscapedNameClash | undefined {
  if (labelNames.length < 2 || labelNames.every(isLegacyLabelName)) return undefined;
  for (const scheme of MERGING_SCHEMES) {
    const seen = new Map<string, string>();
    for (const labelName of labelNames) {
      const written = escapeName(labelName, scheme, "label");
      const first = seen.get(written);
      if (first !== undefined) return { first, second: labelName, written, scheme };
      seen.set(written, labelName);
    }
  }
  return undefined;
}

/** How a clash reads in a message: `"a.b" and "a_b" … both be "a_b" for scrapers that ask for …`. */
export function describeClash(clash: EscapedNameClash, owner: string): string {
  return `label names "${clash.first}" and "${clash.second}"${owner} would both be ` +
    `"${clash.written}" for scrapers that ask for the ${clash.scheme} escaping`;
}

/**
 * Throws a `TypeError` when two of `labelNames` would be one label for some scraper (see
 * {@linkcode escapedNameClash}).
 */
export function checkEscapedNamesDistinct(
  metricName: string,
  labelNames: readonly string[],
): void {
  const clash = escapedNameClash(labelNames);
  if (clash === undefined) return;
  throw new TypeError(describeClash(clash, ` of metric "${metricName}"`));
}

/** The label of the one series a metric records new label sets into past its cap (OpenTelemetry's). */
export const OVERFLOW_LABEL_NAME = "otel.metric.overflow";

/**
 * The entries of a labels object given as an option (`option`, e.g. `groupingKey`, of `whose`,
 * e.g. `of job "batch"`), checked: a `TypeError` unless it is an object of valid label names to
 * strings.
 */
export function labelEntries(labels: unknown, option: string, whose: string): [string, string][] {
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError(`${option} ${whose} must be an object of label names to string values`);
  }
  const entries = Object.entries(labels);
  for (const [name, value] of entries) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`${option} ${whose}: ${(error as Error).message}`);
    }
    if (typeof value !== "string") {
      throw new TypeError(
        `label "${name}" in ${option} ${whose} must be a string, got ${typeof value}`,
      );
    }
  }
  return entries;
}

/**
 * Validates a metric's label names: each valid, none repeated, none of `reserved` (such as
 * `le` for histograms). Returns a frozen copy.
 */
export function validateLabelNames(
  metricName: string,
  labelNames: readonly string[] | undefined,
  reserved: readonly string[] = [],
): readonly string[] {
  if (labelNames === undefined) return Object.freeze([]);
  if (!Array.isArray(labelNames)) {
    throw new TypeError(`labelNames of metric "${metricName}" must be an array of strings`);
  }
  const seen = new Set<string>();
  for (const labelName of labelNames) {
    validateLabelName(labelName, metricName);
    // Series lifecycle: the label of the overflow series past a metric's cap (series_caps.ts).
    if (labelName === OVERFLOW_LABEL_NAME) {
      throw new TypeError(
        `label name "${labelName}" of metric "${metricName}" is reserved for the overflow ` +
          `series of a metric past its maxSeries cap`,
      );
    }
    if (reserved.includes(labelName)) {
      throw new TypeError(
        `label name "${labelName}" is reserved for metric "${metricName}" (a ${
          reserved.join("/")
        } label is added by the metric type itself)`,
      );
    }
    if (seen.has(labelName)) {
      throw new TypeError(`label name "${labelName}" is repeated in metric "${metricName}"`);
    }
    seen.add(labelName);
  }
  checkEscapedNamesDistinct(metricName, labelNames);
  return Object.freeze([...labelNames]);
}

/** Throws a `TypeError` unless `help` is a string. */
export function validateHelp(metricName: string, help: unknown): asserts help is string {
  if (typeof help !== "string") {
    throw new TypeError(`metric "${metricName}" needs a help text (a string)`);
  }
}

/** Throws a `TypeError` unless `unit` is a valid unit (the label-name alphabet, no leading `__`). */
export function validateUnit(metricName: string, unit: unknown): asserts unit is string {
  if (typeof unit !== "string" || !/^[a-zA-Z0-9_:]+$/.test(unit)) {
    throw new TypeError(
      `invalid unit ${
        JSON.stringify(unit)
      } for metric "${metricName}": it must match [a-zA-Z0-9_:]+`,
    );
  }
}

/** Counter increments: finite and not negative (a counter never goes down). */
export function checkCounterIncrement(metricName: string, amount: number): void {
  checkNumber(metricName, amount, "counter");
  if (!(amount >= 0 && amount < Infinity)) {
    throw new RangeError(
      `counter "${metricName}" can only increase by a finite, non-negative amount, got ${amount}`,
    );
  }
}

/** Gauge `inc`/`dec` amounts: finite numbers (an infinite step would make the gauge useless). */
export function checkFiniteAmount(metricName: string, amount: number): void {
  checkNumber(metricName, amount);
  if (!(amount > -Infinity && amount < Infinity)) {
    throw new RangeError(`metric "${metricName}" takes a finite amount, got ${amount}`);
  }
}

/** Values a gauge may be set to: any number, including ±Inf and NaN, which Prometheus allows. */
export function checkNumber(metricName: string, value: number, kind = "metric"): void {
  if (typeof value !== "number") {
    throw new TypeError(`${kind} "${metricName}" takes a number, got ${typeof value}`);
  }
}

/** Observations: any number but NaN (NaN would poison `_sum` and fall in no bucket). */
export function checkObservation(metricName: string, value: number): void {
  checkNumber(metricName, value);
  if (value !== value) throw new RangeError(`metric "${metricName}" cannot observe NaN`);
}

/** The OpenMetrics limit on an exemplar's label set, counted in characters (code points). */
export const EXEMPLAR_MAX_CHARACTERS = 128;

/** Validates exemplar labels: valid names, string values, at most 128 characters in all. */
export function validateExemplarLabels(
  metricName: string,
  exemplarLabels: Readonly<Record<string, string>>,
): void {
  if (exemplarLabels === null || typeof exemplarLabels !== "object") {
    throw new TypeError(`exemplar of metric "${metricName}" must be an object of labels`);
  }
  let characters = 0;
  let allLegacy = true;
  for (const labelName in exemplarLabels) {
    validateLabelName(labelName, metricName);
    if (allLegacy && !isLegacyLabelName(labelName)) allLegacy = false;
    const labelValue = exemplarLabels[labelName];
    if (typeof labelValue !== "string") {
      throw new TypeError(
        `exemplar label "${labelName}" of metric "${metricName}" must be a string`,
      );
    }
    characters += codePointLength(labelName) + codePointLength(labelValue);
  }
  if (!allLegacy) checkEscapedNamesDistinct(metricName, Object.keys(exemplarLabels));
  if (characters > EXEMPLAR_MAX_CHARACTERS) {
    throw new RangeError(
      `exemplar labels of metric "${metricName}" have ${characters} characters, ` +
        `more than the OpenMetrics limit of ${EXEMPLAR_MAX_CHARACTERS}`,
    );
  }
}

function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

/** Histogram upper bounds: finite, strictly increasing; returns them with `+Inf` appended. */
export function validateBuckets(metricName: string, buckets: readonly number[]): number[] {
  if (!Array.isArray(buckets)) {
    throw new TypeError(`buckets of histogram "${metricName}" must be an array of numbers`);
  }
  const upperBounds = [...buckets];
  if (upperBounds.length > 0 && upperBounds[upperBounds.length - 1] === Infinity) {
    upperBounds.pop();
  }
  for (let i = 0; i < upperBounds.length; i++) {
    const bound = upperBounds[i];
    if (typeof bound !== "number" || !Number.isFinite(bound)) {
      throw new RangeError(
        `bucket bound ${String(bound)} of histogram "${metricName}" is not a finite number ` +
          `(+Inf is added by itself)`,
      );
    }
    if (i > 0 && bound <= upperBounds[i - 1]) {
      throw new RangeError(
        `buckets of histogram "${metricName}" must be strictly increasing: ${
          upperBounds[i - 1]
        } is followed by ${bound}`,
      );
    }
  }
  upperBounds.push(Infinity);
  return upperBounds;
}

/**
 * Checks a duration option: a positive, finite number of milliseconds, returned as it is
 * (`fallback` when the option is `undefined` and a fallback is given). Anything else is a
 * `RangeError`; `option` names the option and its owner as the message reads, e.g.
 * `"intervalMs of the pusher for http://…"` or `"aggregateWorkers: timeoutMs"`.
 */
export function positiveMs(value: unknown, option: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "number" || !(value > 0 && value < Infinity)) {
    throw new RangeError(
      `${option} must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * A positive integer option, `fallback` when not given: a `TypeError` if it is not a number, a
 * `RangeError` if it is not a positive safe integer, each naming `option`.
 */
export function positiveInteger(value: unknown, option: string, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(`${option} must be a number, got ${typeof value}`);
  }
  if (Number.isSafeInteger(value) && value >= 1) return value;
  throw new RangeError(`${option} must be a positive integer, got ${value}`);
}
