/**
 * The snapshot types: plain data that every metric produces on `collect()` and that every
 * exposition format, the HTTP handler, the Pushgateway client and the worker aggregation read.
 * Formats know nothing about metric classes: they read these types only. For speed, the labels
 * objects of a built-in metric's snapshot remember the series they came from
 * (`metrics/label_sets.ts`, `seriesColumnsOf`), so that a format writes their text from the
 * metric's label dictionaries (each distinct value escaped once) rather than sorting names and
 * escaping values per series; any other labels object is formatted from its keys and values.
 *
 * @module
 */

/**
 * A set of label names and their values. Label order does not matter: formats sort by name.
 * Read-only: the labels of a metric's snapshot remember their series, so to change them, make a
 * new object (`{ ...labels, env: "prod" }`) rather than assigning into them.
 */
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
  /** The series' labels. */
  readonly labels: Labels;
  /** The running total. */
  readonly value: number;
  /** When the series was created, in seconds since the Unix epoch (OpenMetrics `_created`). */
  readonly created?: number;
  /** The latest exemplar, exposed in OpenMetrics only. */
  readonly exemplar?: Exemplar;
}

/** One gauge (or unknown-typed) series. */
export interface GaugePoint {
  /** The series' labels. */
  readonly labels: Labels;
  /** The current value. */
  readonly value: number;
  /**
   * When the value last changed, in seconds since the Unix epoch. Recorded only for gauges whose
   * `aggregate` mode is `mostrecent` or `livemostrecent` (the worker aggregation keeps the value
   * changed last); absent otherwise, and never exposed.
   */
  readonly updated?: number;
}

/** One histogram series, with cumulative bucket counts (the last bound is always `+Inf`). */
export interface HistogramPoint {
  /** The series' labels (without `le`). */
  readonly labels: Labels;
  /** Upper bounds, increasing, ending with `Infinity`. Often shared by every point of a family. */
  readonly upperBounds: readonly number[];
  /** Cumulative counts, one per upper bound; the last one equals `count`. */
  readonly bucketCounts: readonly number[];
  /** The number of observations. */
  readonly count: number;
  /** The sum of observations (not exposed when the buckets go below zero). */
  readonly sum: number;
  /** When the series was created, in seconds since the Unix epoch. */
  readonly created?: number;
  /** Latest exemplar per bucket, aligned with `upperBounds` (entries may be undefined). */
  readonly exemplars?: readonly (Exemplar | undefined)[];
  /**
   * Native histograms only (absent on classic ones): the bucket schema, −4…8. Bucket `i` holds
   * `base^(i-1) < |v| <= base^i` with `base = 2^(2^-schema)`.
   */
  readonly schema?: number;
  /** Native: observations with `|v| <= zeroThreshold` are in the zero bucket. */
  readonly zeroThreshold?: number;
  /** Native: the zero bucket's count. */
  readonly zeroCount?: number;
  /** Native: runs of consecutive positive bucket indices. */
  readonly positiveSpans?: readonly BucketSpan[];
  /** Native: positive bucket counts in span order, each minus the previous one (the first as is). */
  readonly positiveDeltas?: readonly number[];
  /** Native: runs of consecutive negative bucket indices (by absolute value). */
  readonly negativeSpans?: readonly BucketSpan[];
  /** Native: negative bucket counts in span order, as deltas like `positiveDeltas`. */
  readonly negativeDeltas?: readonly number[];
}

/**
 * A run of consecutive native-histogram buckets: `offset` is the first index (for the first span)
 * or the gap since the previous span's end, `length` the number of buckets.
 */
export interface BucketSpan {
  /** The first span's starting index, or the gap to the previous span. */
  readonly offset: number;
  /** How many consecutive buckets. */
  readonly length: number;
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
  /** The series' labels (without `quantile`). */
  readonly labels: Labels;
  /** The number of observations. */
  readonly count: number;
  /** The sum of observations. */
  readonly sum: number;
  /** When the series was created, in seconds since the Unix epoch. */
  readonly created?: number;
  /** Sliding-window quantiles; empty when the summary has none configured. */
  readonly quantiles: readonly Quantile[];
}

/** One info series: its labels carry the information, its value is always 1. */
export interface InfoPoint {
  /** The series' labels together with the information it carries. */
  readonly labels: Labels;
}

/** One state of a state set and whether it is the current one. */
export interface State {
  /** The state's name. */
  readonly name: string;
  /** Whether it is the current state. */
  readonly enabled: boolean;
}

/** One state-set series (an Enum): the label named after the family holds each state's name. */
export interface StateSetPoint {
  /** The series' labels (without the state label). */
  readonly labels: Labels;
  /** Every state, in declaration order. */
  readonly states: readonly State[];
}

/** What every family has. */
export interface MetricFamilyBase {
  /**
   * The family name as OpenMetrics names it: without `_total` for counters and without
   * `_info` for info metrics. Formats add the suffixes they need.
   */
  readonly name: string;
  /** The help text (unescaped). */
  readonly help: string;
  /** OpenMetrics unit, e.g. `seconds`; when set, `name` ends with `_<unit>`. */
  readonly unit?: string;
}

/** A counter family. */
export interface CounterFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "counter";
  /** One entry per series. */
  readonly points: readonly CounterPoint[];
}
/**
 * How the worker aggregation (`aggregateWorkers`, `directoryCollector`) combines the values one
 * gauge series has in several workers or processes:
 *
 * - `sum`, `min`, `max`: the sum, smallest or largest value (NaN only when every value is NaN);
 * - `mostrecent`: the value changed last;
 * - `all`: every worker's value, told apart by a label naming the worker (`worker` or `pid`);
 * - `livesum`, `livemin`, `livemax`, `livemostrecent`, `liveall`: the same over the workers
 *   still alive, so the value of a worker that exited disappears with it. The other modes keep
 *   an exited worker's last value.
 */
export type GaugeAggregation =
  | "sum"
  | "min"
  | "max"
  | "mostrecent"
  | "all"
  | "livesum"
  | "livemin"
  | "livemax"
  | "livemostrecent"
  | "liveall";

/** Every {@linkcode GaugeAggregation} mode, for validation and documentation. */
export const GAUGE_AGGREGATIONS: readonly GaugeAggregation[] = Object.freeze([
  "sum",
  "min",
  "max",
  "mostrecent",
  "all",
  "livesum",
  "livemin",
  "livemax",
  "livemostrecent",
  "liveall",
]);

/** A gauge family. */
export interface GaugeFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "gauge";
  /** One entry per series. */
  readonly points: readonly GaugePoint[];
  /**
   * How the worker aggregation combines this gauge across workers, as chosen when the gauge was
   * created; absent means `all`. Exposition formats ignore it.
   */
  readonly aggregate?: GaugeAggregation;
}
/** An unknown-typed family (`untyped` in the 0.0.4 text format). */
export interface UnknownFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "unknown";
  /** One entry per series. */
  readonly points: readonly GaugePoint[];
}
/** A histogram family. */
export interface HistogramFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "histogram";
  /** One entry per series. */
  readonly points: readonly HistogramPoint[];
}
/** A summary family. */
export interface SummaryFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "summary";
  /** One entry per series. */
  readonly points: readonly SummaryPoint[];
}
/** An info family. */
export interface InfoFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "info";
  /** One entry per series. */
  readonly points: readonly InfoPoint[];
}
/** A state-set family (what an `Enum` produces). */
export interface StateSetFamily extends MetricFamilyBase {
  /** The type tag. */
  readonly type: "stateset";
  /** One entry per series. */
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
 * import { Registry, type Collector } from "@deno-prom/client";
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
