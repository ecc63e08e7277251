/**
 * What every metric type shares: name and label validation, registration, and the lookup from
 * label values to a series, and from there to the child that `labels(...)` returns.
 *
 * @module
 */

import type { Collector, Labels, MetricFamily } from "../model.ts";
import type { Registry } from "../registry.ts";
import { type Compaction, nextHash, SeriesIndex } from "./series_index.ts";
import {
  validateHelp,
  validateLabelNames,
  validateMetricName,
  validateUnit,
  wellFormed,
} from "../validation.ts";

/** A label value as accepted by `labels()`: numbers and booleans are turned into strings. */
export type LabelValue = string | number | boolean;

/** Label values by name, as passed to `labels({ ... })`. */
export type LabelValues = Readonly<Record<string, LabelValue>>;

/** Options every metric type takes. */
export interface MetricOptions {
  /** Metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  readonly name: string;
  /** Help text shown in `# HELP`. */
  readonly help: string;
  /** Label names; children are then reached through `labels(...)`. */
  readonly labelNames?: readonly string[];
  /**
   * Registry to register in; defaults to `defaultRegistry`. `null` registers nowhere (register
   * it yourself, or use the metric on its own).
   */
  readonly registry?: Registry | null;
  /** OpenMetrics unit, such as `seconds` or `bytes`; appended to the name when missing from it. */
  readonly unit?: string;
}

/** How many recently used children a metric keeps (a power of two): see `SeriesLookup`. */
const RECENT_CHILDREN = 256;

/** Set by `registry.ts` at load time, to avoid an import cycle between metrics and registry. */
let defaultRegistryRef: Registry | undefined;

/** Internal: lets `registry.ts` hand its default registry to the metric constructors. */
export function setDefaultRegistry(registry: Registry): void {
  defaultRegistryRef = registry;
}

/** What a subclass tells the base about its type. */
export interface MetricKind {
  /** Type name used in error messages. */
  readonly typeName: string;
  /** Name suffix stripped when given (`_total` for counters), so the family name is the base. */
  readonly strippedSuffix?: string;
  /** Label names the type adds itself (`le`, `quantile`). */
  readonly reservedLabels?: readonly string[];
  /** Suffixes of the sample names the type exposes, for duplicate detection in registries. */
  readonly sampleSuffixes: readonly string[];
  /** Whether the type can have a unit (info and state sets cannot). */
  readonly allowsUnit?: boolean;
}

/**
 * The shared base of all metric types: validation, registration and the series index. A
 * series is a slot of the metric's {@linkcode SeriesIndex}; each type keeps its series' state by
 * slot (in a packed store, or as one object per series) and says what `labels(...)` returns for
 * a slot (`Child`).
 */
export abstract class Metric<Child> implements Collector {
  /** The family name (counters without `_total`, info metrics without `_info`). */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The unit, if any. */
  readonly unit: string | undefined;
  /** The label names, in the order positional `labels(...)` takes their values. */
  readonly labelNames: readonly string[];
  /** Every sample name this metric exposes (used by registries to refuse duplicates). */
  readonly sampleNames: readonly string[];

  // Everything `labels(...)` reads, in one object of one class: this base's code runs for every
  // metric type, so each field it reads from `this` is a lookup V8 cannot specialise.
  readonly #lookup: SeriesLookup<Child>;
  #unlabelled: Child | undefined;
  #registry: Registry | undefined;

  /** Validates the options; subclasses then set their own fields and call `init()`. */
  constructor(options: MetricOptions, kind: MetricKind) {
    if (options === null || typeof options !== "object") {
      throw new TypeError(`a ${kind.typeName} needs an options object with name and help`);
    }
    let name = options.name;
    validateMetricName(name);
    if (kind.strippedSuffix !== undefined && name.endsWith(kind.strippedSuffix)) {
      name = name.slice(0, -kind.strippedSuffix.length);
      validateMetricName(name);
    }
    const unit = options.unit;
    if (unit !== undefined && unit !== "") {
      validateUnit(name, unit);
      if (kind.allowsUnit === false) {
        throw new TypeError(`metric "${name}" is a ${kind.typeName}, which cannot have a unit`);
      }
      if (!name.endsWith("_" + unit)) name += "_" + unit;
    }
    validateHelp(name, options.help);
    this.name = name;
    this.help = wellFormed(options.help);
    this.unit = unit === "" ? undefined : unit;
    this.labelNames = validateLabelNames(name, options.labelNames, kind.reservedLabels);
    this.sampleNames = Object.freeze([name, ...kind.sampleSuffixes.map((suffix) => name + suffix)]);
    this.#lookup = new SeriesLookup(new SeriesIndex(this.labelNames));
    const registry = options.registry === undefined ? defaultRegistryRef : options.registry;
    // Subclasses finish their own fields before the first series is made: see `init()`.
    this.#registry = registry ?? undefined;
  }

