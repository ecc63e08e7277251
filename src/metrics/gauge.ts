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
import { type MetricOptions, ObjectSeriesMetric } from "./base.ts";
import {
  type AnyFunction,
  type FunctionWrapper,
  startStopwatch,
  wrapCall,
  wrapperFor,
} from "./timer.ts";

/** Options of a {@linkcode Gauge}. */
export interface GaugeOptions extends MetricOptions {
  /**
   * How `aggregateWorkers` and `directoryCollector` combine this gauge's values from several
   * workers or processes (default `all`: one series per worker). Single-process use ignores it.
   * `mostrecent` and `livemostrecent` make every change also record the time.
   */
  readonly aggregate?: GaugeAggregation;
}

/** One gauge series. Returned (and cached) by `gauge.labels(...)`. */
export class GaugeChild {
  /** This series' labels. */
  readonly labels: Labels;
  readonly #metricName: string;
  // Only the `mostrecent` aggregation modes need the time of the last change; other gauges
  // skip the clock read on every change.
  readonly #tracksUpdates: boolean;
  #value = 0;
  #valueFunction: (() => number) | undefined;
  #updatedMs = 0;

  /** Internal: made by {@linkcode Gauge}. */
  constructor(metricName: string, labels: Labels, tracksUpdates = false) {
    this.#metricName = metricName;
    this.labels = labels;
    this.#tracksUpdates = tracksUpdates;
  }

