/**
 * Info: constant key-value information about the target (version, build), value always 1.
 *
 * @module
 */

import type { InfoFamily, Labels } from "../model.ts";
import { checkEscapedNamesDistinct, validateLabelName, wellFormed } from "../validation.ts";
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

/** Options of an {@linkcode Info}: the common ones; `unit` is not allowed. */
export type InfoOptions = Omit<MetricOptions, "unit">;

/** The side array of information set by `info()`, by slot. */
const INFO = 0;
/**
 * The side array of the exposed labels (the series' own plus the information), built once per
 * `info()` call so that exposition sees the same object every scrape and caches its text.
 */
const EXPOSED = 1;

const NO_INFO: Labels = Object.freeze({});

/**
 * One info series, returned by `info.labels(...)`: a handle on the series (see
 * {@linkcode Counter} for what a handle promises after `remove()`).
 *
 * @example
 * ```ts
 * import { Info } from "@deno-prom/client";
 * const build = new Info({
 *   name: "plugin_build", help: "plugin builds", labelNames: ["plugin"], registry: null,
 * });
 * const auth = build.labels({ plugin: "auth" });
 * auth.info({ version: "1.2.0" });
 * auth.exposedLabels; // { plugin: "auth", version: "1.2.0" }
 * ```
 */
export class InfoChild {
  readonly #series: MetricSeries;
  // The series' store and slot: moved on when the store is no longer current (`#current`).
  #store: SeriesStore;
  #slot: number;

  /** @ignore Made by {@linkcode Info}. */
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

  /** This series' own labels (the metric's label names, and its constant labels). */
  get labels(): Labels {
    return this.#current().labelsOf(this.#slot);
  }

  /** The labels of the exposed `<name>_info` sample: the series' own plus the information. */
  get exposedLabels(): Labels {
    return exposedLabelsOf(this.#current(), this.#slot);
  }

  /** The information last set. */
  get value(): Labels {
    return (this.#current().sides[INFO]?.[this.#slot] as Labels | undefined) ?? NO_INFO;
  }

  /** Replaces the information: each key becomes a label of `<name>_info`. */
  info(values: Readonly<Record<string, string>>): void {
    const store = this.#current();
    const labels = store.labelsOf(this.#slot);
    const metricName = store.metricName;
    if (values === null || typeof values !== "object") {
      throw new TypeError(`info of metric "${metricName}" takes an object of strings`);
    }
    const info: Record<string, string> = {};
    for (const [labelName, labelValue] of Object.entries(values)) {
      validateLabelName(labelName, metricName);
      if (Object.hasOwn(labels, labelName)) {
        throw new TypeError(
          `info label "${labelName}" of metric "${metricName}" is already one of its label names`,
        );
      }
      if (typeof labelValue !== "string") {
        throw new TypeError(
          `info label "${labelName}" of metric "${metricName}" must be a string`,
        );
      }
      info[labelName] = wellFormed(labelValue);
    }
    checkEscapedNamesDistinct(metricName, [...Object.keys(labels), ...Object.keys(info)]);
    store.side(INFO)[this.#slot] = Object.freeze(info);
    store.side(EXPOSED)[this.#slot] = Object.freeze({ ...labels, ...info });
  }
}

/** The exposed labels of the series at `slot`: its own until `info()` was called. */
function exposedLabelsOf(store: SeriesStore, slot: number): Labels {
  return (store.sides[EXPOSED]?.[slot] as Labels | undefined) ?? store.labelsOf(slot);
}

/**
 * An info metric, exposed as `<name>_info{...} 1.0`. A name given with `_info` is not doubled.
 * Its children follow the rule described at {@linkcode Counter}.
 *
 * @example
 * ```ts
 * import { Info, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const build = new Info({ name: "my_build", help: "build information", registry });
 * build.info({ version: "1.2", commit: "abc123" });
 * ```
 */
export class Info {
  /** The family name (without `_info`). */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** Always `undefined`: this type cannot have a unit. */
  readonly unit: undefined = undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** Every sample name this metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];
  readonly #table: SeriesTable<InfoChild>;

  /** Creates an info metric and registers it. */
  constructor(options: InfoOptions) {
    const description = describeMetric(options as MetricOptions, {
      typeName: "info",
      strippedSuffix: "_info",
      sampleSuffixes: ["_info"],
      allowsUnit: false,
    });
    this.name = description.name;
    this.help = description.help;
    this.labelNames = description.labelNames;
    this.sampleNames = description.sampleNames;
    this.#table = new SeriesTable<InfoChild>(description, {
      numberStride: 0,
      countStride: 0,
      sideCount: 2,
      createdOffset: -1,
      initSeries() {},
      newChild: (series, slot) => new InfoChild(series, slot),
    });
    registerMetric(this, description);
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): InfoChild {
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
  collect(): InfoFamily[] {
    const { labels: labelSets, store } = this.#table.read();
    return [{
      type: "info",
      name: this.name,
      help: this.help,
      points: labelSets.liveSlots().map((slot) => ({ labels: exposedLabelsOf(store, slot) })),
    }];
  }

  /** The information of the unlabelled series. */
  get value(): Labels {
    return this.#table.unlabelled.value;
  }

  /** Sets the information of the unlabelled series. */
  info(values: Readonly<Record<string, string>>): void {
    this.#table.unlabelled.info(values);
  }
}
