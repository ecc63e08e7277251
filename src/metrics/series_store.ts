/**
 * Packed per-metric storage for the state of every series: memory per series matters with
 * many series, and in V8 a number kept in an object field is a separate 16-byte box, an array
 * of a few numbers costs a header of its own, and each object another 24 bytes or more.
 *
 * @module
 */

import type { Labels } from "../model.ts";

/** The largest count a `Uint32Array` holds. */
export const UINT32_MAX = 0xffff_ffff;

/** What a metric type keeps per series in its store. */
export interface StoreLayout {
  /** Doubles per series in `numbers` (totals, sums, creation times). */
  readonly numberStride: number;
  /** Counts per series in `counts` (a histogram's buckets, an enum's state). */
  readonly countStride: number;
  /**
   * How many sparse per-series side arrays the store keeps (`sides[k][slot]`), for state that
   * is not a number and that most series lack: exemplars, a summary's quantile window, a
   * gauge's value function, an info series' labels. Compaction and detaching move them along.
   */
  readonly sideCount: number;
  /** Where the creation time sits among a series' numbers, if it has one (`-1` if not). */
  readonly createdOffset: number;
}

/**
 * The state of all series of one metric, by slot (the slots of its `SeriesIndex`):
 * `numberStride` doubles in `numbers`, `countStride` counts in `counts` and one entry per side
 * array. Counts are whole numbers that only go up one at a time (a histogram's buckets), so
 * they take four bytes each until one of them passes 2³² − 1; the counts then move to doubles,
 * exact up to 2⁵³.
 *
 * A metric has one current store. When it compacts its slots it moves its live series to a
 * new store and marks the old one not `current`; a handle that finds its store replaced looks
 * its series up again by identity (see `slotNow` in `handle.ts`). No store refers to another,
 * so a replaced store lives on only while a handle made before the compaction still holds it.
 * A detached store holds the one series of a handle whose series was removed.
 */
export class SeriesStore {
  /** The metric's name, for the error messages of its children. */
  readonly metricName: string;
  /** Doubles per series in `numbers`. */
  readonly numberStride: number;
  /** Counts per series in `counts`. */
  readonly countStride: number;
  /** Where the creation time sits among a series' numbers (`-1`: none). */
  readonly createdOffset: number;
  /** The doubles of every series: slot `i` owns `numbers[i * numberStride + k]`. */
  numbers: Float64Array;
  /** The counts of every series: slot `i` owns `counts[i * countStride + k]`. */
  counts: Uint32Array | Float64Array;
  /** The sparse side arrays, indexed by slot; each made on first use. */
  readonly sides: (unknown[] | undefined)[];
  /** False once the metric moved its series to a newer store. */
  current = true;
  #capacity: number;
  /** The labels of each slot: the metric's, or the one series' of a detached store. */
  #labelsOf: (slot: number) => Labels;
  /** Once replaced: where each slot went (`-1` for a series removed while this store was current). */
  #forwarding: Int32Array | undefined;
  /** Once replaced: the detached stores made from it, by slot, shared by the handles of a series. */
  #detached: Map<number, SeriesStore> | undefined;
  /** Once replaced: the creation number (identity) of the series at each slot. */
  #seqs: Uint32Array | undefined;

  /** An empty store with room for `capacity` series, whose labels `labelsOf` gives. */
  constructor(
    metricName: string,
    layout: StoreLayout,
    capacity: number,
    labelsOf: (slot: number) => Labels,
  ) {
    this.metricName = metricName;
    this.numberStride = layout.numberStride;
    this.countStride = layout.countStride;
    this.createdOffset = layout.createdOffset;
    this.#capacity = capacity;
    this.numbers = new Float64Array(layout.numberStride * capacity);
    this.counts = new Uint32Array(layout.countStride * capacity);
    this.sides = new Array(layout.sideCount).fill(undefined);
    this.#labelsOf = labelsOf;
  }

  /** The labels of the series at `slot`. */
  labelsOf(slot: number): Labels {
    return this.#labelsOf(slot);
  }

  /** The side array `side`, made on first use. */
  side(side: number): unknown[] {
    return this.sides[side] ??= [];
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
   * Moves the live series to a new store as `forwarding` says (`forwarding[oldSlot]` is the
   * new slot, or -1 for a removed series) and retires this one: from now on its labels come
   * from `labelsOfOld`, which reads the label arrays of its time, and `seqOf` answers from
   * `seqsOfOld`, the creation numbers of its slots.
   */
  compact(
    forwarding: Int32Array,
    liveCount: number,
    labelsOfOld: (slot: number) => Labels,
    seqsOfOld: Uint32Array,
  ): SeriesStore {
    const next = this.#emptyMatching(Math.max(liveCount, 4), this.#labelsOf);
    for (let slot = 0; slot < forwarding.length; slot++) {
      if (forwarding[slot] >= 0) this.#copySlot(slot, next, forwarding[slot]);
    }
    this.current = false;
    this.#labelsOf = labelsOfOld;
    this.#forwarding = forwarding;
    this.#seqs = seqsOfOld;
    return next;
  }

  /**
   * The creation number of the series at `slot` of this replaced store: its identity, by which
   * a handle still holding this store finds the series' slot now (see `slotNow` in
   * `handle.ts`). A handle learns it only then, so that making one reads nothing but its slot.
   */
  seqOf(slot: number): number {
    return this.#seqs![slot];
  }

  /**
   * The store of its own where the handles of the removed series at `slot` of this replaced
   * store go on counting (one per series, shared by its handles made from this store), with a
   * frozen copy of its labels. When the series was removed while this store was current, its
   * numbers here are its last and are copied; when it moved on to a newer store first, they
   * are out of date and the detached series starts from zero (keeping its creation time).
   */
  detach(slot: number): SeriesStore {
    let own = this.#detached?.get(slot);
    if (own !== undefined) return own;
    const labels = Object.freeze({ ...this.labelsOf(slot) });
    own = this.#emptyMatching(1, () => labels);
    if (this.#forwarding === undefined || this.#forwarding[slot] < 0) {
      this.#copySlot(slot, own, 0);
    } else if (this.createdOffset >= 0) {
      own.numbers[this.createdOffset] = this.numbers[slot * this.numberStride + this.createdOffset];
    }
    (this.#detached ??= new Map()).set(slot, own);
    return own;
  }

  /** An empty store of the same layout whose counts are doubles if this store's have moved. */
  #emptyMatching(capacity: number, labelsOf: (slot: number) => Labels): SeriesStore {
    const empty = new SeriesStore(this.metricName, this, capacity, labelsOf);
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
    for (let side = 0; side < this.sides.length; side++) {
      const value = this.sides[side]?.[slot];
      if (value !== undefined) target.side(side)[targetSlot] = value;
    }
  }

  /** The layout's strides and side count, for a store made like this one. */
  get sideCount(): number {
    return this.sides.length;
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
