/**
 * Prometheus remote write 1.0, one write: the source gathered (`gather`), its series encoded
 * (`encoder.ts`), split into requests within the limits (`batching.ts`), each compressed on its
 * own (Snappy block) and sent in turn under one deadline. `RemoteWriter` (`writer.ts`) writes
 * in the background.
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
  gatherForBytes,
  hasCollect,
  type MetricsSource,
  Registry,
} from "../../registry.ts";
import { escapeFamily } from "../../exposition/escaping.ts";
import { isStoredMetric, type StoredMetric } from "../../exposition/byte_render.ts";
import { snappyCompress } from "../../encoding/snappy.ts";
import { type Auth, authorizationHeader } from "../../auth.ts";
import { positiveMs } from "../../validation.ts";
import { type PushErrorDetails, RemoteWriteError } from "../errors.ts";
import {
  type FailureKind,
  type FetchFunction,
  parseEndpoint,
  retryAfterMs,
  sendRequest,
} from "../request.ts";
import {
  type EncodedSeries,
  encodeSeries,
  type ExtraLabels,
  extraLabels,
  requestBytes,
  type SeriesEncoder,
  type StoredSeries,
  storedSeries,
  type WriteItem,
  type WriteOptions,
} from "./encoder.ts";
import { type BatchPlan, planRequests, type RequestLimits } from "./batching.ts";

/**
 * Options of `remoteWrite` (and, but for `signal`, of the `RemoteWriter`).
 *
 * @example
 * ```ts ignore
 * import { remoteWrite } from "@deno-prom/client";
 * await remoteWrite("http://localhost:9090/api/v1/write", {
 *   labels: { job: "billing", instance: "cli" },
 *   exemplars: false, // no trace ids leave the process
 *   nativeHistograms: false, // for a receiver without native histograms
 *   maxSeriesPerRequest: 500,
 * });
 * ```
 */
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
  /**
   * Give up after this many milliseconds (collecting, encoding and sending every request of
   * the write); default 30000.
   */
  readonly timeoutMs?: number;
  /** Aborts the write early. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * Whether counters' and classic histogram buckets' exemplars are sent (default `true`), in
   * the `exemplars` of their series, as an OpenMetrics scrape shows them. A receiver keeps them
   * only where exemplar storage is on (Prometheus: `--enable-feature=exemplar-storage`) and
   * ignores them otherwise; `false` leaves them out (smaller requests, no trace ids sent).
   */
  readonly exemplars?: boolean;
  /**
   * Whether native histograms (`new Histogram({ native: true })`) are sent (default `true`),
   * each as one more series named after the histogram, next to its classic series. Prometheus
   * takes them only with `--enable-feature=native-histograms`: without it, it refuses the
   * whole request (HTTP 500 "native histograms are disabled"). `false` leaves them out, for a
   * receiver that cannot store them.
   */
  readonly nativeHistograms?: boolean;
  /**
   * The most series (`TimeSeries`: one per sample, e.g. one per histogram bucket) in one
   * request; default 2000, Prometheus' `max_samples_per_send`. A larger write is split into
   * several requests, sent one after another.
   */
  readonly maxSeriesPerRequest?: number;
  /**
   * The most bytes of one request before compression (a series count does not bound bytes
   * when label values are long); default 4 MiB. A series larger than this on its own is not
   * sent: the write then fails with a `RemoteWriteError` naming it, after the rest is sent.
   */
  readonly maxBytesPerRequest?: number;
}

/**
 * Sends the source's current samples to a remote-write receiver, all with one timestamp (now),
 * in requests of at most `maxSeriesPerRequest` series and `maxBytesPerRequest` bytes, one after
 * another. Resolves when the receiver accepted them all (2xx). A request that fails stops the
 * write: the error's message says how many series were written before it. Rejects with a
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
  await writeOnce(prepareWrite(url, options), Date.now());
}

/** Default timeout of one remote write, as Prometheus' own `remote_timeout`. */
export const DEFAULT_REMOTE_WRITE_TIMEOUT_MS = 30_000;
/** Default series per request: Prometheus' `max_samples_per_send` (since 2.44). */
export const DEFAULT_MAX_SERIES_PER_REQUEST = 2_000;
/** Default bytes per request before compression. */
export const DEFAULT_MAX_BYTES_PER_REQUEST = 4 * 1024 * 1024;

/** The headers every remote-write 1.0 request carries. */
const PROTOCOL_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "application/x-protobuf",
  "x-prometheus-remote-write-version": "0.1.0",
};

/** Everything a write needs, checked once (a RemoteWriter reuses it for every write). */
export interface PreparedWrite {
  readonly url: string;
  /** Where the families come from, checked as a registry checks custom collectors. */
  readonly source: MetricsSource;
  /** The source as given (a `RemoteWriter`'s health metrics may go into it). */
  readonly given: MetricsSource;
  readonly labels: ExtraLabels;
  readonly headers: Headers;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly fetch?: FetchFunction;
  readonly write: WriteOptions;
  readonly limits: RequestLimits;
}

