/**
 * The byte renderer: a registry's text or OpenMetrics exposition written straight into chunks
 * of bytes. Counters, gauges and histograms are rendered from their storage through its read
 * interface (`metrics/storage_read.ts`: label value ids and dictionaries, numbers from the typed
 * arrays), without building snapshots; every other collector is rendered from its `collect()`
 * snapshot. The bytes are those of `renderText` / `renderOpenMetrics` of `registry.collect()`.
 *
 * Which path serves what:
 * - a registry's `prefix` and `defaultLabels` apply to both: a metric read from storage is
 *   written under its prefixed name, its default labels written into the constant label text;
 * - a custom collector, a summary, an info, an enum, a gauge with value functions
 *   (`setFunction`), and a metric whose name or label names are outside the legacy alphabet:
 *   that collector is rendered from its snapshot, the others from storage;
 * - the `names` filter, invalid families and name clashes are decided exactly as in
 *   `collect()` (a metric read from storage takes part with a family without points).
 *
 * A render goes on over several turns of the event loop (one chunk each, as a response stream
 * pulls them): each metric's label sets are taken when its turn comes (`read()`), and each
 * series is written whole from its numbers at that moment.
 *
 * @module
 */

import type { Collector, HistogramPoint, Labels, MetricFamily } from "../model.ts";
import {
  escapedValues,
  formatBounds,
  formatFloat,
  hasSum,
  type LabelPieces,
  labelPiecesOf,
} from "./format.ts";
import {
  checkNumber,
  type EscapingScheme,
  isLegacyLabelName,
  isLegacyMetricName,
} from "../validation.ts";
import { ChunkWriter, joinChunks, NUMBER_BYTES } from "./byte_writer.ts";
import { withoutCreated } from "./created.ts";
import {
  type CounterLayout,
  type GaugeLayout,
  type HistogramLayout,
  type MetricStorage,
  type SeriesRead,
  storageOf,
} from "../metrics/storage_read.ts";
import type { LabelSets } from "../metrics/label_sets.ts";
import { DEFAULT_ESCAPING, escapeExemplar } from "./escaping.ts";
import { familyHeader, formatExemplar, writeFamily } from "./family_writer.ts";
import type { Exemplar } from "../model.ts";
import type { InvalidFamilyError } from "./validate.ts";

/** What a gathering takes: the `names` filter and the reporter (as `Registry.collect`). */
export interface GatherOptions {
  /** Keep only families exposing one of these names. */
  readonly names?: Iterable<string>;
  /** Called with each family dropped because it cannot be exposed. */
  readonly onError?: (error: InvalidFamilyError) => void;
}

/**
 * Gives the family without points that a built-in metric read from its storage takes part in a
 * registry's checks with (its name under the registry's `prefix`), or `undefined` to collect
 * its snapshot instead.
 */
export type ReadFromStorage = (
  collector: Collector,
  prefix: string,
  defaultLabels: Labels | undefined,
) => MetricFamily | undefined;

/**
 * A registry's gathering (the same checks, reports and `names` filter as its `collect()`),
 * except that each built-in metric for which `readFromStorage` gives a family is not
 * collected: the caller reads its storage instead.
 */
export type StorageGather = (
  options: GatherOptions,
  readFromStorage: ReadFromStorage,
) => Promise<MetricFamily[]>;

