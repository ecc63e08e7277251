/**
 * The background remote writer: `writeOnce` on the shared background loop, with staleness.
 *
 * @module
 */

import { BackgroundLoop, type BackgroundOptions, BackgroundSender } from "../background.ts";
import { RemoteWriteError } from "../errors.ts";
import { SentSeries } from "./staleness.ts";
import { prepareWrite, type RemoteWriteOptions, writeOnce } from "./write.ts";

/** Options of {@linkcode RemoteWriter} (`timeoutMs` applies to each write; default 10000). */
export interface RemoteWriterOptions
  extends Omit<RemoteWriteOptions, "signal" | "timeoutMs">, BackgroundOptions {
  /** The receiver, e.g. `http://prometheus:9090/api/v1/write`. */
  readonly url: string | URL;
}

/**
 * Writes a registry to a remote-write receiver every `intervalMs` in the background, as the
 * `Pusher` pushes to a Pushgateway (see {@linkcode BackgroundSender}). Each write's timestamp is
 * later than the previous one's (a clock step back never makes samples out of order); a series
 * gone since the previous write gets one staleness marker.
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
export class RemoteWriter extends BackgroundSender {
  /** The receiver's URL, without credentials. */
  readonly url: string;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: RemoteWriterOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("RemoteWriter takes an options object with at least { url, labels }");
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    const prepared = prepareWrite(options.url, { ...options, timeoutMs });
    const sent = new SentSeries();
    let lastTimestampMs = 0;
    const loop = new BackgroundLoop({
      owner: "RemoteWriter",
      url: prepared.url,
      verb: "write",
      given: options,
      defaultIntervalMs: 15_000,
      source: prepared.given,
      send: () => {
        // Now, or 1 ms after the previous write if the clock has not moved on (or went back).
        lastTimestampMs = Math.max(Date.now(), lastTimestampMs + 1);
        return writeOnce(prepared, lastTimestampMs, sent);
      },
      isRetryable: (error) => error instanceof RemoteWriteError && error.retryable,
      retryAfterMs: (error) => error instanceof RemoteWriteError ? error.retryAfterMs : undefined,
      healthNames: { prefix: "remote_writer", action: "remote write", actions: "remote writes" },
    });
    super(loop);
    this.url = prepared.url;
  }

  /** Writes now (after the write in flight); resolves whether it succeeded, never rejects. */
  flush(): Promise<boolean> {
    return this.sendNow();
  }
}