  /** The current value (calls the function given to `setFunction`, if any). */
  get value(): number {
    if (this.#valueFunction === undefined) return this.#value;
    const value = this.#valueFunction();
    checkNumber(this.#metricName, value);
    return value;
  }

  /**
   * When the value last changed, in seconds since the Unix epoch; tracked only for gauges
   * created with `aggregate: "mostrecent"` or `"livemostrecent"` (otherwise `undefined`, as
   * before the first change). A gauge reading a `setFunction` changes whenever it is read.
   */
  get updated(): number | undefined {
    if (!this.#tracksUpdates) return undefined;
    if (this.#valueFunction !== undefined) return Date.now() / 1000;
    return this.#updatedMs === 0 ? undefined : this.#updatedMs / 1000;
  }

  /** Adds `amount` (default 1; must be finite). */
  inc(amount = 1): void {
    if (typeof amount !== "number" || !(amount > -Infinity && amount < Infinity)) {
      checkFiniteAmount(this.#metricName, amount);
    }
    this.#value += amount;
    if (this.#tracksUpdates) this.#updatedMs = Date.now();
  }

  /** Subtracts `amount` (default 1; must be finite). */
  dec(amount = 1): void {
    if (typeof amount !== "number" || !(amount > -Infinity && amount < Infinity)) {
      checkFiniteAmount(this.#metricName, amount);
    }
    this.#value -= amount;
    if (this.#tracksUpdates) this.#updatedMs = Date.now();
  }

  /** Sets the value: any number, including `Infinity` and `NaN`, which Prometheus accepts. */
  set(value: number): void {
    if (typeof value !== "number") checkNumber(this.#metricName, value);
    this.#valueFunction = undefined;
    this.#value = value;
    if (this.#tracksUpdates) this.#updatedMs = Date.now();
  }

  /** Sets the value to the current Unix time in seconds. */
  setToCurrentTime(): void {
    this.set(Date.now() / 1000);
  }

  /** Reads the value from `valueFunction` at every collection instead of storing it. */
  setFunction(valueFunction: () => number): void {
    if (typeof valueFunction !== "function") {
      throw new TypeError(`setFunction of gauge "${this.#metricName}" takes a function`);
    }
    this.#valueFunction = valueFunction;
  }

  /** Starts a timer; the returned function sets the gauge to the seconds elapsed and returns them. */
  startTimer(): () => number {
    return startStopwatch((seconds) => this.set(seconds));
  }

  /**
   * Sets the gauge to how long `fn` takes, in seconds (async functions until they settle).
   * Without `fn`, returns a wrapper usable as a TC39 method decorator: `@gauge.time()`.
   */
  time<F extends AnyFunction>(fn: F): F;
  /**
   * Sets the gauge to how long `fn` takes, in seconds (async functions until they settle).
   * Without `fn`, returns a wrapper usable as a TC39 method decorator: `@gauge.time()`.
   */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    const hooks = { after: (seconds: number) => this.set(seconds) };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }

  /**
   * Adds 1 while `fn` runs and subtracts it when `fn` returns, throws or settles. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@gauge.trackInProgress()`.
   */
  trackInProgress<F extends AnyFunction>(fn: F): F;
  /**
   * Adds 1 while `fn` runs and subtracts it when `fn` returns, throws or settles. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@gauge.trackInProgress()`.
   */
  trackInProgress(): FunctionWrapper;
  trackInProgress<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    const hooks = { before: () => this.inc(), after: () => this.dec() };
    return fn === undefined ? wrapperFor(hooks) : wrapCall(fn, hooks);
  }
}

/**
 * A gauge.
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
export class Gauge extends ObjectSeriesMetric<GaugeChild> {
  /** How the worker aggregation combines this gauge across workers; `undefined` means `all`. */
  readonly aggregate: GaugeAggregation | undefined;
  readonly #tracksUpdates: boolean;

  /** Creates a gauge and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: GaugeOptions) {
    super(options, { typeName: "gauge", sampleSuffixes: [] });
    const aggregate = options.aggregate;
    if (aggregate !== undefined && !GAUGE_AGGREGATIONS.includes(aggregate)) {
      throw new TypeError(
        `invalid aggregate ${JSON.stringify(aggregate)} for gauge "${this.name}": expected one of ${
          GAUGE_AGGREGATIONS.join(", ")
        }`,
      );
    }
    this.aggregate = aggregate;
    this.#tracksUpdates = aggregate === "mostrecent" || aggregate === "livemostrecent";
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): GaugeChild {
    return new GaugeChild(this.name, labels, this.#tracksUpdates);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly GaugeChild[]): GaugeFamily {
    const family: GaugeFamily = {
      type: "gauge",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: this.#tracksUpdates
        ? children.map(timestampedPoint)
        : children.map((child) => ({ labels: child.labels, value: child.value })),
    };
    // Only gauges given a mode carry it, so other snapshots stay exactly as they were.
    return this.aggregate === undefined ? family : { ...family, aggregate: this.aggregate };
  }

  /** The value of the unlabelled series. */
  get value(): number {
    return this.unlabelled.value;
  }

  /** Adds `amount` (default 1) to the unlabelled series. */
  inc(amount = 1): void {
    this.unlabelled.inc(amount);
  }

  /** Subtracts `amount` (default 1) from the unlabelled series. */
  dec(amount = 1): void {
    this.unlabelled.dec(amount);
  }

  /** Sets the unlabelled series. */
  set(value: number): void {
    this.unlabelled.set(value);
  }

  /** Sets the unlabelled series to the current Unix time in seconds. */
  setToCurrentTime(): void {
    this.unlabelled.setToCurrentTime();
  }

  /** Reads the unlabelled series from `valueFunction` at every collection. */
  setFunction(valueFunction: () => number): void {
    this.unlabelled.setFunction(valueFunction);
  }

  /** Starts a timer for the unlabelled series; see {@linkcode GaugeChild.startTimer}. */
  startTimer(): () => number {
    return this.unlabelled.startTimer();
  }

  /** Times `fn` into the unlabelled series; see {@linkcode GaugeChild.time}. */
  time<F extends AnyFunction>(fn: F): F;
  /** Times `fn` into the unlabelled series; see {@linkcode GaugeChild.time}. */
  time(): FunctionWrapper;
  time<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    return fn === undefined ? this.unlabelled.time() : this.unlabelled.time(fn);
  }

  /** Tracks calls of `fn` in progress; see {@linkcode GaugeChild.trackInProgress}. */
  trackInProgress<F extends AnyFunction>(fn: F): F;
  /** Tracks calls of `fn` in progress; see {@linkcode GaugeChild.trackInProgress}. */
  trackInProgress(): FunctionWrapper;
  trackInProgress<F extends AnyFunction>(fn?: F): F | FunctionWrapper {
    return fn === undefined
      ? this.unlabelled.trackInProgress()
      : this.unlabelled.trackInProgress(fn);
  }
}

/** A `mostrecent` gauge's point: its value and, once changed, when. */
function timestampedPoint(child: GaugeChild): GaugePoint {
  const updated = child.updated;
  const value = child.value;
  return updated === undefined
    ? { labels: child.labels, value }
    : { labels: child.labels, value, updated };
}
