/**
 * The label sets of one metric's series as storage keeps them, and the read side of them: each
 * label position has a dictionary of the distinct values seen there (a value's id is its index
 * in the dictionary), and a series is `width` ids in one packed array (see `series_index.ts`,
 * which finds and adds series). Readers (exposition, remote write, snapshots) read a metric's
 * label sets through a `LabelSets` taken at one moment; they keep whatever they derive from the
 * values (escaped text, encoded bytes) themselves, keyed by the dictionaries' value arrays,
 * which only grow until compaction replaces them.
 *
 * @module
 */

import type { Labels } from "../model.ts";

/** The value ids of every series, two bytes each until one passes 65,535. */
export type SeriesIds = Uint16Array | Int32Array;

/** One label position's distinct values, each with its id (its index in `values`). */
export interface ValueDictionary {
  readonly idByValue: Map<string, number>;
  /** Only appended to; replaced (with a new dictionary) when the index compacts. */
  readonly values: string[];
}

/** A new, empty dictionary. */
export function emptyDictionary(): ValueDictionary {
  return { idByValue: new Map(), values: [] };
}

/** The id of `value` in `dictionary`, adding it when new. */
export function internValue(dictionary: ValueDictionary, value: string): number {
  let id = dictionary.idByValue.get(value);
  if (id === undefined) {
    id = dictionary.values.length;
    dictionary.idByValue.set(value, id);
    dictionary.values.push(value);
  }
  return id;
}

/** The id of `value`, which `dictionary` does not have yet, added to it. */
export function appendValue(dictionary: ValueDictionary, value: string): number {
  const id = dictionary.values.length;
  dictionary.idByValue.set(value, id);
  dictionary.values.push(value);
  return id;
}

/** A label in name order: a series' own (by position) or a constant one. */
export interface SortedLabel {
  readonly name: string;
  /** The label's position among the series' own labels, or -1 for a constant label. */
  readonly position: number;
  /** A constant label's value ("" for an own label). */
  readonly constValue: string;
}

/**
 * What the label sets of one metric have in common: the own label names (declared order), the
 * constant labels, and every label in name order. One object per metric for its whole life, so
 * readers may key caches by it.
 */
export class LabelShape {
  /** The series' own label names, in declared order. */
  readonly labelNames: readonly string[];
  /** The constant labels, added to every series' labels. */
  readonly constLabels: Labels;
  /** Every label (own and constant), in name order. */
  readonly sorted: readonly SortedLabel[];
  /** Positions (declared order) of the series' own labels, in name order. */
  readonly sortedPositions: readonly number[];

  constructor(labelNames: readonly string[], constLabels: Labels) {
    this.labelNames = labelNames;
    this.constLabels = constLabels;
    this.sorted = [
      ...labelNames.map((name, position) => ({ name, position, constValue: "" })),
      ...Object.keys(constLabels).map((name) => ({
        name,
        position: -1,
        constValue: constLabels[name],
      })),
    ].sort((a, b) => a.name < b.name ? -1 : 1);
    this.sortedPositions = this.sorted.filter((label) => label.position >= 0).map((label) =>
      label.position
    );
  }

  /** Every label name, constant ones included. */
  get names(): readonly string[] {
    return [...this.labelNames, ...Object.keys(this.constLabels)];
  }
}

/**
 * The label sets of the series as one version of the index's arrays holds them. The index
 * never changes what an array holds for a slot, it only appends or builds new arrays, so a
 * `LabelColumns` keeps giving the labels of its time even after the metric moves on.
 */
export class LabelColumns {
  readonly shape: LabelShape;
  /** Per label position (declared order), the distinct values by id. */
  readonly valuesByPosition: readonly (readonly string[])[];
  /** The value ids of every series: `width` per slot, in declared order. */
  readonly seriesIds: SeriesIds;
  /** Own labels per series. */
  readonly width: number;

  constructor(shape: LabelShape, dictionaries: readonly ValueDictionary[], seriesIds: SeriesIds) {
    this.shape = shape;
    this.valuesByPosition = dictionaries.map((dictionary) => dictionary.values);
    this.seriesIds = seriesIds;
    this.width = shape.labelNames.length;
  }

  /** The value of the own label at `position` (declared order) of the series at `slot`. */
  valueAt(slot: number, position: number): string {
    return this.valuesByPosition[position][this.seriesIds[slot * this.width + position]];
  }

  /**
   * A new labels object for `slot` (own and constant labels), which remembers the series it
   * came from (see `seriesOriginOf`): made at each call, so that a series keeps no labels
   * object of its own.
   */
  labelsOf(slot: number): Labels {
    const labelNames = this.shape.labelNames;
    const width = this.width;
    const start = slot * width;
    const labels: Record<string, string> = {};
    for (let position = 0; position < width; position++) {
      labels[labelNames[position]] =
        this.valuesByPosition[position][this.seriesIds[start + position]];
    }
    const constLabels = this.shape.constLabels;
    for (const name in constLabels) labels[name] = constLabels[name];
    new SeriesOriginStamp(labels, this, slot);
    return labels;
  }
}