/** Options of a byte render. */
export interface ByteRenderOptions extends GatherOptions {
  /** `"text"` (0.0.4) or `"openmetrics"`. */
  readonly format: "text" | "openmetrics";
  /** How names outside the legacy alphabet are written (default `underscores`). */
  readonly escaping?: EscapingScheme;
  /** Whether OpenMetrics has `_created` lines (default `true`). */
  readonly createdSeries?: boolean;
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
const textEncoder = new TextEncoder();
/** The end of an OpenMetrics body. */
const EOF_LINE = "# EOF\n";

/** A histogram series' exemplars, one per bucket. */
type BucketExemplars = readonly (Exemplar | undefined)[];

/**
 * A built-in metric rendered from its storage, as its registry exposes it: under the
 * registry's prefix, with the registry's default labels its series lack.
 */
export interface StoredMetric {
  readonly storage: MetricStorage;
  /** The family without points it takes part in the checks with (its exposed name). */
  readonly family: MetricFamily;
  /** The registry's default labels (`undefined`: none). */
  readonly defaults: Labels | undefined;
}

/** Whether a metric's name and label names are all in the legacy alphabet (cached). */
const legacyNamed = new WeakMap<MetricStorage, boolean>();

function isLegacyNamed(storage: MetricStorage): boolean {
  let legacy = legacyNamed.get(storage);
  if (legacy === undefined) {
    legacy = isLegacyMetricName(storage.name) &&
      storage.read().labels.names.every(isLegacyLabelName);
    legacyNamed.set(storage, legacy);
  }
  return legacy;
}

/** Whether a registry's prefix and default labels keep names in the legacy alphabet. */
function isLegacyScope(prefix: string, defaults: Labels | undefined): boolean {
  if (prefix !== "" && !isLegacyMetricName(prefix)) return false;
  return defaults === undefined || Object.keys(defaults).every(isLegacyLabelName);
}

/** Whether a metric can be rendered from its storage now (else from its snapshot). */
function rendersFromStorage(storage: MetricStorage): boolean {
  if (!isLegacyNamed(storage)) return false;
  const layout = storage.layout;
  if (layout.type !== "gauge") return true;
  const functions = storage.read().store.sides[layout.functionSide];
  return functions === undefined || !functions.some((f) => f !== undefined);
}

/** The `# HELP`/`# TYPE`/`# UNIT` lines of a family without points, per format (cached). */
const headers = new WeakMap<MetricFamily, { text?: string; openmetrics?: string }>();

function headerOf(family: MetricFamily, format: "text" | "openmetrics"): string {
  let cached = headers.get(family);
  if (cached === undefined) headers.set(family, cached = {});
  let header = cached[format];
  if (header === undefined) {
    header = familyHeader(family, format === "openmetrics");
    cached[format] = header;
  }
  return header;
}

/** The family without points of a metric read from storage, per prefix (cached). */
const familiesByPrefix = new WeakMap<MetricStorage, Map<string, MetricFamily>>();

/** The family without points that a metric read from storage takes part in checks with. */
export function familyWithoutPoints(storage: MetricStorage, prefix = ""): MetricFamily {
  let byPrefix = familiesByPrefix.get(storage);
  if (byPrefix === undefined) familiesByPrefix.set(storage, byPrefix = new Map());
  let family = byPrefix.get(prefix);
  if (family === undefined) {
    family = {
      type: storage.layout.type,
      name: prefix + storage.name,
      help: storage.help,
      unit: storage.unit,
      points: [],
    } as MetricFamily;
    byPrefix.set(prefix, family);
  }
  return family;
}

/** What a byte render walks: metrics read from storage and the snapshots of the others. */
export type RenderItems = readonly (MetricFamily | StoredMetric)[];

/** Whether a render item is a metric read from storage. */
export function isStoredMetric(item: MetricFamily | StoredMetric): item is StoredMetric {
  return "storage" in item;
}

/**
 * Gathers what rendering a registry takes (`gather` is its `StorageGather`): the families of
 * the collectors rendered from snapshots (awaiting async ones, validating and reporting as
 * `collect()` does) and the metrics read from storage, in registration order. `taken` is told
 * of each metric read from storage when `collect()` would have collected it (remote write
 * reads its numbers then).
 */
export async function gatherItems(
  gather: StorageGather,
  options: GatherOptions,
  taken?: (item: StoredMetric) => void,
): Promise<RenderItems> {
  const stored = new Map<MetricFamily, StoredMetric>();
  const families = await gather(options, (collector, prefix, defaults) => {
    const storage = storageOf(collector);
    if (storage === undefined || !rendersFromStorage(storage) || !isLegacyScope(prefix, defaults)) {
      return undefined;
    }
    const item: StoredMetric = {
      storage,
      family: familyWithoutPoints(storage, prefix),
      defaults,
    };
    taken?.(item);
    // A family of its own per gathering: a metric registered twice is told apart.
    const family = { ...item.family };
    stored.set(family, item);
    return family;
  });
  return families.map((family) => stored.get(family) ?? family);
}

/**
 * One render in progress: `next()` gives the following chunks, at least one unless the render
 * is over (then `undefined`).
 */
export class ByteRender {
  readonly #items: RenderItems;
  readonly #format: "text" | "openmetrics";
  readonly #escaping: EscapingScheme;
  readonly #created: boolean;
  readonly #settings: CursorSettings;
  readonly #writer = new ChunkWriter();
  #index = 0;
  #cursor: SeriesCursor | undefined;
  #over = false;
  /** How many collectors were rendered from snapshots (for tests and benchmarks). */
  readonly fromSnapshots: number;

