/**
 * Packed per-metric storage for the numbers of every series: memory per series matters with
 * many series, and in V8 a number kept in an object field is a separate 16-byte box, an array
 * of a few numbers costs a header of its own, and each object another 24 bytes.
 *
 * @module
 */

/** The largest count a `Uint32Array` holds. */
export const UINT32_MAX = 0xffff_ffff;

/**
 * The numbers of all series of one metric, each series owning a numbered slot: `numberStride`
 * doubles in `numbers` and `countStride` counts in `counts`. Counts are whole numbers that only
 * go up one at a time (a histogram's buckets), so they take four bytes each until one of them
 * passes 2³² − 1; the counts then move to doubles, exact up to 2⁵³. A child keeps its store and
 * its slot; the arrays are replaced (copied) when they grow, so children read them through the
 * store each time. Slots of removed series are reused.
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
  #capacity: number;
  #used = 0;
  readonly #freeSlots: number[] = [];

  /** An empty store with room for `capacity` series. */
  constructor(metricName: string, numberStride: number, countStride: number, capacity: number) {
    this.metricName = metricName;
    this.numberStride = numberStride;
    this.countStride = countStride;
    this.#capacity = capacity;
    this.numbers = new Float64Array(numberStride * capacity);
    this.counts = new Uint32Array(countStride * capacity);
  }

  /** Hands out a zeroed slot. */
  allocate(): number {
    const reused = this.#freeSlots.pop();
    if (reused !== undefined) return reused;
    const slot = this.#used;
    if (slot === this.#capacity) {
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
    this.#used = slot + 1;
    return slot;
  }

  /**
   * Gives `slot` back for reuse, first moving its numbers (and extra state) to a store of its
   * own, returned with the slot 0 there: a removed series still held by a caller keeps working
   * apart from the metric.
   */
  release(slot: number): SeriesStore {
    const own = new SeriesStore(this.metricName, this.numberStride, this.countStride, 1);
    this.moveSlot(slot, own);
    return own;
  }

  /** Moves the state of `slot` into slot 0 of the empty store `own`, and frees `slot`. */
  protected moveSlot(slot: number, own: SeriesStore): void {
    own.#used = 1;
    const numberStart = slot * this.numberStride;
    const numberEnd = numberStart + this.numberStride;
    own.numbers.set(this.numbers.subarray(numberStart, numberEnd));
    this.numbers.fill(0, numberStart, numberEnd);
    const countStart = slot * this.countStride;
    const countEnd = countStart + this.countStride;
    if (!(this.counts instanceof Uint32Array)) own.counts = new Float64Array(this.countStride);
    own.counts.set(this.counts.subarray(countStart, countEnd));
    this.counts.fill(0, countStart, countEnd);
    const extra = this.extras?.[slot];
    if (extra !== undefined) {
      own.extras = [extra];
      this.extras![slot] = undefined;
    }
    this.#freeSlots.push(slot);
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
