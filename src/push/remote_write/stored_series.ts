/**
 * A registry's counters, gauges and histograms as remote write reads them from storage: their
 * label sets and copies of their numbers, taken when gathered.
 *
 * @module
 */

import type { StoredMetric } from "../../exposition/byte_render.ts";
import type { LabelSets } from "../../metrics/label_sets.ts";
import type { NativeBuckets, NativeHistogram } from "../../metrics/native_histogram.ts";
import type { Exemplar } from "../../model.ts";

/** A registry's metric read from storage, as it was when gathered. */
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
    // A histogram's exemplars change in place.
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

/** A histogram series' exemplars, one per bucket. */
export type BucketExemplars = readonly (Exemplar | undefined)[];
