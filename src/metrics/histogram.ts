/**
 * Histogram: counts observations in configurable buckets (request durations, response sizes).
 *
 * @module
 */

import type { Exemplar, HistogramFamily, Labels } from "../model.ts";
import { checkObservation, validateBuckets } from "../validation.ts";
import { Metric, type MetricOptions } from "./base.ts";
import type { Compaction } from "./series_index.ts";
import { makeExemplar } from "./exemplar.ts";
import {
  NativeHistogram,
  type NativeHistogramOptions,
  type NativeSettings,
  nativeSettings,
} from "./native_histogram.ts";
import { SeriesStore, UINT32_MAX } from "./series_store.ts";
import {
  type AnyFunction,
  type FunctionWrapper,
  startStopwatch,
  wrapCall,
  wrapperFor,
} from "./timer.ts";

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

/** A histogram's series store, which also holds the bounds that `observe` searches. */
class HistogramStore extends SeriesStore {
  // Not frozen, shared by every child for the bucket search: V8 stores a frozen array's
  // numbers boxed and reads them an order of magnitude slower in `observe`.
  readonly searchBounds: readonly number[];

  constructor(
    metricName: string,
    searchBounds: readonly number[],
    capacity: number,
    labelsOf: (slot: number) => Labels,
  ) {
    super(metricName, NUMBER_STRIDE, searchBounds.length, capacity, labelsOf);
    this.searchBounds = searchBounds;
  }

  /** An empty histogram store with the same bounds. */
  protected override emptyLike(capacity: number, labelsOf: (slot: number) => Labels): this {
    return new HistogramStore(this.metricName, this.searchBounds, capacity, labelsOf) as this;
  }
}

/** The series at `slot` of `store` as exposition needs it: cumulative counts, count, sum. */
function histogramState(store: HistogramStore, slot: number): {
  bucketCounts: number[];
  count: number;
  sum: number;
  exemplars: (Exemplar | undefined)[] | undefined;
} {
  const counts = store.counts;
  const bucketCount = store.searchBounds.length;
  const start = slot * bucketCount;
  const cumulative = new Array<number>(bucketCount);
  let count = 0;
  for (let i = 0; i < bucketCount; i++) {
    count += counts[start + i];
    cumulative[i] = count;
  }
  const exemplars = store.extras?.[slot] as (Exemplar | undefined)[] | undefined;
  return {
    bucketCounts: cumulative,
    count,
    sum: store.numbers[slot * NUMBER_STRIDE + SUM],
    exemplars: exemplars?.slice(),
  };
}

/** Empties the classic counts and sum of the series at `slot`, created now. */
function resetSlot(store: HistogramStore, slot: number): void {
  const bucketCount = store.searchBounds.length;
  store.counts.fill(0, slot * bucketCount, (slot + 1) * bucketCount);
  store.numbers[slot * NUMBER_STRIDE + SUM] = 0;
  store.numbers[slot * NUMBER_STRIDE + CREATED] = Date.now() / 1000;
}

/**
 * One histogram series, returned by `histogram.labels(...)`. It is a handle on the series'
 * slot in the metric's packed store, where its per-bucket (not cumulative) counts, sum and
 * creation time live: observe touches two numbers and allocates nothing; collect accumulates.
 * Exemplars are the store's extras.
 */
export class HistogramChild {
  #store: HistogramStore;
  #slot: number;
  readonly #native: NativeHistogram | undefined;

  /** Internal: made by {@linkcode Histogram}. */
  constructor(store: HistogramStore, slot: number, native?: NativeHistogram) {
    this.#store = store;
    this.#slot = slot;
    this.#native = native;
  }

  /** The current store, after following it when the metric compacted its series. */
  #current(): HistogramStore {
    let store = this.#store;
    if (store.successor !== undefined) {
      const place = store.follow(this.#slot);
      store = this.#store = place.store;
      this.#slot = place.slot;
    }
    return store;
  }

