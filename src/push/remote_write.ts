/**
 * Prometheus remote write 1.0: the source's current samples as one `WriteRequest` (protobuf,
 * Snappy block-compressed) sent straight to Prometheus, Mimir, Thanos, Cortex, VictoriaMetrics
 * or Grafana Cloud — for code that nobody can scrape. `remoteWrite` sends once;
 * `RemoteWriter` sends in the background, like the `Pusher` does for the Pushgateway.
 *
 * Series are named as Prometheus stores them when it scrapes the text format 0.0.4: counters as
 * `<name>_total`, histograms as `<name>_bucket` (with `le`), `<name>_count` and `<name>_sum`,
 * summaries as `<name>` (with `quantile`), `<name>_count` and `<name>_sum`, info metrics as the
 * gauge `<name>_info` and state sets as a gauge per state; no `_created` series.
 *
 * @module
 */

import {
  checkedSource,
  defaultRegistry,
  hasCollect,
  type MetricsSource,
  Registry,
} from "../registry.ts";
import { escapeFamily } from "../exposition/escaping.ts";
import { type Auth, authorizationHeader } from "../auth.ts";
import { positiveMs } from "../validation.ts";
import {
  BackgroundLoop,
  type BackoffOptions,
  healthRegistryOf,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "./background.ts";
import { type PushErrorDetails, RemoteWriteError } from "./errors.ts";
import {
  type FailureKind,
  type FetchFunction,
  parseEndpoint,
  retryAfterMs,
  sendRequest,
} from "./request.ts";
import {
  encodeCompressedWriteRequest,
  type ExtraLabels,
  extraLabels,
  gatherWriteItems,
  type WriteItems,
  type WriteOptions,
} from "./write_request.ts";

/** Options of {@linkcode remoteWrite}. */
export interface RemoteWriteOptions {
  /**
   * Where the samples come from: a `Registry`, a worker aggregator, or anything with
   * `collect()`. Default: the default registry.
   */
  readonly registry?: MetricsSource;
  /**
   * Labels added to every series that does not have them already (like Prometheus'
   * `external_labels`), e.g. `{ job: "billing", instance: "fn-eu-1" }`. A `job` label is
   * required: here, or on every series. A label with an empty value is not sent (Prometheus
   * treats it as absent).
   */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra request headers (e.g. `X-Scope-OrgID` for Mimir or Cortex tenants). */
  readonly headers?: HeadersInit;
  /** Basic auth or bearer token; never shown in errors. User-info in the URL works too. */
  readonly auth?: Auth;
  /** Give up after this many milliseconds (collecting, encoding and sending); default 30000. */
  readonly timeoutMs?: number;
  /** Aborts the request early. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * Whether counters' and classic histogram buckets' exemplars are sent (default `true`), in
   * the `exemplars` of their series, as an OpenMetrics scrape shows them. A receiver keeps them
   * only where exemplar storage is on (Prometheus: `--enable-feature=exemplar-storage`) and
   * ignores them otherwise; `false` leaves them out (smaller requests, no trace ids sent).
   *
   * @example
   * ```ts ignore
   * import { remoteWrite } from "@deno-prom/client";
   * await remoteWrite("http://localhost:9090/api/v1/write", {
   *   labels: { job: "billing", instance: "cli" },
   *   exemplars: false,
   * });
   * ```
   */
  readonly exemplars?: boolean;
  /**
   * Whether native histograms (`new Histogram({ native: true })`) are sent (default `true`),
   * each as one more series named after the histogram, next to its classic series. Prometheus
   * takes them only with `--enable-feature=native-histograms`: without it, it refuses the
   * whole request (HTTP 500 "native histograms are disabled"). `false` leaves them out, for a
   * receiver that cannot store them.
   *
   * @example
   * ```ts ignore
   * import { remoteWrite } from "@deno-prom/client";
   * await remoteWrite("http://localhost:9090/api/v1/write", {
   *   labels: { job: "billing", instance: "cli" },
   *   nativeHistograms: false,
   * });
   * ```
   */
  readonly nativeHistograms?: boolean;
}

/** Default timeout of one remote write, as Prometheus' own `remote_timeout`. */
export const DEFAULT_REMOTE_WRITE_TIMEOUT_MS = 30_000;

/** The headers every remote-write 1.0 request carries. */
const PROTOCOL_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/x-protobuf",
  "x-prometheus-remote-write-version": "0.1.0",
};

/**
 * Sends the source's current samples to a remote-write receiver in one request, all with one
 * timestamp (now). Resolves when the receiver accepted them (2xx). Rejects with a
 * {@linkcode RemoteWriteError} (whose `retryable` says whether trying again may help) when the
 * receiver answers anything else — a redirect included, which is never followed — cannot be
 * reached or does not answer within `timeoutMs`; with a `TypeError` for invalid options or a
 * series without a `job` label. An error thrown by a collector rejects unchanged.
 *
 * @example
 * ```ts ignore
 * import { Counter, Registry, remoteWrite } from "@deno-prom/client";
 * const registry = new Registry();
 * new Counter({ name: "invoices_sent", help: "invoices sent", registry }).inc(12);
 * await remoteWrite("http://localhost:9090/api/v1/write", {
 *   registry,
 *   labels: { job: "billing", instance: "cli" },
 * });
 * ```
 */
