/**
 * Counter: a value that only goes up (requests served, errors, bytes sent).
 *
 * @module
 */

import type { CounterFamily, Exemplar, Labels } from "../model.ts";
import { checkCounterIncrement } from "../validation.ts";
import {
  describeMetric,
  type LabelValue,
  type LabelValues,
  type MetricOptions,
  registerMetric,
} from "./base.ts";
import { makeExemplar } from "./exemplar.ts";
import { type MetricSeries, slotNow } from "./handle.ts";
import type { SeriesStore } from "./series_store.ts";
import { SeriesTable, type SeriesType } from "./series_table.ts";
import { type FunctionWrapper, wrapperFor } from "./timer.ts";
import { exposeStorage, type MetricStorage } from "./storage_read.ts";
import { activeTraceLabels, traceExemplar } from "../otel/trace_context.ts";

/** Options of a {@linkcode Counter}. */
export interface CounterOptions extends MetricOptions {
  /**
   * Keep `{ trace_id, span_id }` of the active sampled OpenTelemetry span as the exemplar of each
   * increment that gives none (see `docs/metrics.md`); default `false`.
   */
  readonly traceExemplars?: boolean;
}

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
/** The side array of exemplars. */
const EXEMPLARS = 0;

/** A counter's storage: a total and a creation time per series, and exemplars on the side. */
const COUNTER_SERIES: SeriesType<CounterChild> = {
  numberStride: NUMBER_STRIDE,
  countStride: 0,
  sideCount: 1,
  createdOffset: CREATED,
  initSeries(store, slot) {
    store.numbers[slot * NUMBER_STRIDE + CREATED] = Date.now() / 1000;
  },
  newChild: (series, slot) => new CounterChild(series, slot),
  // Series lifecycle: a counter's total changes with every update that adds something.
  activityOf: (store, slot) => store.numbers[slot * NUMBER_STRIDE + TOTAL],
};

/** Adds `amount` to the series at `slot` of `store`, keeping `exemplar` if given. */
function addTo(store: SeriesStore, slot: number, amount: number, exemplar?: Labels): void {
  store.numbers[slot * NUMBER_STRIDE + TOTAL] += amount;
  if (exemplar !== undefined) setExemplar(store, slot, amount, exemplar);
}

/** Keeps `exemplar` (labels given to `inc`) as the latest of the series at `slot`. */
function setExemplar(store: SeriesStore, slot: number, amount: number, exemplar: Labels): void {
  const made = makeExemplar(store.metricName, exemplar, amount);
  if (made !== undefined) store.side(EXEMPLARS)[slot] = made;
}

/**
 * With `traceExemplars`: keeps `exemplar` if given, else the active sampled span's ids, as the
 * exemplar of the series at `slot`.
 */
function setTraceExemplar(
  store: SeriesStore,
  slot: number,
  amount: number,
  exemplar: Labels | undefined,
): void {
  if (exemplar !== undefined) return setExemplar(store, slot, amount, exemplar);
  const labels = activeTraceLabels();
  if (labels === undefined) return;
  const kept = store.sides[EXEMPLARS]?.[slot] as Exemplar | undefined;
  // The span's exemplar already kept: the usual case within one span, left as it is.
  if (kept !== undefined && kept.labels === labels) return;
  store.side(EXEMPLARS)[slot] = traceExemplar(kept, labels, amount);
}

/** The storage of a counter with `traceExemplars`: its children attach the span's ids. */
const TRACED_COUNTER_SERIES: SeriesType<CounterChild> = {
  ...COUNTER_SERIES,
  newChild: (series, slot) => new TracedCounterChild(series, slot),
};

/** Throws the counter's `RangeError` unless `amount` is a finite, non-negative number. */
function checkAmount(metricName: string, amount: number): void {
  if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
    checkCounterIncrement(metricName, amount);
  }
}

/** `inc` of a traced child, which reads the series of its base class (set in a static block). */
let tracedInc: (child: CounterChild, amount: number, exemplar: Labels | undefined) => void;

/**
 * One counter series, returned by `counter.labels(...)`: a handle on the series in the
 * metric's packed store (see {@linkcode Counter} for what a handle promises).
 *
 * @example
 * ```ts
 * import { Counter } from "@deno-prom/client";
 * const requests = new Counter({
 *   name: "requests_total", help: "requests", labelNames: ["path"], registry: null,
 * });
 * const root = requests.labels({ path: "/" }); // keep the child: its inc() does no label lookup
 * root.inc();
 * root.value; // 1
 * ```
 */
