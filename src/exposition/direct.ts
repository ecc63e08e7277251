/**
 * The byte renderer: a registry's text or OpenMetrics exposition written straight into chunks
 * of bytes. Counters, gauges and histograms are rendered from their storage (label text from
 * the label index in pieces, numbers from the typed arrays), without building snapshots; every
 * other collector is rendered from its `collect()` snapshot through the string renderers. The
 * bytes are those of `renderText` / `renderOpenMetrics` of `registry.collect()`: the
 * differential tests (`tests/exposition_direct_test.ts`) compare both paths.
 *
 * Which path serves what:
 * - a registry with a `prefix` or `defaultLabels` (which apply to snapshots), or a render
 *   under the `dots` escaping (which rewrites legacy names too): the whole registry is
 *   rendered from `collect()` (`startByteRender` returns `undefined`);
 * - a custom collector, a summary, an info, an enum, a gauge with value functions
 *   (`setFunction`), and a metric whose name or label names are outside the legacy alphabet:
 *   that collector is rendered from its snapshot, the others directly;
 * - the `names` filter, invalid families and name clashes are decided exactly as in
 *   `collect()` (a built-in metric takes part with a family without points).
 *
 * A render goes on over several turns of the event loop (one chunk each, as a response stream
 * pulls them): each metric's label sets are taken when its turn comes (`labelSnapshot`), and
 * each series is written whole from its numbers at that moment.
 *
 * @module
 */

import type { HistogramPoint, MetricFamily } from "../model.ts";
import { gatherWithStandIns, type Registry } from "../registry.ts";
import { formatBounds, formatFloat, hasSum } from "./format.ts";
import {
  checkNumber,
  type EscapingScheme,
  isLegacyLabelName,
  isLegacyMetricName,
} from "../validation.ts";
import { ChunkWriter, joinChunks, NUMBER_BYTES } from "./byte_writer.ts";
import { withoutCreated } from "./created.ts";
import {
  type BucketExemplars,
  type CounterLayout,
  type DirectSource,
  directSourceOf,
  type DirectView,
  type GaugeLayout,
  type HistogramLayout,
} from "./direct_source.ts";
import { DEFAULT_ESCAPING, escapeExemplar, keepsLegacyNames } from "./escaping.ts";
import { formatExemplar, renderOpenMetrics } from "./openmetrics.ts";
import { renderText } from "./text.ts";
import type { CollectOptions } from "../registry.ts";
import type { Exemplar } from "../model.ts";
import type { LabelSnapshot } from "../metrics/series_index.ts";

