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
import type { SeriesEncoder } from "./encoder.ts";
import {
  type EndedSeries,
  type PreparedWrite,
  prepareWrite,
  type RemoteWriteOptions,
  writeOnce,
} from "./write.ts";

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
      send: () => writeOnce(this.#prepared, this.#nextTimestampMs(), this.#sent.ended),
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
 * The series of the previous write, to find those that ended: its label bytes (the encoder's
 * buffers, not written again) and a 64-bit hash of each series' labels (two label sets with
 * equal hashes, a chance of about 2^-64 per pair, would only miss a marker). A marker is sent
 * once, with the next write, whether or not that write succeeds.
 */
class SentSeries {
  #labels: ReturnType<SeriesEncoder["labels"]> = {
    bytes: new Uint8Array(0),
    starts: new Int32Array(0),
    ends: new Int32Array(0),
  };
  /** Each series' hash: the low half at `2i`, the high half at `2i + 1`. */
  #hashes = new Int32Array(0);

  /** The labels of the series of the previous write that `encoder` has not written. */
  readonly ended: EndedSeries = (encoder: SeriesEncoder) => {
    const labels = encoder.labels();
    const hashes = labelHashes(labels.bytes, labels.starts, labels.ends, encoder.count);
    // Open addressing over this write's series by hash: index + 1, 0 when free.
    const mask = (1 << Math.ceil(Math.log2(encoder.count * 2 + 2))) - 1;
    const table = new Int32Array(mask + 1);
    for (let i = 0; i < encoder.count; i++) {
      let slot = hashes[2 * i] & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    const ended: Uint8Array[] = [];
    const { bytes, starts, ends } = this.#labels;
    for (let j = 0; j < this.#hashes.length / 2; j++) {
      const low = this.#hashes[2 * j];
      const high = this.#hashes[2 * j + 1];
      let found = false;
      for (let slot = low & mask; table[slot] !== 0 && !found; slot = (slot + 1) & mask) {
        const i = table[slot] - 1;
        found = hashes[2 * i] === low && hashes[2 * i + 1] === high;
      }
      if (!found) ended.push(bytes.slice(starts[j], ends[j]));
    }
    this.#labels = labels;
    this.#hashes = hashes;
    return ended;
  };
}

/** Two 32-bit multiplicative hashes of each series' labels, four bytes at a time. */
function labelHashes(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, count: number) {
  const hashes = new Int32Array(count * 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    let a = 0x811c9dc5;
    let b = 0x050c5d1f;
    let k = starts[i];
    const end = ends[i];
    for (; k + 4 <= end; k += 4) {
      const word = view.getInt32(k, true);
      a = Math.imul(a ^ word, 0x01000193);
      b = Math.imul((b ^ word) + (b >>> 13), 0x5bd1e995);
    }
    for (; k < end; k++) {
      a = Math.imul(a ^ bytes[k], 0x01000193);
      b = Math.imul((b ^ bytes[k]) + (b >>> 13), 0x5bd1e995);
    }
    hashes[2 * i] = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ (ends[i] - starts[i]);
    hashes[2 * i + 1] = b;
  }
  return hashes;
}
