/**
 * Gauge: a value that goes up and down (jobs in progress, queue depth, temperature).
 *
 * @module
 */

import {
  GAUGE_AGGREGATIONS,
  type GaugeAggregation,
  type GaugeFamily,
  type GaugePoint,
  type Labels,
} from "../model.ts";
import { checkFiniteAmount, checkNumber } from "../validation.ts";
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
import { type FunctionWrapper, startStopwatch, wrapCall, wrapperFor } from "./timer.ts";
import { exposeStorage, type MetricStorage } from "./storage_read.ts";

/** Options of a {@linkcode Gauge}. */
export interface GaugeOptions extends MetricOptions {
  /**
   * How `aggregateWorkers` and `directoryCollector` combine this gauge's values from several
   * workers or processes (default `all`: one series per worker). Single-process use ignores it.
   * `mostrecent` and `livemostrecent` make every change also record the time.
   */
  readonly aggregate?: GaugeAggregation;
}

/** Where the value sits among a series' numbers. */
const VALUE = 0;
/** Where the time of the last change (ms, 0 before any) sits, for gauges that track it. */
const UPDATED = 1;
/** The side array of value functions (`setFunction`). */
const FUNCTIONS = 0;

/** What a gauge's children and the metric share: where its numbers are and how to change them. */
class GaugeSettings {
  readonly metricName: string;
  /** Doubles per series: the value, and the time of the last change when tracked. */
  readonly stride: number;
  // Only the `mostrecent` aggregation modes need the time of the last change; other gauges
  // skip the clock read on every change.
  readonly tracksUpdates: boolean;
  /**
   * Series lifecycle: where a count of updates sits, for idle expiry (-1: not counted). Any
   * note of an update (this count, the time of the last change) is one branch on the hot path.
   */
  readonly updateCountOffset: number;
  readonly #notesUpdates: boolean;

  constructor(metricName: string, tracksUpdates: boolean, countsUpdates = false) {
    this.metricName = metricName;
    this.tracksUpdates = tracksUpdates;
    this.stride = (tracksUpdates ? 2 : 1) + (countsUpdates ? 1 : 0);
    this.updateCountOffset = countsUpdates ? this.stride - 1 : -1;
    this.#notesUpdates = tracksUpdates || countsUpdates;
  }

