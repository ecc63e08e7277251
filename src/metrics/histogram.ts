/**
 * Histogram: counts observations in configurable buckets (request durations, response sizes).
 *
 * @module
 */

import type { Exemplar, HistogramFamily, Labels } from "../model.ts";
import { checkObservation, validateBuckets } from "../validation.ts";
import { Metric, type MetricOptions } from "./base.ts";
import { makeExemplar } from "./exemplar.ts";
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
}

/**
 * `count` buckets starting at `start`, each `width` wider than the last.
 *
 * @example
 * ```ts
 * import { linearBuckets } from "./mod.ts";
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
 * import { exponentialBuckets } from "./mod.ts";
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

/**
 * `length` zeros in an array V8 stores as unboxed doubles from the start, so that adding a
 * fractional sum later neither converts the array nor makes `observe` see two array shapes.
 * Filling with a fraction sets that element kind; zeros are then stored one by one, because
 * `fill(0)` would turn it back into an array of small integers.
 */
function zeroTallies(length: number): number[] {
  const tallies = new Array<number>(length).fill(0.5);
  for (let i = 0; i < length; i++) tallies[i] = 0;
  return tallies;
}

/** One histogram series. Returned (and cached) by `histogram.labels(...)`. */
export class HistogramChild {
  /** This series' labels. */
  readonly labels: Labels;
  /** When the series was created, in seconds since the Unix epoch. */
  readonly created: number;
  readonly #metricName: string;
  readonly #upperBounds: readonly number[];
  // Per-bucket (not cumulative) counts, then the sum, in one array of unboxed doubles: observe
  // touches two slots and allocates nothing; collect accumulates. A plain array takes half the
  // memory of a Float64Array this small, and one array saves the sum's own boxed number.
  readonly #tallies: number[];
  #exemplars: (Exemplar | undefined)[] | undefined;

  /** Internal: made by {@linkcode Histogram}. */
  constructor(metricName: string, labels: Labels, upperBounds: readonly number[]) {
    this.#metricName = metricName;
    this.labels = labels;
    this.#upperBounds = upperBounds;
    this.#tallies = zeroTallies(upperBounds.length + 1);
    this.created = Date.now() / 1000;
  }

  /** Records one observation; NaN throws a `RangeError`. */
  observe(value: number, exemplar?: Labels): void {
    if (typeof value !== "number" || value !== value) checkObservation(this.#metricName, value);
    const upperBounds = this.#upperBounds;
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
    const tallies = this.#tallies;
    tallies[index]++;
    tallies[upperBounds.length] += value;
    if (exemplar !== undefined) {
      const made = makeExemplar(this.#metricName, exemplar, value);
      if (made !== undefined) {
        this.#exemplars ??= new Array(upperBounds.length).fill(undefined);
        this.#exemplars[index] = made;
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
    const tallies = this.#tallies;
    const bucketCount = tallies.length - 1;
    const cumulative = new Array<number>(bucketCount);
    let count = 0;
    for (let i = 0; i < bucketCount; i++) {
      count += tallies[i];
      cumulative[i] = count;
    }
    return {
      bucketCounts: cumulative,
      count,
      sum: tallies[bucketCount],
      exemplars: this.#exemplars?.slice(),
    };
  }
}

/**
 * A histogram. `le` is reserved as a label name.
 *
 * @example The guide's job histogram
 * ```ts
 * import { Histogram, Registry } from "./mod.ts";
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
  // The same bounds, not frozen, shared by every child for the bucket search: V8 stores a
  // frozen array's numbers boxed and reads them an order of magnitude slower in `observe`.
  readonly #searchBounds: readonly number[];

  /** Creates a histogram and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: HistogramOptions) {
    super(options, {
      typeName: "histogram",
      reservedLabels: ["le"],
      sampleSuffixes: ["_bucket", "_count", "_sum", "_created"],
    });
    const upperBounds = validateBuckets(this.name, options.buckets ?? DEFAULT_BUCKETS);
    this.#searchBounds = [...upperBounds];
    this.upperBounds = Object.freeze(upperBounds);
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): HistogramChild {
    return new HistogramChild(this.name, labels, this.#searchBounds);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly HistogramChild[]): HistogramFamily {
    return {
      type: "histogram",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: children.map((child) => {
        const { bucketCounts, count, sum, exemplars } = child.snapshot();
        return {
          labels: child.labels,
          upperBounds: this.upperBounds,
          bucketCounts,
          count,
          sum,
          created: child.created,
          exemplars,
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