/**
 * A metric's label sets at one moment (`SeriesIndex.labelSets()`): the columns of that moment,
 * the slots `0 .. slotCount - 1`, and which of them were live. A reader walks
 * `for (slot = 0; slot < slotCount; slot++) if (isLive(slot)) …`, reading the series' value ids
 * (`seriesIds[slot * width + position]`, looked up in `valuesByPosition[position]`) and its
 * numbers at the same slot of the metric's store.
 */
export class LabelSets {
  readonly columns: LabelColumns;
  /** The slots at that moment: `0 .. slotCount - 1`. */
  readonly slotCount: number;
  readonly #removed: ReadonlySet<number> | undefined;
  /**
   * The slot of the metric's overflow series (series lifecycle, `series_caps.ts`), or -1: its
   * label values are a placeholder, and its labels come from `#overflowLabels`.
   */
  readonly overflowSlot: number;
  readonly #overflowLabels: (() => Labels) | undefined;

  constructor(
    columns: LabelColumns,
    slotCount: number,
    removed: ReadonlySet<number> | undefined,
    overflow?: OverflowSeries,
  ) {
    this.columns = columns;
    this.slotCount = slotCount;
    this.#removed = removed;
    this.overflowSlot = overflow?.slot ?? -1;
    this.#overflowLabels = overflow?.labelsOf;
  }

  /** Whether the series at `slot` was live at that moment. */
  isLive(slot: number): boolean {
    return this.#removed === undefined || !this.#removed.has(slot);
  }

  /** The shape (names, constant labels, name order) shared by every series. */
  get shape(): LabelShape {
    return this.columns.shape;
  }

  /** The value ids of every series: `width` per slot, in declared order. */
  get seriesIds(): SeriesIds {
    return this.columns.seriesIds;
  }

  /** Own labels per series (not counting constant ones). */
  get width(): number {
    return this.columns.width;
  }

  /** Positions (declared order) of the own labels in name order. */
  get sortedPositions(): readonly number[] {
    return this.columns.shape.sortedPositions;
  }

  /** Per label position (declared order), the distinct values by id. */
  get valuesByPosition(): readonly (readonly string[])[] {
    return this.columns.valuesByPosition;
  }

  /** Every label name, constant ones included. */
  get names(): readonly string[] {
    return this.columns.shape.names;
  }

  /** The live slots, in creation order. */
  liveSlots(): number[] {
    const slots: number[] = [];
    for (let slot = 0; slot < this.slotCount; slot++) if (this.isLive(slot)) slots.push(slot);
    return slots;
  }

  /** A new labels object for the series at `slot` (see `LabelColumns.labelsOf`). */
  labelsOf(slot: number): Labels {
    const overflowLabels = this.#overflowLabels;
    if (overflowLabels !== undefined && slot === this.overflowSlot) return overflowLabels();
    return this.columns.labelsOf(slot);
  }
}

/** Where a metric's overflow series is, and its labels. */
export interface OverflowSeries {
  readonly slot: number;
  labelsOf(): Labels;
}

/** A constructor that returns the object it is given, so that a subclass can stamp it. */
class ReturnsGiven {
  constructor(given: object) {
    return given;
  }
}

/**
 * Attaches the series' origin to a plain labels object as private fields: the object keeps
 * `Object.prototype` and its own keys only (invisible to `Object.keys`, spreading and deep
 * equality), and a reader that meets it again (a snapshot's labels) can read the label text
 * it derived from the columns instead of sorting and escaping the object's entries.
 */
class SeriesOriginStamp extends ReturnsGiven {
  readonly #columns: LabelColumns;
  readonly #slot: number;

  constructor(labels: Labels, columns: LabelColumns, slot: number) {
    super(labels);
    this.#columns = columns;
    this.#slot = slot;
  }

  static columnsOf(labels: Labels): LabelColumns | undefined {
    return #columns in labels ? (labels as unknown as SeriesOriginStamp).#columns : undefined;
  }

  static slotOf(labels: Labels): number {
    return #columns in labels ? (labels as unknown as SeriesOriginStamp).#slot : -1;
  }
}

/** The columns a labels object of a metric's series came from, if it came from one. */
export function seriesColumnsOf(labels: Labels): LabelColumns | undefined {
  return SeriesOriginStamp.columnsOf(labels);
}

/** The slot of a labels object of a metric's series in its columns, or -1. */
export function seriesSlotOf(labels: Labels): number {
  return SeriesOriginStamp.slotOf(labels);
}
