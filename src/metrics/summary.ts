/**
 * Summary: count and sum of observations, with optional sliding-window quantiles.
 *
 * @module
 */

import type { Labels, SummaryFamily } from "../model.ts";
import { checkObservation } from "../validation.ts";
import { type MetricOptions, ObjectSeriesMetric } from "./base.ts";
import { checkQuantileWindow, QuantileWindow, type QuantileWindowOptions } from "./quantiles.ts";
import {
  type AnyFunction,
  type FunctionWrapper,
  startStopwatch,
  wrapCall,
  wrapperFor,
} from "./timer.ts";

/** Options of a {@linkcode Summary}. */
export interface SummaryOptions extends MetricOptions {
  /**
   * Quantiles to estimate, each in [0, 1], e.g. `[0.5, 0.9, 0.99]`. Without them the summary
   * exposes only `_count` and `_sum`, as the Python client does.
   */
  readonly percentiles?: readonly number[];
  /** How long an observation counts towards the quantiles, in seconds (default 600). */
  readonly maxAgeSeconds?: number;
  /** How many slots the window rotates through (default 5). */
  readonly ageBuckets?: number;
  /** Relative accuracy of each estimate, in (0, 0.5] (default 0.01, i.e. within ±1%). */
  readonly relativeAccuracy?: number;
}

/** One summary series. Returned (and cached) by `summary.labels(...)`. */
export class SummaryChild {
  /** This series' labels. */
  readonly labels: Labels;
  /** When the series was created, in seconds since the Unix epoch. */
  readonly created: number;
  readonly #metricName: string;
  readonly #window: QuantileWindow | undefined;
  #count = 0;
  #sum = 0;

  /** Internal: made by {@linkcode Summary}. */
  constructor(metricName: string, labels: Labels, windowOptions?: QuantileWindowOptions) {
    this.#metricName = metricName;
    this.labels = labels;
    this.created = Date.now() / 1000;
    this.#window = windowOptions === undefined ? undefined : new QuantileWindow(windowOptions);
  }

  /** The number of observations. */
  get count(): number {
    return this.#count;
  }

  /** The sum of observations. */
  get sum(): number {
    return this.#sum;
  }

  /** Records one observation; NaN throws a `RangeError`. */
  observe(value: number): void {
    if (typeof value !== "number" || value !== value) checkObservation(this.#metricName, value);
    this.#count++;
    this.#sum += value;
    this.#window?.observe(value);
  }

  /** Estimates the given quantiles over the window (NaN without observations). */
  quantiles(quantiles: readonly number[]): number[] {
    return this.#window?.quantiles(quantiles) ?? quantiles.map(() => NaN);
  }

  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.observe(seconds));
  }

  /**
   * Observes how long `fn` takes, in seconds. Without `fn`, returns a wrapper usable as a TC39
   * method decorator: `@summary.time()`.
   */
  time<F extends AnyFunction>(fn: F): F;
  /**
   * Observes how long `fn` takes, in seconds. Without `fn`, returns a wrapper usable as a TC39
   * method decorator: `@summary.time()`.
   */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    const hooks = { after: (seconds: number) => this.observe(seconds) };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }
}

/**
 * A summary. `quantile` is reserved as a label name.
 *
 * @example
 * ```ts
 * import { Registry, Summary } from "@deno-prom/client";
 * const registry = new Registry();
 * const size = new Summary({
 *   name: "response_size_bytes", help: "response sizes", percentiles: [0.5, 0.99],
 *   maxAgeSeconds: 60, ageBuckets: 3, registry,
 * });
 * size.observe(512);
 * ```
 */
export class Summary extends ObjectSeriesMetric<SummaryChild> {
  /** The quantiles estimated, empty when none were asked for. */
  readonly percentiles: readonly number[];
  readonly #windowOptions: QuantileWindowOptions | undefined;

  /** Creates a summary and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: SummaryOptions) {
    super(options, {
      typeName: "summary",
      reservedLabels: ["quantile"],
      sampleSuffixes: ["_count", "_sum", "_created"],
    });
    this.percentiles = Object.freeze(validatePercentiles(this.name, options.percentiles ?? []));
    this.#windowOptions = this.percentiles.length === 0 ? undefined : {
      maxAgeSeconds: positiveNumber(this.name, "maxAgeSeconds", options.maxAgeSeconds ?? 600),
      ageBuckets: positiveInteger(this.name, "ageBuckets", options.ageBuckets ?? 5),
      relativeAccuracy: accuracy(this.name, options.relativeAccuracy ?? 0.01),
      maxBuckets: 2048,
    };
    if (this.#windowOptions !== undefined) checkQuantileWindow(this.name, this.#windowOptions);
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): SummaryChild {
    return new SummaryChild(this.name, labels, this.#windowOptions);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly SummaryChild[]): SummaryFamily {
    const percentiles = this.percentiles;
    return {
      type: "summary",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: children.map((child) => {
        const values = percentiles.length === 0 ? [] : child.quantiles(percentiles);
        return {
          labels: child.labels,
          count: child.count,
          sum: child.sum,
          created: child.created,
          quantiles: percentiles.map((quantile, i) => ({ quantile, value: values[i] })),
        };
      }),
    };
  }

  /** Observes `value` in the unlabelled series. */
  observe(value: number): void {
    this.unlabelled.observe(value);
  }

  /** Starts a timer for the unlabelled series. */
  startTimer(): () => number {
    return this.unlabelled.startTimer();
  }

  /** Times `fn` into the unlabelled series; see {@linkcode SummaryChild.time}. */
  time<F extends AnyFunction>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode SummaryChild.time}. */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.unlabelled.time() : this.unlabelled.time(fn);
  }
}

function validatePercentiles(metricName: string, percentiles: readonly number[]): number[] {
  if (!Array.isArray(percentiles)) {
    throw new TypeError(`percentiles of summary "${metricName}" must be an array of numbers`);
  }
  const sorted = [...percentiles].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    if (typeof sorted[i] !== "number" || !(sorted[i] >= 0 && sorted[i] <= 1)) {
      throw new RangeError(
        `percentile ${String(sorted[i])} of summary "${metricName}" is not in [0, 1]`,
      );
    }
    if (i > 0 && sorted[i] === sorted[i - 1]) {
      throw new RangeError(`percentile ${sorted[i]} of summary "${metricName}" is repeated`);
    }
  }
  return sorted;
}

function positiveNumber(metricName: string, option: string, value: number): number {
  if (!(value > 0 && value < Infinity)) {
    throw new RangeError(`${option} of summary "${metricName}" must be a positive number`);
  }
  return value;
}

function positiveInteger(metricName: string, option: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${option} of summary "${metricName}" must be a positive integer`);
  }
  return value;
}

function accuracy(metricName: string, value: number): number {
  if (!(value > 0 && value <= 0.5)) {
    throw new RangeError(`relativeAccuracy of summary "${metricName}" must be in (0, 0.5]`);
  }
  return value;
}
