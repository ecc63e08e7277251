/**
 * The byte renderer, the one renderer of the text formats: a registry's (or any families') text
 * or OpenMetrics exposition written straight into chunks of bytes. Counters, gauges and
 * histograms are written from their storage through its read interface
 * (`metrics/storage_read.ts`) by the cursors of `storage_cursors.ts`, without building
 * snapshots; every other collector's `collect()` snapshot is written by `family_writer.ts`.
 * `renderText`, `renderOpenMetrics` and `registry.metrics()` are this renderer's bytes.
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

import type { Collector, Labels, MetricFamily } from "../model.ts";
import { type EscapingScheme, isLegacyLabelName, isLegacyMetricName } from "../validation.ts";
import { ChunkWriter, joinChunks, releaseChunks } from "./byte_writer.ts";
import { withoutCreated } from "./created.ts";
import { type MetricStorage, storageOf } from "../metrics/storage_read.ts";
import { DEFAULT_ESCAPING, keepsLegacyNames } from "./escaping.ts";
import { familyHeader, writeFamily } from "./family_writer.ts";
import { cursorOf, type CursorSettings, type SeriesCursor } from "./storage_cursors.ts";
import type { InvalidFamilyError } from "./validate.ts";

/** What a gathering takes: the `names` filter and the reporter (as `Registry.collect`). */
export interface GatherOptions {
  /** Keep only families exposing one of these names. */
  readonly names?: Iterable<string>;
  /** Called with each family dropped because it cannot be exposed. */
  readonly onError?: (error: InvalidFamilyError) => void;
  /**
   * The escaping the render will use: under one that rewrites legacy names too (`dots`), every
   * metric is read from its snapshot, since the storage cursors write legacy names as they are.
   */
  readonly escaping?: EscapingScheme;
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

/** The end of an OpenMetrics body. */
const EOF_LINE = "# EOF\n";

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
  const read = storage.read();
  // An overflow series (series lifecycle) has its own label only in snapshots.
  if (read.labels.overflowSlot >= 0) return false;
  const layout = storage.layout;
  if (layout.type !== "gauge") return true;
  const functions = read.store.sides[layout.functionSide];
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
 * `collect()` does) and the metrics read from storage, in registration order. Their storage is
 * read later, by whoever writes them out (a render, a remote write).
 */
export async function gatherItems(
  gather: StorageGather,
  options: GatherOptions,
): Promise<RenderItems> {
  const stored = new Map<MetricFamily, StoredMetric>();
  const legacyNamesKept = keepsLegacyNames(options.escaping);
  const families = await gather(options, (collector, prefix, defaults) => {
    const storage = legacyNamesKept ? storageOf(collector) : undefined;
    if (storage === undefined || !rendersFromStorage(storage) || !isLegacyScope(prefix, defaults)) {
      return undefined;
    }
    const item: StoredMetric = {
      storage,
      family: familyWithoutPoints(storage, prefix),
      defaults,
    };
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
        this.#cursor = cursorOf(item.storage, item.family.name, item.defaults, this.#settings);
      } else {
        this.#writeSnapshot(writer, item);
      }
    }
    return writer.take(false);
  }

  /**
   * Every remaining chunk decoded as one string, each chunk handed back to the pool once
   * decoded (so that a render of any size reuses a few chunk buffers).
   */
  text(): string {
    const decoder = new TextDecoder();
    // Appended, not joined: a rope of one piece per chunk, flattened once by its reader.
    let text = "";
    for (let chunks = this.next(); chunks !== undefined; chunks = this.next()) {
      for (const chunk of chunks) text += decoder.decode(chunk, { stream: true });
      releaseChunks(chunks);
    }
    return text + decoder.decode();
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
