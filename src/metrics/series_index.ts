/**
 * The index of one metric's series: adding, finding (label values → slot), removing and
 * compacting them. The label sets themselves (dictionaries, value ids) and how readers read
 * them are in `label_sets.ts`.
 *
 * Memory per series is what decides how many series a process can afford, so a series costs no
 * object here. Each label position has a dictionary of the distinct values seen there, giving
 * each value a small id (there are usually far fewer values than series: ten methods, a hundred
 * routes). A series is then its ids, a few 4-byte integers in one packed array, found through
 * an open-addressing hash table of 4-byte entries keyed by those ids. V8 hashes each value
 * string once and keeps the hash in the string, so a lookup costs one `Map.get` per label and
 * a probe or two among integers, and builds no key string. A metric with one or two labels
 * whose series fill most of the grid of their ids (methods × routes, say) is found instead in
 * that grid, one 4-byte cell per pair of ids, kept only while it is no larger than the hash
 * table would be: one read, no hash, no probe, no comparison.
 *
 * A series keeps its slot, which is also its place in creation order (the order of exposition),
 * until it is removed. Removed slots are not reused, so that a child still held by a caller
 * never lands in another series; once they make up half of the slots, `compact()` moves the
 * live series down and reports where each slot went.
 *
 * @module
 */

import type { Labels } from "../model.ts";
import {
  appendValue,
  emptyDictionary,
  internValue,
  LabelColumns,
  LabelSets,
  LabelShape,
  type OverflowSeries,
  type SeriesIds,
  type ValueDictionary,
} from "./label_sets.ts";

/** The largest id two bytes hold. */
const MAX_UINT16_ID = 0xffff;

/** Table entries per live series at most; beyond it the table doubles. */
const MAX_LOAD = 0.7;
/** Removed slots tolerated before `needsCompaction` may say yes. */
const MIN_REMOVED_FOR_COMPACTION = 16;
/** The lookup not in use (the grid or the hash table). */
const EMPTY = new Int32Array(0);
/** The dictionary of a label position the metric does not have. */
const NO_IDS: ReadonlyMap<unknown, number> = new Map();

/** Where compaction moved each old slot (`-1` when removed), and the removed series' labels. */
export interface Compaction {
  /** `forwarding[oldSlot]` is the new slot, or `-1` for a removed series. */
  readonly forwarding: Int32Array;
  /** The number of slots after compaction (the live series). */
  readonly slotCount: number;
  /** The labels a removed series had (by old slot), for children still held by callers. */
  readonly labelsOfRemoved: (oldSlot: number) => Labels;
  /**
   * The creation number of the series at each old slot (see `seqOf`), by which a handle of the
   * old slots finds its series again (the old storage keeps it, see `SeriesStore.compact`).
   */
  readonly oldSeqs: Uint32Array;
}

/** The label sets of one metric's series: see the module documentation. */
export class SeriesIndex {
  /** The label names, in declared order. */
  readonly labelNames: readonly string[];
  /** Labels per series. */
  readonly width: number;
  /**
   * The ids of the label set being looked up, filled by the caller (with `idOf`) before
   * `find()`: a lookup then allocates nothing.
   */
  readonly lookupIds: Int32Array;
  #dictionaries: ValueDictionary[];
  /** `#dictionaries[position].idByValue`, one load nearer for lookups. */
  #idMaps: readonly Map<string, number>[] = [];
  /** `#idMaps[0]` and `#idMaps[1]` (empty when the metric has fewer labels), nearer still. */
  #ids0: ReadonlyMap<unknown, number> = NO_IDS;
  #ids1: ReadonlyMap<unknown, number> = NO_IDS;
  /**
   * `width` value ids per slot: two bytes each while every label has at most 65,536 distinct
   * values (the usual case), four once one has more.
   */
  #seriesIds: SeriesIds;
  /**
   * Per slot, the series' creation number (modulo 2³²): a series' identity, which a handle
   * keeps so that it finds its series again after compaction moved it, without the metric
   * keeping any history of old slots.
   */
  #seqs: Uint32Array;
  /** The creation number of the next series. */
  #nextSeq = 0;
  #slotCount = 0;
  #removed = new Set<number>();
  /**
   * Slot + 1 of a live series, or 0 for an empty entry; linear probing. Empty (length 0) while
   * the grid finds the series.
   */
  #table: Int32Array;
  /**
   * With one or two labels and series dense enough (see `#chooseLookup`): slot + 1 of the live
   * series at cell `(id0 << #gridShift) | id1` (`id1` 0 with one label), or 0; a grid of
   * `#gridRows` rows of `2 ** #gridShift` cells, as many as the ids of each position need
   * (rounded up to powers of two). Otherwise empty (length 0), and `#table` finds the series.
   */
  #grid = EMPTY;
  #gridShift = 0;
  #gridRows = 0;
  readonly #shape: LabelShape;
  /** Reads the label sets of the current arrays; replaced with them. */
  #columns: LabelColumns;

