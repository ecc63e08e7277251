/**
 * Scrapes that arrive together share one collection: one call of the collectors, and each body
 * (format, escaping, gzip) made once for all of them.
 *
 * @module
 */

import { gzip } from "../encoding/gzip.ts";
import type { MetricFamily } from "../model.ts";
import type { EscapingScheme } from "../validation.ts";
import { type CollectOptions, type MetricsSource, Registry } from "../registry.ts";
import { type ExpositionFormat, renderBytes } from "../exposition/render.ts";
import { ByteRender, type RenderItems } from "../exposition/byte_render.ts";
import { gatherForBytes } from "../registry.ts";
import { SharedBody } from "../exposition/shared_body.ts";
import { withoutCreated } from "../exposition/created.ts";
import { keepsLegacyNames } from "../exposition/escaping.ts";

/**
 * A body: whole bytes (protobuf, gzip, snapshot renders), or the text formats of a `Registry`
 * rendered chunk by chunk as the response is read (see `SharedBody`).
 */
export type Body = Uint8Array<ArrayBuffer> | SharedBody;

/** What every collection of one endpoint collects from, and how it renders. */
export interface CollectionSettings {
  /** What the endpoint exposes. */
  readonly source: MetricsSource;
  /** `source`, its families checked as a registry checks custom collectors'. */
  readonly checked: MetricsSource;
  /** Whether OpenMetrics answers keep their `_created` lines. */
  readonly createdSeries: boolean;
  /** The gzip level. */
  readonly compressionLevel: number;
  /** Where families a collector got wrong, and stream failures, are reported. */
  readonly onError: (error: unknown) => void;
}

/**
 * One collection and what is made of it. Scrapes that arrive while it is busy (collecting,
 * rendering or compressing) join it instead of starting their own; once all its work has
 * settled, or a scrape waiting on it has timed out, the next scrape starts a new one.
 */
export class SharedCollection {
  /** The names of the `name[]` filter. */
  readonly names: readonly string[];
  /** The filter's sorted, distinct names, as a key. */
  readonly filter: string;
  /** Whether its failure was reported already (once per collection, not per scrape). */
  failureReported = false;
  readonly #settings: CollectionSettings;
  /** Called once no work of it is pending any more. */
  readonly #onSettled: (collection: SharedCollection) => void;
  /** The snapshots, collected when a body first needs them. */
  #families: Promise<readonly MetricFamily[]> | undefined;
  /** What the byte renderer walks (a `Registry` only), gathered when first needed. */
  #renderItems: Promise<RenderItems> | undefined;
  /** Bodies by format, escaping and encoding, each made once. */
  readonly #bodies = new Map<string, Promise<Body>>();
  /** The streamed bodies, sealed when the collection stops being shared. */
  readonly #streamedBodies: SharedBody[] = [];
  /** Pieces of work not settled yet. */
  #pendingWork = 0;

  constructor(
    settings: CollectionSettings,
    filter: string,
    names: readonly string[],
    onSettled: (collection: SharedCollection) => void,
  ) {
    this.#settings = settings;
    this.filter = filter;
    this.names = names;
    this.#onSettled = onSettled;
  }

  /** The body in `format`, made once; the collection starts before this returns. */
  body(
    format: ExpositionFormat,
    escaping: EscapingScheme | undefined,
    compressed: boolean,
  ): Promise<Body> {
    const id = `${format}/${escaping ?? ""}${compressed ? "+gzip" : ""}`;
    let body = this.#bodies.get(id);
    if (body === undefined) {
      body = compressed
        ? this.body(format, escaping, false).then((plain) =>
          gzip(plain instanceof SharedBody ? plain.whole() : plain, this.#settings.compressionLevel)
        )
        : format === "protobuf"
        ? this.#familiesOnce().then((families) => renderBytes(families, format, escaping))
        : this.#textBody(format, escaping);
      body = this.#track(body);
      this.#bodies.set(id, body);
    }
    return body;
  }

  /** No new reader joins its streamed bodies any more. */
  seal(): void {
    for (const body of this.#streamedBodies) body.seal();
  }

  /** Tracks one piece of work, telling `onSettled` when the last one settles. */
  #track<T>(work: Promise<T>): Promise<T> {
    this.#pendingWork++;
    const tracked = work.finally(() => {
      if (--this.#pendingWork === 0) this.#onSettled(this);
    });
    // A scrape that stopped waiting leaves nobody to see a failure: keep it from going unhandled.
    tracked.catch(() => {});
    return tracked;
  }

  // Families a collector got wrong are dropped and reported to onError (see validate.ts).
  #collectOptions(): CollectOptions {
    const onError = this.#settings.onError;
    return this.names.length > 0 ? { names: this.names, onError } : { onError };
  }

  /** The snapshots, collected once. */
  #familiesOnce(): Promise<readonly MetricFamily[]> {
    // Inside an async function, a collector that throws synchronously rejects like one that
    // rejects, and every scrape sharing the collection sees the same failure.
    return this.#families ??= this.#track(
      (async () => await this.#settings.checked.collect(this.#collectOptions()))(),
    );
  }

  /** What the byte renderer walks, gathered once. */
  #renderItemsOnce(registry: Registry): Promise<RenderItems> {
    return this.#renderItems ??= this.#track(gatherForBytes(registry, this.#collectOptions()));
  }

  /** The plain body of a text format: streamed from the byte renderer where it can be. */
  #textBody(format: "text" | "openmetrics", escaping: EscapingScheme | undefined): Promise<Body> {
    const { source, createdSeries } = this.#settings;
    const fromSnapshots = (): Promise<Body> =>
      this.#familiesOnce().then((families) =>
        renderBytes(createdSeries ? families : families.map(withoutCreated), format, escaping)
      );
    // The byte renderer writes legacy names as they are, which `dots` does not.
    if (!(source instanceof Registry) || !keepsLegacyNames(escaping)) return fromSnapshots();
    return this.#renderItemsOnce(source).then((items): Body => {
      const body = new SharedBody(new ByteRender(items, { format, escaping, createdSeries }));
      this.#streamedBodies.push(body);
      return body;
    });
  }
}

/** The collection each `name[]` filter's scrapes currently share. */
export class SharedCollections {
  readonly #settings: CollectionSettings;
  /** Busy collections by the sorted, distinct names of their filter. */
  readonly #busyByFilter = new Map<string, SharedCollection>();

  constructor(settings: CollectionSettings) {
    this.#settings = settings;
  }

  /** The busy collection of the filter `names`, or a new one. */
  join(names: readonly string[]): SharedCollection {
    const filter = JSON.stringify([...new Set(names)].sort());
    let collection = this.#busyByFilter.get(filter);
    if (collection === undefined) {
      collection = new SharedCollection(this.#settings, filter, names, (settled) => {
        this.drop(settled);
      });
      this.#busyByFilter.set(filter, collection);
    }
    return collection;
  }

  /**
   * Stops sharing `collection` — its work settled, or a scrape on it timed out: the next scrape
   * starts afresh.
   */
  drop(collection: SharedCollection): void {
    if (this.#busyByFilter.get(collection.filter) === collection) {
      this.#busyByFilter.delete(collection.filter);
    }
    collection.seal();
  }
}