  constructor(items: RenderItems, options: ByteRenderOptions) {
    this.#items = items;
    this.#format = options.format;
    this.#escaping = options.escaping ?? DEFAULT_ESCAPING;
    this.#created = options.createdSeries ?? true;
    this.#settings = {
      openMetrics: this.#format === "openmetrics",
      escaping: this.#escaping,
      created: this.#created,
    };
    this.fromSnapshots = items.filter((item) => !isStoredMetric(item)).length;
  }

  /** Whether every chunk was given. */
  get over(): boolean {
    return this.#over;
  }

  /** The next chunks (at least one), or `undefined` once everything was given. */
  next(): Uint8Array<ArrayBuffer>[] | undefined {
    if (this.#over) return undefined;
    const writer = this.#writer;
    while (writer.finishedBytes === 0) {
      const cursor = this.#cursor;
      if (cursor !== undefined) {
        if (!cursor.write(writer)) this.#cursor = undefined;
        continue;
      }
      if (this.#index === this.#items.length) {
        if (this.#format === "openmetrics") writer.text(EOF_LINE);
        this.#over = true;
        const chunks = writer.take(true);
        return chunks.length === 0 ? undefined : chunks;
      }
      const item = this.#items[this.#index++];
      if (isStoredMetric(item)) {
        writer.text(headerOf(item.family, this.#format));
        this.#cursor = cursorOf(item, this.#settings);
      } else {
        this.#writeSnapshot(writer, item);
      }
    }
    return writer.take(false);
  }

  /** Every remaining chunk. */
  rest(): Uint8Array<ArrayBuffer>[] {
    const all: Uint8Array<ArrayBuffer>[] = [];
    for (let chunks = this.next(); chunks !== undefined; chunks = this.next()) all.push(...chunks);
    return all;
  }

  #writeSnapshot(writer: ChunkWriter, given: MetricFamily): void {
    const openMetrics = this.#format === "openmetrics";
    const family = openMetrics && !this.#created ? withoutCreated(given) : given;
    writeFamily(writer, family, openMetrics, this.#escaping);
  }
}

/** Renders snapshot families in a text format as one array of bytes (`renderText`'s bytes). */
export function renderFamilies(
  families: readonly MetricFamily[],
  options: ByteRenderOptions,
): Uint8Array<ArrayBuffer> {
  return joinChunks(new ByteRender(families, options).rest());
}

/** Writes a metric's series, a chunk's worth at a time. */
interface SeriesCursor {
  /** Writes series until a chunk is finished; `false` once the last was written. */
  write(writer: ChunkWriter): boolean;
}

/** How the cursors of one render write. */
interface CursorSettings {
  /** OpenMetrics (else the text format 0.0.4). */
  readonly openMetrics: boolean;
  /** How exemplar label names outside the legacy alphabet are written. */
  readonly escaping: EscapingScheme;
  /** Whether OpenMetrics has `_created` lines. */
  readonly created: boolean;
}

function cursorOf(item: StoredMetric, settings: CursorSettings): SeriesCursor {
  const storage = item.storage;
  const read = storage.read();
  const pieces = labelPiecesOf(read.labels.shape, item.defaults);
  const name = item.family.name;
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
      if (labels.isLive(slot)) this.writeSeries(writer, slot);
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
  /** The pieces around the values with `le` inserted: before it (`cut` values), after it. */
  readonly #cut: number;
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
    this.#cut = split.cut;
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
    this.#writePieces(writer, slot, this.#before, 0, this.#cut);
    const prefixEnd = writer.position;
    writer.bytes(bounds[0]);
    const suffixStart = writer.position;
    this.#writePieces(writer, slot, this.#after, this.#cut, this.pieces.sortedPositions.length);
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