  /** Notes an update of the series at `slot`: its time and (for expiry) its count. */
  #noteUpdate(store: SeriesStore, slot: number): void {
    if (this.tracksUpdates) store.numbers[slot * this.stride + UPDATED] = Date.now();
    if (this.updateCountOffset >= 0) store.numbers[slot * this.stride + this.updateCountOffset]++;
  }

  /** Series lifecycle: a number of the series at `slot` that changes with every update. */
  activityOf(store: SeriesStore, slot: number): number {
    // A series reading a value function is as current as its function: it never expires.
    if (store.sides[FUNCTIONS]?.[slot] !== undefined) return NaN;
    return store.numbers[slot * this.stride + this.updateCountOffset];
  }

  /** Adds `amount` (finite) to the series at `slot`. */
  add(store: SeriesStore, slot: number, amount: number): void {
    if (typeof amount !== "number" || !(amount > -Infinity && amount < Infinity)) {
      checkFiniteAmount(this.metricName, amount);
    }
    store.numbers[slot * this.stride + VALUE] += amount;
    if (this.#notesUpdates) this.#noteUpdate(store, slot);
  }

  /** Sets the series at `slot` to `value`, replacing a value function. */
  set(store: SeriesStore, slot: number, value: number): void {
    if (typeof value !== "number") checkNumber(this.metricName, value);
    const functions = store.sides[FUNCTIONS];
    if (functions !== undefined) functions[slot] = undefined;
    store.numbers[slot * this.stride + VALUE] = value;
    if (this.#notesUpdates) this.#noteUpdate(store, slot);
  }

  /** The value of the series at `slot`, from its value function if it has one. */
  valueOf(store: SeriesStore, slot: number): number {
    const valueFunction = store.sides[FUNCTIONS]?.[slot] as (() => number) | undefined;
    if (valueFunction === undefined) return store.numbers[slot * this.stride + VALUE];
    const value = valueFunction();
    checkNumber(this.metricName, value);
    return value;
  }

  /** When the series at `slot` last changed (see `GaugeChild.updated`). */
  updatedOf(store: SeriesStore, slot: number): number | undefined {
    if (!this.tracksUpdates) return undefined;
    if (store.sides[FUNCTIONS]?.[slot] !== undefined) return Date.now() / 1000;
    const updatedMs = store.numbers[slot * this.stride + UPDATED];
    return updatedMs === 0 ? undefined : updatedMs / 1000;
  }
}

/**
 * One gauge series, returned by `gauge.labels(...)`: a handle on the series in the metric's
 * packed store (see {@linkcode Counter} for what a handle promises after `remove()`).
 *
 * @example
 * ```ts
 * import { Gauge } from "@deno-prom/client";
 * const queued = new Gauge({
 *   name: "queue_jobs", help: "jobs queued", labelNames: ["queue"], registry: null,
 * });
 * const mail = queued.labels({ queue: "mail" });
 * mail.inc(3);
 * mail.dec();
 * mail.value; // 2
 * ```
 */
export class GaugeChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;
  readonly #settings: GaugeSettings;

  /** @ignore Made by {@linkcode Gauge}. */
  constructor(series: MetricSeries, slot: number, settings: GaugeSettings) {
    this.#series = series;
    this.#store = series.store;
    this.#slot = slot;
    this.#settings = settings;
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

  /** The current value (calls the function given to `setFunction`, if any). */
  get value(): number {
    return this.#settings.valueOf(this.#current(), this.#slot);
  }

  /**
   * When the value last changed, in seconds since the Unix epoch; tracked only for gauges
   * created with `aggregate: "mostrecent"` or `"livemostrecent"` (otherwise `undefined`, as
   * before the first change). A gauge reading a `setFunction` changes whenever it is read.
   */
  get updated(): number | undefined {
    return this.#settings.updatedOf(this.#current(), this.#slot);
  }

  /** Adds `amount` (default 1; must be finite). */
  inc(amount = 1): void {
    let store = this.#store;
    if (!store.current) store = this.#current();
    this.#settings.add(store, this.#slot, amount);
  }

  /** Subtracts `amount` (default 1; must be finite). */
  dec(amount = 1): void {
    let store = this.#store;
    if (!store.current) store = this.#current();
    this.#settings.add(store, this.#slot, typeof amount === "number" ? -amount : amount);
  }

  /** Sets the value: any number, including `Infinity` and `NaN`, which Prometheus accepts. */
  set(value: number): void {
    let store = this.#store;
    if (!store.current) store = this.#current();
    this.#settings.set(store, this.#slot, value);
  }

  /** Sets the value to the current Unix time in seconds. */
  setToCurrentTime(): void {
    this.set(Date.now() / 1000);
  }

  /** Reads the value from `valueFunction` at every collection instead of storing it. */
  setFunction(valueFunction: () => number): void {
    if (typeof valueFunction !== "function") {
      throw new TypeError(`setFunction of gauge "${this.#settings.metricName}" takes a function`);
    }
    this.#current().side(FUNCTIONS)[this.#slot] = valueFunction;
  }

  /** Starts a timer; the returned function sets the gauge to the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.set(seconds));
  }

  /**
   * Sets the gauge to how long `fn` takes, in seconds (async functions until they settle).
   * Without `fn`, returns a wrapper usable as a TC39 method decorator: `@gauge.time()`.
   */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /**
   * Sets the gauge to how long `fn` takes, in seconds (async functions until they settle).
   * Without `fn`, returns a wrapper usable as a TC39 method decorator: `@gauge.time()`.
   */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    const hooks = { after: (seconds: number) => this.set(seconds) };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }

  /**
   * Adds 1 while `fn` runs and subtracts it when `fn` returns, throws or settles. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@gauge.trackInProgress()`.
   */
  trackInProgress<F extends (...args: never[]) => unknown>(fn: F): F;
  /**
   * Adds 1 while `fn` runs and subtracts it when `fn` returns, throws or settles. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@gauge.trackInProgress()`.
   */
  trackInProgress(): FunctionWrapper;
  trackInProgress<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    const hooks = { before: () => this.inc(), after: () => this.dec() };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }
}

/**
 * A gauge. Its children follow the rule described at {@linkcode Counter}.
 *
 * @example
 * ```ts
 * import { Gauge, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const inProgress = new Gauge({ name: "jobs_in_progress", help: "jobs running now", registry });
 * const job = inProgress.trackInProgress(async () => {});
 * await job();
 * inProgress.set(3);
 * ```
 */
export class Gauge {
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
  /** How the worker aggregation combines this gauge across workers; `undefined` means `all`. */
  readonly aggregate: GaugeAggregation | undefined;
  readonly #settings: GaugeSettings;
  /** What readers read (exposition, remote write, `collect()`). */
  readonly #storage: MetricStorage;
  readonly #table: SeriesTable<GaugeChild>;
  readonly #unlabelled: GaugeChild | undefined;

