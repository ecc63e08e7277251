/**
 * The background remote writer: a write every interval through the shared `BackgroundLoop`,
 * with strictly increasing timestamps, and a staleness marker for each series the previous
 * write sent that is gone now (removed, or expired).
 *
 * @module
 */

import type { Registry } from "../../registry.ts";
import { positiveMs } from "../../validation.ts";
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
  /**
   * Called on every failed write. Default: one `console.error` line per failure streak and
   * one line when writing recovers. Errors it throws are swallowed.
   */
  readonly onError?: (error: Error, info: PushFailureInfo) => void;
  /** Called when a write succeeds after failures. */
  readonly onRecover?: (info: PushRecoveryInfo) => void;
  /**
   * Retry pacing while the receiver fails with a retryable error (5xx, 429, network, timeout):
   * capped exponential backoff with jitter, and at least the receiver's `Retry-After` (up to
   * `maxMs`). Other failures wait for the next interval.
   */
  readonly backoff?: BackoffOptions;
  /**
   * Deno only (checked when the writer is created): on SIGINT or SIGTERM, write once more, then
   * exit with the conventional code (130 or 143). Default false.
   */
  readonly flushOnSignals?: boolean;
  /** Whether the pending timer keeps the process alive while the writer runs. Default false. */
  readonly keepAlive?: boolean;
  /**
   * Expose the writer's own health — `remote_writer_last_success_timestamp_seconds`,
   * `remote_writer_consecutive_failures`, `remote_writer_failures_total`: `true` adds them to
   * the written registry (which must then be a `Registry`), `{ registry }` to another one.
   */
  readonly healthMetrics?: boolean | { readonly registry: Registry };
}

const DEFAULT_WRITER_TIMEOUT_MS = 10_000;

/**
 * Writes a registry to a remote-write receiver every `intervalMs` in the background — the
 * counterpart of the `Pusher` for Prometheus-compatible stores.
 *
 * - The first write happens right after `start()`, then one every `intervalMs`; never two in
 *   flight (a tick that comes while a write still runs is skipped).
 * - Retryable failures (5xx, 429, network, timeout) back off exponentially with jitter; others
 *   (4xx: the receiver refuses this data) wait for the next interval. Never throws into the
 *   program: failures go to `onError`.
 * - Every write carries one timestamp, strictly later than the previous write's, so a clock
 *   step backwards never makes the receiver refuse samples as out of order.
 * - A series it wrote last time that is gone now (removed, or expired) gets one staleness
 *   marker, so queries stop showing it at once rather than after the 5-minute lookback.
 * - `stop()` (or `await using`) makes one final write. `flush()` writes now: call it before a
 *   serverless function returns (`ctx.waitUntil(writer.flush())`).
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
      timeoutMs: options.timeoutMs ?? DEFAULT_WRITER_TIMEOUT_MS,
    });
    this.url = prepared.url;
    this.#prepared = prepared;
    positiveMs(prepared.timeoutMs, `timeoutMs of the RemoteWriter for ${prepared.url}`);
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

  /**
   * Stops the timer and writes once more, so the last observations are not lost. Resolves when
   * that write is done (failed or not); never rejects. Does nothing when not running.
   */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * Writes now (after the write in flight, if any), whether or not the writer is started.
   * Resolves `true` on success, `false` on failure (reported to `onError`); never rejects.
   */
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
 * The series of the previous write, to find the ones that ended: the encoded write itself
 * (where each series' labels are) and a 64-bit hash of each series' label bytes (two 32-bit
 * halves; two distinct label sets alike in both is a chance of about 2^-64 per pair, and would
 * only cost a staleness marker). Holds the last write's series only: a marker is sent once,
 * with the write after the series disappeared, whether or not that write succeeds.
 */
class SentSeries {
  #labels: { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } = {
    bytes: new Uint8Array(0),
    starts: new Int32Array(0),
    ends: new Int32Array(0),
  };
  #low = new Int32Array(0);
  #high = new Int32Array(0);

  /** The series of the previous write that `encoder` (this write's) has not written. */
  readonly ended: EndedSeries = (encoder: SeriesEncoder) => {
    const count = encoder.count;
    const labels = encoder.labels();
    const { bytes, starts, ends } = labels;
    const low = new Int32Array(count);
    const high = new Int32Array(count);
    // An open-addressing table of this write's series by hash: index + 1, 0 when free.
    const mask = (1 << Math.ceil(Math.log2(count * 2 + 2))) - 1;
    const table = new Int32Array(mask + 1);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < count; i++) {
      // Two multiplicative hashes over four bytes at a time (byte by byte costs several times
      // more): the two halves of the hash.
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
      a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ (end - starts[i]);
      low[i] = a;
      high[i] = b;
      let slot = a & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = i + 1;
    }
    const ended: Uint8Array[] = [];
    const previous = this.#labels;
    for (let j = 0; j < this.#low.length; j++) {
      const a = this.#low[j];
      const b = this.#high[j];
      let found = false;
      for (let slot = a & mask; table[slot] !== 0 && !found; slot = (slot + 1) & mask) {
        const i = table[slot] - 1;
        found = low[i] === a && high[i] === b;
      }
      if (!found) ended.push(previous.bytes.slice(previous.starts[j], previous.ends[j]));
    }
    // The encoder is not used again: its buffers are this write's record.
    this.#labels = labels;
    this.#low = low;
    this.#high = high;
    return ended;
  };
}