  /** This series' labels. */
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
    if (store.successor !== undefined) store = this.#current();
    const upperBounds = store.searchBounds;
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
    const slot = this.#slot;
    const counts = store.counts;
    // A native series reset past its bucket limit starts the classic one afresh too.
    if (this.#native !== undefined && this.#native.observe(value)) resetSlot(store, slot);
    const position = slot * upperBounds.length + index;
    // One read, one write; past 2³² − 1 (in 4-byte counts) the store moves to doubles.
    const count = counts[position] + 1;
    if (count <= UINT32_MAX) counts[position] = count;
    else store.countPastUint32(position);
    store.numbers[slot * NUMBER_STRIDE + SUM] += value;
    if (exemplar !== undefined) {
      const made = makeExemplar(store.metricName, exemplar, value);
      if (made !== undefined) {
        const extras = store.extras ??= [];
        let exemplars = extras[slot] as (Exemplar | undefined)[] | undefined;
        if (exemplars === undefined) {
          exemplars = new Array(upperBounds.length).fill(undefined);
          extras[slot] = exemplars;
        }
        exemplars[index] = made;
      }
    }
  }

  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.observe(seconds));
  }

  /**
   * Observes how long `fn` takes, in seconds (async functions until they settle). Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@histogram.labels("x").time()`.
   */
  time<F extends AnyFunction>(fn: F): F;
  /**
   * Observes how long `fn` takes, in seconds (async functions until they settle). Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@histogram.labels("x").time()`.
   */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
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
 * A histogram. `le` is reserved as a label name.
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
 * const timedJob = h.labels("test_job").time(async () => {});
 * await timedJob();
 * ```
 */
export class Histogram extends Metric<HistogramChild> {
  /** The upper bounds, ending with `Infinity`. */
  readonly upperBounds: readonly number[];
  #store: HistogramStore;
  /** Native settings, and each series' native state by slot (when `native` is on). */
  readonly #nativeSettings: NativeSettings | undefined;
  #native: NativeHistogram[] | undefined;

  /** Creates a histogram and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: HistogramOptions) {
    super(options, {
      typeName: "histogram",
      reservedLabels: ["le"],
      sampleSuffixes: ["_bucket", "_count", "_sum", "_created"],
    });
    const native = options.native;
    if (native !== undefined && native !== false) {
      this.#nativeSettings = nativeSettings(this.name, native);
      this.#native = [];
    }
    const upperBounds = validateBuckets(
      this.name,
      options.buckets ?? (this.#native === undefined ? DEFAULT_BUCKETS : []),
    );
    this.#store = new HistogramStore(
      this.name,
      [...upperBounds],
      this.labelNames.length === 0 ? 1 : 8,
      (slot) => this.labelsOf(slot),
    );
    this.upperBounds = Object.freeze(upperBounds);
    this.init();
  }

  /** Starts the series at `slot` empty, created now. */
  protected seriesAdded(slot: number): void {
    this.#store.addSeries(slot, CREATED);
    if (this.#native !== undefined) this.#native[slot] = new NativeHistogram(this.#nativeSettings);
  }

  /** A child (a handle) for the series at `slot`. */
  protected childAt(slot: number): HistogramChild {
    return new HistogramChild(this.#store, slot, this.#native?.[slot]);
  }

  /** Moves to a compacted store; children of the old one follow it on their next use. */
  protected seriesCompacted(compaction: Compaction): void {
    this.#store = this.#store.compact(compaction);
    const native = this.#native;
    if (native !== undefined) {
      // Children hold their native state directly, so it only moves to its new slot here.
      this.#native = [];
      compaction.forwarding.forEach((to, from) => {
        if (to >= 0) this.#native![to] = native[from];
      });
    }
  }

  /** Builds this metric's family snapshot from its series. */
  protected familyOf(slots: readonly number[]): HistogramFamily {
    const store = this.#store;
    return {
      type: "histogram",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: slots.map((slot) => {
        const { bucketCounts, count, sum, exemplars } = histogramState(store, slot);
        return {
          labels: this.labelsOf(slot),
          upperBounds: this.upperBounds,
          bucketCounts,
          count,
          sum,
          created: store.numbers[slot * NUMBER_STRIDE + CREATED],
          exemplars,
          ...this.#native?.[slot].buckets(),
        };
      }),
    };
  }

  /** Observes `value` in the unlabelled series. */
  observe(value: number, exemplar?: Labels): void {
    this.unlabelled.observe(value, exemplar);
  }

  /** Starts a timer for the unlabelled series. */
  startTimer(): () => number {
    return this.unlabelled.startTimer();
  }

  /** Times `fn` into the unlabelled series; see {@linkcode HistogramChild.time}. */
  time<F extends AnyFunction>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode HistogramChild.time}. */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.unlabelled.time() : this.unlabelled.time(fn);
  }
}
