/**
 * Histogram: counts observations in configurable buckets (request durations, response sizes).
 *
 * @module
 */

import type { Exemplar, HistogramFamily, Labels } from "../model.ts";
import { checkObservation, validateBuckets } from "../validation.ts";
import {
  describeMetric,
  type LabelValue,
  type LabelValues,
  type MetricOptions,
  registerMetric,
  startLabelledTimer,
} from "./base.ts";
import { makeExemplar } from "./exemplar.ts";
import { activeTraceLabels, traceExemplar, type TraceLabels } from "../otel/trace_context.ts";
import {
  NativeHistogram,
  type NativeHistogramOptions,
  type NativeSettings,
  nativeSettings,
} from "./native_histogram.ts";
import { type MetricSeries, slotNow } from "./handle.ts";
import { type SeriesStore, UINT32_MAX } from "./series_store.ts";
import { SeriesTable, type SeriesType } from "./series_table.ts";
import { type FunctionWrapper, startStopwatch, wrapCall, wrapperFor } from "./timer.ts";
import { exposeStorage, type MetricStorage } from "./storage_read.ts";

/** Prometheus' default buckets, meant for web/RPC latencies in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
]);

/** Options of a {@linkcode Histogram}. */
export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing and finite; `+Inf` is appended. Default: {@linkcode DEFAULT_BUCKETS}. */
  readonly buckets?: readonly number[];
  /**
   * Also keep a native (sparse, exponential) histogram per series, exposed in the protobuf
   * format (see `docs/native-histograms.md`). With `native` alone (no `buckets`), the text
   * formats carry only `_count`, `_sum` and the `+Inf` bucket, as client_golang does.
   */
  readonly native?: boolean | NativeHistogramOptions;
  /**
   * Keep `{ trace_id, span_id }` of the active sampled OpenTelemetry span as the exemplar of
   * each observation that gives none, in its classic bucket (the `+Inf` one of a histogram with
   * `native` only); see `docs/metrics.md`. Default `false`.
   */
  readonly traceExemplars?: boolean;
}

/**
 * `count` buckets starting at `start`, each `width` wider than the last.
 *
 * @example
 * ```ts
 * import { linearBuckets } from "@deno-prom/client";
 * linearBuckets(1, 2, 3); // [1, 3, 5]
 * ```
 */
export function linearBuckets(start: number, width: number, count: number): number[] {
  if (!Number.isFinite(start) || !(width > 0 && width < Infinity)) {
    throw new RangeError(`linearBuckets needs a finite start and a positive width`);
  }
  checkBucketCount(count);
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/**
 * `count` buckets starting at `start`, each `factor` times the last.
 *
 * @example
 * ```ts
 * import { exponentialBuckets } from "@deno-prom/client";
 * exponentialBuckets(1, 2, 4); // [1, 2, 4, 8]
 * ```
 */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  if (!(start > 0 && start < Infinity) || !(factor > 1 && factor < Infinity)) {
    throw new RangeError(`exponentialBuckets needs a positive start and a factor above 1`);
  }
  checkBucketCount(count);
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

function checkBucketCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`bucket count must be a positive integer, got ${count}`);
  }
}

/** Doubles per histogram series in its store's numbers: the sum, then the creation time. */
const NUMBER_STRIDE = 2;
/** Where the sum sits among a series' numbers. */
const SUM = 0;
/** Where the creation time sits among a series' numbers. */
const CREATED = 1;
/** The side array of exemplars (one array of `bounds.length` per series that has any). */
const EXEMPLARS = 0;
/**
 * The side array of native histogram state (a {@linkcode NativeHistogram} per series), present
 * only when the histogram is native; compaction and detaching carry it with the series.
 */
const NATIVE = 1;