  /** Creates a gauge and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: GaugeOptions) {
    const description = describeMetric(options, { typeName: "gauge", sampleSuffixes: [] });
    this.name = description.name;
    this.help = description.help;
    this.unit = description.unit;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    const aggregate = options.aggregate;
    if (aggregate !== undefined && !GAUGE_AGGREGATIONS.includes(aggregate)) {
      throw new TypeError(
        `invalid aggregate ${JSON.stringify(aggregate)} for gauge "${this.name}": expected one of ${
          GAUGE_AGGREGATIONS.join(", ")
        }`,
      );
    }
    this.aggregate = aggregate;
    const settings = new GaugeSettings(
      this.name,
      aggregate === "mostrecent" || aggregate === "livemostrecent",
      // Series lifecycle: a count of updates, for idle expiry.
      description.labelNames.length > 0 && description.limits.expireAfterMs < Infinity,
    );
    this.#settings = settings;
    this.#table = new SeriesTable<GaugeChild>(description, {
      numberStride: settings.stride,
      countStride: 0,
      sideCount: 1,
      createdOffset: -1,
      initSeries() {},
      newChild: (series, slot) => new GaugeChild(series, slot, settings),
      activityOf: settings.updateCountOffset < 0
        ? undefined
        : (store, slot) => settings.activityOf(store, slot),
    });
    this.#unlabelled = this.#table.isUnlabelled ? this.#table.unlabelled : undefined;
    this.#storage = exposeStorage(this, this.#table, {
      type: "gauge",
      numberStride: settings.stride,
      valueOffset: VALUE,
      functionSide: FUNCTIONS,
    });
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): GaugeChild;
  labels(first: LabelValues | LabelValue, a1?: unknown, a2?: unknown, a3?: unknown): GaugeChild {
    // Four parameters and `arguments` for more, not a rest parameter (a new array per call):
    // see `SeriesTable.childOf`.
    const count = arguments.length;
    if (count <= 4) return this.#table.childOf(count, first, a1, a2, a3);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push(arguments[i]);
    return this.#table.childOfValues(values);
  }

  /** Sets the series with these labels to `value`, without a child. */
  setWith(labels: LabelValues, value: number): void {
    const table = this.#table;
    this.#settings.set(table.store, table.slotForObject(labels), value);
  }

  /** Adds `amount` (default 1) to the series with these labels, without a child. */
  incWith(labels: LabelValues, amount = 1): void {
    const table = this.#table;
    this.#settings.add(table.store, table.slotForObject(labels), amount);
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
  collect(): GaugeFamily[] {
    const { labels: labelSets, store } = this.#storage.read();
    const settings = this.#settings;
    const points = labelSets.liveSlots().map((slot): GaugePoint => {
      const labels = labelSets.labelsOf(slot);
      const value = settings.valueOf(store, slot);
      const updated = settings.updatedOf(store, slot);
      return updated === undefined ? { labels, value } : { labels, value, updated };
    });
    const family: GaugeFamily = {
      type: "gauge",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points,
    };
    // Only gauges given a mode carry it, so other snapshots stay exactly as they were.
    return [this.aggregate === undefined ? family : { ...family, aggregate: this.aggregate }];
  }

  /** The unlabelled series; a clear error when the gauge has labels. */
  get #series(): GaugeChild {
    return this.#unlabelled ?? this.#table.unlabelled;
  }

  /** The value of the unlabelled series. */
  get value(): number {
    return this.#series.value;
  }

  /** Adds `amount` (default 1) to the unlabelled series. */
  inc(amount = 1): void {
    this.#series.inc(amount);
  }

  /** Subtracts `amount` (default 1) from the unlabelled series. */
  dec(amount = 1): void {
    this.#series.dec(amount);
  }

  /** Sets the unlabelled series. */
  set(value: number): void {
    this.#series.set(value);
  }

  /** Sets the unlabelled series to the current Unix time in seconds. */
  setToCurrentTime(): void {
    this.#series.setToCurrentTime();
  }

  /** Reads the unlabelled series from `valueFunction` at every collection. */
  setFunction(valueFunction: () => number): void {
    this.#series.setFunction(valueFunction);
  }

  /**
   * Starts a timer. The returned `end(labels?)` sets the series of the labels given here and
   * there together to the seconds elapsed (and returns them); without labels, the unlabelled
   * series. A missing or unknown label is the usual `TypeError`, thrown by `end`.
   */
  startTimer(labels?: LabelValues): (labels?: LabelValues) => number {
    return startLabelledTimer(this.name, labels, (all, seconds) => {
      if (all === undefined) this.#series.set(seconds);
      else this.setWith(all, seconds);
    });
  }

  /** Times `fn` into the unlabelled series; see {@linkcode GaugeChild.time}. */
  time<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode GaugeChild.time}. */
  time(): FunctionWrapper;
  time<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.#series.time() : this.#series.time(fn);
  }

  /** Tracks calls of `fn` in progress; see {@linkcode GaugeChild.trackInProgress}. */
  trackInProgress<F extends (...args: never[]) => unknown>(fn: F): F;
  /** Tracks calls of `fn` in progress; see {@linkcode GaugeChild.trackInProgress}. */
  trackInProgress(): FunctionWrapper;
  trackInProgress<F extends (...args: never[]) => unknown>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.#series.trackInProgress() : this.#series.trackInProgress(fn);
  }
}
