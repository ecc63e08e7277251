/**
 * The series of one metric, shared by every metric type through composition: the label index
 * (label values → slot, see `series_index.ts`), the type's packed store (numbers, counts and
 * sparse side arrays by slot, see `series_store.ts`), and the children `labels(...)` handed
 * out last.
 *
 * @module
 */

import type { Labels } from "../model.ts";
import type { LabelValue, LabelValues, MetricDescription } from "./base.ts";
import type { MetricSeries } from "./handle.ts";
import { nextHash, SeriesIndex } from "./series_index.ts";
import { SeriesStore, type StoreLayout } from "./series_store.ts";
import type { SeriesRead } from "./storage_read.ts";
import { wellFormed } from "../validation.ts";
import { SeriesCap } from "./series_caps.ts";
import { type ActivityOf, SeriesExpiry } from "./series_expiry.ts";
import { OVERFLOW_LABEL_NAME } from "../validation.ts";

/** How many recently used children a table keeps (a power of two). */
const RECENT_CHILDREN = 256;
/** The recent slots of a table before its first child: none (never written). */
const NO_RECENT_SLOTS = new Int32Array(RECENT_CHILDREN).fill(-1);

/** What a metric type tells its table. */
export interface SeriesType<Child> extends StoreLayout {
  /** Sets up the state of a new series at `slot` of `store` (creation time, initial values). */
  initSeries(store: SeriesStore, slot: number): void;
  /** The child `labels(...)` returns for the series at `slot` (see `handle.ts`). */
  newChild(series: MetricSeries, slot: number): Child;
  /**
   * Series lifecycle: a number of a series that changes with every update, for idle expiry
   * (see `series_expiry.ts`); a type without one never expires its series.
   */
  readonly activityOf?: ActivityOf;
}

/**
 * A metric's series: see the module documentation. `labels(...)`, `remove(...)`, `clear()`
 * and the child-free calls (`incWith`, `observeWith`) of every metric type come here.
 */
export class SeriesTable<Child> implements MetricSeries {
  /** The metric's name, for error messages. */
  readonly name: string;
  /** The label names, in declared order. */
  readonly labelNames: readonly string[];
  /** Labels per series. */
  readonly width: number;
  /** The label index. */
  readonly index: SeriesIndex;
  /** The store of the live series (replaced when the table compacts). */
  store: SeriesStore;
  readonly #type: SeriesType<Child>;
  /** The slot of each recent child (`NO_RECENT_SLOTS` until the first child is made). */
  #recentSlots: Int32Array = NO_RECENT_SLOTS;
  #recentChildren: (Child | undefined)[] = [];
  #unlabelled: Child | undefined;
  // The first three label names, each read by its own line of `slotOfObject`.
  readonly #name0: string;
  readonly #name1: string;
  readonly #name2: string;
  // Series lifecycle: the cap and its overflow series (series_caps.ts), idle expiry
  // (series_expiry.ts, when the metric has it).
  readonly #cap: SeriesCap;
  readonly #expiry: SeriesExpiry | undefined;
  /** The label values of a series being made, in declared order (reused: `#add` copies them). */
  readonly #newValues: string[];