/** Empties the classic counts and sum of the series at `slot`, created now. */
function resetSlot(store: SeriesStore, slot: number): void {
  const bucketCount = store.countStride;
  store.counts.fill(0, slot * bucketCount, (slot + 1) * bucketCount);
  store.numbers[slot * NUMBER_STRIDE + SUM] = 0;
  store.numbers[slot * NUMBER_STRIDE + CREATED] = Date.now() / 1000;
}

/** Series lifecycle: the observations of the series at `slot`, which every `observe` changes. */
function observationsOf(store: SeriesStore, slot: number): number {
  const counts = store.counts;
  const bucketCount = store.countStride;
  let count = 0;
  for (let i = slot * bucketCount; i < (slot + 1) * bucketCount; i++) count += counts[i];
  return count;
}

/** The series at `slot` of `store` as exposition needs it: cumulative counts, count, sum. */
function histogramState(store: SeriesStore, slot: number): {
  bucketCounts: number[];
  count: number;
  sum: number;
  exemplars: (Exemplar | undefined)[] | undefined;
} {
  const counts = store.counts;
  const bucketCount = store.countStride;
  const start = slot * bucketCount;
  const cumulative = new Array<number>(bucketCount);
  let count = 0;
  for (let i = 0; i < bucketCount; i++) {
    count += counts[start + i];
    cumulative[i] = count;
  }
  const exemplars = store.sides[EXEMPLARS]?.[slot] as (Exemplar | undefined)[] | undefined;
  return {
    bucketCounts: cumulative,
    count,
    sum: store.numbers[slot * NUMBER_STRIDE + SUM],
    exemplars: exemplars?.slice(),
  };
}

/**
 * Records `value` in the series at `slot` of `store`, whose upper bounds (ending with +Inf)
 * are `upperBounds`: one count, the sum, and the exemplar if given. Allocates nothing
 * without an exemplar.
 */
function observeInto(
  store: SeriesStore,
  slot: number,
  upperBounds: readonly number[],
  value: number,
  exemplar: Labels | undefined,
): number {
  // A linear scan beats binary search for the usual 10–20 buckets; the last bound is +Inf,
  // so the scan always stops.
  let index = 0;
  if (upperBounds.length <= 24) {
    while (value > upperBounds[index]) index++;
  } else {
    let high = upperBounds.length - 1;
    while (index < high) {
      const middle = (index + high) >>> 1;
      if (value <= upperBounds[middle]) high = middle;
      else index = middle + 1;
    }
  }
  const natives = store.sides[NATIVE];
  if (natives !== undefined) {
    // A native series reset past its bucket limit starts the classic one afresh too.
    const native = natives[slot] as NativeHistogram | undefined;
    if (native !== undefined && native.observe(value)) resetSlot(store, slot);
  }
  const counts = store.counts;
  const position = slot * upperBounds.length + index;
  // One read, one write; past 2³² − 1 (in 4-byte counts) the store moves to doubles.
  const count = counts[position] + 1;
  if (count <= UINT32_MAX) counts[position] = count;
  else store.countPastUint32(position);
  store.numbers[slot * NUMBER_STRIDE + SUM] += value;
  if (exemplar !== undefined) {
    const made = makeExemplar(store.metricName, exemplar, value);
    if (made !== undefined) {
      const extras = store.side(EXEMPLARS);
      let exemplars = extras[slot] as (Exemplar | undefined)[] | undefined;
      if (exemplars === undefined) {
        exemplars = new Array(upperBounds.length).fill(undefined);
        extras[slot] = exemplars;
      }
      exemplars[index] = made;
    }
  }
  return index;
}

/** Keeps the span's `labels` as the exemplar of bucket `index` of the series at `slot`. */
function keepTraceExemplar(
  store: SeriesStore,
  slot: number,
  bucketCount: number,
  index: number,
  value: number,
  labels: TraceLabels,
): void {
  let exemplars = store.sides[EXEMPLARS]?.[slot] as (Exemplar | undefined)[] | undefined;
  const kept = exemplars?.[index];
  // The span's exemplar already kept: the usual case within one span, left as it is.
  if (kept !== undefined && kept.labels === labels) return;
  if (exemplars === undefined) {
    exemplars = new Array(bucketCount).fill(undefined);
    store.side(EXEMPLARS)[slot] = exemplars;
  }
  exemplars[index] = traceExemplar(kept, labels, value);
}

