/**
 * The series of a registry's counters, gauges and histograms as remote write reads them from
 * storage (`metrics/storage_read.ts`, through the items the byte renderer gathers): their label
 * sets and copies of their numbers taken when gathered, and how each series' labels merge with
 * the labels added to every series, from the metric's label dictionaries (each distinct value's
 * `Label` encoded once, kept with the dictionary).
 *
 * @module
 */

import type { StoredMetric } from "../../exposition/byte_render.ts";
import type { LabelSets } from "../../metrics/label_sets.ts";
import type { NativeBuckets, NativeHistogram } from "../../metrics/native_histogram.ts";
import type { Exemplar } from "../../model.ts";
import { encodedValues, type ExtraLabels, mergePlan } from "./labels.ts";

/**
 * A registry's metric read from storage, its series as they were when it was gathered (when
 * `collect()` would have collected it): its label sets, and copies of its numbers.
 */
export interface StoredSeries extends StoredMetric {
  readonly labels: LabelSets;
  readonly numbers: Float64Array;
  /** A histogram's bucket counts (not cumulative), `bucketCount` per slot. */
  readonly counts: ArrayLike<number>;
  /** Per slot: a counter's exemplar, or a histogram's exemplars by bucket. */
  readonly side: readonly unknown[] | undefined;
  /** Per slot, a native histogram's buckets. */
  readonly natives: readonly (NativeBuckets | undefined)[] | undefined;
  /** The total of an unlabelled counter. */
  readonly total: number | undefined;
}

/** The series of a metric read from storage as they are now (see `StoredSeries`). */
export function storedSeries(item: StoredMetric): StoredSeries {
  const { labels, store } = item.storage.read();
  const layout = item.storage.layout;
  const slots = labels.slotCount;
  const side = (index: number | undefined) =>
    index === undefined ? undefined : store.sides[index]?.slice(0, slots);
  const histogram = layout.type === "histogram";
  return {
    ...item,
    labels,
    numbers: store.numbers.slice(0, slots * layout.numberStride),
    counts: histogram ? store.counts.slice(0, slots * layout.upperBounds.length) : [],
    // A gauge with value functions is gathered as a snapshot; a histogram's exemplars of a
    // series change in place.
    side: layout.type === "gauge"
      ? undefined
      : histogram
      ? side(layout.exemplarSide)?.map((exemplars) => (exemplars as BucketExemplars).slice())
      : side(layout.exemplarSide),
    natives: histogram
      ? side(layout.nativeSide)?.map((native) => (native as NativeHistogram).buckets())
      : undefined,
    total: layout.type === "counter" ? layout.unlabelledTotal() : undefined,
  };
}

/**
 * How the labels of a metric read from storage merge with the extra labels, for one write: the
 * merge plan of its label names, and a `labelOf` for `#layOut` that gives, for the series at
 * `slot`, each step's own label (by id from the dictionary) or constant (a constant or default
 * label); an empty `Label` for an empty value.
 */
export function storedLabels(
  item: StoredSeries,
  extra: ExtraLabels,
  extraName: string | undefined,
) {
  const labels = item.labels;
  const own = labels.shape.labelNames;
  // As a snapshot has them: the series' own and constant labels win over default ones.
  const constant: Record<string, string> = { ...item.defaults, ...labels.shape.constLabels };
  for (const name of own) delete constant[name];
  const plan = mergePlan([...own, ...Object.keys(constant)], extra, extraName);
  const positions = plan.ownNames.map((name) => name === undefined ? -1 : own.indexOf(name));
  const fixed = plan.ownNames.map((name) =>
    name === undefined || !Object.hasOwn(constant, name)
      ? undefined
      : encodedValues(name, [constant[name]])[0]
  );
  const values = labels.valuesByPosition.map((values, p) => encodedValues(own[p], values));
  const { seriesIds, width } = labels;
  let start = 0;
  return {
    plan,
    labelOf: (k: number) => {
      const position = positions[k];
      return position < 0 ? fixed[k] : values[position][seriesIds[start + position]];
    },
    at: (slot: number) => start = slot * width,
  };
}

/** A histogram series' exemplars, one per bucket. */
export type BucketExemplars = readonly (Exemplar | undefined)[];
