/**
 * What every metric type shares: name and label validation, registration, and the lookup from
 * label values to a cached child series.
 *
 * @module
 */

import type { Collector, Labels, MetricFamily } from "../model.ts";
import type { Registry } from "../registry.ts";
import { seriesLabelsMaker } from "../format.ts";
import {
  validateHelp,
  validateLabelNames,
  validateMetricName,
  validateUnit,
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

type LookupNode<Child> = Map<string, LookupNode<Child> | Child>;

/**
 * The shared base of all metric types. `Child` is the per-series state object that
 * `labels(...)` returns and caches.
 */
export abstract class Metric<Child extends { readonly labels: Labels }> implements Collector {
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

  // Children are found through one Map level per label name, keyed by the label value, so
  // a lookup builds no key string and works for any value, whatever characters it holds.
  #lookupRoot: LookupNode<Child> = new Map();
  // Creation order, the order of exposition: an array costs a word per series where a Set
  // costs several. A removed series stays in it until the next collection (or until removed
  // ones make up half of it), so that `remove` does not search the array.
  #children: Child[] = [];
  #removed = new Set<Child>();
  #unlabelled: Child | undefined;
  readonly #makeLabels = seriesLabelsMaker();
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
    this.help = options.help;
    this.unit = unit === "" ? undefined : unit;
    this.labelNames = validateLabelNames(name, options.labelNames, kind.reservedLabels);
    this.sampleNames = Object.freeze([name, ...kind.sampleSuffixes.map((suffix) => name + suffix)]);
    const registry = options.registry === undefined ? defaultRegistryRef : options.registry;
    // Subclasses finish their own fields before the first child is made: see `init()`.
    this.#registry = registry ?? undefined;
  }

  /**
   * Finishes construction once the subclass's fields are set: creates the unlabelled series
   * (exposed as 0 from the start) and registers. Subclass constructors call it last.
   */
  protected init(): void {
    if (this.labelNames.length === 0) {
      this.#unlabelled = this.newChild(this.#makeLabels([], []));
      this.#children.push(this.#unlabelled);
    }
    this.#registry?.register(this);
  }

  /** Creates the state of one series. */
  protected abstract newChild(labels: Labels): Child;

  /**
   * Called once a series is removed (by `remove` or `clear`); a type that keeps its series'
   * numbers in shared storage moves them out here. The child may still be used by its holder.
   */
  protected released(_child: Child): void {}

  /** Builds this metric's snapshot from its children (read during the call only). */
  protected abstract snapshot(children: readonly Child[]): MetricFamily;

  /** Returns this metric's snapshot (one family). */
  collect(): MetricFamily[] {
    if (this.#removed.size > 0) this.#dropRemoved();
    return [this.snapshot(this.#children)];
  }

  #dropRemoved(): void {
    const removed = this.#removed;
    this.#children = this.#children.filter((child) => !removed.has(child));
    removed.clear();
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
   * (`labels("GET")`); both reach the same cached series.
   */
  labels(first: LabelValues | LabelValue, ...rest: LabelValue[]): Child;
  labels(first: LabelValues | LabelValue): Child {
    // Written so that finding an existing series allocates nothing (bench/allocations.ts
    // measures it). The values after the first are read from `arguments`, which never escapes:
    // a rest parameter would be a new array per call. Each walk keeps `level` a Map and reads
    // a child only at the last label: a variable holding a Map or a child, depending on the
    // level, made V8's optimised code allocate on every call. Bad arguments and new series go
    // to `#create`, which validates them and throws the precise error.
    const argumentCount = arguments.length;
    const labelNames = this.labelNames;
    let child: Child | undefined;
    if (labelNames.length > 0) {
      if (first !== null && typeof first === "object") {
        if (argumentCount === 1) {
          child = this.#findInDeclaredOrder(first) ?? this.#findByName(first);
        }
      } else if (argumentCount === labelNames.length) {
        const last = labelNames.length - 1;
        let level = this.#lookupRoot;
        for (let i = 0; i <= last; i++) {
          // arguments[0] is `first`.
          const labelValue = toLabelValue(arguments[i]);
          if (labelValue === undefined) break;
          if (i === last) {
            child = level.get(labelValue) as Child | undefined;
          } else {
            const next = level.get(labelValue) as LookupNode<Child> | undefined;
            if (next === undefined) break;
            level = next;
          }
        }
      }
    }
    if (child !== undefined) return child;
    const rest: LabelValue[] = [];
    for (let i = 1; i < argumentCount; i++) rest.push(arguments[i]);
    return this.#create(first, rest);
  }

  /**
   * The fast path of `labels({...})` for the usual call, an object literal whose string values
   * are written in `labelNames` order: one `for...in` pass both reads the values (V8 reads
   * `given[key]` inside `for...in` straight from the object's layout) and counts the keys, and
   * each value goes straight into the lookup tree. Anything else (another key order, numbers,
   * a missing or extra key, a series not created yet) returns `undefined`.
   */
  #findInDeclaredOrder(given: LabelValues): Child | undefined {
    const labelNames = this.labelNames;
    const last = labelNames.length - 1;
    let level = this.#lookupRoot;
    let child: Child | undefined;
    let position = 0;
    for (const labelName in given) {
      if (labelName !== labelNames[position]) return undefined;
      const labelValue = given[labelName];
      if (typeof labelValue !== "string") return undefined;
      if (position === last) {
        child = level.get(labelValue) as Child | undefined;
      } else {
        const next = level.get(labelValue) as LookupNode<Child> | undefined;
        if (next === undefined) return undefined;
        level = next;
      }
      position++;
    }
    return position === labelNames.length ? child : undefined;
  }

  /**
   * `labels({...})` with keys in any order or values that are numbers or booleans: reads each
   * label by name. Returns `undefined` for a series not created yet or for bad labels.
   */
  #findByName(given: LabelValues): Child | undefined {
    const labelNames = this.labelNames;
    if (countKeys(given) !== labelNames.length) return undefined;
    const last = labelNames.length - 1;
    let level = this.#lookupRoot;
    for (let i = 0; i < last; i++) {
      const labelValue = toLabelValue(given[labelNames[i]]);
      if (labelValue === undefined) return undefined;
      const next = level.get(labelValue) as LookupNode<Child> | undefined;
      if (next === undefined) return undefined;
      level = next;
    }
    const labelValue = toLabelValue(given[labelNames[last]]);
    return labelValue === undefined ? undefined : level.get(labelValue) as Child | undefined;
  }

  /** Removes the series for these label values (same forms as `labels`). */
  remove(first: LabelValues | LabelValue, ...rest: LabelValue[]): void {
    const labelValues = this.#labelValuesOf(first, rest);
    const path: LookupNode<Child>[] = [];
    let node: LookupNode<Child> | Child = this.#lookupRoot;
    for (const labelValue of labelValues) {
      path.push(node as LookupNode<Child>);
      const next: LookupNode<Child> | Child | undefined = (node as LookupNode<Child>).get(
        labelValue,
      );
      if (next === undefined) return;
      node = next;
    }
    const child = node as Child;
    this.#removed.add(child);
    if (this.#removed.size * 2 > this.#children.length) this.#dropRemoved();
    this.released(child);
    // Drop the leaf, then any lookup level left empty by it.
    for (let level = path.length - 1; level >= 0; level--) {
      path[level].delete(labelValues[level]);
      if (path[level].size > 0) break;
    }
  }

  /** Removes every labelled series; on an unlabelled metric it changes nothing. */
  clear(): void {
    // An unlabelled metric's one series is not a child to drop (as in the Python client).
    if (this.#unlabelled !== undefined) return;
    this.#lookupRoot = new Map();
    const children = this.#children;
    const removed = this.#removed;
    this.#children = [];
    this.#removed = new Set();
    for (const child of children) {
      if (!removed.has(child)) this.released(child);
    }
  }

  #create(first: LabelValues | LabelValue, rest: readonly LabelValue[]): Child {
    const labelValues = this.#labelValuesOf(first, rest);
    const child = this.newChild(this.#makeLabels(this.labelNames, labelValues));
    let node = this.#lookupRoot;
    for (let i = 0; i < labelValues.length - 1; i++) {
      let next = node.get(labelValues[i]) as LookupNode<Child> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(labelValues[i], next);
      }
      node = next;
    }
    node.set(labelValues[labelValues.length - 1], child);
    this.#children.push(child);
    return child;
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
        labelValues.push(labelValue);
      }
    } else {
      if (rest.length + 1 !== labelNames.length) this.#throwLabelMismatch(first, rest);
      for (const given of [first, ...rest]) {
        const labelValue = toLabelValue(given);
        if (labelValue === undefined) this.#throwLabelMismatch(first, rest);
        labelValues.push(labelValue);
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
