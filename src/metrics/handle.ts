/**
 * How a child (`counter.labels(...)`) holds on to its series: the rule every metric type's
 * child follows, and `slotNow`, which a child calls when its metric moved the series.
 *
 * The rule for children, the same for every metric type:
 * - A child is a handle on its series, not the series itself: `labels(...)` with the same
 *   values reaches the same series, through the same child while it is among the metric's 256
 *   recently used ones (so compare children by their `labels`, not with `===`).
 * - A handle of a live series always counts into that series, whatever the metric did to
 *   other series meanwhile (removing them, compacting its storage).
 * - After `remove()` or `clear()` took its series away, a handle stays valid and keeps
 *   counting into a detached series that is no longer exposed, shared by the handles of that
 *   series, and starting from the values the series had (as a removed child of the Python or
 *   Go client does). A new series with the same labels starts from zero, apart from it.
 * - The metric keeps nothing for handles: no list of them, no chain of its old storage. A
 *   handle made before the metric compacted its storage holds the storage of that time until
 *   its next use, when it moves to its series' new place (or detaches) and lets go of it. So
 *   one exception: a handle left unused while its series moved to newer storage, and then
 *   was removed and compacted away, never saw the series' last values; its detached series
 *   starts from zero (with the series' labels and creation time).
 *
 * @module
 */

import type { SeriesIndex } from "./series_index.ts";
import type { SeriesStore } from "./series_store.ts";

/** Where a metric's series are: its index (identity, labels) and its current store. */
export interface MetricSeries {
  /** The label index, which finds a series again by its creation number. */
  readonly index: SeriesIndex;
  /** The store holding the live series now. */
  readonly store: SeriesStore;
  /**
   * Series lifecycle: the slot in `store` where a handle of the gone series at `slot` of the
   * replaced `oldStore` goes on (an expired series brought back), or -1 to detach.
   */
  revive?(oldStore: SeriesStore, slot: number): number;
}

/**
 * The slot, in `series.store`, of the series a child held at `slot` of `store`, a store the
 * metric has replaced (children ask once per compaction, when they find `store.current`
 * false): found by the creation number the replaced store keeps for the slot, or brought back
 * after an expiry; -1 when the series was removed, and the child then goes on in
 * `store.detach(slot)`, at its slot 0. A child reads nothing of its series when it is made (a
 * metric with many series makes one at most `labels(...)` calls): the series' identity is
 * asked of the store only once the store is replaced.
 *
 * A child is one object holding `series`, its store and its slot, with this rule written out
 * in a `#current()` of its own (not a handle object beside it: one object less per series
 * made, which expiry makes a recurring cost).
 */
export function slotNow(series: MetricSeries, store: SeriesStore, slot: number): number {
  const found = series.index.slotOfSeq(store.seqOf(slot));
  // Series lifecycle: an expired series comes back for its handle (series_expiry.ts).
  return found >= 0 ? found : series.revive?.(store, slot) ?? -1;
}
