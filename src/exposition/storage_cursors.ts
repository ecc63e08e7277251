/**
 * The cursors that write a counter's, gauge's or histogram's series from its storage (see
 * `metrics/storage_read.ts`) into a `ChunkWriter`: label text from the metric's dictionaries
 * (each distinct value escaped and encoded once per render, the constant text between values
 * encoded once), numbers from the typed arrays, lines repeated by copying the bytes already
 * written (a histogram's bucket lines differ only in `le` and the count). They write the bytes
 * the snapshot writer (`family_writer.ts`) writes for the same series.
 *
 * @module
 */

import type { Exemplar, HistogramPoint, Labels } from "../model.ts";
import { checkNumber, type EscapingScheme } from "../validation.ts";
import type { ChunkWriter } from "./byte_writer.ts";
import { NUMBER_BYTES } from "./byte_writer.ts";
import { escapeExemplar } from "./escaping.ts";
import { formatExemplar } from "./family_writer.ts";
import {
  escapedValues,
  formatBounds,
  formatFloat,
  hasSum,
  type LabelPieces,
  labelPiecesOf,
} from "./format.ts";
import type {
  CounterLayout,
  GaugeLayout,
  HistogramLayout,
  MetricStorage,
  SeriesRead,
} from "../metrics/storage_read.ts";
import type { LabelSets } from "../metrics/label_sets.ts";

const SPACE = 0x20;
const NEWLINE = 0x0a;
const textEncoder = new TextEncoder();

/** A histogram series' exemplars, one per bucket. */
type BucketExemplars = readonly (Exemplar | undefined)[];

/** Writes a metric's series, a chunk's worth at a time. */
export interface SeriesCursor {
  /** Writes series until a chunk is finished; `false` once the last was written. */
  write(writer: ChunkWriter): boolean;
}

/** How the cursors of one render write. */
export interface CursorSettings {
  /** OpenMetrics (else the text format 0.0.4). */
  readonly openMetrics: boolean;
  /** How exemplar label names outside the legacy alphabet are written. */
  readonly escaping: EscapingScheme;
  /** Whether OpenMetrics has `_created` lines. */
  readonly created: boolean;
}

/**
 * A cursor over `storage`'s series as they are now, writing them under `name` (the metric's
 * name with the registry's prefix), with the registry's `defaults` labels the series lack.
 */
export function cursorOf(
  storage: MetricStorage,
  name: string,
  defaults: Labels | undefined,
  settings: CursorSettings,
): SeriesCursor {
  const read = storage.read();
  const pieces = labelPiecesOf(read.labels.shape, defaults);
  const layout = storage.layout;
  switch (layout.type) {
    case "counter":
      return new CounterCursor(name, read, pieces, layout, settings);
    case "gauge":
      return new GaugeCursor(name, read, pieces, layout);
    case "histogram":
      return new HistogramCursor(name, read, pieces, layout, settings);
  }
}

/** What all cursors share: the slots to walk, and the label text of a series. */
abstract class SlotCursor implements SeriesCursor {
  protected readonly labels: LabelSets;
  protected readonly read: SeriesRead;
  protected readonly pieces: LabelPieces;
  /** Per label position (declared order), the escaped values by id. */
  readonly #escaped: readonly (readonly string[])[];
  /** `pieces.pieces` encoded once per render: copied, not encoded, for every series. */
  readonly #pieceBytes: readonly Uint8Array[];
  #slot = 0;

  /**
   * The longest label text a series of this read can have (UTF-16 units): its pieces and
   * the longest escaped value at each position. Found once per render, over the distinct values
   * (not the series), so that a series takes one `room()` for all its writes.
   */
  protected readonly maxLabelLength: number;

  constructor(read: SeriesRead, pieces: LabelPieces) {
    this.read = read;
    this.labels = read.labels;
    this.pieces = pieces;
    this.#escaped = this.labels.valuesByPosition.map(escapedValues);
    this.#pieceBytes = pieces.pieces.map((piece) => textEncoder.encode(piece));
    let length = pieces.pieces.reduce((sum, piece) => sum + piece.length, 0);
    for (const position of pieces.sortedPositions) {
      let longest = 0;
      for (const value of this.#escaped[position]) {
        if (value.length > longest) longest = value.length;
      }
      length += longest;
    }
    this.maxLabelLength = length;
  }