  /**
   * Finishes construction once the subclass's fields are set: creates the unlabelled series
   * (exposed as 0 from the start) and registers. Subclass constructors call it last.
   */
  protected init(): void {
    if (this.labelNames.length === 0) {
      const slot = this.#lookup.index.add([]);
      this.seriesAdded(slot);
      this.#unlabelled = this.childAt(slot);
    }
    this.#registry?.register(this);
  }

  /** Sets up the state of a new series at `slot` (slots are handed out in order). */
  protected abstract seriesAdded(slot: number): void;

  /**
   * The child that `labels(...)` returns for the series at `slot` (the base keeps the recently
   * used ones, so a type may make a new one at each call).
   */
  protected abstract childAt(slot: number): Child;

  /**
   * Called after the slots were compacted (removed series dropped, live ones moved down as
   * `compaction.forwarding` says); a removed series' child may still be used by its holder.
   */
  protected abstract seriesCompacted(compaction: Compaction): void;

  /** Builds this metric's snapshot from the series at `slots` (live, in creation order). */
  protected abstract familyOf(slots: readonly number[]): MetricFamily;

  /** A new labels object for the series at `slot` (see {@linkcode SeriesIndex.labelsOf}). */
  protected labelsOf(slot: number): Labels {
    return this.#lookup.index.labelsOf(slot);
  }