/**
 * `observeInto` of a histogram with `traceExemplars`: without `exemplar`, the active sampled
 * span's ids become the exemplar (valid by construction); labels given by the caller take the
 * usual (validating) path.
 */
function observeTraced(
  store: SeriesStore,
  slot: number,
  upperBounds: readonly number[],
  value: number,
  exemplar: Labels | undefined,
): void {
  if (exemplar !== undefined) {
    observeInto(store, slot, upperBounds, value, exemplar);
    return;
  }
  const index = observeInto(store, slot, upperBounds, value, undefined);
  const labels = activeTraceLabels();
  if (labels !== undefined) {
    keepTraceExemplar(store, slot, upperBounds.length, index, value, labels);
  }
}

/** `observe` of a traced child, which reads the series of its base class (set in a static block). */
let tracedObserve: (child: HistogramChild, value: number, exemplar: Labels | undefined) => void;

/**
 * One histogram series, returned by `histogram.labels(...)`: a handle on the series in the
 * metric's packed store, where its per-bucket (not cumulative) counts, sum and creation time
 * live. `observe` touches two numbers and allocates nothing; collect accumulates. See
 * {@linkcode Counter} for what a handle promises after `remove()`.
 *
 * @example
 * ```ts
 * import { Histogram } from "@deno-prom/client";
 * const duration = new Histogram({
 *   name: "job_duration_seconds", help: "job time", labelNames: ["job"], buckets: [0.1, 1],
 *   registry: null,
 * });
 * const backup = duration.labels({ job: "backup" });
 * backup.observe(0.4);
 * backup.snapshot().count; // 1
 * ```
 */
export class HistogramChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;
  // Not frozen, shared by every child for the bucket search: V8 stores a frozen array's
  // numbers boxed and reads them much more slowly in `observe`.
  readonly #searchBounds: readonly number[];

  /** @ignore Made by {@linkcode Histogram}. */
  constructor(series: MetricSeries, slot: number, searchBounds: readonly number[]) {
    this.#series = series;
    this.#store = series.store;
    this.#slot = slot;
    this.#searchBounds = searchBounds;
  }

  static {
    tracedObserve = (child, value, exemplar) => {
      let store = child.#store;
      if (typeof value !== "number" || value !== value) checkObservation(store.metricName, value);
      if (!store.current) store = child.#current();
      observeTraced(store, child.#slot, child.#searchBounds, value, exemplar);
    };
  }

  /** The series' store now: see `slotNow` (handle.ts). Read `#slot` after calling it. */
  #current(): SeriesStore {
    const store = this.#store;
    if (store.current) return store;
    const slot = slotNow(this.#series, store, this.#slot);
    this.#store = slot >= 0 ? this.#series.store : store.detach(this.#slot);
    this.#slot = slot >= 0 ? slot : 0;
    return this.#store;
  }

  /** This series' labels (with the metric's constant labels). */
  get labels(): Labels {
    return this.#current().labelsOf(this.#slot);
  }

  /** When the series was created, in seconds since the Unix epoch. */
  get created(): number {
    return this.#current().numbers[this.#slot * NUMBER_STRIDE + CREATED];
  }

  /** Records one observation; NaN throws a `RangeError`. */
  observe(value: number, exemplar?: Labels): void {
    let store = this.#store;
    if (typeof value !== "number" || value !== value) checkObservation(store.metricName, value);
    if (!store.current) store = this.#current();
    observeInto(store, this.#slot, this.#searchBounds, value, exemplar);
  }

  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.observe(seconds));
  }

  /**
   * Observes how long `fn` takes, in seconds (async functions until they settle). Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@histogram.labels("x").time()`.
   */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /**
   * Observes how long `fn` takes, in seconds (async functions until they settle). Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@histogram.labels("x").time()`.
   */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    const hooks = { after: (seconds: number) => this.observe(seconds) };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }

  /** Cumulative counts per upper bound, the sum and the count, as exposition needs them. */
  snapshot(): {
    bucketCounts: number[];
    count: number;
    sum: number;
    exemplars: (Exemplar | undefined)[] | undefined;
  } {
    return histogramState(this.#current(), this.#slot);
  }
}

