/**
 * Summary: count and sum of observations, with optional sliding-window quantiles.
 *
 * @module
 */

import type { Labels, SummaryFamily } from "../model.ts";
import { checkObservation } from "../validation.ts";
import {
  describeMetric,
  type LabelValue,
  type LabelValues,
  type MetricOptions,
  registerMetric,
  startLabelledTimer,
} from "./base.ts";
import { type MetricSeries, slotNow } from "./handle.ts";
import type { SeriesStore } from "./series_store.ts";
import { SeriesTable } from "./series_table.ts";
import { checkQuantileWindow, QuantileWindow, type QuantileWindowOptions } from "./quantiles.ts";
import { type FunctionWrapper, startStopwatch, wrapCall, wrapperFor } from "./timer.ts";

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

/** Doubles per summary series: the count, the sum and the creation time. */
const NUMBER_STRIDE = 3;
const COUNT = 0;
const SUM = 1;
const CREATED = 2;
/** The side array of quantile windows (every series has one when quantiles are asked for). */
const WINDOWS = 0;

/** Records `value` in the series at `slot` of `store`. */
function observeInto(store: SeriesStore, slot: number, value: number): void {
  if (typeof value !== "number" || value !== value) checkObservation(store.metricName, value);
  const numbers = store.numbers;
  numbers[slot * NUMBER_STRIDE + COUNT]++;
  numbers[slot * NUMBER_STRIDE + SUM] += value;
  (store.sides[WINDOWS]?.[slot] as QuantileWindow | undefined)?.observe(value);
}

/** The quantiles of the series at `slot` of `store` (NaN without observations). */
function quantilesOf(store: SeriesStore, slot: number, quantiles: readonly number[]): number[] {
  const window = store.sides[WINDOWS]?.[slot] as QuantileWindow | undefined;
  return window?.quantiles(quantiles) ?? quantiles.map(() => NaN);
}

/**
 * One summary series, returned by `summary.labels(...)`: a handle on the series in the
 * metric's packed store (see {@linkcode Counter} for what a handle promises after `remove()`).
 *
 * @example
 * ```ts
 * import { Summary } from "@deno-prom/client";
 * const sizes = new Summary({
 *   name: "upload_bytes", help: "upload sizes", labelNames: ["kind"], registry: null,
 * });
 * const images = sizes.labels({ kind: "image" });
 * images.observe(2048);
 * ```
 */