  /** Returns this metric's snapshot (one family). */
  collect(): MetricFamily[] {
    return [this.familyOf(this.#lookup.index.liveSlots())];
  }

  /** The series of an unlabelled metric; a clear error when the metric has labels. */
  protected get unlabelled(): Child {
    const child = this.#unlabelled;
    if (child === undefined) {
      throw new TypeError(
        `metric "${this.name}" has labels (${this.labelNames.join(", ")}): call labels(...) first`,
      );
    }
    return child;
  }

  /**
   * Returns the series for these label values, creating it on first use. Takes either an
   * object (`labels({ method: "GET" })`) or the values in `labelNames` order
   * (`labels("GET")`); both reach the same series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): Child;
  labels(first: LabelValues | LabelValue): Child {
    // Written so that finding an existing series allocates nothing (bench/allocations.ts
    // measures it). The values after the first are read from `arguments`, which never escapes:
    // a rest parameter would be a new array per call. Bad arguments and new series go to
    // `#create`, which validates them and throws the precise error.
    const argumentCount = arguments.length;
    const index = this.#lookup.index;
    const width = index.width;
    let slot = -1;
    if (width > 0) {
      if (first !== null && typeof first === "object") {
        if (argumentCount === 1) {
          slot = findInDeclaredOrder(index, first);
          if (slot < 0) slot = findByName(index, first);
        }
      } else if (argumentCount === width) {
        const lookupIds = index.lookupIds;
        const idMaps = index.idMaps;
        let hash = 0;
        let position = 0;
        while (position < width) {
          // arguments[0] is `first`.
          const labelValue = toLabelValue(arguments[position]);
          const id = labelValue === undefined ? undefined : idMaps[position].get(labelValue);
          if (id === undefined) break;
          lookupIds[position] = id;
          hash = nextHash(hash, id);
          position++;
        }
        if (position === width) slot = index.findHashed(hash);
      }
    }
    if (slot >= 0) return this.#childOf(slot);
    const rest: LabelValue[] = [];
    for (let i = 1; i < argumentCount; i++) rest.push(arguments[i]);
    return this.#create(first, rest);
  }

  /** The child of the series at `slot`, from the recent ones when it is among them. */
  #childOf(slot: number): Child {
    const lookup = this.#lookup;
    let child = lookup.recentChild(slot);
    if (child === undefined) {
      child = this.childAt(slot);
      lookup.remember(slot, child);
    }
    return child;
  }

  /** Compacts the series' slots and tells the subclass where they went. */
  #compact(): void {
    this.#lookup.forgetRecent();
    this.seriesCompacted(this.#lookup.index.compact());
  }

  /** Removes the series for these label values (same forms as `labels`). */
  remove(first: LabelValues | LabelValue, ...rest: LabelValue[]): void {
    const index = this.#lookup.index;
    const slot = index.findValues(this.#labelValuesOf(first, rest));
    if (slot < 0) return;
    index.remove(slot);
    if (index.needsCompaction()) this.#compact();
  }

  /** Removes every labelled series; on an unlabelled metric it changes nothing. */
  clear(): void {
    // An unlabelled metric's one series is not a child to drop (as in the Python client).
    if (this.#unlabelled !== undefined) return;
    this.#lookup.index.removeAll();
    this.#compact();
  }

  #create(first: LabelValues | LabelValue, rest: readonly LabelValue[]): Child {
    const labelValues = this.#labelValuesOf(first, rest);
    const index = this.#lookup.index;
    let slot = index.findValues(labelValues);
    if (slot < 0) {
      slot = index.add(labelValues);
      this.seriesAdded(slot);
    }
    return this.#childOf(slot);
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
        const labelValue = toLabelValue(first[labelName]);
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
    if (this.labelNames.length === 0) {
      throw new TypeError(`metric "${this.name}" has no labels: use it without labels(...)`);
    }
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
 * The fast path of `labels({...})` for the usual call, an object literal whose string values
 * are written in `labelNames` order: one `for...in` pass both reads the values (V8 reads
 * `given[key]` inside `for...in` straight from the object's layout) and counts the keys.
 * Anything else (another key order, numbers, a missing or extra key, a series not created
 * yet) returns -1.
 */
function findInDeclaredOrder(index: SeriesIndex, given: LabelValues): number {
  const labelNames = index.labelNames;
  const lookupIds = index.lookupIds;
  const idMaps = index.idMaps;
  let hash = 0;
  let position = 0;
  for (const labelName in given) {
    if (labelName !== labelNames[position]) return -1;
    const labelValue = given[labelName];
    if (typeof labelValue !== "string") return -1;
    const id = idMaps[position].get(labelValue);
    if (id === undefined) return -1;
    lookupIds[position] = id;
    hash = nextHash(hash, id);
    position++;
  }
  return position === labelNames.length ? index.findHashed(hash) : -1;
}

/**
 * `labels({...})` with keys in any order or values that are numbers or booleans: reads each
 * label by name. Returns -1 for a series not created yet or for bad labels.
 */
function findByName(index: SeriesIndex, given: LabelValues): number {
  const labelNames = index.labelNames;
  if (countKeys(given) !== labelNames.length) return -1;
  for (let position = 0; position < labelNames.length; position++) {
    const labelValue = toLabelValue(given[labelNames[position]]);
    const id = labelValue === undefined ? -1 : index.idOf(position, labelValue);
    if (id < 0) return -1;
    index.lookupIds[position] = id;
  }
  return index.find();
}

/**
 * A metric's series index and the children `labels(...)` handed out last, one per slot modulo
 * RECENT_CHILDREN. A counter's or histogram's child is only a store and a slot, made when
 * asked for: keeping the recent ones lets `labels(...).inc()` on the usual few hundred series
 * allocate nothing, while a metric of a million series keeps no million children.
 */
class SeriesLookup<Child> {
  readonly index: SeriesIndex;
  #recentSlots: Int32Array | undefined;
  #recentChildren: (Child | undefined)[] = [];

  constructor(index: SeriesIndex) {
    this.index = index;
  }

  /** The child last handed out for `slot`, if it is still kept. */
  recentChild(slot: number): Child | undefined {
    const recentSlots = this.#recentSlots;
    const entry = slot & (RECENT_CHILDREN - 1);
    return recentSlots !== undefined && recentSlots[entry] === slot
      ? this.#recentChildren[entry]
      : undefined;
  }

  /** Keeps `child` as the child of `slot`, in place of the one sharing its entry. */
  remember(slot: number, child: Child): void {
    let recentSlots = this.#recentSlots;
    if (recentSlots === undefined) {
      recentSlots = this.#recentSlots = new Int32Array(RECENT_CHILDREN).fill(-1);
      this.#recentChildren = new Array(RECENT_CHILDREN).fill(undefined);
    }
    const entry = slot & (RECENT_CHILDREN - 1);
    recentSlots[entry] = slot;
    this.#recentChildren[entry] = child;
  }

  /** Forgets every kept child (their slots changed). */
  forgetRecent(): void {
    this.#recentSlots = undefined;
    this.#recentChildren = [];
  }
}

function countKeys(object: object): number {
  let count = 0;
  for (const _ in object) count++;
  return count;
}

function toLabelValue(given: unknown): string | undefined {
  if (typeof given === "string") return given;
  if (typeof given === "number" || typeof given === "boolean") return String(given);
  return undefined;
}

/**
 * The base of metric types that keep each series' state in an object of its own (gauges,
 * summaries, info and enums): the object is the child `labels(...)` returns, with its labels.
 */
export abstract class ObjectSeriesMetric<Child> extends Metric<Child> {
  #children: Child[] = [];

  /** Creates the state of one series. */
  protected abstract newChild(labels: Labels): Child;

  /** Builds this metric's snapshot from its live children (read during the call only). */
  protected abstract snapshot(children: readonly Child[]): MetricFamily;

  /**
   * Makes the series' child, which keeps its labels: a frozen plain copy, whose text exposition
   * caches, since a snapshot's labels (`labelsOf`) keep the index's arrays of their time alive.
   */
  protected seriesAdded(slot: number): void {
    this.#children[slot] = this.newChild(Object.freeze({ ...this.labelsOf(slot) }));
  }

  /** The series' child. */
  protected childAt(slot: number): Child {
    return this.#children[slot];
  }

  /** Moves the children of live series to their new slots; removed ones are let go. */
  protected seriesCompacted(compaction: Compaction): void {
    const children = new Array<Child>(compaction.slotCount);
    const forwarding = compaction.forwarding;
    for (let slot = 0; slot < forwarding.length; slot++) {
      if (forwarding[slot] >= 0) children[forwarding[slot]] = this.#children[slot];
    }
    this.#children = children;
  }

  /** Builds the snapshot from the children at `slots`. */
  protected familyOf(slots: readonly number[]): MetricFamily {
    return this.snapshot(slots.map((slot) => this.#children[slot]));
  }
}