/**
 * A histogram series of a histogram with `traceExemplars`: a separate class, so that the plain
 * child's `observe` stays as it is.
 */
class TracedHistogramChild extends HistogramChild {
  override observe(value: number, exemplar?: Labels): void {
    tracedObserve(this, value, exemplar);
  }
}

/**
 * A histogram. `le` is reserved as a label name. Its children follow the rule described at
 * {@linkcode Counter}.
 *
 * @example The guide's job histogram
 * ```ts
 * import { Histogram, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const h = new Histogram({
 *   name: "job_duration_seconds", help: "duration of job", labelNames: ["job_name"],
 *   buckets: [1, 2, 3, 10, 20, 50, 100], registry,
 * });
 * h.labels({ job_name: "test_job" }).observe(0.149);
 * h.observeWith({ job_name: "test_job" }, 0.2); // no child
 * const timedJob = h.labels("test_job").time(async () => {});
 * await timedJob();
 * ```
 */
export class Histogram {
  /** The family name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The unit, if any. */
  readonly unit: string | undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** Every sample name this metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];
  /** The upper bounds, ending with `Infinity`. */
  readonly upperBounds: readonly number[];
  /** What readers read (exposition, remote write, `collect()`). */
  readonly #storage: MetricStorage;
  readonly #table: SeriesTable<HistogramChild>;
  readonly #searchBounds: readonly number[];
  readonly #unlabelled: HistogramChild | undefined;

  /** Creates a histogram and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: HistogramOptions) {
    const description = describeMetric(options, {
      typeName: "histogram",
      reservedLabels: ["le"],
      sampleSuffixes: ["_bucket", "_count", "_sum", "_created"],
    });
    this.name = description.name;
    this.help = description.help;
    this.unit = description.unit;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    const native = options.native;
    const settings: NativeSettings | undefined = native === undefined || native === false
      ? undefined
      : nativeSettings(this.name, native);
    const upperBounds = validateBuckets(
      this.name,
      options.buckets ?? (settings === undefined ? DEFAULT_BUCKETS : []),
    );
    const searchBounds = [...upperBounds];
    this.#searchBounds = searchBounds;
    const traced = options.traceExemplars === true;
    this.upperBounds = Object.freeze(upperBounds);
    this.#table = new SeriesTable<HistogramChild>(
      description,
      {
        numberStride: NUMBER_STRIDE,
        countStride: searchBounds.length,
        sideCount: settings === undefined ? 1 : 2,
        createdOffset: CREATED,
        initSeries(store, slot) {
          store.numbers[slot * NUMBER_STRIDE + CREATED] = Date.now() / 1000;
          if (settings !== undefined) store.side(NATIVE)[slot] = new NativeHistogram(settings);
        },
        newChild: traced
          ? (series, slot) => new TracedHistogramChild(series, slot, searchBounds)
          : (series, slot) => new HistogramChild(series, slot, searchBounds),
        activityOf: observationsOf, // series lifecycle
      } satisfies SeriesType<HistogramChild>,
    );
    this.#unlabelled = this.#table.isUnlabelled ? this.#table.unlabelled : undefined;
    // Only a traced histogram gets this own method: a plain one keeps the prototype's.
    if (traced) {
      Object.defineProperty(this, "observeWith", {
        value: (labels: LabelValues, value: number, exemplar?: Labels) =>
          this.#observeTracedWith(labels, value, exemplar),
      });
    }
    this.#storage = exposeStorage(this, this.#table, {
      type: "histogram",
      upperBounds: this.upperBounds,
      numberStride: NUMBER_STRIDE,
      sumOffset: SUM,
      createdOffset: CREATED,
      exemplarSide: EXEMPLARS,
      nativeSide: settings === undefined ? undefined : NATIVE,
    });
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): HistogramChild;
  labels(
    first: LabelValues | LabelValue,
    a1?: unknown,
    a2?: unknown,
    a3?: unknown,
  ): HistogramChild {
    // Four parameters and `arguments` for more, not a rest parameter (a new array per call):
    // see `SeriesTable.childOf`.
    const count = arguments.length;
    if (count <= 4) return this.#table.childOf(count, first, a1, a2, a3);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push(arguments[i]);
    return this.#table.childOfValues(values);
  }

  /**
   * Observes `value` in the series with these labels, without a child: once the series exists
   * this allocates nothing, however many series the histogram has.
   */
  observeWith(labels: LabelValues, value: number, exemplar?: Labels): void {
    const table = this.#table;
    if (typeof value !== "number" || value !== value) checkObservation(this.name, value);
    observeInto(table.store, table.slotForObject(labels), this.#searchBounds, value, exemplar);
  }

  /** `observeWith` of a histogram with `traceExemplars`. */
  #observeTracedWith(labels: LabelValues, value: number, exemplar?: Labels): void {
    const table = this.#table;
    if (typeof value !== "number" || value !== value) checkObservation(this.name, value);
    const slot = table.slotForObject(labels);
    observeTraced(table.store, slot, this.#searchBounds, value, exemplar);
  }

  /** Removes the series for these label values (same forms as `labels`). */
  remove(first: LabelValues | LabelValue, ...rest: LabelValue[]): void {
    this.#table.remove(first, rest);
  }

  /** Removes every labelled series; on an unlabelled metric it changes nothing. */
  clear(): void {
    this.#table.clear();
  }

  /** Returns this metric's snapshot (one family). */
  collect(): HistogramFamily[] {
    const { labels, store } = this.#storage.read();
    return [{
      type: "histogram",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: labels.liveSlots().map((slot) => {
        const { bucketCounts, count, sum, exemplars } = histogramState(store, slot);
        return {
          labels: labels.labelsOf(slot),
          upperBounds: this.upperBounds,
          bucketCounts,
          count,
          sum,
          created: store.numbers[slot * NUMBER_STRIDE + CREATED],
          exemplars,
          ...(store.sides[NATIVE]?.[slot] as NativeHistogram | undefined)?.buckets(),
        };
      }),
    }];
  }

  /** The unlabelled series; a clear error when the histogram has labels. */
  get #series(): HistogramChild {
    return this.#unlabelled ?? this.#table.unlabelled;
  }

  /** Observes `value` in the unlabelled series. */
  observe(value: number, exemplar?: Labels): void {
    this.#series.observe(value, exemplar);
  }

  /**
   * Starts a timer. The returned `end(labels?)` observes the seconds elapsed (and returns
   * them) in the series of the labels given here and there together, so that labels learnt
   * at the end (a status code) can be added then; without labels, in the unlabelled series.
   * A missing or unknown label is the usual `TypeError`, thrown by `end`.
   */
  startTimer(labels?: LabelValues): (labels?: LabelValues) => number {
    return startLabelledTimer(this.name, labels, (all, seconds) => {
      if (all === undefined) this.#series.observe(seconds);
      else this.observeWith(all, seconds);
    });
  }

  /** Times `fn` into the unlabelled series; see {@linkcode HistogramChild.time}. */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode HistogramChild.time}. */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.#series.time() : this.#series.time(fn);
  }
}
