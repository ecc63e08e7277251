/**
 * The snapshot types: plain data that every metric produces on `collect()` and that every
 * exposition format, the HTTP handler, the Pushgateway client and the worker aggregation read.
 * Metric classes know nothing about wire formats; formats know nothing about metric classes.
 *
 * @module
 */

/** A set of label names and their values. Label order does not matter: formats sort by name. */
export type Labels = Readonly<Record<string, string>>;

/** The metric types of the OpenMetrics data model that this library produces. */
export type MetricType =
  | "counter"
  | "gauge"
  | "histogram"
  | "summary"
  | "info"
  | "stateset"
  | "unknown";

/** An exemplar: a reference (usually a trace id) to one observation that landed in a series. */
export interface Exemplar {
  /** The exemplar's own labels, e.g. `{ trace_id: "abc" }`; at most 128 characters in all. */
  readonly labels: Labels;
  /** The observed value. */
  readonly value: number;
  /** When it was observed, in seconds since the Unix epoch. */
  readonly timestamp?: number;
}

/** One counter series. `value` is the running total; it never decreases. */
export interface CounterPoint {
  readonly labels: Labels;
  readonly value: number;
  /** When the series was created, in seconds since the Unix epoch (OpenMetrics `_created`). */
  readonly created?: number;
  readonly exemplar?: Exemplar;
}

/** One gauge (or unknown-typed) series. */
export interface GaugePoint {
  readonly labels: Labels;
  readonly value: number;
}

/** One histogram series, with cumulative bucket counts (the last bound is always `+Inf`). */
export interface HistogramPoint {
  readonly labels: Labels;
  /** Upper bounds, increasing, ending with `Infinity`. Often shared by every point of a family. */
  readonly upperBounds: readonly number[];
  /** Cumulative counts, one per upper bound; the last one equals `count`. */
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sum: number;
  readonly created?: number;
  /** Latest exemplar per bucket, aligned with `upperBounds` (entries may be undefined). */
  readonly exemplars?: readonly (Exemplar | undefined)[];
}

/** One estimated quantile of a summary. */
export interface Quantile {
  /** The quantile, in [0, 1]. */
  readonly quantile: number;
  /** Its estimated value (NaN when the window holds no observation). */
  readonly value: number;
}

/** One summary series. */
export interface SummaryPoint {
  readonly labels: Labels;
  readonly count: number;
  readonly sum: number;
  readonly created?: number;
  /** Sliding-window quantiles; empty when the summary has none configured. */
  readonly quantiles: readonly Quantile[];
}

/** One info series: its labels carry the information, its value is always 1. */
export interface InfoPoint {
  readonly labels: Labels;
}

/** One state of a state set and whether it is the current one. */
export interface State {
  readonly name: string;
  readonly enabled: boolean;
}

/** One state-set series (an Enum): the label named after the family holds each state's name. */
export interface StateSetPoint {
  readonly labels: Labels;
  readonly states: readonly State[];
}

interface FamilyBase {
  /**
   * The family name as OpenMetrics names it: without `_total` for counters and without
   * `_info` for info metrics. Formats add the suffixes they need.
   */
  readonly name: string;
  readonly help: string;
  /** OpenMetrics unit, e.g. `seconds`; when set, `name` ends with `_<unit>`. */
  readonly unit?: string;
}

/** A counter family. */
export interface CounterFamily extends FamilyBase {
  readonly type: "counter";
  readonly points: readonly CounterPoint[];
}
/** A gauge family. */
export interface GaugeFamily extends FamilyBase {
  readonly type: "gauge";
  readonly points: readonly GaugePoint[];
}
/** An unknown-typed family (`untyped` in the 0.0.4 text format). */
export interface UnknownFamily extends FamilyBase {
  readonly type: "unknown";
  readonly points: readonly GaugePoint[];
}
/** A histogram family. */
export interface HistogramFamily extends FamilyBase {
  readonly type: "histogram";
  readonly points: readonly HistogramPoint[];
}
/** A summary family. */
export interface SummaryFamily extends FamilyBase {
  readonly type: "summary";
  readonly points: readonly SummaryPoint[];
}
/** An info family. */
export interface InfoFamily extends FamilyBase {
  readonly type: "info";
  readonly points: readonly InfoPoint[];
}
/** A state-set family (what an `Enum` produces). */
export interface StateSetFamily extends FamilyBase {
  readonly type: "stateset";
  readonly points: readonly StateSetPoint[];
}

/** A metric family snapshot: the contract between metrics, collectors and exposition formats. */
export type MetricFamily =
  | CounterFamily
  | GaugeFamily
  | UnknownFamily
  | HistogramFamily
  | SummaryFamily
  | InfoFamily
  | StateSetFamily;

/**
 * Anything a registry can hold: metric objects and user-written collectors alike.
 *
 * @example A custom collector
 * ```ts
 * import { Registry, type Collector } from "./mod.ts";
 * const queueDepth: Collector = {
 *   collect: () => [{ type: "gauge", name: "queue_depth", help: "jobs waiting", points: [{ labels: {}, value: 3 }] }],
 * };
 * const registry = new Registry();
 * registry.register(queueDepth);
 * ```
 */
export interface Collector {
  /** Returns fresh snapshots of the families it owns; may be async. */
  collect(): readonly MetricFamily[] | Promise<readonly MetricFamily[]>;
  /**
   * The sample names this collector exposes (e.g. `foo_bucket`, `foo_count`), used by registries
   * to refuse a second collector exposing the same names. Optional for custom collectors.
   */
  readonly sampleNames?: readonly string[];
}
