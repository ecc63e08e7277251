/**
 * Prometheus remote write 1.0, one write: gathered, encoded into requests, each sent in turn under
 * one deadline. Series are named as a scrape of the text format 0.0.4 stores them (`_total`,
 * `_bucket`/`_count`/`_sum`, `_info`, a gauge per state); no `_created` series.
 *
 * @module
 */

import { checkedSource, defaultRegistry, gatherForBytes, hasCollect } from "../../registry.ts";
import { type MetricsSource, Registry } from "../../registry.ts";
import { escapeFamily } from "../../exposition/escaping.ts";
import { isStoredMetric } from "../../exposition/byte_render.ts";
import { type Auth, authorizationHeader } from "../../auth.ts";
import { positiveInteger, positiveMs } from "../../validation.ts";
import { RemoteWriteError } from "../errors.ts";
import type { ErrorFactory, FetchFunction } from "../request.ts";
import { parseEndpoint, retryAfterMs, sendRequest } from "../request.ts";
import { encodeWrite, extraLabels, type WriteItem } from "./encoder.ts";
import type { SeriesMemory, WriteRequests } from "./batching.ts";

/**
 * Options of `remoteWrite` (and, but for `signal`, of the `RemoteWriter`).
 *
 * @example
 * ```ts ignore
 * import { remoteWrite } from "@deno-prom/client";
 * await remoteWrite("http://localhost:9090/api/v1/write", {
 *   labels: { job: "billing", instance: "cli" },
 *   exemplars: false, // no trace ids leave the process
 *   maxSeriesPerRequest: 500,
 * });
 * ```
 */
export interface RemoteWriteOptions {
  /** A `Registry`, a worker aggregator, or anything with `collect()`; default: the default registry. */
  readonly registry?: MetricsSource;
  /**
   * Labels added to every series that lacks them (as Prometheus' `external_labels`). A `job`
   * label is required, here or on every series; an empty value is not sent.
   */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra request headers (e.g. `X-Scope-OrgID` for Mimir or Cortex tenants). */
  readonly headers?: HeadersInit;
  /** Basic auth or bearer token; never shown in errors. User-info in the URL works too. */
  readonly auth?: Auth;
  /** Deadline of the whole write (collecting, encoding, every request) in ms; default 30000. */
  readonly timeoutMs?: number;
  /** Aborts the write early. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * Send counters' and buckets' exemplars (default `true`). Receivers keep them only with
   * exemplar storage on (Prometheus: `--enable-feature=exemplar-storage`).
   */
  readonly exemplars?: boolean;
  /**
   * Send native histograms, each as one more series named after the histogram (default
   * `true`). Prometheus without `--enable-feature=native-histograms` refuses the whole request.
   */
  readonly nativeHistograms?: boolean;
  /** The most series (one per sample) in one request; default 2000 (`max_samples_per_send`). */
  readonly maxSeriesPerRequest?: number;
  /**
   * The most bytes of one request before compression; default 4 MiB. A series larger than this
   * alone is not sent: the write fails with a `RemoteWriteError` naming it, after the rest.
   */
  readonly maxBytesPerRequest?: number;
}

/**
 * Sends the source's current samples, all stamped now, in requests within the limits, one after
 * another; resolves when the receiver accepted them all (2xx). Rejects with a
 * {@linkcode RemoteWriteError} (`retryable` says whether trying again may help; its message, how
 * many series were written) on any other answer (redirects are not followed), no answer, or
 * after `timeoutMs`; with a `TypeError` for bad options or a series without `job`. A collector's
 * error rejects unchanged.
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

/**
 * Everything a write to `url` needs, checked once (throwing `TypeError`/`RangeError`): a
 * `RemoteWriter` reuses it for every write.
 */