export class CounterChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;

  /** @ignore Made by {@linkcode Counter}. */
  constructor(series: MetricSeries, slot: number) {
    this.#series = series;
    this.#store = series.store;
    this.#slot = slot;
  }

  static {
    tracedInc = (child, amount, exemplar) => {
      const store = child.#current();
      checkAmount(store.metricName, amount);
      store.numbers[child.#slot * NUMBER_STRIDE + TOTAL] += amount;
      setTraceExemplar(store, child.#slot, amount, exemplar);
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

  /** The current total. */
  get value(): number {
    return this.#current().numbers[this.#slot * NUMBER_STRIDE + TOTAL];
  }

  /** The latest exemplar, if any. */
  get exemplar(): Exemplar | undefined {
    return this.#current().sides[EXEMPLARS]?.[this.#slot] as Exemplar | undefined;
  }

  /**
   * Adds `amount` (default 1). A negative or non-finite amount throws a `RangeError`.
   * `exemplar` labels (e.g. `{ trace_id }`) are kept as the series' latest exemplar.
   */
  inc(amount = 1, exemplar?: Labels): void {
    let store = this.#store;
    // Written out rather than through `checkAmount` and `addTo`: V8 inlines `labels(...)` and
    // `inc()` into their caller within a budget of bytecode, which this leaves to the lookup.
    if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      checkCounterIncrement(store.metricName, amount);
    }
    if (!store.current) store = this.#current();
    store.numbers[this.#slot * NUMBER_STRIDE + TOTAL] += amount;
    if (exemplar !== undefined) setExemplar(store, this.#slot, amount, exemplar);
  }

  /** Sets the total back to zero (a restart, as Prometheus sees it). */
  reset(): void {
    const store = this.#current();
    store.numbers[this.#slot * NUMBER_STRIDE + TOTAL] = 0;
    const exemplars = store.sides[EXEMPLARS];
    if (exemplars !== undefined) exemplars[this.#slot] = undefined;
  }

  /**
   * Counts every error thrown (or promise rejected) by `fn`, then rethrows it. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@counter.countExceptions()`.
   */
  countExceptions<F extends (...args: never[]) => unknown>(
    fn: F,
    options?: CountExceptionsOptions,
  ): F;
  /**
   * Counts every error thrown (or promise rejected) by `fn`, then rethrows it. Without `fn`,
   * returns a wrapper usable as a TC39 method decorator: `@counter.countExceptions()`.
   */
  countExceptions(options?: CountExceptionsOptions): FunctionWrapper;
  countExceptions<F extends (...args: never[]) => unknown>(
    fnOrOptions?: F | CountExceptionsOptions,
    options?: CountExceptionsOptions,
  ): F | FunctionWrapper {
    return countExceptionsInto(() => this.inc(), fnOrOptions, options);
  }
}

/**
 * A counter series of a counter with `traceExemplars`: a separate class, so that the plain
 * child's `inc` stays as it is.
 */
class TracedCounterChild extends CounterChild {
  override inc(amount = 1, exemplar?: Labels): void {
    tracedInc(this, amount, exemplar);
  }
}

/** `countExceptions` of a child or of the unlabelled series: `count` adds one. */
function countExceptionsInto<F extends (...args: never[]) => unknown>(
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
 * Children (`labels(...)`) are handles on their series, and every metric type follows the
 * same rule for them. The same label values reach the same series, through the same child
 * while it is among the 256 most recently used ones (compare children by their labels, not
 * with `===`). A child of a live series always counts into it. After `remove()` or `clear()` a
 * child of a removed series stays valid and keeps counting into a detached series, no longer
 * exposed, that starts from the values the series had (as in the Python client); the metric
 * keeps nothing for it. (One exception: a child left unused while the metric compacted its
 * storage twice, first moving its series and then dropping it, starts from zero.)
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
 * requests.incWith({ method: "GET" }); // no child: nothing allocated once the series exists
 * ```
 */
export class Counter {
  /** The family name (without `_total`). */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The unit, if any. */
  readonly unit: string | undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** Every sample name this metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];
  /** What readers read (exposition, remote write, `collect()`). */
  readonly #storage: MetricStorage;
  readonly #table: SeriesTable<CounterChild>;
  readonly #isUnlabelled: boolean;
  // The total of an unlabelled counter lives here, not in its store (whose total column is
  // then never read or written: this is the one place of the value). A number in a field is
  // added to faster than a typed array's element: the "unlabelled total" group of
  // bench/metrics_bench.ts measures both.
  #unlabelledTotal = 0;

  /** Creates a counter and registers it (in `defaultRegistry` unless `registry` says otherwise). */
  constructor(options: CounterOptions) {
    const description = describeMetric(options, {
      typeName: "counter",
      strippedSuffix: "_total",
      sampleSuffixes: ["_total", "_created"],
    });
    this.name = description.name;
    this.help = description.help;
    this.unit = description.unit;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    const traced = options.traceExemplars === true;
    this.#table = new SeriesTable(description, traced ? TRACED_COUNTER_SERIES : COUNTER_SERIES);
    this.#isUnlabelled = this.#table.isUnlabelled;
    // Only a traced counter gets these own methods: a plain one keeps the prototype's.
    if (traced) {
      Object.defineProperties(this, {
        inc: { value: (amount?: number, exemplar?: Labels) => this.#tracedInc(amount, exemplar) },
        incWith: {
          value: (labels: LabelValues, amount?: number, exemplar?: Labels) =>
            this.#tracedIncWith(labels, amount, exemplar),
        },
      });
    }
    this.#storage = exposeStorage(this, this.#table, {
      type: "counter",
      numberStride: NUMBER_STRIDE,
      totalOffset: TOTAL,
      createdOffset: CREATED,
      exemplarSide: EXEMPLARS,
      unlabelledTotal: () => this.#isUnlabelled ? this.#unlabelledTotal : undefined,
    });
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): CounterChild;
  labels(first: LabelValues | LabelValue, a1?: unknown, a2?: unknown, a3?: unknown): CounterChild {
    // Four parameters and `arguments` for more, not a rest parameter (a new array per call):
    // see `SeriesTable.childOf`.
    const count = arguments.length;
    if (count <= 4) return this.#table.childOf(count, first, a1, a2, a3);
    const values: unknown[] = [];
    for (let i = 0; i < count; i++) values.push(arguments[i]);
    return this.#table.childOfValues(values);
  }

  /**
   * Adds `amount` (default 1) to the series with these labels, without a child: once the
   * series exists this allocates nothing, however many series the counter has.
   */
  incWith(labels: LabelValues, amount = 1, exemplar?: Labels): void {
    const table = this.#table;
    checkAmount(this.name, amount);
    addTo(table.store, table.slotForObject(labels), amount, exemplar);
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
  collect(): CounterFamily[] {
    const { labels, store } = this.#storage.read();
    const numbers = store.numbers;
    const exemplars = store.sides[EXEMPLARS];
    return [{
      type: "counter",
      name: this.name,
      help: this.help,
      unit: this.unit,
      points: labels.liveSlots().map((slot) => ({
        labels: labels.labelsOf(slot),
        value: this.#isUnlabelled ? this.#unlabelledTotal : numbers[slot * NUMBER_STRIDE + TOTAL],
        created: numbers[slot * NUMBER_STRIDE + CREATED],
        exemplar: exemplars?.[slot] as Exemplar | undefined,
      })),
    }];
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
    if (exemplar !== undefined) setExemplar(this.#table.store, 0, amount, exemplar);
  }

  /** `inc` of a counter with `traceExemplars`. */
  #tracedInc(amount = 1, exemplar?: Labels): void {
    if (!this.#isUnlabelled || typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) {
      this.#requireUnlabelled();
      checkCounterIncrement(this.name, amount);
    }
    this.#unlabelledTotal += amount;
    setTraceExemplar(this.#table.store, 0, amount, exemplar);
  }

  /** `incWith` of a counter with `traceExemplars`. */
  #tracedIncWith(labels: LabelValues, amount = 1, exemplar?: Labels): void {
    const table = this.#table;
    checkAmount(this.name, amount);
    const slot = table.slotForObject(labels);
    const store = table.store;
    store.numbers[slot * NUMBER_STRIDE + TOTAL] += amount;
    setTraceExemplar(store, slot, amount, exemplar);
  }

  /** Resets the unlabelled series to zero. */
  reset(): void {
    this.#requireUnlabelled();
    this.#unlabelledTotal = 0;
    const exemplars = this.#table.store.sides[EXEMPLARS];
    if (exemplars !== undefined) exemplars[0] = undefined;
  }

  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions<F extends (...args: never[]) => unknown>(
    fn: F,
    options?: CountExceptionsOptions,
  ): F;
  /** Counts errors of `fn` in the unlabelled series; see {@linkcode CounterChild.countExceptions}. */
  countExceptions(options?: CountExceptionsOptions): FunctionWrapper;
  countExceptions<F extends (...args: never[]) => unknown>(
    fnOrOptions?: F | CountExceptionsOptions,
    options?: CountExceptionsOptions,
  ): F | FunctionWrapper {
    this.#requireUnlabelled();
    return countExceptionsInto(() => this.inc(), fnOrOptions, options);
  }

  /** Throws the table's clear error when the counter has labels. */
  #requireUnlabelled(): void {
    if (!this.#isUnlabelled) void this.#table.unlabelled;
  }
}