  /**
   * `constLabels` are added to every series' labels and text (names already validated, not
   * among `labelNames`).
   */
  constructor(labelNames: readonly string[], constLabels: Labels = {}) {
    this.labelNames = labelNames;
    const width = labelNames.length;
    this.width = width;
    this.lookupIds = new Int32Array(width);
    this.#dictionaries = Array.from({ length: width }, emptyDictionary);
    this.#useIdMaps(this.#dictionaries);
    this.#seriesIds = new Uint16Array(width * (width === 0 ? 1 : 8));
    this.#seqs = new Uint32Array(width === 0 ? 1 : 8);
    this.#table = width === 0 || width > 2 ? new Int32Array(width === 0 ? 2 : 16) : EMPTY;
    if (width === 1 || width === 2) this.#useGrid(1, 1);
    this.#shape = new LabelShape(labelNames, constLabels);
    this.#columns = new LabelColumns(this.#shape, this.#dictionaries, this.#seriesIds);
  }

  #useIdMaps(dictionaries: readonly ValueDictionary[]): void {
    const idMaps = dictionaries.map((dictionary) => dictionary.idByValue);
    this.#idMaps = idMaps;
    this.#ids0 = idMaps[0] ?? NO_IDS;
    this.#ids1 = idMaps[1] ?? NO_IDS;
  }

  /**
   * The slot of the live series of a one-label metric with the value `given` as `labels(...)`
   * got it, or -1. Finds only a string (a dictionary's keys are strings, so anything else
   * misses): turning numbers and booleans into strings is the caller's slower path, so that
   * this one is a few loads and no call.
   */
  slotOfOne(given: unknown): number {
    const id0 = this.#ids0.get(given) ?? -1;
    return id0 < 0 ? -1 : this.findOne(id0);
  }

  /** `slotOfOne` for a two-label metric, given both values. */
  slotOfTwo(given0: unknown, given1: unknown): number {
    const id0 = this.#ids0.get(given0) ?? -1;
    const id1 = this.#ids1.get(given1) ?? -1;
    const grid = this.#grid;
    // `findTwo` written out (one call less to inline into `labels(...)`).
    return (id0 | id1) < 0
      ? -1
      : grid.length > 0
      ? grid[(id0 << this.#gridShift) | id1] - 1
      : this.#findTwoHashed(id0, id1);
  }

  /** The id of `value` at label `position`, or -1 when no series has it there. */
  idOf(position: number, value: string): number {
    return this.#idMaps[position].get(value) ?? -1;
  }

  /**
   * Per label position, the ids of the values seen there (what `idOf` reads), for the lookup
   * loop of `labels(...)` to read without a call. Replaced when the index compacts.
   */
  get idMaps(): readonly ReadonlyMap<string, number>[] {
    return this.#idMaps;
  }

  /**
   * Whether the series are found through the grid of their ids rather than the hash table
   * (for tests and benchmarks: the answers are the same either way).
   */
  get usesGrid(): boolean {
    return this.#grid.length > 0;
  }

  /** The slot of the live series whose ids are in `lookupIds`, or -1. */
  find(): number {
    const lookupIds = this.lookupIds;
    switch (this.width) {
      case 1:
        return this.findOne(lookupIds[0]);
      case 2:
        return this.findTwo(lookupIds[0], lookupIds[1]);
      default:
        return this.findHashed(hashIds(lookupIds, 0, this.width));
    }
  }

  /**
   * `find()` for a caller that hashed the ids as it wrote them into `lookupIds`, with
   * `nextHash` from the first to the last id (three labels or more: one or two go to
   * `findOne` or `findTwo`).
   */
  findHashed(hash: number): number {
    const lookupIds = this.lookupIds;
    const seriesIds = this.#seriesIds;
    const width = this.width;
    const table = this.#table;
    const mask = table.length - 1;
    let entry = entryOf(hash, mask);
    for (;;) {
      const slotPlusOne = table[entry];
      if (slotPlusOne === 0) return -1;
      const start = (slotPlusOne - 1) * width;
      // Compared without a branch per id, which measured faster than a loop that stops at the
      // first difference (whose exit the CPU mispredicts).
      let difference = 0;
      for (let k = 0; k < width; k++) difference |= seriesIds[start + k] ^ lookupIds[k];
      if (difference === 0) return slotPlusOne - 1;
      entry = (entry + 1) & mask;
    }
  }

  /** `find()` for a one-label metric given its id: nothing written to `lookupIds`. */
  findOne(id0: number): number {
    const grid = this.#grid;
    return grid.length > 0 ? grid[id0] - 1 : this.#findOneHashed(id0);
  }

  #findOneHashed(id0: number): number {
    const seriesIds = this.#seriesIds;
    const table = this.#table;
    const mask = table.length - 1;
    let entry = entryOf(nextHash(0, id0), mask);
    for (;;) {
      const slotPlusOne = table[entry];
      if (slotPlusOne === 0 || seriesIds[slotPlusOne - 1] === id0) return slotPlusOne - 1;
      entry = (entry + 1) & mask;
    }
  }

  /** `find()` for a two-label metric given its ids: nothing written to `lookupIds`. */
  findTwo(id0: number, id1: number): number {
    const grid = this.#grid;
    return grid.length > 0
      ? grid[(id0 << this.#gridShift) | id1] - 1
      : this.#findTwoHashed(id0, id1);
  }

  #findTwoHashed(id0: number, id1: number): number {
    const seriesIds = this.#seriesIds;
    const table = this.#table;
    const mask = table.length - 1;
    let entry = entryOf(nextHash(nextHash(0, id0), id1), mask);
    for (;;) {
      const slotPlusOne = table[entry];
      if (slotPlusOne === 0) return -1;
      const start = (slotPlusOne - 1) * 2;
      if (((seriesIds[start] ^ id0) | (seriesIds[start + 1] ^ id1)) === 0) return slotPlusOne - 1;
      entry = (entry + 1) & mask;
    }
  }

  /** The slot of the live series with these label values (in declared order), or -1. */
  findValues(labelValues: readonly string[]): number {
    for (let position = 0; position < this.width; position++) {
      const id = this.idOf(position, labelValues[position]);
      if (id < 0) return -1;
      this.lookupIds[position] = id;
    }
    return this.find();
  }

  /**
   * Adds a series that is not there yet; returns its slot. `lookedUp`, when given, holds per
   * position the id of the value as the caller looked it up just before, or -1 for a value no
   * series has there (one lookup fewer).
   */
  add(labelValues: readonly string[], lookedUp?: Int32Array): number {
    const width = this.width;
    const slot = this.#slotCount;
    if (slot >= this.#seqs.length) {
      // Grow by a quarter: the unused tail stays small with many series, where it matters.
      const capacity = slot + Math.max(8, slot >> 2);
      const grown = this.#seriesIds instanceof Uint16Array
        ? new Uint16Array(width * capacity)
        : new Int32Array(width * capacity);
      grown.set(this.#seriesIds);
      this.#seriesIds = grown;
      this.#columns = new LabelColumns(this.#shape, this.#dictionaries, grown);
      const seqs = new Uint32Array(capacity);
      seqs.set(this.#seqs);
      this.#seqs = seqs;
    }
    this.#seqs[slot] = this.#nextSeq;
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    for (let position = 0; position < width; position++) {
      const dictionary = this.#dictionaries[position];
      const id = lookedUp === undefined
        ? internValue(dictionary, labelValues[position])
        : lookedUp[position] >= 0
        ? lookedUp[position]
        : appendValue(dictionary, labelValues[position]);
      if (id > MAX_UINT16_ID && this.#seriesIds instanceof Uint16Array) {
        this.#seriesIds = new Int32Array(this.#seriesIds);
        this.#columns = new LabelColumns(this.#shape, this.#dictionaries, this.#seriesIds);
      }
      this.#seriesIds[slot * width + position] = id;
    }
    this.#slotCount = slot + 1;
    const liveCount = this.#slotCount - this.#removed.size;
    const grid = this.#grid;
    if (
      grid.length > 0
        ? this.#dictionaries[0].values.length > this.#gridRows ||
          (width === 2 && this.#dictionaries[1].values.length > 1 << this.#gridShift)
        : liveCount > this.#table.length * MAX_LOAD
    ) {
      this.#chooseLookup(liveCount);
    } else {
      this.#insert(slot);
    }
    return slot;
  }

  /**
   * Builds the lookup anew for the live series, after it filled up: the grid when the metric
   * has one or two labels and the grid their ids need is no larger than the hash table for
   * `liveCount` series (so it never costs more memory), else the hash table.
   */
  #chooseLookup(liveCount: number): void {
    let tableSize = 16;
    while (liveCount > tableSize * MAX_LOAD) tableSize *= 2;
    const width = this.width;
    if (width === 1 || width === 2) {
      const rows = powerOfTwoAtLeast(this.#dictionaries[0].values.length);
      const columns = width === 2 ? powerOfTwoAtLeast(this.#dictionaries[1].values.length) : 1;
      if (rows * columns <= tableSize) {
        this.#table = EMPTY;
        this.#useGrid(rows, columns);
        return;
      }
    }
    this.#grid = EMPTY;
    this.#table = new Int32Array(tableSize);
    this.#insertLive();
  }

  /** Switches to a grid of `rows` × `columns` cells (powers of two) holding the live series. */
  #useGrid(rows: number, columns: number): void {
    this.#grid = new Int32Array(rows * columns);
    this.#gridRows = rows;
    this.#gridShift = Math.log2(columns);
    this.#insertLive();
  }

  #insertLive(): void {
    const removed = this.#removed;
    for (let slot = 0; slot < this.#slotCount; slot++) {
      if (!removed.has(slot)) this.#insert(slot);
    }
  }

  /** The grid cell of the series at `slot`. */
  #cellOf(slot: number): number {
    const seriesIds = this.#seriesIds;
    return this.width === 1
      ? seriesIds[slot]
      : (seriesIds[slot * 2] << this.#gridShift) | seriesIds[slot * 2 + 1];
  }

  #insert(slot: number): void {
    if (this.#grid.length > 0) {
      this.#grid[this.#cellOf(slot)] = slot + 1;
      return;
    }
    const table = this.#table;
    const mask = table.length - 1;
    let entry = entryOf(hashIds(this.#seriesIds, slot * this.width, this.width), mask);
    while (table[entry] !== 0) entry = (entry + 1) & mask;
    table[entry] = slot + 1;
  }

  /**
   * Removes the live series at `slot` from the lookup (a slot already removed is left alone);
   * its ids stay until compaction.
   */
  remove(slot: number): void {
    const grid = this.#grid;
    if (grid.length > 0) {
      const cell = this.#cellOf(slot);
      // Not a live series (removed before, its cell maybe reused): nothing to remove.
      if (grid[cell] !== slot + 1) return;
      grid[cell] = 0;
      this.#removed.add(slot);
      return;
    }
    const table = this.#table;
    const mask = table.length - 1;
    const width = this.width;
    let hole = entryOf(hashIds(this.#seriesIds, slot * width, width), mask);
    while (table[hole] !== slot + 1) {
      if (table[hole] === 0) return; // not a live series: nothing to remove
      hole = (hole + 1) & mask;
    }
    // Backward-shift deletion: move later entries of the probe run into the hole when their
    // probe start is not between the hole and them, so that no lookup stops early.
    let next = hole;
    for (;;) {
      next = (next + 1) & mask;
      const slotPlusOne = table[next];
      if (slotPlusOne === 0) break;
      const probeStart = entryOf(hashIds(this.#seriesIds, (slotPlusOne - 1) * width, width), mask);
      const startsBeforeHole = next > hole
        ? probeStart <= hole || probeStart > next
        : probeStart <= hole && probeStart > next;
      if (startsBeforeHole) {
        table[hole] = slotPlusOne;
        hole = next;
      }
    }
    table[hole] = 0;
    this.#removed.add(slot);
  }

  /** Removes every live series. */
  removeAll(): void {
    this.#table.fill(0);
    this.#grid.fill(0);
    for (let slot = 0; slot < this.#slotCount; slot++) this.#removed.add(slot);
  }

  /** Whether the series at `slot` was removed (it stays in its slot until compaction). */
  isRemoved(slot: number): boolean {
    return this.#removed.has(slot);
  }

  /** The creation number of the series at `slot`: its identity across compactions. */
  seqOf(slot: number): number {
    return this.#seqs[slot];
  }

  /**
   * The slot of the live series created as number `seq`, or -1 when it was removed. Slots
   * keep creation order, so creation numbers rise with slots: a binary search, counted from
   * the oldest slot's number so that the numbers may wrap past 2³² − 1 (a series would have
   * to outlive four billion later ones to be mistaken).
   */
  slotOfSeq(seq: number): number {
    const seqs = this.#seqs;
    const base = seqs[0];
    const wanted = (seq - base) >>> 0;
    let low = 0;
    let high = this.#slotCount - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const found = (seqs[middle] - base) >>> 0;
      if (found === wanted) return this.#removed.has(middle) ? -1 : middle;
      if (found < wanted) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  /** Whether removed slots are now half of all: time to `compact()`. */
  needsCompaction(): boolean {
    const removed = this.#removed.size;
    return removed >= MIN_REMOVED_FOR_COMPACTION && removed * 2 > this.#slotCount;
  }

  /**
   * Drops the removed slots, moving live series down in the same order, and forgets the values
   * no live series uses any more. Builds new arrays rather than changing the old ones, which
   * `labelsOfRemoved` goes on reading.
   */
  compact(): Compaction {
    const oldSlotCount = this.#slotCount;
    const oldIds = this.#seriesIds;
    const oldDictionaries = this.#dictionaries;
    const oldColumns = this.#columns;
    const removed = this.#removed;
    const width = this.width;
    const forwarding = new Int32Array(oldSlotCount);
    const liveCount = oldSlotCount - removed.size;
    const oldSeqs = this.#seqs;
    const dictionaries = Array.from({ length: width }, emptyDictionary);
    // No label has more distinct values after compaction than live series or than before.
    const seriesIds = oldIds instanceof Uint16Array || liveCount <= MAX_UINT16_ID + 1
      ? new Uint16Array(width * Math.max(liveCount, 8))
      : new Int32Array(width * Math.max(liveCount, 8));
    const seqs = new Uint32Array(Math.max(liveCount, 8));
    let slot = 0;
    for (let oldSlot = 0; oldSlot < oldSlotCount; oldSlot++) {
      if (removed.has(oldSlot)) {
        forwarding[oldSlot] = -1;
        continue;
      }
      forwarding[oldSlot] = slot;
      seqs[slot] = oldSeqs[oldSlot];
      for (let position = 0; position < width; position++) {
        const value = oldDictionaries[position].values[oldIds[oldSlot * width + position]];
        seriesIds[slot * width + position] = internValue(dictionaries[position], value);
      }
      slot++;
    }
    this.#dictionaries = dictionaries;
    this.#useIdMaps(dictionaries);
    this.#seriesIds = seriesIds;
    this.#seqs = seqs;
    this.#columns = new LabelColumns(this.#shape, dictionaries, seriesIds);
    this.#slotCount = liveCount;
    this.#removed = new Set();
    this.#chooseLookup(liveCount);
    return {
      forwarding,
      slotCount: liveCount,
      labelsOfRemoved: (oldSlot) => oldColumns.labelsOf(oldSlot),
      oldSeqs,
    };
  }

  /** The live slots in creation order. */
  liveSlots(): number[] {
    const slots: number[] = [];
    const slotCount = this.#slotCount;
    if (this.#removed.size === 0) {
      for (let slot = 0; slot < slotCount; slot++) slots.push(slot);
    } else {
      for (let slot = 0; slot < slotCount; slot++) {
        if (!this.#removed.has(slot)) slots.push(slot);
      }
    }
    return slots;
  }

  /**
   * A new labels object for `slot` (see `LabelColumns.labelsOf`): made at each call, so that a
   * series keeps no labels object of its own.
   */
  labelsOf(slot: number): Labels {
    return this.#columns.labelsOf(slot);
  }

  /**
   * The label sets as they are now, for readers that read them over several turns of the event
   * loop: the arrays of this moment (the index only appends to them or builds new ones), the
   * slot count, and the removed slots (copied only when there are any).
   */
  labelSets(overflow?: OverflowSeries): LabelSets {
    const removed = this.#removed.size === 0 ? undefined : new Set(this.#removed);
    return new LabelSets(this.#columns, this.#slotCount, removed, overflow);
  }
}

/**
 * Multiplicative hashing of the ids (by 2³² / φ), folding the high bits, where the products
 * mix best, into the low bits that pick the table entry. Kept short: it is on the path of
 * every `labels(...)` call.
 */
function hashIds(ids: SeriesIds | Int32Array, start: number, width: number): number {
  let hash = 0;
  for (let k = 0; k < width; k++) hash = nextHash(hash, ids[start + k]);
  return hash;
}

/** The smallest power of two at least `count` (and at least 1). */
function powerOfTwoAtLeast(count: number): number {
  let power = 1;
  while (power < count) power *= 2;
  return power;
}

/** The hash of a label set's ids so far, given the next id (see `hashIds`). */
export function nextHash(hash: number, id: number): number {
  return Math.imul(hash ^ id, 0x9e3779b1);
}

/** The table entry where a hash's probe starts: its high bits, which mix best, folded in. */
function entryOf(hash: number, mask: number): number {
  return (hash ^ (hash >>> 16)) & mask;
}
