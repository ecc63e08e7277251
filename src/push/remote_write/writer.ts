/**
 * The background remote writer: `writeOnce` on the shared `BackgroundLoop`, with staleness.
 *
 * @module
 */

import type { Registry } from "../../registry.ts";
import {
  BackgroundLoop,
  type BackoffOptions,
  healthRegistryOf,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "../background.ts";
import { RemoteWriteError } from "../errors.ts";
import type { SeriesMemory } from "./batching.ts";
import { snappyDecompress } from "../../encoding/snappy.ts";
import { type PreparedWrite, prepareWrite, type RemoteWriteOptions, writeOnce } from "./write.ts";

/** Options of {@linkcode RemoteWriter}. */
export interface RemoteWriterOptions extends Omit<RemoteWriteOptions, "signal"> {
  /** The receiver, e.g. `http://prometheus:9090/api/v1/write`. */
  readonly url: string | URL;
  /** Time between writes in milliseconds; default 15000. */
  readonly intervalMs?: number;
  /** Timeout of each write in milliseconds; default 10000. */
  readonly timeoutMs?: number;
  /** Called on every failed write (errors it throws are swallowed); default: a log line per streak. */
  readonly onError?: (error: Error, info: PushFailureInfo) => void;
  /** Called when a write succeeds after failures. */
  readonly onRecover?: (info: PushRecoveryInfo) => void;
  /**
   * Pacing of retries after a retryable failure (5xx, 429, network, timeout): capped exponential
   * backoff with jitter, at least the `Retry-After`. Other failures wait for the next interval.
   */
  readonly backoff?: BackoffOptions;
  /** Deno only: on SIGINT or SIGTERM, write once more, then exit (130 or 143). Default false. */
  readonly flushOnSignals?: boolean;
  /** Whether the pending timer keeps the process alive while the writer runs. Default false. */
  readonly keepAlive?: boolean;
  /**
   * Expose `remote_writer_last_success_timestamp_seconds`, `remote_writer_consecutive_failures`
   * and `remote_writer_failures_total`: `true` in the written registry, or in `{ registry }`.
   */
  readonly healthMetrics?: boolean | { readonly registry: Registry };
}

/**
 * Writes a registry to a remote-write receiver every `intervalMs` in the background, as the
 * `Pusher` does for a Pushgateway: first write on `start()`, never two in flight, backoff on
 * retryable failures, failures to `onError` (never thrown), a final write on `stop()`. Each
 * write's timestamp is later than the previous one's (a clock step back never makes samples
 * out of order); a series gone since the previous write gets one staleness marker.
 *
 * @example
 * ```ts ignore
 * import { Counter, Registry, RemoteWriter } from "@deno-prom/client";
 * const registry = new Registry();
 * const handled = new Counter({ name: "jobs_handled", help: "jobs handled", registry });
 * await using writer = new RemoteWriter({
 *   url: "http://localhost:9090/api/v1/write",
 *   registry,
 *   labels: { job: "worker", instance: "eu-1" },
 * });
 * writer.start();
 * handled.inc(); // written within 15 s, and once more when the writer is disposed
 * ```
 */
export class RemoteWriter {
  /** The receiver's URL, without credentials. */
  readonly url: string;
  readonly #prepared: PreparedWrite;
  readonly #loop: BackgroundLoop;
  readonly #sent = new SentSeries();
  #lastTimestampMs = 0;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: RemoteWriterOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("RemoteWriter takes an options object with at least { url, labels }");
    }
    const prepared = prepareWrite(options.url, {
      ...options,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    this.url = prepared.url;
    this.#prepared = prepared;
    const healthRegistry = healthRegistryOf(
      options.healthMetrics,
      prepared.given,
      `the RemoteWriter for ${prepared.url}`,
    );
    this.#loop = new BackgroundLoop({
      owner: "RemoteWriter",
      url: prepared.url,
      verb: "write",
      intervalMs: options.intervalMs ?? 15_000,
      backoff: options.backoff,
      keepAlive: options.keepAlive === true,
      flushOnSignals: options.flushOnSignals === true,
      onError: options.onError,
      onRecover: options.onRecover,
      send: () =>
        writeOnce(
          this.#prepared,
          this.#nextTimestampMs(),
          this.#sent,
        ),
      isRetryable: (error) => error instanceof RemoteWriteError && error.retryable,
      retryAfterMs: (error) => error instanceof RemoteWriteError ? error.retryAfterMs : undefined,
      health: healthRegistry === undefined ? undefined : {
        registry: healthRegistry,
        names: { prefix: "remote_writer", action: "remote write", actions: "remote writes" },
      },
    });
  }

  /** Whether the writer is started and not stopped. */
  get running(): boolean {
    return this.#loop.running;
  }

  /** When the last write succeeded, or `undefined` if none has yet. */
  get lastSuccess(): Date | undefined {
    return this.#loop.lastSuccess;
  }

  /** Failed writes in a row since the last success (0 when healthy). */
  get consecutiveFailures(): number {
    return this.#loop.consecutiveFailures;
  }

  /** Failed writes since the writer was created. */
  get failuresTotal(): number {
    return this.#loop.failuresTotal;
  }

  /** Starts writing: once right away, then every `intervalMs`. Does nothing when running. */
  start(): void {
    this.#loop.start();
  }

  /** Stops the timer and writes once more; resolves when that write is done, never rejects. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Writes now (after the write in flight); resolves whether it succeeded, never rejects. */
  flush(): Promise<boolean> {
    return this.#loop.sendNow();
  }

  /** Same as {@linkcode RemoteWriter.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Now, or 1 ms after the previous write if the clock has not moved on (or went back). */
  #nextTimestampMs(): number {
    const now = Date.now();
    this.#lastTimestampMs = now > this.#lastTimestampMs ? now : this.#lastTimestampMs + 1;
    return this.#lastTimestampMs;
  }
}