  write(writer: ChunkWriter): boolean {
    const labels = this.labels;
    const slotCount = labels.slotCount;
    let slot = this.#slot;
    while (slot < slotCount && writer.finishedBytes === 0) {
      // An overflow series (series lifecycle) made after the render chose this path waits for
      // the next scrape: its label values are a placeholder that only snapshots replace.
      if (labels.isLive(slot) && slot !== labels.overflowSlot) this.writeSeries(writer, slot);
      slot++;
    }
    this.#slot = slot;
    return slot < slotCount;
  }

  /** Writes every line of the series at `slot`. */
  protected abstract writeSeries(writer: ChunkWriter, slot: number): void;

  /** The escaped value of the label at `position` (declared order) of the series at `slot`. */
  protected escapedValue(slot: number, position: number): string {
    const labels = this.labels;
    return this.#escaped[position][labels.seriesIds[slot * labels.width + position]];
  }

  /**
   * Writes `{a="1",b="2"}` (nothing for a series without labels), in room made for
   * `maxLabelLength`.
   */
  protected writeLabels(writer: ChunkWriter, slot: number): void {
    const pieces = this.#pieceBytes;
    const positions = this.pieces.sortedPositions;
    writer.putBytes(pieces[0]);
    for (let i = 0; i < positions.length; i++) {
      writer.put(this.escapedValue(slot, positions[i]));
      writer.putBytes(pieces[i + 1]);
    }
  }
}

/** The OpenMetrics text of an exemplar, its label names escaped as the scraper asked. */
function exemplarText(exemplar: Exemplar | undefined, escaping: EscapingScheme): string {
  if (exemplar === undefined) return "";
  return formatExemplar(escaping === "allow-utf-8" ? exemplar : escapeExemplar(exemplar, escaping));
}

/** The last creation time written and its text: series made together share it. */
class CreatedText {
  #value = NaN;
  #text = "";

  of(value: number): string {
    if (value !== this.#value) {
      this.#value = value;
      this.#text = formatFloat(value);
    }
    return this.#text;
  }
}

class CounterCursor extends SlotCursor {
  readonly #layout: CounterLayout;
  // The names, encoded once per render (a metric rendered directly has an ASCII name).
  readonly #totalName: Uint8Array;
  /** `x_created`, or `undefined` when no `_created` lines are written. */
  readonly #createdName: Uint8Array | undefined;
  readonly #openMetrics: boolean;
  readonly #escaping: EscapingScheme;
  readonly #createdText = new CreatedText();
  readonly #unlabelled: boolean;

  constructor(
    name: string,
    read: SeriesRead,
    pieces: LabelPieces,
    layout: CounterLayout,
    settings: CursorSettings,
  ) {
    super(read, pieces);
    this.#layout = layout;
    this.#totalName = textEncoder.encode(name + "_total");
    this.#createdName = settings.openMetrics && settings.created
      ? textEncoder.encode(name + "_created")
      : undefined;
    this.#openMetrics = settings.openMetrics;
    this.#escaping = settings.escaping;
    this.#unlabelled = layout.unlabelledTotal() !== undefined;
  }

