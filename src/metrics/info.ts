/**
 * Info: constant key-value information about the target (version, build), value always 1.
 *
 * @module
 */

import type { InfoFamily, Labels } from "../model.ts";
import { checkEscapedNamesDistinct, validateLabelName, wellFormed } from "../validation.ts";
import { type MetricOptions, ObjectSeriesMetric } from "./base.ts";

/** Options of an {@linkcode Info}: the common ones; `unit` is not allowed. */
export type InfoOptions = Omit<MetricOptions, "unit">;

/** One info series. Returned (and cached) by `info.labels(...)`. */
export class InfoChild {
  /** This series' own labels (the metric's label names). */
  readonly labels: Labels;
  readonly #metricName: string;
  #info: Labels = Object.freeze({});
  // The series' labels merged with the information, built once per info() call so that
  // exposition sees the same object every scrape (and can cache its formatted text).
  #exposedLabels: Labels;

  /** Internal: made by {@linkcode Info}. */
  constructor(metricName: string, labels: Labels) {
    this.#metricName = metricName;
    this.labels = labels;
    this.#exposedLabels = labels;
  }

  /** The labels of the exposed `<name>_info` sample: the series' own plus the information. */
  get exposedLabels(): Labels {
    return this.#exposedLabels;
  }

  /** The information last set. */
  get value(): Labels {
    return this.#info;
  }

  /** Replaces the information: each key becomes a label of `<name>_info`. */
  info(values: Readonly<Record<string, string>>): void {
    if (values === null || typeof values !== "object") {
      throw new TypeError(`info of metric "${this.#metricName}" takes an object of strings`);
    }
    const info: Record<string, string> = {};
    for (const [labelName, labelValue] of Object.entries(values)) {
      validateLabelName(labelName, this.#metricName);
      if (Object.hasOwn(this.labels, labelName)) {
        throw new TypeError(
          `info label "${labelName}" of metric "${this.#metricName}" is already one of its label names`,
        );
      }
      if (typeof labelValue !== "string") {
        throw new TypeError(
          `info label "${labelName}" of metric "${this.#metricName}" must be a string`,
        );
      }
      info[labelName] = wellFormed(labelValue);
    }
    checkEscapedNamesDistinct(this.#metricName, [
      ...Object.keys(this.labels),
      ...Object.keys(info),
    ]);
    this.#info = Object.freeze(info);
    this.#exposedLabels = Object.freeze({ ...this.labels, ...info });
  }
}

/**
 * An info metric, exposed as `<name>_info{...} 1.0`. A name given with `_info` is not doubled.
 *
 * @example
 * ```ts
 * import { Info, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const build = new Info({ name: "my_build", help: "build information", registry });
 * build.info({ version: "1.2", commit: "abc123" });
 * ```
 */
export class Info extends ObjectSeriesMetric<InfoChild> {
  /** Creates an info metric and registers it. */
  constructor(options: InfoOptions) {
    super(options as MetricOptions, {
      typeName: "info",
      strippedSuffix: "_info",
      sampleSuffixes: ["_info"],
      allowsUnit: false,
    });
    this.init();
  }

  /** Creates the state of one series (called by `labels()` on first use). */
  protected newChild(labels: Labels): InfoChild {
    return new InfoChild(this.name, labels);
  }

  /** Builds this metric's family snapshot from its series. */
  protected snapshot(children: readonly InfoChild[]): InfoFamily {
    return {
      type: "info",
      name: this.name,
      help: this.help,
      points: children.map((child) => ({ labels: child.exposedLabels })),
    };
  }

  /** The information of the unlabelled series. */
  get value(): Labels {
    return this.unlabelled.value;
  }

  /** Sets the information of the unlabelled series. */
  info(values: Readonly<Record<string, string>>): void {
    this.unlabelled.info(values);
  }
}
