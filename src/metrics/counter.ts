/**
 * Counter: a value that only goes up (requests served, errors, bytes sent).
 *
 * @module
 */

import type { CounterFamily, Exemplar, Labels } from "../model.ts";
import { checkCounterIncrement } from "../validation.ts";
import { Metric, type MetricOptions } from "./base.ts";
import type { Compaction } from "./series_index.ts";
import { makeExemplar } from "./exemplar.ts";
import { SeriesStore } from "./series_store.ts";
import { type AnyFunction, type FunctionWrapper, wrapperFor } from "./timer.ts";

/** Options of a {@linkcode Counter}: the common ones only. */
export type CounterOptions = MetricOptions;

/** Which errors `countExceptions` counts. */
export interface CountExceptionsOptions {
  /** Count only errors that are instances of this class (default: every error). */
  // deno-lint-ignore no-explicit-any
  readonly only?: abstract new (...args: any[]) => unknown;
}

/** Doubles per counter series in its store's numbers: the total, then the creation time. */
const NUMBER_STRIDE = 2;
/** Where the total sits among a series' numbers. */
const TOTAL = 0;
/** Where the creation time sits among a series' numbers. */
const CREATED = 1;

/**
 * One counter series, returned by `counter.labels(...)`. It is a handle on the series' slot in
 * the metric's packed store; the metric keeps no object per series.
 */
export class CounterChild {
  #store: SeriesStore;
  #slot: number;

  /** Internal: made by {@linkcode Counter}. */
  constructor(store: SeriesStore, slot: number) {
    this.#store = store;
    this.#slot = slot;
  }

  /** The current store, after following it when the metric compacted its series. */
  #current(): SeriesStore {
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

  /** The current total. */
  get value(): number {
    return this.#current().numbers[this.#slot * NUMBER_STRIDE + TOTAL];
  }

  /** The latest exemplar, if any. */
  get exemplar(): Exemplar | undefined {
    return this.#current().extras?.[this.#slot] as Exemplar | undefined;
  }