  protected writeSeries(writer: ChunkWriter, slot: number): void {
    const layout = this.#layout;
    const store = this.read.store;
    const numbers = store.numbers;
    const base = slot * layout.numberStride;
    const value = this.#unlabelled ? layout.unlabelledTotal()! : numbers[base + layout.totalOffset];
    const totalName = this.#totalName;
    const createdName = this.#createdName;
    if (!this.#openMetrics) {
      writer.room(3 * (totalName.length + this.maxLabelLength) + NUMBER_BYTES + 2);
      writer.putBytes(totalName);
      this.writeLabels(writer, slot);
      writer.putByte(SPACE);
      writer.putNumber(value);
      writer.putByte(NEWLINE);
      return;
    }
    const exemplar = store.sides[layout.exemplarSide]?.[slot] as Exemplar | undefined;
    const exemplarLine = exemplar === undefined ? "" : exemplarText(exemplar, this.#escaping);
    writer.room(
      3 * (2 * (totalName.length + this.maxLabelLength) + exemplarLine.length) + 3 * NUMBER_BYTES,
    );
    writer.putBytes(totalName);
    const labelStart = writer.position;
    this.writeLabels(writer, slot);
    const labelEnd = writer.position;
    writer.putByte(SPACE);
    writer.putNumber(value);
    writer.put(exemplarLine);
    writer.putByte(NEWLINE);
    if (createdName !== undefined) {
      writer.putBytes(createdName);
      writer.repeat(writer.buffer, labelStart, labelEnd);
      writer.putByte(SPACE);
      writer.put(this.#createdText.of(numbers[base + layout.createdOffset]));
      writer.putByte(NEWLINE);
    }
  }
}

class GaugeCursor extends SlotCursor {
  readonly #layout: GaugeLayout;
  readonly #name: string;
  /** `#name` encoded once per render. */
  readonly #nameBytes: Uint8Array;

  constructor(name: string, read: SeriesRead, pieces: LabelPieces, layout: GaugeLayout) {
    super(read, pieces);
    this.#layout = layout;
    this.#name = name;
    this.#nameBytes = textEncoder.encode(name);
  }

  protected writeSeries(writer: ChunkWriter, slot: number): void {
    const layout = this.#layout;
    const store = this.read.store;
    // A value function set since the render started is called as `collect()` would.
    const valueFunction = store.sides[layout.functionSide]?.[slot] as (() => number) | undefined;
    let value: number;
    if (valueFunction === undefined) {
      value = store.numbers[slot * layout.numberStride + layout.valueOffset];
    } else {
      value = valueFunction();
      checkNumber(this.#name, value);
    }
    writer.room(3 * (this.#name.length + this.maxLabelLength) + NUMBER_BYTES + 2);
    writer.putBytes(this.#nameBytes);
    this.writeLabels(writer, slot);
    writer.putByte(SPACE);
    writer.putNumber(value);
    writer.putByte(NEWLINE);
  }
}

class HistogramCursor extends SlotCursor {
  readonly #layout: HistogramLayout;
  // The names, bound texts and pieces, encoded once per render and copied for every series
  // (a metric rendered directly has an ASCII name).
  readonly #bucketName: Uint8Array;
  readonly #countName: Uint8Array;
  /** `x_sum`, or `undefined` for bounds that leave out the sum (see `hasSum`). */
  readonly #sumName: Uint8Array | undefined;
  /** `x_created`, or `undefined` when no `_created` lines are written. */
  readonly #createdName: Uint8Array | undefined;
  readonly #bounds: readonly Uint8Array[];
  readonly #boundsLength: number;
  readonly #openMetrics: boolean;
  readonly #escaping: EscapingScheme;
  readonly #createdText = new CreatedText();
  /** The pieces around the values with `le` inserted: before it (`valuesBefore` values), after it. */
  readonly #valuesBefore: number;
  readonly #before: readonly Uint8Array[];
  readonly #after: readonly Uint8Array[];

  constructor(
    name: string,
    read: SeriesRead,
    pieces: LabelPieces,
    layout: HistogramLayout,
    settings: CursorSettings,
  ) {
    super(read, pieces);
    this.#layout = layout;
    const encode = (text: string) => textEncoder.encode(text);
    this.#bucketName = encode(name + "_bucket");
    this.#countName = encode(name + "_count");
    const withSum = hasSum({ upperBounds: layout.upperBounds } as HistogramPoint);
    this.#sumName = withSum ? encode(name + "_sum") : undefined;
    this.#createdName = settings.openMetrics && settings.created
      ? encode(name + "_created")
      : undefined;
    this.#bounds = formatBounds(layout.upperBounds).map(encode);
    this.#boundsLength = this.#bounds.reduce((sum, bytes) => sum + bytes.length, 0);
    this.#openMetrics = settings.openMetrics;
    this.#escaping = settings.escaping;
    // `le` is reserved for histograms, so no label of theirs has that name.
    const split = pieces.split("le")!;
    this.#valuesBefore = split.valuesBefore;
    this.#before = split.before.map(encode);
    this.#after = split.after.map(encode);
  }

  protected writeSeries(writer: ChunkWriter, slot: number): void {
    const layout = this.#layout;
    const store = this.read.store;
    const counts = store.counts;
    const bounds = this.#bounds;
    const bucketCount = bounds.length;
    const numbers = store.numbers;
    const base = slot * layout.numberStride;
    const exemplars = this.#openMetrics
      ? store.sides[layout.exemplarSide]?.[slot] as BucketExemplars | undefined
      : undefined;
    let exemplarLength = 0;
    if (exemplars !== undefined) {
      for (const exemplar of exemplars) {
        exemplarLength += exemplarText(exemplar, this.#escaping).length;
      }
    }
    const lineLength = 3 * (this.maxLabelLength + this.#bucketName.length + 8) +
      2 * NUMBER_BYTES;
    writer.room(lineLength * (bucketCount + 3) + 3 * (this.#boundsLength + exemplarLength));

    // The first bucket line, keeping where its prefix (`x_bucket{a="1",le="`) and its
    // suffix (`",b="2"} `) are, to copy them into the other bucket lines.
    const prefixStart = writer.position;
    writer.bytes(this.#bucketName);
    this.#writePieces(writer, slot, this.#before, 0, this.#valuesBefore);
    const prefixEnd = writer.position;
    writer.bytes(bounds[0]);
    const suffixStart = writer.position;
    this.#writePieces(
      writer,
      slot,
      this.#after,
      this.#valuesBefore,
      this.pieces.sortedPositions.length,
    );
    writer.byte(SPACE);
    const suffixEnd = writer.position;
    const buffer = writer.buffer;
    let count = counts[slot * bucketCount];
    writer.number(count);
    if (exemplars !== undefined) writer.text(exemplarText(exemplars[0], this.#escaping));
    writer.byte(NEWLINE);
    for (let i = 1; i < bucketCount; i++) {
      writer.repeat(buffer, prefixStart, prefixEnd);
      writer.bytes(bounds[i]);
      writer.repeat(buffer, suffixStart, suffixEnd);
      count += counts[slot * bucketCount + i];
      writer.number(count);
      if (exemplars !== undefined) writer.text(exemplarText(exemplars[i], this.#escaping));
      writer.byte(NEWLINE);
    }

    writer.bytes(this.#countName);
    const labelStart = writer.position;
    this.writeLabels(writer, slot);
    const labelEnd = writer.position;
    writer.byte(SPACE);
    writer.number(count);
    writer.byte(NEWLINE);
    const sumName = this.#sumName;
    if (sumName !== undefined) {
      writer.bytes(sumName);
      writer.repeat(buffer, labelStart, labelEnd);
      writer.byte(SPACE);
      writer.number(numbers[base + layout.sumOffset]);
      writer.byte(NEWLINE);
    }
    const createdName = this.#createdName;
    if (createdName !== undefined) {
      writer.bytes(createdName);
      writer.repeat(buffer, labelStart, labelEnd);
      writer.byte(SPACE);
      writer.text(this.#createdText.of(numbers[base + layout.createdOffset]));
      writer.byte(NEWLINE);
    }
  }

  /** Writes `pieces` around the values of the own labels `from .. to` (in name order). */
  #writePieces(
    writer: ChunkWriter,
    slot: number,
    pieces: readonly Uint8Array[],
    from: number,
    to: number,
  ): void {
    const positions = this.pieces.sortedPositions;
    writer.bytes(pieces[0]);
    for (let i = from; i < to; i++) {
      writer.text(this.escapedValue(slot, positions[i]));
      writer.bytes(pieces[i - from + 1]);
    }
  }
}
