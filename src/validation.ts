/**
 * Every naming and value rule, with its error message, in one place. Metrics, the Pushgateway
 * client and the worker aggregation all call these, so a rule is never written twice.
 *
 * @module
 */

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Throws a `TypeError` unless `name` is a valid Prometheus metric name. */
export function validateMetricName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !METRIC_NAME_RE.test(name)) {
    throw new TypeError(
      `invalid metric name ${JSON.stringify(name)}: it must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
}

/** Throws a `TypeError` unless `name` is a valid, non-reserved label name. */
export function validateLabelName(name: unknown, metricName?: string): asserts name is string {
  const where = metricName === undefined ? "" : ` of metric "${metricName}"`;
  if (typeof name !== "string" || !LABEL_NAME_RE.test(name)) {
    throw new TypeError(
      `invalid label name ${JSON.stringify(name)}${where}: it must match [a-zA-Z_][a-zA-Z0-9_]*`,
    );
  }
  if (name.startsWith("__")) {
    throw new TypeError(
      `label name "${name}"${where} is reserved: names starting with "__" are for Prometheus' own use`,
    );
  }
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
  for (const labelName in exemplarLabels) {
    validateLabelName(labelName, metricName);
    const labelValue = exemplarLabels[labelName];
    if (typeof labelValue !== "string") {
      throw new TypeError(
        `exemplar label "${labelName}" of metric "${metricName}" must be a string`,
      );
    }
    characters += codePointLength(labelName) + codePointLength(labelValue);
  }
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
