/**
 * Cutting one write into requests of at most `maxSeries` series and `maxBytes` bytes (before
 * compression) while it is encoded: the encoder writes each field into `out`, and each full
 * request is compressed at once, so one request's buffer serves the whole write.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import { snappyCompress } from "../../encoding/snappy.ts";

/** The limits of one request: series, and bytes before compression. */
export interface RequestLimits {
  readonly maxSeries: number;
  readonly maxBytes: number;
}

/** A write's requests (compressed), and the series too large for any request (never sent). */
export interface WriteRequests {
  readonly requests: readonly { readonly body: Uint8Array<ArrayBuffer>; readonly series: number }[];
  /** Series written, staleness markers included. */
  readonly series: number;
  readonly oversized: { readonly count: number; readonly family: string; readonly bytes: number };
}

/**
 * What remembers a write's series to tell which of the previous write's ended: `begin` starts a
 * write, `see` is given each series' labels (`bytes` from `from` to `to` in request `request`),
 * `ended` is asked once all were seen, and `sent` is given the requests' bodies (Snappy blocks).
 */
export interface SeriesMemory {
  begin(): void;
  see(bytes: DataView, from: number, to: number, request: number): void;
  ended(): readonly Uint8Array[];
  sent(bodies: readonly Uint8Array[]): void;
}

// The buffer of the request being written, kept between writes while small: writing into
// memory touched before is far faster than into fresh pages. Writes are synchronous.
const KEPT_BYTES = 1024 * 1024;
let keptWriter: ProtoWriter | undefined;

/** The requests of one write, filled field by field (see the module). */
export class RequestBuilder {
  readonly out: ProtoWriter = keptWriter ?? new ProtoWriter(64 * 1024);
  readonly #limits: RequestLimits;
  readonly #memory: SeriesMemory | undefined;
  readonly #requests: { body: Uint8Array<ArrayBuffer>; series: number }[] = [];
  #metadata: Uint8Array = new Uint8Array(0);
  #series = 0;
  #oversized = { count: 0, family: "", bytes: 0 };

  constructor(limits: RequestLimits, memory: SeriesMemory | undefined) {
    keptWriter = undefined;
    this.out.reset();
    this.#limits = limits;
    this.#memory = memory;
    memory?.begin();
  }

  /** Starts a family: its metadata goes first, and again first in each request it goes on in. */
  family(metadata: Uint8Array): void {
    // Metadata is advisory: too large for a request, it is left out.
    this.#metadata = metadata.length > this.#limits.maxBytes ? new Uint8Array(0) : metadata;
    const { maxBytes, maxSeries } = this.#limits;
    if (this.out.length + this.#metadata.length > maxBytes || this.#series === maxSeries) {
      this.#flush();
    }
    this.out.raw(this.#metadata);
  }

  /**
   * Ends the series written into `out` since `start`, its labels at `[from, to)`: it stays in
   * this request, moves to a new one, or, larger than any request, is dropped (`family` names
   * it). Staleness markers are not `seen`.
   */
  series(start: number, from: number, to: number, family: string, seen: boolean): void {
    const { out } = this;
    const size = out.length - start;
    const { maxBytes, maxSeries } = this.#limits;
    if (size > maxBytes) {
      out.truncate(start);
      if (this.#oversized.count++ === 0) this.#oversized = { count: 1, family, bytes: size };
      return;
    }
    if (out.length > maxBytes || this.#series === maxSeries) {
      const series = out.view().slice(start);
      out.truncate(start);
      this.#flush();
      if (this.#metadata.length + size <= maxBytes) out.raw(this.#metadata);
      [from, to] = [from + out.length - start, to + out.length - start];
      out.raw(series);
    }
    if (seen) this.#memory?.see(out.dataView, from, to, this.#requests.length);
    this.#series++;
  }

  /** The requests, once every field was written. An empty write is one empty request. */
  finish(): WriteRequests {
    if (this.out.length > 0 || this.#requests.length === 0) this.#flush();
    if (this.out.buffer.length <= KEPT_BYTES) keptWriter = this.out;
    this.#memory?.sent(this.#requests.map((request) => request.body));
    const series = this.#requests.reduce((sum, request) => sum + request.series, 0);
    return { requests: this.#requests, series, oversized: this.#oversized };
  }

  #flush(): void {
    this.#requests.push({ body: snappyCompress(this.out.view()), series: this.#series });
    this.out.reset();
    this.#series = 0;
  }
}
