/**
 * What a built-in metric offers the byte renderer (`direct.ts`): its family's description and
 * a view of its storage as it is now, so that exposition walks the storage and writes bytes
 * without building a snapshot. Counters, gauges and histograms offer one; other collectors are
 * rendered from their `collect()` snapshots.
 *
 * @module
 */

import type { Collector, Exemplar, Labels } from "../model.ts";
import type { LabelSnapshot } from "../metrics/series_index.ts";
import type { SeriesStore } from "../metrics/series_store.ts";
import type { SeriesHome } from "../metrics/handle.ts";

/** The storage of a metric's series at the start of a render, and how to read it. */
export interface DirectView {
  /** The label sets (slots, removed ones, label text). */
  readonly labels: LabelSnapshot;
  /** The store holding the series' numbers (re-read per series: it may grow meanwhile). */
  readonly store: SeriesStore;
  /**
   * The labels object of the series at `slot`, carrying its label source (`labelSourceOf`),
   * read from the index as it is now: the same series as `labels` within the turn `view()` was
   * called in (remote write reads its label bytes through it).
   */
  readonly labelsOf: (slot: number) => Labels;
}

/** A counter's layout in its store. */
export interface CounterLayout {
  readonly type: "counter";
  readonly numberStride: number;
  readonly totalOffset: number;
  readonly createdOffset: number;
  readonly exemplarSide: number;
  /** The total of an unlabelled counter, which lives outside the store. */
  unlabelledTotal(): number | undefined;
}

/** A gauge's layout in its store. */
export interface GaugeLayout {
  readonly type: "gauge";
  readonly numberStride: number;
  readonly valueOffset: number;
  /** The side array of value functions: a gauge using them is rendered from its snapshot. */
  readonly functionSide: number;
}

/** A classic histogram's layout in its store (native buckets are not in the text formats). */
export interface HistogramLayout {
  readonly type: "histogram";
  readonly upperBounds: readonly number[];
  readonly numberStride: number;
  readonly sumOffset: number;
  readonly createdOffset: number;
  readonly exemplarSide: number;
  /**
   * The side array of native-histogram state (a `NativeHistogram` per series), when the
   * histogram is native: remote write sends it (the text formats do not).
   */
  readonly nativeSide?: number;
}

/** What a built-in metric offers the byte renderer. */
export interface DirectSource {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
  /** Where its numbers are. */
  readonly layout: CounterLayout | GaugeLayout | HistogramLayout;
  /** Its label sets and store as they are now. */
  view(): DirectView;
  /** Series lifecycle: whether it is rendered from its snapshot now (it has an overflow series). */
  rendersBySnapshot(): boolean;
}

/** A histogram series' exemplars, one per bucket. */
export type BucketExemplars = readonly (Exemplar | undefined)[];

const directSources = new WeakMap<Collector, DirectSource>();

/** What `offerDirectRender` reads of a metric. */
interface DescribedMetric extends Collector {
  readonly name: string;
  readonly help: string;
  readonly unit: string | undefined;
}

/**
 * Called by a built-in metric type's constructor: the metric, whose series are in `home`
 * with `layout`, can be rendered directly.
 */
export function offerDirectRender(
  metric: DescribedMetric,
  home: SeriesHome,
  layout: DirectSource["layout"],
): void {
  directSources.set(metric, {
    name: metric.name,
    help: metric.help,
    unit: metric.unit,
    layout,
    rendersBySnapshot: () => home.rendersBySnapshot === true,
    view: () => {
      home.sweepIfDue?.(); // series lifecycle: expire before reading
      return {
        labels: home.index.labelSnapshot(),
        store: home.store,
        labelsOf: (slot) => home.index.labelsOf(slot),
      };
    },
  });
}

/** The direct source a built-in metric offered, if any. */
export function directSourceOf(collector: Collector): DirectSource | undefined {
  return directSources.get(collector);
}
