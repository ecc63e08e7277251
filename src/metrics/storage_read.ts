/**
 * The one read interface of built-in storage: what a counter, gauge or histogram offers every
 * reader (the byte renderer, remote write, its own `collect()`): its description, where its
 * numbers sit in its store (`StorageLayout`), and its series as they are now (`read()`).
 *
 * A reader walks a `SeriesRead` like this:
 * ```
 * const { labels, store } = storage.read();
 * for (let slot = 0; slot < labels.slotCount; slot++) {
 *   if (!labels.isLive(slot)) continue;
 *   // label values: labels.valuesByPosition[p][labels.seriesIds[slot * labels.width + p]]
 *   // numbers: store.numbers[slot * layout.numberStride + layout.<offset>], store.counts, store.sides
 * }
 * ```
 * Storage keeps nothing for its readers: a reader caches what it derives (escaped text,
 * encoded bytes) itself, keyed by the objects that stay the same (the `LabelShape`, the
 * dictionaries' value arrays).
 *
 * @module
 */

import type { Collector } from "../model.ts";
import type { LabelSets } from "./label_sets.ts";
import type { SeriesStore } from "./series_store.ts";

/** A counter's layout in its store. */
export interface CounterLayout {
  readonly type: "counter";
  readonly numberStride: number;
  readonly totalOffset: number;
  readonly createdOffset: number;
  /** The side array of exemplars (one `Exemplar` per series). */
  readonly exemplarSide: number;
  /** The total of an unlabelled counter, which lives outside the store. */
  unlabelledTotal(): number | undefined;
}

/** A gauge's layout in its store. */
export interface GaugeLayout {
  readonly type: "gauge";
  readonly numberStride: number;
  readonly valueOffset: number;
  /** The side array of value functions (`setFunction`), called when read. */
  readonly functionSide: number;
}

/** A classic histogram's layout in its store (bucket counts not cumulative in `counts`). */
export interface HistogramLayout {
  readonly type: "histogram";
  readonly upperBounds: readonly number[];
  readonly numberStride: number;
  readonly sumOffset: number;
  readonly createdOffset: number;
  /** The side array of exemplars (an array of one per bucket, per series). */
  readonly exemplarSide: number;
  /** The side array of native-histogram state (a `NativeHistogram` per series), if native. */
  readonly nativeSide?: number;
}

/** Where a metric type keeps its numbers. */
export type StorageLayout = CounterLayout | GaugeLayout | HistogramLayout;

/** A metric's series as they are at one moment. */
export interface SeriesRead {
  /** The label sets (slots, removed ones, value ids and dictionaries). */
  readonly labels: LabelSets;
  /** The store holding the series' numbers (re-read per series: it may grow meanwhile). */
  readonly store: SeriesStore;
}

/** What a built-in metric offers its readers. */
export interface MetricStorage {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
  /** Where its numbers are. */
  readonly layout: StorageLayout;
  /** Its series as they are now. */
  read(): SeriesRead;
}

/** What `exposeStorage` reads of a metric. */
interface DescribedMetric extends Collector {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
}

const storages = new WeakMap<Collector, MetricStorage>();

/**
 * Called by a metric type's constructor: its series are read from `series` (its
 * `SeriesTable`), laid out as `layout`.
 */
export function exposeStorage(
  metric: DescribedMetric,
  series: { read(): SeriesRead },
  layout: StorageLayout,
): MetricStorage {
  const storage: MetricStorage = {
    name: metric.name,
    help: metric.help,
    unit: metric.unit,
    layout,
    read: () => series.read(),
  };
  storages.set(metric, storage);
  return storage;
}

/** The storage a built-in metric exposes (counters, gauges, histograms), if any. */
export function storageOf(collector: Collector): MetricStorage | undefined {
  return storages.get(collector);
}