/** Checks `options` for writes to `url` (throwing `TypeError`/`RangeError`). */
export function prepareWrite(url: string | URL, options: RemoteWriteOptions): PreparedWrite {
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
    source: checkedSource(source),
    given: source,
    labels: extraLabels(options.labels ?? {}, target),
    headers,
    timeoutMs: positiveMs(
      options.timeoutMs ?? DEFAULT_REMOTE_WRITE_TIMEOUT_MS,
      `timeoutMs for ${target}`,
    ),
    signal: options.signal,
    fetch: options.fetch,
    write: { exemplars, nativeHistograms },
    limits: {
      maxSeries: positiveCount(
        options.maxSeriesPerRequest ?? DEFAULT_MAX_SERIES_PER_REQUEST,
        `maxSeriesPerRequest for ${target}`,
      ),
      maxBytes: positiveCount(
        options.maxBytesPerRequest ?? DEFAULT_MAX_BYTES_PER_REQUEST,
        `maxBytesPerRequest for ${target}`,
      ),
    },
  };
}

function positiveCount(value: unknown, option: string): number {
  if (typeof value !== "number") {
    throw new TypeError(`${option} must be a number, got ${typeof value}`);
  }
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${option} must be a positive integer, got ${value}`);
  }
  return value;
}

/**
 * What a `RemoteWriter` adds to a write: the label bytes of the series that ended since its
 * previous write (given the series of this one), each sent once with a staleness marker.
 */
export type EndedSeries = (encoder: SeriesEncoder) => readonly Uint8Array[];

/**
 * One write at `timestampMs`: collects, encodes and sends every request in turn. Rejects on
 * the first request that fails, with a {@linkcode RemoteWriteError} that says how many series
 * were written before it; when series too large for any request were left out, rejects after
 * the others were sent.
 */
export async function writeOnce(
  prepared: PreparedWrite,
  timestampMs: number,
  ended?: EndedSeries,
): Promise<void> {
  const deadline = Date.now() + prepared.timeoutMs;
  let encoded: EncodedSeries | undefined;
  let plan: BatchPlan | undefined;
  let written = 0;
  const send = (index: number) =>
    sendRequest({
      method: "POST",
      url: prepared.url,
      // Each request gets its own copy: the sender sets Content-Encoding on it.
      headers: new Headers(prepared.headers),
      // Every request of the write shares the write's deadline.
      timeoutMs: Math.max(1, deadline - Date.now()),
      signal: prepared.signal,
      fetch: prepared.fetch,
      body: async () => {
        if (encoded === undefined) {
          // The first request collects and encodes under the deadline.
          const items = await gather(prepared.source);
          const { labels, write } = prepared;
          encoded = encodeSeries(items, labels, timestampMs, write, ended);
          plan = planRequests(encoded, prepared.limits);
        }
        const request = plan!.requests[index];
        const bytes = requestBytes(encoded, request.from, request.to, request.families);
        return { bytes: snappyCompress(bytes), encoding: "snappy" };
      },
    }, remoteWriteErrorOf);
  let index = 0;
  try {
    do {
      await send(index);
      const request = plan!.requests[index];
      written += request.to - request.from;
    } while (++index < plan!.requests.length);
  } catch (error) {
    if (!(error instanceof RemoteWriteError) || plan === undefined || plan.requests.length < 2) {
      throw error;
    }
    error.message += ` (request ${index + 1} of ${plan.requests.length}; ` +
      `${written} of ${encoded!.count} series were written)`;
    throw error;
  }
  if (plan!.oversized.length > 0) throw oversizedError(prepared, encoded!, plan!, written);
}

/**
 * What a write encodes: a registry gathered as a scrape gathers it (its counters, gauges and
 * histograms read from storage, each when `collect()` would have collected it), any other
 * source's snapshots. Remote write 1.0 cannot say which names a receiver takes: names outside
 * the legacy alphabet go as a scrape that names no escaping gets them (underscores).
 */
export async function gather(source: MetricsSource): Promise<WriteItem[]> {
  if (!(source instanceof Registry)) {
    return (await source.collect()).map((family) => escapeFamily(family, "underscores"));
  }
  const stored = new Map<StoredMetric, StoredSeries>();
  const taken = (item: StoredMetric) => stored.set(item, storedSeries(item));
  const items = await gatherForBytes(source, {}, taken);
  return items.map((item) =>
    isStoredMetric(item) ? stored.get(item)! : escapeFamily(item, "underscores")
  );
}

function oversizedError(
  prepared: PreparedWrite,
  encoded: EncodedSeries,
  plan: BatchPlan,
  written: number,
): RemoteWriteError {
  const first = plan.oversized[0];
  const size = encoded.ends[first] - (first === 0 ? 0 : encoded.ends[first - 1]);
  const family = encoded.families[first];
  const name = family >= 0 ? `of "${encoded.names[family]}" ` : "";
  return new RemoteWriteError(
    `POST ${prepared.url}: ${plan.oversized.length} series were not sent, being larger than ` +
      `maxBytesPerRequest (${prepared.limits.maxBytes} bytes) on their own, e.g. one ${name}` +
      `of ${size} bytes; ${written} of ${encoded.count} series were written`,
    { method: "POST", url: prepared.url },
    false,
  );
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