/**
 * The series of this write and of the previous one, to find those that ended: a 53-bit hash of
 * each one's labels (two label sets with equal hashes, a chance of about 2^-53 per pair, would
 * only miss a marker), and where its labels are in the requests sent, read back only for the
 * series that ended. A marker is sent once, with the next write, whether or not that write
 * succeeds.
 */
class SentSeries implements SeriesMemory {
  #current = new SeenSeries();
  #previous = new SeenSeries();
  #bodies: readonly Uint8Array[] = [];
  #table = new Int32Array(0);
  #view = new DataView(new ArrayBuffer(0));

  see(bytes: Uint8Array<ArrayBuffer>, from: number, to: number, request: number): void {
    if (this.#view.buffer !== bytes.buffer) this.#view = new DataView(bytes.buffer);
    this.#current.add(labelHash(bytes, this.#view, from, to), request, from, to);
  }

  ended(): Uint8Array[] {
    const { hashes, count } = this.#current;
    // Open addressing over this write's hashes: index + 1, 0 when free.
    const size = 2 ** Math.ceil(Math.log2(count * 2 + 2));
    const table = this.#table.length === size ? this.#table.fill(0) : new Int32Array(size);
    this.#table = table;
    for (let i = 0; i < count; i++) {
      let slot = hashes[i] & (size - 1);
      while (table[slot] !== 0) slot = (slot + 1) & (size - 1);
      table[slot] = i + 1;
    }
    const previous = this.#previous;
    const requests: Uint8Array[] = [];
    const ended: Uint8Array[] = [];
    for (let j = 0; j < previous.count; j++) {
      const hash = previous.hashes[j];
      let slot = hash & (size - 1);
      while (table[slot] !== 0 && hashes[table[slot] - 1] !== hash) slot = (slot + 1) & (size - 1);
      if (table[slot] !== 0) continue;
      const [request, from, to] = previous.places.subarray(3 * j, 3 * j + 3);
      requests[request] ??= snappyDecompress(this.#bodies[request]);
      ended.push(requests[request].slice(from, to));
    }
    return ended;
  }

  sent(bodies: readonly Uint8Array[]): void {
    this.#bodies = bodies;
    [this.#previous, this.#current] = [this.#current, this.#previous];
    this.#current.count = 0;
  }
}

/** The hash of each series' labels seen in a write, and where they are in its requests. */
class SeenSeries {
  hashes = new Float64Array(1024);
  /** Per series: its request, and where its labels start and end in the request. */
  places = new Int32Array(3 * 1024);
  count = 0;

  add(hash: number, request: number, from: number, to: number): void {
    if (this.count === this.hashes.length) {
      this.hashes = grown(this.hashes, this.count);
      this.places = grown(this.places, 3 * this.count);
    }
    const at = 3 * this.count;
    this.places[at] = request;
    this.places[at + 1] = from;
    this.places[at + 2] = to;
    this.hashes[this.count++] = hash;
  }
}

function grown<T extends Float64Array | Int32Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (size: number) => T)(array.length * 2);
  bigger.set(array.subarray(0, length));
  return bigger;
}

/** Two 32-bit multiplicative hashes of `bytes[from, to)`, four bytes at a time, as 53 bits. */
function labelHash(bytes: Uint8Array, view: DataView, from: number, to: number): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  let k = from;
  for (; k + 4 <= to; k += 4) {
    const word = view.getInt32(k, true);
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul((b ^ word) + (b >>> 13), 0x5bd1e995);
  }
  for (; k < to; k++) {
    a = Math.imul(a ^ bytes[k], 0x01000193);
    b = Math.imul((b ^ bytes[k]) + (b >>> 13), 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ (to - from);
  return (a >>> 0) * 0x200000 + (b >>> 11);
}
