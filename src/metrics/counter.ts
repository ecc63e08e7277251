/**
 * Counter: a value that only goes up (requests served, errors, bytes sent).
 *
 * @module
 */

import type { CounterFamily, Exemplar, Labels } from "../model.ts";
import { checkCounterIncrement } from "../validation.ts";
import { Metric, type MetricOptions } from "./base.ts";
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

/** Moves a removed series out of its metric's store (kept out of the public API). */
let detachCounterChild: (child: CounterChild) => void;

/** One counter series. Returned (and cached) by `counter.labels(...)`. */
export class CounterChild {
  /** This series' labels. */
  readonly labels: Labels;
  // The creation time lives in the metric's packed store (at `#slot` in its numbers), the
  // latest exemplar in its extras. The total stays a field: `+=` on a field is several times
  // faster than on a typed array's element when a series is counted in a tight loop.
  #store: SeriesStore;
  #slot: number;
  #value = 0;

  /** Internal: made by {@linkcode Counter}. */
  constructor(store: SeriesStore, labels: Labels) {
    this.labels = labels;
    this.#store = store;
    const slot = store.allocate();
    this.#slot = slot;
    store.numbers[slot] = Date.now() / 1000;
  }

  /** When the series was created, in seconds since the Unix epoch. */
  get created(): number {
    return this.#store.numbers[this.#slot];
  }

  /** The current total. */
  get value(): number {
    return this.#value;
  }

  /** The latest exemplar, if any. */
  get exemplar(): Exemplar | undefined {
    return this.#store.extras?.[this.#slot] as Exemplar | undefined;
  }

  static {
    detachCounterChild = (child) => {
      child.#store = child.#store.release(child.#slot);
      child.#slot = 0;
    };
  }

  /**
   * Adds `amount` (default 1). A negative or non-finite amount throws a `RangeError`.
   * `exemplar` labels (e.g. `{ trace_id }`) are kept as the series' latest exemplar.
   */
  inc(amount = 1, exemplar?: Labels): void {
    if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      checkCounterIncrement(this.#store.metricName, amount);
    }
    this.#value += amount;
    if (exemplar !== undefined) {
      const store = this.#store;
      const made = makeExemplar(store.metricName, exemplar, amount);
      if (made !== undefined) (store.extras ??= [])[this.#slot] = made;
    }
  }

  /** Sets the total back to zero (a restart, as Prometheus sees it). */
  reset(): void {
    const store = this.#store;
    this.#value = 0;
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
    const only = (typeof fnOrOptions === "function" ? options : fnOrOptions)?.only;
    const wrapper = wrapperFor({
      after: (_seconds, failed, error) => {
        if (failed && (only === undefined || error instanceof only)) this.inc();
      },
    });
    return typeof fnOrOptions === "function" ? wrapper(fnOrOptions) : wrapper;
  }
}

/**
 * A counter. A name given with or without `_total` is exposed as `<base>_total`.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "./mod.ts";
 * const registry = new Registry();
 * const requests = new Counter({
 *   name: "http_requests_total", help: "requests served", labelNames: ["method"], registry,
 * });
 * requests.labels({ method: "GET" }).inc();
 * requests.labels("POST").inc(2);
 * ```
 */
export class Counter extends Metric<CounterChild> {
  readonly #store: SeriesStore;

  /** Creates a counter and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: CounterOptions) {
    super(options, {
      typeName: "counter",
      strippedSuffix: "_total",
      sampleSuffixes: ["_total", "_created"],
    });
    this.#store = new SeriesStore(this.name, 1, 0, this.labelNames.length === 0 ? 1 : 8);
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): CounterChild {
    return new CounterChild(this.#store, labels);
  }

  /** Moves a removed series out of the shared store. */
  protected override released(child: CounterChild): void {
    detachCounterChild(child);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly CounterChild[]): CounterFamily {
    return {
      type: "counter",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: children.map((child) => ({
        labels: child.labels,
        value: child.value,
        created: child.created,
        exemplar: child.exemplar,
      })),
    };
  }

  /** The total of the unlabelled series. */
  get value(): number {
    return this.unlabelled.value;
  }

  /** Adds `amount` (default 1) to the unlabelled series; see {@linkcode CounterChild.inc}. */
  inc(amount = 1, exemplar?: Labels): void {
    this.unlabelled.inc(amount, exemplar);
  }

  /** Resets the unlabelled series to zero. */
  reset(): void {
    this.unlabelled.reset();
  }

  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions<F extends AnyFunction>(fn: F, options?: CountExceptionsOptions): F;
  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions(options?: CountExceptionsOptions): FunctionWrapper;
  countExceptions<F extends AnyFunction>(
    fnOrOptions?: F | CountExceptionsOptions,
    options?: CountExceptionsOptions,
  ): F | FunctionWrapper {
    const child = this.unlabelled;
    return typeof fnOrOptions === "function"
      ? child.countExceptions(fnOrOptions, options)
      : child.countExceptions(fnOrOptions);
  }
}
