/**
 * Enum: which one of a fixed set of states is current (an OpenMetrics state set).
 *
 * @module
 */

import type { Labels, StateSetFamily } from "../model.ts";
import { validateLabelName, wellFormed } from "../validation.ts";
import {
  describeMetric,
  type LabelValue,
  type LabelValues,
  type MetricOptions,
  registerMetric,
} from "./base.ts";
import { type MetricSeries, slotNow } from "./handle.ts";
import type { SeriesStore } from "./series_store.ts";
import { SeriesTable } from "./series_table.ts";

/** Options of an {@linkcode Enum}; `unit` is not allowed. */
export interface EnumOptions extends Omit<MetricOptions, "unit"> {
  /** The possible states; the first is current until `state()` is called. */
  readonly states: readonly string[];
}

/**
 * One enum series, returned by `enum.labels(...)`: a handle on the series, whose state is one
 * count (the index of the current state) in the metric's packed store (see
 * {@linkcode Counter} for what a handle promises after `remove()`).
 *
 * @example
 * ```ts
 * import { Enum } from "@deno-prom/client";
 * const state = new Enum({
 *   name: "worker_state", help: "worker state", labelNames: ["worker"], states: ["idle", "busy"],
 *   registry: null,
 * });
 * state.labels({ worker: "w1" }).state("busy");
 * ```
 */
export class EnumChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;
  readonly #states: readonly string[];

  /** @ignore Made by {@linkcode Enum}. */
  constructor(series: MetricSeries, slot: number, states: readonly string[]) {
    this.#series = series;
    this.#store = series.store;
    this.#slot = slot;
    this.#states = states;
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

  /** The current state. */
  get value(): string {
    return this.#states[this.#current().counts[this.#slot]];
  }

  /** Makes `state` the current one; an unknown state throws a `TypeError`. */
  state(state: string): void {
    const store = this.#current();
    const index = this.#states.indexOf(typeof state === "string" ? wellFormed(state) : state);
    if (index < 0) {
      throw new TypeError(
        `unknown state ${JSON.stringify(state)} for enum "${store.metricName}": expected one of ${
          this.#states.map((s) => JSON.stringify(s)).join(", ")
        }`,
      );
    }
    store.counts[this.#slot] = index;
  }
}

/**
 * An enum: one sample per state, the current one at 1, the others at 0, with the state in a
 * label named after the metric (a `stateset` in OpenMetrics, a gauge in the 0.0.4 format).
 * Its children follow the rule described at {@linkcode Counter}.
 *
 * @example
 * ```ts
 * import { Enum, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const taskState = new Enum({
 *   name: "task_state", help: "state of the task", states: ["starting", "running", "stopped"], registry,
 * });
 * taskState.state("running");
 * ```
 */
export class Enum {
  /** The family name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** Always `undefined`: this type cannot have a unit. */
  readonly unit: undefined = undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** Every sample name this metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];
  /** The possible states. */
  readonly states: readonly string[];
  readonly #table: SeriesTable<EnumChild>;

  /** Creates an enum and registers it. */
  constructor(options: EnumOptions) {
    const description = describeMetric(options as MetricOptions, {
      typeName: "enum",
      sampleSuffixes: [],
      allowsUnit: false,
      nameIsLabel: true,
    });
    this.name = description.name;
    this.help = description.help;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    // The state label is named after the metric, so the name must also be a label name.
    validateLabelName(this.name, this.name);
    if (
      this.labelNames.includes(this.name) || Object.hasOwn(description.constLabels, this.name)
    ) {
      throw new TypeError(`enum "${this.name}" cannot have a label named like itself`);
    }
    const states = options.states;
    if (!Array.isArray(states) || states.length === 0) {
      throw new TypeError(`enum "${this.name}" needs a non-empty array of states`);
    }
    if (states.some((state) => typeof state !== "string")) {
      throw new TypeError(`states of enum "${this.name}" must be strings`);
    }
    const wellFormedStates = states.map(wellFormed);
    if (new Set(wellFormedStates).size !== states.length) {
      throw new TypeError(`states of enum "${this.name}" must be distinct`);
    }
    const frozenStates = Object.freeze(wellFormedStates);
    this.states = frozenStates;
    this.#table = new SeriesTable<EnumChild>(description, {
      numberStride: 0,
      countStride: 1,
      sideCount: 0,
      createdOffset: -1,
      initSeries() {},
      newChild: (series, slot) => new EnumChild(series, slot, frozenStates),
    });
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): EnumChild {
    return this.#table.childOfValues([first, ...rest]);
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
  collect(): StateSetFamily[] {
    const { labels: labelSets, store } = this.#table.read();
    const counts = store.counts;
    const states = this.states;
    return [{
      type: "stateset",
      name: this.name,
      help: this.help,
      points: labelSets.liveSlots().map((slot) => ({
        labels: labelSets.labelsOf(slot),
        states: states.map((name, index) => ({ name, enabled: index === counts[slot] })),
      })),
    }];
  }

  /** The current state of the unlabelled series. */
  get value(): string {
    return this.#table.unlabelled.value;
  }

  /** Sets the state of the unlabelled series. */
  state(state: string): void {
    this.#table.unlabelled.state(state);
  }
}
