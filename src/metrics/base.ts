/**
 * What every metric type shares before it has series: its options, and their validation into
 * a description (name, help, unit, label names, constant labels, registry). The series
 * themselves live in a `SeriesTable` (`series_table.ts`) that each type holds.
 *
 * @module
 */

import type { Collector, Labels } from "../model.ts";
import { defaultRegistry, markBuiltIn, type Registry } from "../registry.ts";
import {
  checkEscapedNamesDistinct,
  validateHelp,
  validateLabelName,
  validateLabelNames,
  validateMetricName,
  validateUnit,
  wellFormed,
} from "../validation.ts";
import { monotonicSeconds } from "./timer.ts";
import {
  metricLimitsOf,
  registryLimits,
  type SeriesLifecycleOptions,
  type SeriesLimits,
} from "./series_limits.ts";

/** A label value as accepted by `labels()`: numbers and booleans are turned into strings. */
export type LabelValue = string | number | boolean;

/** Label values by name, as passed to `labels({ ... })`. */
export type LabelValues = Readonly<Record<string, LabelValue>>;

/** Options every metric type takes (the lifecycle ones: see docs/cardinality.md). */
export interface MetricOptions extends SeriesLifecycleOptions {
  /** Metric name, any non-empty UTF-8 string without control characters (see docs/utf8-names.md). */
  readonly name: string;
  /** Help text shown in `# HELP`. */
  readonly help: string;
  /** Label names; children are then reached through `labels(...)`. */
  readonly labelNames?: readonly string[];
  /**
   * Labels with a fixed value, added to every sample of this metric (such as
   * `{ region: "eu" }`). Their names follow the rules of label names and must not be among
   * `labelNames`.
   */
  readonly constLabels?: Readonly<Record<string, string>>;
  /**
   * Registry to register in; defaults to `defaultRegistry`. `null` registers nowhere (register
   * it yourself, or use the metric on its own).
   */
  readonly registry?: Registry | null;
  /** OpenMetrics unit, such as `seconds` or `bytes`; appended to the name when missing from it. */
  readonly unit?: string;
}

/** What a metric type tells `describeMetric` about itself. */
export interface MetricKind {
  /** Type name used in error messages. */
  readonly typeName: string;
  /** Name suffix stripped when given (`_total` for counters), so the family name is the base. */
  readonly strippedSuffix?: string;
  /** Label names the type adds itself (`le`, `quantile`). */
  readonly reservedLabels?: readonly string[];
  /** Suffixes of the sample names the type exposes, for duplicate detection in registries. */
  readonly sampleSuffixes: readonly string[];
  /** Whether the type can have a unit (info and state sets cannot). */
  readonly allowsUnit?: boolean;
  /** Whether the metric's name is also a label name of its series (an enum's state label). */
  readonly nameIsLabel?: boolean;
}

/** A metric's validated options. */
export interface MetricDescription {
  /** The family name (counters without `_total`, info metrics without `_info`). */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The unit, if any. */
  readonly unit: string | undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** The constant labels (frozen). */
  readonly constLabels: Labels;
  /** Every sample name the metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];
  /** Where to register, if anywhere. */
  readonly registry: Registry | undefined;
  /** The cap, expiry and overflow report of its series (series_limits.ts). */
  readonly limits: SeriesLimits;
}