export async function remoteWrite(url: string | URL, options: RemoteWriteOptions): Promise<void> {
  await writeOnce(prepare(url, options), Date.now());
}

/** Everything a write needs, checked once (a RemoteWriter reuses it for every write). */
interface PreparedWrite {
  readonly url: string;
  readonly source: MetricsSource;
  /** Where the families come from: `source`, checked as a registry checks custom collectors. */
  readonly checked: MetricsSource;
  readonly labels: ExtraLabels;
  readonly headers: Headers;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly fetch?: FetchFunction;
  readonly write: WriteOptions;
}

function prepare(url: string | URL, options: RemoteWriteOptions): PreparedWrite {
  if (options === null || typeof options !== "object") {
    throw new TypeError("remote write options must be an object, e.g. { labels: { job } }");
  }
  const { base, urlAuth } = parseEndpoint(url, "remote write url");
  const target = base.href;
  const source = options.registry ?? defaultRegistry;
  if (!hasCollect(source)) {
    throw new TypeError(`registry for ${target} must have a collect() method`);
  }
  const headers = new Headers(options.headers);
  for (const [name, value] of Object.entries(PROTOCOL_HEADERS)) headers.set(name, value);
  const exemplars = options.exemplars ?? true;
  const nativeHistograms = options.nativeHistograms ?? true;
  for (const [name, value] of [["exemplars", exemplars], ["nativeHistograms", nativeHistograms]]) {
    if (typeof value !== "boolean") {
      throw new TypeError(`${name} for ${target} must be true or false, got ${typeof value}`);
    }
  }
  const auth = options.auth ?? urlAuth;
  if (auth !== undefined) headers.set("authorization", authorizationHeader(auth, target));
  return {
    url: target,
    source,
    checked: checkedSource(source),
    labels: extraLabels(options.labels ?? {}, target),
    headers,
    timeoutMs: positiveMs(
      options.timeoutMs ?? DEFAULT_REMOTE_WRITE_TIMEOUT_MS,
      `timeoutMs for ${target}`,
    ),
    signal: options.signal,
    fetch: options.fetch,
    write: { exemplars, nativeHistograms },
  };
}

async function writeOnce(prepared: PreparedWrite, timestampMs: number): Promise<void> {
  await sendRequest({
    method: "POST",
    url: prepared.url,
    // Each request gets its own copy: the sender sets Content-Encoding on it.
    headers: new Headers(prepared.headers),
    timeoutMs: prepared.timeoutMs,
    signal: prepared.signal,
    fetch: prepared.fetch,
    body: async () => {
      const block = encodeCompressedWriteRequest(
        await itemsOf(prepared),
        prepared.labels,
        timestampMs,
        prepared.write,
      );
      return { bytes: block, encoding: "snappy" };
    },
  }, remoteWriteErrorOf);
}

/**
 * What a write encodes: a `Registry`'s metrics read from their storage where the byte renderer
 * reads them so (see `gatherWriteItems`), else the source's families. Remote write 1.0 has no
 * way to say which names a receiver takes: names outside the legacy alphabet go as a scrape
 * that names no escaping gets them (underscores).
 */
async function itemsOf(prepared: PreparedWrite): Promise<WriteItems> {
  const source = prepared.source;
  const items = source instanceof Registry ? await gatherWriteItems(source) : undefined;
  if (items !== undefined) return items;
  return (await prepared.checked.collect()).map((family) => escapeFamily(family, "underscores"));
}

function remoteWriteErrorOf(
  message: string,
  details: PushErrorDetails,
  kind: FailureKind,
  response?: Response,
): RemoteWriteError {
  const status = details.status;
  const retryable = kind === "network" || kind === "timeout" ||
    (kind === "status" && status !== undefined && (status >= 500 || status === 429));
  const wait = retryable && response !== undefined ? retryAfterMs(response) : undefined;
  return new RemoteWriteError(message, details, retryable, wait);
}

// --- background writer ------------------------------------------------------------------------

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
  #lastTimestampMs = 0;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: RemoteWriterOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("RemoteWriter takes an options object with at least { url, labels }");
    }
    const prepared = prepare(options.url, {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULT_WRITER_TIMEOUT_MS,
    });
    this.url = prepared.url;
    this.#prepared = prepared;
    positiveMs(prepared.timeoutMs, `timeoutMs of the RemoteWriter for ${prepared.url}`);
    const healthRegistry = healthRegistryOf(
      options.healthMetrics,
      prepared.source,
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
      send: () => writeOnce(this.#prepared, this.#nextTimestampMs()),
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