  /**
   * Adds `amount` (default 1). A negative or non-finite amount throws a `RangeError`.
   * `exemplar` labels (e.g. `{ trace_id }`) are kept as the series' latest exemplar.
   */
  inc(amount = 1, exemplar?: Labels): void {
    let store = this.#store;
    if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      checkCounterIncrement(store.metricName, amount);
    }
    if (store.successor !== undefined) store = this.#current();
    store.numbers[this.#slot * NUMBER_STRIDE + TOTAL] += amount;
    if (exemplar !== undefined) {
      const made = makeExemplar(store.metricName, exemplar, amount);
      if (made !== undefined) (store.extras ??= [])[this.#slot] = made;
    }
  }

  /** Sets the total back to zero (a restart, as Prometheus sees it). */
  reset(): void {
    const store = this.#current();
    store.numbers[this.#slot * NUMBER_STRIDE + TOTAL] = 0;
    if (store.extras !== undefined) store.extras[this.#slot] = undefined;
  }

  /**
   * Counts every error thrown (or promise rejected) by `fn`, then rethrows it. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@counter.countExceptions()`.
   */
  countExceptions<F extends AnyFunction>(fn: F, options?: CountExceptionsOptions): F;
  /**
   * Counts every error thrown (or promise rejected) by `fn`, then rethrows it. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@counter.countExceptions()`.
   */
  countExceptions(options?: CountExceptionsOptions): FunctionWrapper;
  countExceptions<F extends AnyFunction>(
    fnOrOptions?: F | CountExceptionsOptions,
    options?: CountExceptionsOptions,
  ): F | FunctionWrapper {
    return countExceptionsInto(() => this.inc(), fnOrOptions, options);
  }
}

/** `countExceptions` of a child or of the unlabelled series: `count` adds one. */
function countExceptionsInto<F extends AnyFunction>(
  count: () => void,
  fnOrOptions: F | CountExceptionsOptions | undefined,
  options: CountExceptionsOptions | undefined,
): F | FunctionWrapper {
  const only = (typeof fnOrOptions === "function" ? options : fnOrOptions)?.only;
  const wrapper = wrapperFor({
    after: (_seconds, failed, error) => {
      if (failed && (only === undefined || error instanceof only)) count();
    },
  });
  return typeof fnOrOptions === "function" ? wrapper(fnOrOptions) : wrapper;
}

/**
 * A counter. A name given with or without `_total` is exposed as `<base>_total`.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const requests = new Counter({
 *   name: "http_requests_total", help: "requests served", labelNames: ["method"], registry,
 * });
 * requests.labels({ method: "GET" }).inc();
 * requests.labels("POST").inc(2);
 * ```
 */
export class Counter extends Metric<CounterChild> {
  #store: SeriesStore;
  // The unlabelled series' total is a field of the metric rather than a number in the store:
  // V8 keeps a field's value in a register across a loop of `counter.inc()` calls, which it
  // cannot do for a typed array's element, and that makes the call several times faster.
  #unlabelledTotal = 0;
  readonly #isUnlabelled: boolean;

  /** Creates a counter and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: CounterOptions) {
    super(options, {
      typeName: "counter",
      strippedSuffix: "_total",
      sampleSuffixes: ["_total", "_created"],
    });
    this.#store = new SeriesStore(
      this.name,
      NUMBER_STRIDE,
      0,
      this.labelNames.length === 0 ? 1 : 8,
      (slot) => this.labelsOf(slot),
    );
    this.#isUnlabelled = this.labelNames.length === 0;
    this.init();
  }

  /** Starts the series at `slot` from zero, created now. */
  protected seriesAdded(slot: number): void {
    this.#store.addSeries(slot, CREATED);
  }

  /** A child (a handle) for the series at `slot`. */
  protected childAt(slot: number): CounterChild {
    return new CounterChild(this.#store, slot);
  }

  /** Moves to a compacted store; children of the old one follow it on their next use. */
  protected seriesCompacted(compaction: Compaction): void {
    this.#store = this.#store.compact(compaction);
  }

  /** Builds this metric's family snapshot from its series. */
  protected familyOf(slots: readonly number[]): CounterFamily {
    const store = this.#store;
    const numbers = store.numbers;
    const extras = store.extras;
    return {
      type: "counter",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: slots.map((slot) => ({
        labels: this.labelsOf(slot),
        value: this.#isUnlabelled ? this.#unlabelledTotal : numbers[slot * NUMBER_STRIDE + TOTAL],
        created: numbers[slot * NUMBER_STRIDE + CREATED],
        exemplar: extras?.[slot] as Exemplar | undefined,
      })),
    };
  }

  /** The total of the unlabelled series. */
  get value(): number {
    this.#requireUnlabelled();
    return this.#unlabelledTotal;
  }

  /** Adds `amount` (default 1) to the unlabelled series; see {@linkcode CounterChild.inc}. */
  inc(amount = 1, exemplar?: Labels): void {
    if (!this.#isUnlabelled || typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      this.#requireUnlabelled();
      checkCounterIncrement(this.name, amount);
    }
    this.#unlabelledTotal += amount;
    if (exemplar !== undefined) {
      const made = makeExemplar(this.name, exemplar, amount);
      if (made !== undefined) (this.#store.extras ??= [])[0] = made;
    }
  }

  /** Resets the unlabelled series to zero. */
  reset(): void {
    this.#requireUnlabelled();
    this.#unlabelledTotal = 0;
    if (this.#store.extras !== undefined) this.#store.extras[0] = undefined;
  }

  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions<F extends AnyFunction>(fn: F, options?: CountExceptionsOptions): F;
  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions(options?: CountExceptionsOptions): FunctionWrapper;
  countExceptions<F extends AnyFunction>(
    fnOrOptions?: F | CountExceptionsOptions,
    options?: CountExceptionsOptions,
  ): F | FunctionWrapper {
    this.#requireUnlabelled();
    return countExceptionsInto(() => this.inc(), fnOrOptions, options);
  }

  /** Throws the base's clear error when the metric has labels. */
  #requireUnlabelled(): void {
    if (!this.#isUnlabelled) void this.unlabelled;
  }
}