/** Validates a metric's options; every error is a `TypeError` naming the metric. */
export function describeMetric(options: MetricOptions, kind: MetricKind): MetricDescription {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`a ${kind.typeName} needs an options object with name and help`);
  }
  let name = options.name;
  validateMetricName(name);
  if (kind.strippedSuffix !== undefined && name.endsWith(kind.strippedSuffix)) {
    name = name.slice(0, -kind.strippedSuffix.length);
    validateMetricName(name);
  }
  const unit = options.unit;
  if (unit !== undefined && unit !== "") {
    validateUnit(name, unit);
    if (kind.allowsUnit === false) {
      throw new TypeError(`metric "${name}" is a ${kind.typeName}, which cannot have a unit`);
    }
    if (!name.endsWith("_" + unit)) name += "_" + unit;
  }
  validateHelp(name, options.help);
  const labelNames = validateLabelNames(name, options.labelNames, kind.reservedLabels);
  const constLabels = validateConstLabels(
    name,
    options.constLabels,
    labelNames,
    kind.reservedLabels,
  );
  // Every series carries its label names, the constant ones and (for an enum) the state label
  // side by side: no two of them may be written alike under any escaping.
  const sideBySide = [...labelNames, ...Object.keys(constLabels)];
  if (kind.nameIsLabel && !sideBySide.includes(name)) sideBySide.push(name);
  if (sideBySide.length > labelNames.length) checkEscapedNamesDistinct(name, sideBySide);
  const registry = options.registry === undefined ? defaultRegistry : options.registry;
  return {
    name,
    help: wellFormed(options.help),
    unit: unit === "" ? undefined : unit,
    labelNames,
    constLabels,
    sampleNames: Object.freeze([name, ...kind.sampleSuffixes.map((suffix) => name + suffix)]),
    registry: registry ?? undefined,
    limits: metricLimitsOf(name, options, registry ? registryLimits(registry) : undefined),
  };
}

/**
 * Validates constant labels: names as label names (not reserved for the type), none among
 * `labelNames`, values strings. Returns a frozen copy.
 */
function validateConstLabels(
  metricName: string,
  constLabels: Readonly<Record<string, string>> | undefined,
  labelNames: readonly string[],
  reserved: readonly string[] = [],
): Labels {
  if (constLabels === undefined) return Object.freeze({});
  if (constLabels === null || typeof constLabels !== "object" || Array.isArray(constLabels)) {
    throw new TypeError(`constLabels of metric "${metricName}" must be an object of strings`);
  }
  const names = Object.keys(constLabels);
  validateLabelNames(metricName, names, reserved);
  const copy: Record<string, string> = {};
  for (const labelName of names) {
    validateLabelName(labelName, metricName);
    if (labelNames.includes(labelName)) {
      throw new TypeError(
        `constant label "${labelName}" of metric "${metricName}" is also one of its label names`,
      );
    }
    const labelValue = constLabels[labelName];
    if (typeof labelValue !== "string") {
      throw new TypeError(
        `constant label "${labelName}" of metric "${metricName}" must have a string value`,
      );
    }
    copy[labelName] = labelValue;
  }
  return Object.freeze(copy);
}

/**
 * Starts a timer for `startTimer(labels?)`: the returned `end(labels?)` merges both label sets
 * (the later wins), passes them to `record` with the seconds elapsed on the monotonic clock,
 * and returns the seconds. `undefined` labels mean the unlabelled series.
 */
export function startLabelledTimer(
  metricName: string,
  startLabels: LabelValues | undefined,
  record: (labels: LabelValues | undefined, seconds: number) => void,
): (endLabels?: LabelValues) => number {
  checkLabelsObject(metricName, startLabels);
  const start = monotonicSeconds();
  return (endLabels?: LabelValues): number => {
    const seconds = monotonicSeconds() - start;
    checkLabelsObject(metricName, endLabels);
    const labels = endLabels === undefined
      ? startLabels
      : startLabels === undefined
      ? endLabels
      : { ...startLabels, ...endLabels };
    record(labels, seconds);
    return seconds;
  };
}

function checkLabelsObject(metricName: string, labels: unknown): void {
  if (labels !== undefined && (labels === null || typeof labels !== "object")) {
    throw new TypeError(
      `the timer of metric "${metricName}" takes labels as an object, such as { method: "GET" }`,
    );
  }
}

/**
 * Registers a metric where its options say, and marks it as built in: a registry then trusts
 * its families (valid by construction) and skips validating them at every scrape.
 */
export function registerMetric(metric: Collector, description: MetricDescription): void {
  markBuiltIn(metric);
  description.registry?.register(metric);
}