export function prepareWrite(url: string | URL, options: RemoteWriteOptions) {
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
  headers.set("content-type", "application/x-protobuf");
  headers.set("x-prometheus-remote-write-version", "0.1.0");
  const auth = options.auth ?? urlAuth;
  if (auth !== undefined) headers.set("authorization", authorizationHeader(auth, target));
  const flag = (name: "exemplars" | "nativeHistograms") => {
    const value = options[name] ?? true;
    if (typeof value === "boolean") return value;
    throw new TypeError(`${name} for ${target} must be true or false, got ${typeof value}`);
  };
  const count = (name: "maxSeriesPerRequest" | "maxBytesPerRequest", fallback: number) =>
    positiveInteger(options[name], `${name} for ${target}`, fallback);
  const timeoutMs = options.timeoutMs ?? DEFAULT_REMOTE_WRITE_TIMEOUT_MS;
  return {
    url: target,
    /** The source checked as a registry checks custom collectors, and as given. */
    source: checkedSource(source),
    given: source,
    headers,
    timeoutMs: positiveMs(timeoutMs, `timeoutMs for ${target}`),
    signal: options.signal,
    fetch: options.fetch,
    settings: {
      labels: extraLabels(options.labels ?? {}, target),
      exemplars: flag("exemplars"),
      nativeHistograms: flag("nativeHistograms"),
      maxSeries: count("maxSeriesPerRequest", 2_000),
      maxBytes: count("maxBytesPerRequest", 4 * 1024 * 1024),
    },
  };
}

/**
 * One write at `timestampMs`: gathers, encodes and sends every request in turn, under one
 * deadline. Rejects on the first request that fails (saying how many series were written), or
 * after the rest was sent when some series were too large for any request.
 */
export async function writeOnce(
  prepared: ReturnType<typeof prepareWrite>,
  timestampMs: number,
  memory?: SeriesMemory,
): Promise<void> {
  // Monotonic: a step of the wall clock neither stretches nor cuts the deadline.
  const deadline = performance.now() + prepared.timeoutMs;
  const { url, settings } = prepared;
  let write: WriteRequests | undefined;
  let written = 0;
  let index = 0;
  try {
    do {
      await sendRequest({
        method: "POST",
        url,
        // A copy each: the sender sets Content-Encoding on it.
        headers: new Headers(prepared.headers),
        timeoutMs: Math.max(1, Math.ceil(deadline - performance.now())),
        signal: prepared.signal,
        fetch: prepared.fetch,
        body: async (signal) => {
          // Gathering and encoding count against the deadline of the first request.
          const items = write === undefined ? await gather(prepared.source) : [];
          signal.throwIfAborted(); // a write given up while gathering changes nothing
          write ??= encodeWrite(items, settings, timestampMs, memory);
          return { bytes: write.requests[index].body, encoding: "snappy" };
        },
      }, remoteWriteErrorOf);
      written += write!.requests[index].series;
    } while (++index < write!.requests.length);
  } catch (error) {
    if (error instanceof RemoteWriteError && write !== undefined && write.requests.length > 1) {
      error.message += ` (request ${index + 1} of ${write.requests.length}; ` +
        `${written} of ${write.series} series were written)`;
    }
    throw error;
  }
  const { count, family, bytes } = write!.oversized;
  if (count === 0) return;
  throw new RemoteWriteError(
    `POST ${url}: ${count} series were not sent, being larger than maxBytesPerRequest ` +
      `(${settings.maxBytes} bytes) on their own, e.g. one ${family ? `of "${family}" ` : ""}` +
      `of ${bytes} bytes; ${written} of ${write!.series + count} series were written`,
    { method: "POST", url },
    false,
  );
}

/**
 * A registry gathered as a scrape gathers it, any other source's snapshots; names outside the
 * legacy alphabet escaped with underscores (remote write 1.0 cannot say what a receiver takes).
 */
export async function gather(source: MetricsSource): Promise<WriteItem[]> {
  if (!(source instanceof Registry)) {
    return (await source.collect()).map((family) => escapeFamily(family, "underscores"));
  }
  const items = await gatherForBytes(source, {});
  return items.map((item) => isStoredMetric(item) ? item : escapeFamily(item, "underscores"));
}

const remoteWriteErrorOf: ErrorFactory = (message, details, kind, response) => {
  const status = details.status ?? 0;
  const retryable = kind === "network" || kind === "timeout" ||
    (kind === "status" && (status >= 500 || status === 429));
  const wait = retryable && response !== undefined ? retryAfterMs(response) : undefined;
  return new RemoteWriteError(message, details, retryable, wait);
};