  /** A table for a described metric; an unlabelled one starts with its one series. */
  constructor(description: MetricDescription, type: SeriesType<Child>) {
    this.name = description.name;
    this.labelNames = description.labelNames;
    this.width = description.labelNames.length;
    this.#type = type;
    this.#newValues = new Array(this.width).fill("");
    [this.#name0, this.#name1, this.#name2] = [...this.labelNames, "", "", ""];
    this.index = new SeriesIndex(description.labelNames, description.constLabels);
    this.#cap = new SeriesCap(description.name, description.limits, description.constLabels);
    this.store = new SeriesStore(
      description.name,
      type,
      this.width === 0 ? 1 : 8,
      (slot) => this.#labelsOf(slot),
    );
    const expireAfterMs = description.limits.expireAfterMs;
    this.#expiry = this.width > 0 && expireAfterMs < Infinity && type.activityOf !== undefined
      ? new SeriesExpiry(this, expireAfterMs, type.activityOf)
      : undefined;
    if (this.width === 0) this.#unlabelled = this.childAt(this.#add([]));
  }

  /** The child of an unlabelled metric; a clear error when the metric has labels. */
  get unlabelled(): Child {
    const child = this.#unlabelled;
    if (child === undefined) {
      throw new TypeError(
        `metric "${this.name}" has labels (${this.labelNames.join(", ")}): call labels(...) first`,
      );
    }
    return child;
  }

  /** Whether the metric has no labels. */
  get isUnlabelled(): boolean {
    return this.#unlabelled !== undefined;
  }

  /**
   * `labels(...)` given `count` arguments, the first four of them here (the metric types take
   * them as parameters and their count from `arguments.length`, which makes no `arguments`
   * object: a rest parameter would be a new array per call). More than four go to
   * `childOfValues`.
   */
  childOf(count: number, a0: unknown, a1: unknown, a2: unknown, a3: unknown): Child {
    // V8 inlines this into the caller's `labels(...)` within a budget of bytecode, counting
    // both forms (it cannot tell which one a caller uses when it inlines): so two labels, the
    // usual case, take one short way for both, and everything past the hit is one call.
    const isObject = count === 1 && typeof a0 === "object" && a0 !== null;
    let slot = -1;
    if (this.width === 2) {
      if (isObject || count === 2) {
        slot = this.index.slotOfTwo(
          isObject ? (a0 as LabelValues)[this.#name0] : a0,
          isObject ? (a0 as LabelValues)[this.#name1] : a1,
        );
      }
      if (isObject && slot >= 0 && !hasKeys(a0 as LabelValues, 2)) slot = -1;
    } else {
      slot = isObject
        ? this.slotOfObject(a0 as LabelValues)
        : count === this.width
        ? this.#slotOfPositional(a0, a1, a2, a3)
        : -1;
    }
    const entry = slot & (RECENT_CHILDREN - 1);
    return slot >= 0 && this.#recentSlots[entry] === slot
      ? this.#recentChildren[entry]!
      : this.#childOfMiss(slot, count, a0, a1, a2, a3);
  }

  /** `childOf` past the recent children: the child `#slowSlot` remembered. */
  #childOfMiss(
    slot: number,
    count: number,
    a0: unknown,
    a1: unknown,
    a2: unknown,
    a3: unknown,
  ): Child {
    // The call first: it may replace `#recentChildren` (the first child, after compaction).
    const entry = this.#slowSlot(slot, count, a0, a1, a2, a3, true) & (RECENT_CHILDREN - 1);
    return this.#recentChildren[entry]!;
  }

  /**
   * Everything past the quick lookups of `childOf` and `slotForObject`, their one call out
   * (V8 then keeps the hit path free of branches that merge back into it): values turned into
   * strings (the quick lookups find strings only), wrong labels reported, a new series made,
   * and, `withChild`, a new child of the series remembered among the recent ones. `slot` is
   * the quick lookup's, -1 for none; the answer is the slot found or made.
   *
   * One function on purpose, the remembering written out: it is more bytecode than V8 inlines
   * (681 bytes in V8 15, whose limit is 460), so it stays a call wherever the quick lookup is
   * compiled. Splitting it up again (or shrinking it below the limit) undoes that. V8 compiles
   * `childOf` on its own early, while every call makes a series; with this inlined there, that
   * code counted so much against the inlining budget of a caller's loop that the loop compiled
   * later called `childOf` instead of inlining it, and `labels({...}).inc()` got slower
   * (`bench/labels_bench.ts` shows it).
   */
  #slowSlot(
    slot: number,
    count: number,
    a0: unknown,
    a1: unknown,
    a2: unknown,
    a3: unknown,
    withChild: boolean,
  ): number {
    const width = this.width;
    const given = count === 1 && typeof a0 === "object" && a0 !== null
      ? a0 as LabelValues
      : undefined;
    if (slot < 0 && width > 0 && (given !== undefined || count === width)) {
      // One pass turns the values into strings and looks up their ids; a value no series has
      // yet means a new series, made from those strings without a second lookup.
      const index = this.index;
      const idMaps = index.idMaps;
      const labelNames = this.labelNames;
      const values = this.#newValues;
      let known = true;
      let replaced = false;
      let position = 0;
      for (; position < width; position++) {
        const name = labelNames[position];
        if (given !== undefined && !Object.hasOwn(given, name)) break;
        const value = toLabelValue(
          given !== undefined
            ? given[name]
            : position === 0
            ? a0
            : position === 1
            ? a1
            : position === 2
            ? a2
            : a3,
        );
        if (value === undefined) break;
        const id = idMaps[position].get(value);
        if (id === undefined) {
          known = false;
          index.lookupIds[position] = -1;
          const formed = wellFormed(value);
          replaced ||= formed !== value;
          values[position] = formed;
        } else {
          index.lookupIds[position] = id;
          values[position] = value;
        }
      }
      if (position === width && (given === undefined || hasKeys(given, width))) {
        // A value with a lone surrogate is missing as given, and may be there once replaced.
        slot = known ? index.find() : replaced ? index.findValues(values) : -1;
        if (slot < 0) slot = this.#add(values, replaced ? undefined : index.lookupIds);
      }
    }
    if (slot < 0) {
      // Wrong labels (reported there), no labels, or more than four values.
      const values = [a0, a1, a2, a3].slice(0, count) as LabelValue[];
      slot = this.slotFor(values[0], values.slice(1));
    }
    const entry = slot & (RECENT_CHILDREN - 1);
    if (withChild && this.#recentSlots[entry] !== slot) {
      const child = this.#type.newChild(this, slot);
      let recentSlots = this.#recentSlots;
      if (recentSlots === NO_RECENT_SLOTS) {
        recentSlots = this.#recentSlots = new Int32Array(RECENT_CHILDREN).fill(-1);
        this.#recentChildren = new Array(RECENT_CHILDREN).fill(undefined);
      }
      recentSlots[entry] = slot;
      this.#recentChildren[entry] = child;
    }
    return slot;
  }

  /** `labels(...)` given more than four values. */
  childOfValues(values: readonly unknown[]): Child {
    return this.childAt(
      this.slotFor(values[0] as LabelValues | LabelValue, values.slice(1) as LabelValue[]),
    );
  }

  /**
   * The slot of the live series with the labels of `given`, or -1 (also for wrong labels,
   * which `slotFor` then reports). Reads each label by name, one property read per label
   * written out (no loop over names), so that each read sees one name; then, for a series
   * found, checks that `given` has no other key. One small function per width, so that V8
   * inlines only the one a metric uses into `labels(...)`.
   */
  slotOfObject(given: LabelValues): number {
    switch (this.width) {
      case 1:
        return this.#slotOfObject1(given);
      case 2:
        return this.#slotOfObject2(given);
      case 3:
        return this.#slotOfObject3(given);
      default:
        return this.#slotOfObjectByLoop(given);
    }
  }

  #slotOfObject1(given: LabelValues): number {
    const slot = this.index.slotOfOne(given[this.#name0]);
    return slot >= 0 && hasKeys(given, 1) ? slot : -1;
  }

  #slotOfObject2(given: LabelValues): number {
    const slot = this.index.slotOfTwo(given[this.#name0], given[this.#name1]);
    return slot >= 0 && hasKeys(given, 2) ? slot : -1;
  }

  #slotOfObject3(given: LabelValues): number {
    const idMaps = this.index.idMaps as ReadonlyMap<unknown, number>[];
    const id0 = idMaps[0].get(given[this.#name0]) ?? -1;
    const id1 = idMaps[1].get(given[this.#name1]) ?? -1;
    const id2 = idMaps[2].get(given[this.#name2]) ?? -1;
    if ((id0 | id1 | id2) < 0 || !hasKeys(given, 3)) return -1;
    return this.#findWide(id0, id1, id2, 0);
  }

  #slotOfObjectByLoop(given: LabelValues): number {
    const index = this.index;
    const labelNames = this.labelNames;
    const idMaps = index.idMaps as ReadonlyMap<unknown, number>[];
    let hash = 0;
    for (let position = 0; position < labelNames.length; position++) {
      const id = idMaps[position].get(given[labelNames[position]]) ?? -1;
      if (id < 0) return -1;
      index.lookupIds[position] = id;
      hash = nextHash(hash, id);
    }
    if (labelNames.length === 0 || !hasKeys(given, labelNames.length)) return -1;
    return index.findHashed(hash);
  }

  /** The slot of the series for `given` (the arguments of `labels`), creating it if needed. */
  slotFor(first: LabelValues | LabelValue, rest: readonly LabelValue[]): number {
    const labelValues = this.#labelValuesOf(first, rest);
    const slot = this.index.findValues(labelValues);
    return slot >= 0 ? slot : this.#add(labelValues);
  }

  /** The slot for a labels object, found or created: the child-free calls' lookup. */
  slotForObject(given: LabelValues): number {
    const slot = typeof given === "object" && given !== null ? this.slotOfObject(given) : -1;
    return slot >= 0
      ? slot
      : this.#slowSlot(slot, 1, given, undefined, undefined, undefined, false);
  }

  /** The slot of the live series with these values (`width` of them, at most four), or -1. */
  #slotOfPositional(a0: unknown, a1: unknown, a2: unknown, a3: unknown): number {
    switch (this.width) {
      case 1:
        return this.index.slotOfOne(a0);
      case 2:
        return this.index.slotOfTwo(a0, a1);
      default:
        return this.#slotOfPositionalWide(a0, a1, a2, a3);
    }
  }

  /** `#slotOfPositional` of three or four values (-1 for none: `labels()` of no labels). */
  #slotOfPositionalWide(a0: unknown, a1: unknown, a2: unknown, a3: unknown): number {
    const width = this.width;
    if (width < 3) return -1;
    const idMaps = this.index.idMaps as ReadonlyMap<unknown, number>[];
    const id0 = idMaps[0].get(a0) ?? -1;
    const id1 = idMaps[1].get(a1) ?? -1;
    const id2 = idMaps[2].get(a2) ?? -1;
    const id3 = width > 3 ? idMaps[3].get(a3) ?? -1 : 0;
    return (id0 | id1 | id2 | id3) < 0 ? -1 : this.#findWide(id0, id1, id2, id3);
  }

  /** The slot of the series with these ids (`id3` only read with four labels), or -1. */
  #findWide(id0: number, id1: number, id2: number, id3: number): number {
    const index = this.index;
    const lookupIds = index.lookupIds;
    lookupIds[0] = id0;
    lookupIds[1] = id1;
    lookupIds[2] = id2;
    let hash = nextHash(nextHash(nextHash(0, id0), id1), id2);
    if (this.width > 3) {
      lookupIds[3] = id3;
      hash = nextHash(hash, id3);
    }
    return index.findHashed(hash);
  }

  /** The child of the series at `slot`, from the recent ones when it is among them. */
  childAt(slot: number): Child {
    return this.#childOfMiss(slot, 0, undefined, undefined, undefined, undefined);
  }

  /** Adds a series (`lookedUp`: see `SeriesIndex.add`); past the cap, the overflow series. */
  #add(labelValues: readonly string[], lookedUp?: Int32Array): number {
    // Series lifecycle: past the cap, a new label set is recorded into the overflow series.
    if (this.#cap.isFull) return this.#overflowSlot();
    const slot = this.index.add(labelValues, lookedUp);
    this.store.ensureSlot(slot);
    this.#type.initSeries(this.store, slot);
    this.#cap.added();
    this.#expiry?.added(slot);
    return slot;
  }

  /** The slot of the overflow series (see `series_caps.ts`), made on first use. */
  #overflowSlot(): number {
    const cap = this.#cap;
    if (cap.overflowSlot < 0) {
      cap.reportOverflow();
      const slot = this.index.add(cap.slotValues(this.width));
      cap.hideSlotValues(this.index);
      this.store.ensureSlot(slot);
      this.#type.initSeries(this.store, slot);
      cap.overflowSlot = slot;
    }
    return cap.overflowSlot;
  }

  /** The live slots a sweep looks at: all but the overflow series', which never expires. */
  expirableSlots(): number[] {
    const overflowSlot = this.#cap.overflowSlot;
    const slots = this.index.liveSlots();
    return overflowSlot < 0 ? slots : slots.filter((slot) => slot !== overflowSlot);
  }

  /**
   * Removes the expired series at `slots` and compacts at once, so that every handle of them
   * sees its store replaced on its next use and brings its series back (see `revive`).
   */
  expireSlots(slots: readonly number[]): void {
    for (const slot of slots) this.index.remove(slot);
    this.#cap.removed(slots.length);
    this.#compact();
  }

  /**
   * Series lifecycle: the slot, in the current store, of the series a handle of `slot` of the
   * replaced `oldStore` counts into now that its series is gone: the same labels' series,
   * found or made again (from zero, with a new creation time), when it expired; -1 when it was
   * removed by `remove()`/`clear()` (the handle then detaches) or the metric does not expire.
   */
  revive(oldStore: SeriesStore, slot: number): number {
    if (this.#expiry === undefined || !this.#expiry.revives(oldStore, slot)) return -1;
    const labels = oldStore.labelsOf(slot);
    if (Object.hasOwn(labels, OVERFLOW_LABEL_NAME)) return this.#overflowSlot();
    const values = this.labelNames.map((name) => labels[name]);
    return this.slotFor(values[0], values.slice(1));
  }

  /** Removes the series for these label values (same forms as `labels`); absent is fine. */
  remove(first: LabelValues | LabelValue, rest: readonly LabelValue[]): void {
    const index = this.index;
    const slot = index.findValues(this.#labelValuesOf(first, rest));
    if (slot < 0) return;
    index.remove(slot);
    this.#cap.removed(1);
    if (index.needsCompaction()) this.#compact();
  }

  /** Removes every labelled series; on an unlabelled metric it changes nothing. */
  clear(): void {
    // An unlabelled metric's one series is not a child to drop (as in the Python client).
    if (this.#unlabelled !== undefined) return;
    this.index.removeAll();
    this.#cap.cleared();
    this.#compact();
  }

  /** Drops removed series: live ones move to a new store, handles follow on their next use. */
  #compact(): void {
    this.#recentSlots = NO_RECENT_SLOTS;
    this.#recentChildren = [];
    const compaction = this.index.compact();
    // Series lifecycle: the overflow series moves like any other (its labels come from the cap).
    const cap = this.#cap;
    const oldStore = this.store;
    const oldOverflowSlot = cap.overflowSlot;
    if (oldOverflowSlot >= 0) {
      cap.overflowSlot = compaction.forwarding[oldOverflowSlot];
      cap.hideSlotValues(this.index);
    }
    this.store = this.store.compact(
      compaction.forwarding,
      compaction.slotCount,
      (oldSlot) =>
        oldSlot === oldOverflowSlot ? cap.overflowLabels() : compaction.labelsOfRemoved(oldSlot),
      compaction.oldSeqs,
    );
    this.#expiry?.compacted(oldStore, compaction.forwarding, compaction.slotCount);
  }

  /** A new labels object for the series at `slot` (the overflow series' own label for it). */
  #labelsOf(slot: number): Labels {
    return slot === this.#cap.overflowSlot ? this.#cap.overflowLabels() : this.index.labelsOf(slot);
  }

  /**
   * The series as they are now (see `storage_read.ts`): label sets and store. Expires what is
   * due first (series lifecycle), and shows the overflow series with its own label.
   */
  read(): SeriesRead {
    this.#expiry?.sweepIfDue();
    const cap = this.#cap;
    const overflow = cap.overflowSlot < 0
      ? undefined
      : { slot: cap.overflowSlot, labelsOf: () => cap.overflowLabels() };
    return { labels: this.index.labelSets(overflow), store: this.store };
  }

  /** Validates the arguments of `labels`/`remove` and returns the values in name order. */
  #labelValuesOf(first: LabelValues | LabelValue, rest: readonly LabelValue[]): string[] {
    const labelNames = this.labelNames;
    const labelValues: string[] = [];
    if (labelNames.length === 0) {
      throw new TypeError(`metric "${this.name}" has no labels: use it without labels(...)`);
    }
    if (first !== null && typeof first === "object") {
      if (rest.length > 0 || countKeys(first) !== labelNames.length) {
        this.#throwLabelMismatch(first, rest);
      }
      for (const labelName of labelNames) {
        const labelValue = Object.hasOwn(first, labelName)
          ? toLabelValue(first[labelName])
          : undefined;
        if (labelValue === undefined) this.#throwLabelMismatch(first, rest);
        labelValues.push(wellFormed(labelValue));
      }
    } else {
      if (rest.length + 1 !== labelNames.length) this.#throwLabelMismatch(first, rest);
      for (const given of [first, ...rest]) {
        const labelValue = toLabelValue(given);
        if (labelValue === undefined) this.#throwLabelMismatch(first, rest);
        labelValues.push(wellFormed(labelValue));
      }
    }
    return labelValues;
  }

  #throwLabelMismatch(first: LabelValues | LabelValue, rest: readonly LabelValue[]): never {
    const expected = `expected labels (${this.labelNames.join(", ")})`;
    if (first !== null && typeof first === "object") {
      const given = Object.keys(first);
      const missing = this.labelNames.filter((name) => !given.includes(name));
      const unknown = given.filter((name) => !this.labelNames.includes(name));
      const invalid = this.labelNames.filter((name) =>
        given.includes(name) && toLabelValue(first[name]) === undefined
      );
      const problems = [
        missing.length > 0 ? `missing ${missing.join(", ")}` : "",
        unknown.length > 0 ? `unknown ${unknown.join(", ")}` : "",
        invalid.length > 0 ? `not a string, number or boolean: ${invalid.join(", ")}` : "",
        rest.length > 0 ? "extra positional values after the object" : "",
      ].filter((problem) => problem !== "");
      throw new TypeError(
        `wrong labels for metric "${this.name}": ${expected}, got (${given.join(", ")}): ${
          problems.join("; ")
        }`,
      );
    }
    const count = rest.length + 1;
    if (count !== this.labelNames.length) {
      throw new TypeError(
        `wrong labels for metric "${this.name}": ${expected}, got ${count} value${
          count === 1 ? "" : "s"
        }`,
      );
    }
    throw new TypeError(
      `wrong labels for metric "${this.name}": ${expected}; label values must be strings, ` +
        `numbers or booleans`,
    );
  }
}

/**
 * Whether `object` has exactly `count` enumerable keys (the caller found `count` labels in it
 * by name already, so only an extra key can make it say no).
 */
function hasKeys(object: object, count: number): boolean {
  for (const _ in object) {
    if (--count < 0) return false;
  }
  return count === 0;
}

function countKeys(object: object): number {
  let count = 0;
  for (const _ in object) count++;
  return count;
}

/** A label value as a string: numbers and booleans are turned into strings. */
export function toLabelValue(given: unknown): string | undefined {
  if (typeof given === "string") return given;
  if (typeof given === "number" || typeof given === "boolean") return String(given);
  return undefined;
}
