/**
 * Packed per-metric storage for the numbers of every series: memory per series matters with
 * many series, and in V8 a number kept in an object field is a separate 16-byte box, an array
 * of a few numbers costs a header of its own, and each object another 24 bytes or more.
 *
 * @module
 */

import type { Labels } from "../model.ts";
import type { Compaction } from "./series_index.ts";

/** The largest count a `Uint32Array` holds. */
export const UINT32_MAX = 0xffff_ffff;

/** Where a child's series lives now: see {@linkcode SeriesStore.follow}. */
export interface SeriesPlace<Store extends SeriesStore> {
  /** The store that holds the series. */
  readonly store: Store;
  /** The series' slot in it. */
  readonly slot: number;
}

/**
 * The numbers of all series of one metric, by slot (the slots of its `SeriesIndex`):
 * `numberStride` doubles in `numbers` and `countStride` counts in `counts`. Counts are whole
 * numbers that only go up one at a time (a histogram's buckets), so they take four bytes each
 * until one of them passes 2³² − 1; the counts then move to doubles, exact up to 2⁵³.
 *
 * A child holds its store and slot, and reads the arrays through the store each time, since
 * they are replaced (copied) when they grow. When the metric compacts its slots it moves to a
 * new store and this one gets a `successor`: a child that finds one follows it (`follow`) to
 * its series' new slot, or, when its series was removed, to a store of its own that keeps its
 * numbers apart from the metric (as a removed child of the Python or Go client keeps working).
 */
export class SeriesStore {
  /** The metric's name, for the error messages of its children. */
  readonly metricName: string;
  /** Doubles per series in `numbers`. */
  readonly numberStride: number;
  /** Counts per series in `counts`. */
  readonly countStride: number;
  /** The doubles of every series: slot `i` owns `numbers[i * numberStride + k]`. */
  numbers: Float64Array;
  /** The counts of every series: slot `i` owns `counts[i * countStride + k]`. */
  counts: Uint32Array | Float64Array;
  /** Per-series extra state (exemplars), indexed by slot; made on first use. */
  extras: unknown[] | undefined;
  /** The store that replaced this one when the metric compacted its slots. */
  successor: this | undefined;
  #capacity: number;
  #compaction: Compaction | undefined;
  /** The labels of each slot: the metric's, or the one series' of a detached store. */
  readonly #labelsOf: (slot: number) => Labels;

  /** An empty store with room for `capacity` series, whose labels `labelsOf` gives. */
  constructor(
    metricName: string,
    numberStride: number,
    countStride: number,
    capacity: number,
    labelsOf: (slot: number) => Labels,
  ) {
    this.metricName = metricName;
    this.numberStride = numberStride;
    this.countStride = countStride;
    this.#capacity = capacity;
    this.numbers = new Float64Array(numberStride * capacity);
    this.counts = new Uint32Array(countStride * capacity);
    this.#labelsOf = labelsOf;
  }

  /** An empty store of the same kind (subclasses keep their own fields). */
  protected emptyLike(capacity: number, labelsOf: (slot: number) => Labels): this {
    return new SeriesStore(
      this.metricName,
      this.numberStride,
      this.countStride,
      capacity,
      labelsOf,
    ) as this;
  }

  /** The labels of the series at `slot`. */
  labelsOf(slot: number): Labels {
    return this.#labelsOf(slot);
  }

  /**
   * Starts the series at `slot` (slots are handed out in order by the metric's index): makes
   * room for it, and records the time now, in seconds since the Unix epoch, as its creation
   * time at `createdOffset` among its numbers.
   */
  addSeries(slot: number, createdOffset: number): void {
    this.ensureSlot(slot);
    this.numbers[slot * this.numberStride + createdOffset] = Date.now() / 1000;
  }

  /** Makes room for `slot`. */
  ensureSlot(slot: number): void {
    if (slot < this.#capacity) return;
    // Grow by a quarter: the unused tail stays small with many series, where it matters.
    const capacity = slot + Math.max(4, slot >> 2);
    const numbers = new Float64Array(this.numberStride * capacity);
    numbers.set(this.numbers);
    this.numbers = numbers;
    const counts = this.counts instanceof Uint32Array
      ? new Uint32Array(this.countStride * capacity)
      : new Float64Array(this.countStride * capacity);
    counts.set(this.counts);
    this.counts = counts;
    this.#capacity = capacity;
  }

  /**
   * Moves the live series to a new store as `compaction` says, and makes it this store's
   * successor; this store keeps its numbers for the children of removed series.
   */
  compact(compaction: Compaction): this {
    const next = this.#emptyMatching(Math.max(compaction.slotCount, 4), this.#labelsOf);
    const forwarding = compaction.forwarding;
    for (let slot = 0; slot < forwarding.length; slot++) {
      if (forwarding[slot] >= 0) this.#copySlot(slot, next, forwarding[slot]);
    }
    this.#compaction = compaction;
    this.successor = next;
    return next;
  }

  /**
   * Where the series at `slot` of this replaced store lives now: the new slot in the latest
   * store, or slot 0 of a store of its own when the series was removed.
   */
  follow(slot: number): SeriesPlace<this> {
    // deno-lint-ignore no-this-alias
    let store: this = this;
    while (store.successor !== undefined) {
      const compaction = store.#compaction!;
      const next = compaction.forwarding[slot];
      if (next < 0) {
        const labels = compaction.labelsOfRemoved(slot);
        const own = store.#emptyMatching(1, () => labels);
        store.#copySlot(slot, own, 0);
        return { store: own, slot: 0 };
      }
      slot = next;
      store = store.successor;
    }
    return { store, slot };
  }

  /** An empty store of the same kind whose counts are doubles if this store's have moved. */
  #emptyMatching(capacity: number, labelsOf: (slot: number) => Labels): this {
    const empty = this.emptyLike(capacity, labelsOf);
    if (!(this.counts instanceof Uint32Array)) empty.counts = new Float64Array(empty.counts.length);
    return empty;
  }

  #copySlot(slot: number, target: SeriesStore, targetSlot: number): void {
    const numberStride = this.numberStride;
    target.numbers.set(
      this.numbers.subarray(slot * numberStride, (slot + 1) * numberStride),
      targetSlot * numberStride,
    );
    const countStride = this.countStride;
    target.counts.set(
      this.counts.subarray(slot * countStride, (slot + 1) * countStride),
      targetSlot * countStride,
    );
    const extra = this.extras?.[slot];
    if (extra !== undefined) (target.extras ??= [])[targetSlot] = extra;
  }

  /**
   * Adds one to `counts[position]` when the result does not fit a `Uint32Array` (children
   * check): every count of the store moves to doubles first, once.
   */
  countPastUint32(position: number): void {
    if (this.counts instanceof Uint32Array) this.counts = new Float64Array(this.counts);
    this.counts[position]++;
  }
}