export class SummaryChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;

  /** @ignore Made by {@linkcode Summary}. */
  constructor(series: MetricSeries, slot: number) {
    this.#series = series;
    this.#store = series.store;
    this.#slot = slot;
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

  /** The number of observations. */
  get count(): number {
    return this.#current().numbers[this.#slot * NUMBER_STRIDE + COUNT];
  }

  /** The sum of observations. */
  get sum(): number {
    return this.#current().numbers[this.#slot * NUMBER_STRIDE + SUM];
  }

  /** Records one observation; NaN throws a `RangeError`. */
  observe(value: number): void {
    let store = this.#store;
    if (!store.current) store = this.#current();
    observeInto(store, this.#slot, value);
  }

  /** Estimates the given quantiles over the window (NaN without observations). */
  quantiles(quantiles: readonly number[]): number[] {
    return quantilesOf(this.#current(), this.#slot, quantiles);
  }

  /** Starts a timer; the returned function observes the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.observe(seconds));
  }

  /**
   * Observes how long `fn` takes, in seconds. Without `fn`, returns a wrapper usable as a TC39
   * method decorator: `@summary.time()`.
   */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /**
   * Observes how long `fn` takes, in seconds. Without `fn`, returns a wrapper usable as a TC39
   * method decorator: `@summary.time()`.
   */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    const hooks = { after: (seconds: number) => this.observe(seconds) };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }
}

/**
 * A summary. `quantile` is reserved as a label name. Its children follow the rule described
 * at {@linkcode Counter}.
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
export class Summary {
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
  /** The quantiles estimated, empty when none were asked for. */
  readonly percentiles: readonly number[];
  readonly #table: SeriesTable<SummaryChild>;
  readonly #unlabelled: SummaryChild | undefined;

  /** Creates a summary and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: SummaryOptions) {
    const description = describeMetric(options, {
      typeName: "summary",
      reservedLabels: ["quantile"],
      sampleSuffixes: ["_count", "_sum", "_created"],
    });
    this.name = description.name;
    this.help = description.help;
    this.unit = description.unit;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    this.percentiles = Object.freeze(validatePercentiles(this.name, options.percentiles ?? []));
    const windowOptions: QuantileWindowOptions | undefined = this.percentiles.length === 0
      ? undefined
      : {
        maxAgeSeconds: positiveNumber(this.name, "maxAgeSeconds", options.maxAgeSeconds ?? 600),
        ageBuckets: positiveInteger(this.name, "ageBuckets", options.ageBuckets ?? 5),
        relativeAccuracy: accuracy(this.name, options.relativeAccuracy ?? 0.01),
        maxBuckets: 2048,
      };
    if (windowOptions !== undefined) checkQuantileWindow(this.name, windowOptions);
    this.#table = new SeriesTable<SummaryChild>(description, {
      numberStride: NUMBER_STRIDE,
      countStride: 0,
      sideCount: 1,
      createdOffset: CREATED,
      initSeries(store, slot) {
        store.numbers[slot * NUMBER_STRIDE + CREATED] = Date.now() / 1000;
        if (windowOptions !== undefined) {
          store.side(WINDOWS)[slot] = new QuantileWindow(windowOptions);
        }
      },
      newChild: (series, slot) => new SummaryChild(series, slot),
      // Series lifecycle: a summary's count changes with every observation.
      activityOf: (store, slot) => store.numbers[slot * NUMBER_STRIDE + COUNT],
    });
    this.#unlabelled = this.#table.isUnlabelled ? this.#table.unlabelled : undefined;
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): SummaryChild;
  labels(first: LabelValues | LabelValue, a1?: unknown, a2?: unknown, a3?: unknown): SummaryChild {
    // Four parameters and `arguments` for more, not a rest parameter (a new array per call):
    // see `SeriesTable.childOf`.
    const count = arguments.length;
    if (count <= 4) return this.#table.childOf(count, first, a1, a2, a3);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push(arguments[i]);
    return this.#table.childOfValues(values);
  }

  /** Observes `value` in the series with these labels, without a child. */
  observeWith(labels: LabelValues, value: number): void {
    const table = this.#table;
    observeInto(table.store, table.slotForObject(labels), value);
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
  collect(): SummaryFamily[] {
    const { labels: labelSets, store } = this.#table.read();
    const numbers = store.numbers;
    const percentiles = this.percentiles;
    return [{
      type: "summary",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: labelSets.liveSlots().map((slot) => {
        const values = percentiles.length === 0 ? [] : quantilesOf(store, slot, percentiles);
        return {
          labels: labelSets.labelsOf(slot),
          count: numbers[slot * NUMBER_STRIDE + COUNT],
          sum: numbers[slot * NUMBER_STRIDE + SUM],
          created: numbers[slot * NUMBER_STRIDE + CREATED],
          quantiles: percentiles.map((quantile, i) => ({ quantile, value: values[i] })),
        };
      }),
    }];
  }

  /** The unlabelled series; a clear error when the summary has labels. */
  get #series(): SummaryChild {
    return this.#unlabelled ?? this.#table.unlabelled;
  }

  /** Observes `value` in the unlabelled series. */
  observe(value: number): void {
    this.#series.observe(value);
  }

  /**
   * Starts a timer. The returned `end(labels?)` observes the seconds elapsed (and returns
   * them) in the series of the labels given here and there together; without labels, in the
   * unlabelled series. A missing or unknown label is the usual `TypeError`, thrown by `end`.
   */
  startTimer(labels?: LabelValues): (labels?: LabelValues) => number {
    return startLabelledTimer(this.name, labels, (all, seconds) => {
      if (all === undefined) this.#series.observe(seconds);
      else this.observeWith(all, seconds);
    });
  }

  /** Times `fn` into the unlabelled series; see {@linkcode SummaryChild.time}. */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode SummaryChild.time}. */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.#series.time() : this.#series.time(fn);
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