/** Options of a byte render. */
export interface ByteRenderOptions extends CollectOptions {
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

/** Whether a metric's name and label names are all in the legacy alphabet (cached). */
const legacyNamed = new WeakMap<DirectSource, boolean>();

function isLegacyNamed(source: DirectSource): boolean {
  let legacy = legacyNamed.get(source);
  if (legacy === undefined) {
    legacy = isLegacyMetricName(source.name) &&
      source.view().labels.names.every(isLegacyLabelName);
    legacyNamed.set(source, legacy);
  }
  return legacy;
}

/** Whether a source can be rendered from its storage now (else from its snapshot). */
function rendersDirectly(source: DirectSource): boolean {
  if (!isLegacyNamed(source) || source.rendersBySnapshot()) return false;
  const layout = source.layout;
  if (layout.type !== "gauge") return true;
  const functions = source.view().store.sides[layout.functionSide];
  return functions === undefined || !functions.some((f) => f !== undefined);
}

/** The `# HELP`/`# TYPE`/`# UNIT` lines of a metric, as the string renderers write them. */
const headers = new WeakMap<DirectSource, { text?: string; openmetrics?: string }>();

function headerOf(source: DirectSource, format: "text" | "openmetrics"): string {
  let cached = headers.get(source);
  if (cached === undefined) headers.set(source, cached = {});
  let header = cached[format];
  if (header === undefined) {
    const family = standInOf(source);
    header = format === "text"
      ? renderText([family])
      : renderOpenMetrics([family]).slice(0, -EOF_LINE.length);
    cached[format] = header;
  }
  return header;
}

/** The family without points that a directly rendered metric takes part in checks with. */
export function standInOf(source: DirectSource): MetricFamily {
  return {
    type: source.layout.type,
    name: source.name,
    help: source.help,
    unit: source.unit,
    points: [],
  } as MetricFamily;
}

/** What a byte render walks: directly rendered metrics and the snapshots of the others. */
export type RenderItems = readonly (MetricFamily | DirectSource)[];

/**
 * Gathers what rendering `registry` takes: the families of the collectors rendered from
 * snapshots (awaiting async ones, validating and reporting as `collect()` does) and the
 * metrics rendered directly, in registration order. `undefined` when the registry has a
 * prefix or default labels: render `registry.collect()` instead. `taken` is told of each
 * directly rendered metric when `collect()` would have collected it (remote write reads its
 * numbers then).
 */
export async function gatherForBytes(
  registry: Registry,
  options: CollectOptions,
  taken?: (source: DirectSource) => void,
): Promise<RenderItems | undefined> {
  const direct = new Map<MetricFamily, DirectSource>();
  const gathering = gatherWithStandIns(registry, options, (collector) => {
    const source = directSourceOf(collector);
    if (source === undefined || !rendersDirectly(source)) return undefined;
    taken?.(source);
    const standIn = standInOf(source);
    direct.set(standIn, source);
    return standIn;
  });
  if (gathering === undefined) return undefined;
  const families = await gathering;
  return families.map((family) => direct.get(family) ?? family);
}

/** Starts rendering `registry` (see `gatherForBytes`; `undefined` for a scoped registry). */
export async function startByteRender(
  registry: Registry,
  options: ByteRenderOptions,
): Promise<ByteRender | undefined> {
  // Direct rendering writes legacy names as they are, which `dots` does not.
  if (!keepsLegacyNames(options.escaping)) return undefined;
  const items = await gatherForBytes(registry, options);
  return items === undefined ? undefined : new ByteRender(items, options);
}

/** Renders `registry` as one array of bytes, directly where it can (see the module doc). */
export async function renderRegistryBytes(
  registry: Registry,
  options: ByteRenderOptions,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const render = await startByteRender(registry, options);
  return render === undefined ? undefined : joinChunks(render.rest());
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
    this.fromSnapshots = items.filter((item) => !("layout" in item)).length;
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
      if ("layout" in item) {
        writer.text(headerOf(item, this.#format));
        this.#cursor = cursorOf(item, this.#settings);
      } else {
        writer.text(this.#renderSnapshot(item));
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

  #renderSnapshot(given: MetricFamily): string {
    if (this.#format === "text") return renderText([given], this.#escaping);
    const family = this.#created ? given : withoutCreated(given);
    return renderOpenMetrics([family], this.#escaping).slice(0, -EOF_LINE.length);
  }
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

function cursorOf(source: DirectSource, settings: CursorSettings): SeriesCursor {
  const view = source.view();
  const layout = source.layout;
  switch (layout.type) {
    case "counter":
      return new CounterCursor(source.name, view, layout, settings);
    case "gauge":
      return new GaugeCursor(source.name, view, layout);
    case "histogram":
      return new HistogramCursor(source.name, view, layout, settings);
  }
}

/** What all cursors share: the slots to walk, and the label text of a series. */
abstract class SlotCursor implements SeriesCursor {
  protected readonly labels: LabelSnapshot;
  protected readonly view: DirectView;
  /** `labels.textPieces` encoded once per render: copied, not encoded, for every series. */
  readonly #pieceBytes: readonly Uint8Array[];
  #slot = 0;
  /** The constant text's length, for the room a series needs. */
  readonly #piecesLength: number;

  /**
   * The longest label text a series of this snapshot can have (UTF-16 units): its pieces and
   * the longest escaped value at each position. Found once per render, over the distinct values
   * (not the series), so that a series takes one `room()` for all its writes.
   */
  protected readonly maxLabelLength: number;

  constructor(view: DirectView) {
    this.view = view;
    this.labels = view.labels;
    this.#piecesLength = this.labels.textPieces.reduce((sum, piece) => sum + piece.length, 0);
    this.#pieceBytes = this.labels.textPieces.map((piece) => textEncoder.encode(piece));
    let length = this.#piecesLength;
    for (const position of this.labels.sortedPositions) {
      let longest = 0;
      for (const value of this.labels.escapedByPosition[position]) {
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
    return labels.escapedByPosition[position][labels.seriesIds[slot * labels.width + position]];
  }

  /**
   * Writes `{a="1",b="2"}` (nothing for a series without labels), in room made for
   * `maxLabelLength`.
   */
  protected writeLabels(writer: ChunkWriter, slot: number): void {
    const labels = this.labels;
    const pieces = this.#pieceBytes;
    const positions = labels.sortedPositions;
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
    view: DirectView,
    layout: CounterLayout,
    settings: CursorSettings,
  ) {
    super(view);
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
    const store = this.view.store;
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

  constructor(name: string, view: DirectView, layout: GaugeLayout) {
    super(view);
    this.#layout = layout;
    this.#name = name;
    this.#nameBytes = textEncoder.encode(name);
  }

  protected writeSeries(writer: ChunkWriter, slot: number): void {
    const layout = this.#layout;
    const store = this.view.store;
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
    view: DirectView,
    layout: HistogramLayout,
    settings: CursorSettings,
  ) {
    super(view);
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
    const split = view.labels.split("le")!;
    this.#cut = split.cut;
    this.#before = split.before.map(encode);
    this.#after = split.after.map(encode);
  }

  protected writeSeries(writer: ChunkWriter, slot: number): void {
    const layout = this.#layout;
    const store = this.view.store;
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
    this.#writePieces(writer, slot, this.#after, this.#cut, this.labels.sortedPositions.length);
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
    const positions = this.labels.sortedPositions;
    writer.bytes(pieces[0]);
    for (let i = from; i < to; i++) {
      writer.text(this.escapedValue(slot, positions[i]));
      writer.bytes(pieces[i - from + 1]);
    }
  }
}
