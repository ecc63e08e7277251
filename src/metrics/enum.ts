/**
 * Enum: which one of a fixed set of states is current (an OpenMetrics state set).
 *
 * @module
 */

import type { Labels, StateSetFamily } from "../model.ts";
import { validateLabelName, wellFormed } from "../validation.ts";
import { type MetricOptions, ObjectSeriesMetric } from "./base.ts";

/** Options of an {@linkcode Enum}; `unit` is not allowed. */
export interface EnumOptions extends Omit<MetricOptions, "unit"> {
  /** The possible states; the first is current until `state()` is called. */
  readonly states: readonly string[];
}

/** One enum series. Returned (and cached) by `enum.labels(...)`. */
export class EnumChild {
  /** This series' labels. */
  readonly labels: Labels;
  readonly #metricName: string;
  readonly #states: readonly string[];
  #current = 0;

  /** Internal: made by {@linkcode Enum}. */
  constructor(metricName: string, labels: Labels, states: readonly string[]) {
    this.#metricName = metricName;
    this.labels = labels;
    this.#states = states;
  }

  /** The current state. */
  get value(): string {
    return this.#states[this.#current];
  }

  /** Makes `state` the current one; an unknown state throws a `TypeError`. */
  state(state: string): void {
    const index = this.#states.indexOf(typeof state === "string" ? wellFormed(state) : state);
    if (index < 0) {
      throw new TypeError(
        `unknown state ${JSON.stringify(state)} for enum "${this.#metricName}": expected one of ${
          this.#states.map((s) => JSON.stringify(s)).join(", ")
        }`,
      );
    }
    this.#current = index;
  }
}

/**
 * An enum: one sample per state, the current one at 1, the others at 0, with the state in a
 * label named after the metric (a `stateset` in OpenMetrics, a gauge in the 0.0.4 format).
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
export class Enum extends ObjectSeriesMetric<EnumChild> {
  /** The possible states. */
  readonly states: readonly string[];

  /** Creates an enum and registers it. */
  constructor(options: EnumOptions) {
    super(options as MetricOptions, {
      typeName: "enum",
      sampleSuffixes: [],
      allowsUnit: false,
    });
    // The state label is named after the metric, so the name must also be a label name.
    validateLabelName(this.name, this.name);
    if (this.labelNames.includes(this.name)) {
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
    this.states = Object.freeze(wellFormedStates);
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): EnumChild {
    return new EnumChild(this.name, labels, this.states);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly EnumChild[]): StateSetFamily {
    return {
      type: "stateset",
      name: this.name,
      help: this.help,
      points: children.map((child) => ({
        labels: child.labels,
        states: this.states.map((name) => ({ name, enabled: name === child.value })),
      })),
    };
  }

  /** The current state of the unlabelled series. */
  get value(): string {
    return this.unlabelled.value;
  }

  /** Sets the state of the unlabelled series. */
  state(state: string): void {
    this.unlabelled.state(state);
  }
}
