/**
 * Counter: a value that only goes up (requests served, errors, bytes sent).
 *
 * @module
 */

import type { CounterFamily, Exemplar, Labels } from "../model.ts";
import { checkCounterIncrement } from "../validation.ts";
import { Metric, type MetricOptions } from "./base.ts";
import { makeExemplar } from "./exemplar.ts";
import { type AnyFunction, type FunctionWrapper, wrapperFor } from "./timer.ts";

/** Options of a {@linkcode Counter}: the common ones only. */
export type CounterOptions = MetricOptions;

/** Which errors `countExceptions` counts. */
export interface CountExceptionsOptions {
  /** Count only errors that are instances of this class (default: every error). */
  // deno-lint-ignore no-explicit-any
  readonly only?: abstract new (...args: any[]) => unknown;
}

/** One counter series. Returned (and cached) by `counter.labels(...)`. */
export class CounterChild {
  /** This series' labels. */
  readonly labels: Labels;
  /** When the series was created, in seconds since the Unix epoch. */
  readonly created: number;
  readonly #metricName: string;
  #value = 0;
  #exemplar: Exemplar | undefined;

  /** Internal: made by {@linkcode Counter}. */
  constructor(metricName: string, labels: Labels) {
    this.#metricName = metricName;
    this.labels = labels;
    this.created = Date.now() / 1000;
  }

  /** The current total. */
  get value(): number {
    return this.#value;
  }

  /** The latest exemplar, if any. */
  get exemplar(): Exemplar | undefined {
    return this.#exemplar;
  }

  /**
   * Adds `amount` (default 1). A negative or non-finite amount throws a `RangeError`.
   * `exemplar` labels (e.g. `{ trace_id }`) are kept as the series' latest exemplar.
   */
  inc(amount = 1, exemplar?: Labels): void {
    if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      checkCounterIncrement(this.#metricName, amount);
    }
    this.#value += amount;
    if (exemplar !== undefined) {
      this.#exemplar = makeExemplar(this.#metricName, exemplar, amount) ?? this.#exemplar;
    }
  }

  /** Sets the total back to zero (a restart, as Prometheus sees it). */
  reset(): void {
    this.#value = 0;
    this.#exemplar = undefined;
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
  /** Creates a counter and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: CounterOptions) {
    super(options, {
      typeName: "counter",
      strippedSuffix: "_total",
      sampleSuffixes: ["_total", "_created"],
    });
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): CounterChild {
    return new CounterChild(this.name, labels);
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
