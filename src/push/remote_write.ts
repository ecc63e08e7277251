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

import { ProtoWriter } from "../encoding/protobuf.ts";
import { snappyCompress } from "../encoding/snappy.ts";
import { formatBounds, formatFloat, hasSum } from "../format.ts";
import type { MetricsSource } from "../http/handler.ts";
import type { Labels, MetricFamily } from "../model.ts";
import { defaultRegistry, type Registry } from "../registry.ts";
import { validateLabelName } from "../validation.ts";
import {
  BackgroundLoop,
  type BackoffOptions,
  healthRegistryOf,
  positiveMs,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "./background.ts";
import { type PushErrorDetails, RemoteWriteError } from "./errors.ts";
import {
  authorizationHeader,
  checkTimeoutMs,
  type FailureKind,
  type FetchFunction,
  parseEndpoint,
  type PushAuth,
  sendRequest,
} from "./request.ts";

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
   * required: here, or on every series.
   */
  readonly labels?: Readonly<Record<string, string>>;
  /** Extra request headers (e.g. `X-Scope-OrgID` for Mimir or Cortex tenants). */
  readonly headers?: HeadersInit;
  /** Basic auth or bearer token; never shown in errors. User-info in the URL works too. */
  readonly auth?: PushAuth;
  /** Give up after this many milliseconds (collecting, encoding and sending); default 30000. */
  readonly timeoutMs?: number;
  /** Aborts the request early. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
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
 * import { Counter, Registry, remoteWrite } from "./mod.ts";
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
  readonly labels: ExtraLabels;
  readonly headers: Headers;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly fetch?: FetchFunction;
}

function prepare(url: string | URL, options: RemoteWriteOptions): PreparedWrite {
  if (options === null || typeof options !== "object") {
    throw new TypeError("remote write options must be an object, e.g. { labels: { job } }");
  }
  const { base, urlAuth } = parseEndpoint(url, "remote write url");
  const target = base.href;
  const source = options.registry ?? defaultRegistry;
  if (source === null || typeof source !== "object" || typeof source.collect !== "function") {
    throw new TypeError(`registry for ${target} must have a collect() method`);
  }
  const headers = new Headers(options.headers);
  for (const [name, value] of Object.entries(PROTOCOL_HEADERS)) headers.set(name, value);
  const auth = options.auth ?? urlAuth;
  if (auth !== undefined) headers.set("authorization", authorizationHeader(auth, target));
  return {
    url: target,
    source,
    labels: extraLabels(options.labels ?? {}, target),
    headers,
    timeoutMs: checkTimeoutMs(options.timeoutMs ?? DEFAULT_REMOTE_WRITE_TIMEOUT_MS, target),
    signal: options.signal,
    fetch: options.fetch,
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
      const families = await prepared.source.collect();
      const request = encodeWriteRequest(families, prepared.labels, timestampMs);
      return { bytes: snappyCompress(request), encoding: "snappy" };
    },
  }, remoteWriteErrorOf);
}

function remoteWriteErrorOf(
  message: string,
  details: PushErrorDetails,
  kind: FailureKind,
): RemoteWriteError {
  const status = details.status;
  const retryable = kind === "network" || kind === "timeout" ||
    (kind === "status" && status !== undefined && (status >= 500 || status === 429));
  return new RemoteWriteError(message, details, retryable);
}

// --- encoding ---------------------------------------------------------------------------------

/** The extra labels, sorted, with each Label message pre-encoded. */
interface ExtraLabels {
  readonly names: readonly string[];
  readonly values: readonly string[];
  readonly hasJob: boolean;
}

function extraLabels(labels: Readonly<Record<string, string>>, url: string): ExtraLabels {
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError(`labels for ${url} must be an object of label names to string values`);
  }
  const names = Object.keys(labels).sort(byCodeUnits);
  for (const name of names) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`labels for ${url}: ${(error as Error).message}`);
    }
    if (typeof labels[name] !== "string") {
      throw new TypeError(
        `label "${name}" for ${url} must be a string, got ${typeof labels[name]}`,
      );
    }
  }
  return { names, values: names.map((name) => labels[name]), hasJob: Object.hasOwn(labels, "job") };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Field numbers of prometheus/prompb (remote.proto, types.proto).
const WRITE_REQUEST_TIMESERIES = 1;
const WRITE_REQUEST_METADATA = 3;
const TIMESERIES_LABELS = 1;
const TIMESERIES_SAMPLES = 2;
const LABEL_NAME = 1;
const LABEL_VALUE = 2;
const SAMPLE_VALUE = 1;
const SAMPLE_TIMESTAMP = 2;
const METADATA_TYPE = 1;
const METADATA_FAMILY_NAME = 2;
const METADATA_HELP = 4;
const METADATA_UNIT = 5;
/** `MetricMetadata.MetricType` values. */
const METADATA_TYPES = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
} as const;

/**
 * Writes the series of one point. The point's labels (plus the extra labels it lacks) are
 * encoded once as `Label` messages; each sample then splices in its pre-encoded `__name__` (and
 * `le`, `quantile` or state) label at its sorted position, so a histogram's 17 series cost
 * byte copies, not 17 rounds of string encoding. Each series' length is known before it is
 * written, so nothing is moved afterwards.
 */
class SeriesWriter {
  readonly #out: ProtoWriter;
  readonly #scratch = new ProtoWriter(256);
  readonly #extra: ExtraLabels;
  // The Sample message's tail: `timestamp` (field 2) with the request's one timestamp.
  readonly #timestampBytes: Uint8Array;
  // The current point: its Label messages, cut in three where `__name__` and the extra label
  // go (cut1 for the one that sorts first), and where each part was first written in the
  // output (-1: not yet), so later series of the point repeat it with a native copy.
  #bytes: Uint8Array = new Uint8Array();
  #cut1 = 0;
  #cut2 = 0;
  #nameFirst = true;
  readonly #written = [-1, -1, -1];

  constructor(out: ProtoWriter, extra: ExtraLabels, timestampMs: number) {
    this.#out = out;
    this.#extra = extra;
    const timestamp = new ProtoWriter(16);
    timestamp.int64(SAMPLE_TIMESTAMP, timestampMs);
    this.#timestampBytes = timestamp.finish();
  }

  /**
   * Takes the labels of the next point; `extraName` is the label its samples add (`le`,
   * `quantile`, a state set's name), which replaces a label of that name.
   */
  point(labels: Labels, family: string, extraName?: string): void {
    const extra = this.#extra;
    if (!extra.hasJob && !Object.hasOwn(labels, "job")) {
      throw new TypeError(
        `a series of "${family}" has no job label: give remote write labels: { job: "…" }`,
      );
    }
    const own = Object.keys(labels);
    let names = own;
    if (extraName !== undefined && Object.hasOwn(labels, extraName)) {
      names = own.filter((name) => name !== extraName);
    }
    for (let i = 0; i < extra.names.length; i++) {
      const name = extra.names[i];
      if (!Object.hasOwn(labels, name) && name !== extraName) {
        if (names === own) names = own.slice();
        names.push(name);
      }
    }
    if (names.length > 1) {
      if (names === own) names = own.slice();
      names.sort(byCodeUnits);
    }
    const scratch = this.#scratch;
    scratch.reset();
    let nameCut = -1;
    let extraCut = -1;
    for (const name of names) {
      // Labels sort by name in code-unit order; "__name__" goes where it falls (first unless
      // a label name starts with an upper-case letter).
      if (nameCut < 0 && name > "__name__") nameCut = scratch.length;
      if (extraCut < 0 && extraName !== undefined && name > extraName) extraCut = scratch.length;
      const value = Object.hasOwn(labels, name)
        ? labels[name]
        : extra.values[extra.names.indexOf(name)];
      writeLabel(scratch, name, value);
    }
    if (nameCut < 0) nameCut = scratch.length;
    if (extraCut < 0) extraCut = scratch.length;
    this.#bytes = scratch.view();
    this.#nameFirst = extraName === undefined || "__name__" < extraName;
    this.#cut1 = this.#nameFirst ? nameCut : extraCut;
    this.#cut2 = this.#nameFirst ? extraCut : nameCut;
    this.#written.fill(-1);
  }

  /** One series of the current point: its `__name__` label (pre-encoded) and one sample. */
  sample(nameLabel: Uint8Array, value: number): void {
    this.#seriesHeader(this.#bytes.length + nameLabel.length);
    if (this.#nameFirst) this.#labels(nameLabel, undefined);
    else this.#labels(undefined, nameLabel);
    this.#sampleMessage(value);
  }

  /** One series with the point's extra label too (`le`, `quantile`, a state), pre-encoded. */
  sampleWith(nameLabel: Uint8Array, extraLabel: Uint8Array, value: number): void {
    this.#seriesHeader(this.#bytes.length + nameLabel.length + extraLabel.length);
    if (this.#nameFirst) this.#labels(nameLabel, extraLabel);
    else this.#labels(extraLabel, nameLabel);
    this.#sampleMessage(value);
  }

  /** The point's labels with `atCut1` and `atCut2` spliced in. */
  #labels(atCut1: Uint8Array | undefined, atCut2: Uint8Array | undefined): void {
    const out = this.#out;
    const bytes = this.#bytes;
    const cut1 = this.#cut1;
    const cut2 = this.#cut2;
    this.#part(0, 0, cut1);
    if (atCut1 !== undefined) out.rawFrom(atCut1, 0, atCut1.length);
    this.#part(1, cut1, cut2);
    if (atCut2 !== undefined) out.rawFrom(atCut2, 0, atCut2.length);
    this.#part(2, cut2, bytes.length);
  }

  /** Part `index` of the point's labels: from the point's bytes once, then repeated. */
  #part(index: number, start: number, end: number): void {
    if (start === end) return;
    const out = this.#out;
    const at = this.#written[index];
    if (at >= 0) {
      out.repeat(at, at + end - start);
      return;
    }
    this.#written[index] = out.length;
    out.rawFrom(this.#bytes, start, end);
  }

  /** The TimeSeries tag and length: labels plus the Sample field. */
  #seriesHeader(labelBytes: number): void {
    const out = this.#out;
    out.tag(WRITE_REQUEST_TIMESERIES, LENGTH_DELIMITED);
    out.varint(labelBytes + 2 + this.#sampleLength());
  }

  /** Bytes of a Sample message: the value (tag + 8) and the timestamp field. */
  #sampleLength(): number {
    return 9 + this.#timestampBytes.length;
  }

  #sampleMessage(value: number): void {
    const out = this.#out;
    const timestamp = this.#timestampBytes;
    out.tag(TIMESERIES_SAMPLES, LENGTH_DELIMITED);
    out.varint(this.#sampleLength());
    out.double(SAMPLE_VALUE, value);
    out.rawFrom(timestamp, 0, timestamp.length);
  }
}

/** Wire type of length-delimited fields (messages). */
const LENGTH_DELIMITED = 2;

function writeLabel(out: ProtoWriter, name: string, value: string): void {
  const label = out.begin(TIMESERIES_LABELS);
  out.string(LABEL_NAME, name);
  out.string(LABEL_VALUE, value);
  out.end(label);
}

/**
 * Pre-encoded `Label` messages for the names and extra labels one request repeats (per-request
 * caches: nothing outlives the request, whatever values a custom collector invents).
 */
class LabelCache {
  readonly #writer = new ProtoWriter(64);
  readonly #bounds = new Map<readonly number[], Uint8Array[]>();
  readonly #byText = new Map<string, Uint8Array>();

  /** One `Label` message. */
  label(name: string, value: string): Uint8Array {
    const writer = this.#writer;
    writer.reset();
    writeLabel(writer, name, value);
    return writer.finish();
  }

  /** `__name__` = `name`. */
  metricName(name: string): Uint8Array {
    return this.label("__name__", name);
  }

  /** `le` labels of a histogram's bounds, shared by the points whose bounds array is shared. */
  bounds(upperBounds: readonly number[]): Uint8Array[] {
    let labels = this.#bounds.get(upperBounds);
    if (labels === undefined) {
      labels = formatBounds(upperBounds).map((bound) => this.label("le", bound));
      this.#bounds.set(upperBounds, labels);
    }
    return labels;
  }

  /** A `quantile` label. */
  quantile(quantile: number): Uint8Array {
    const text = formatFloat(quantile);
    let label = this.#byText.get(text);
    if (label === undefined) {
      label = this.label("quantile", text);
      this.#byText.set(text, label);
    }
    return label;
  }
}

/**
 * Encodes families as one remote-write 1.0 `WriteRequest` (not compressed): a `TimeSeries` per
 * sample series, each with one sample at `timestampMs`, then one `MetricMetadata` per family.
 * Throws a `TypeError` for a series without `job` when `labels` has none.
 */
export function encodeWriteRequest(
  families: readonly MetricFamily[],
  labels: ExtraLabels,
  timestampMs: number,
): Uint8Array<ArrayBuffer> {
  // Sized like the previous request (usually the same series again), so the buffer is not
  // grown and copied several times over.
  const out = new ProtoWriter(Math.max(64 * 1024, lastRequestBytes + (lastRequestBytes >> 3)));
  const series = new SeriesWriter(out, labels, timestampMs);
  const cache = new LabelCache();
  for (const family of families) writeFamily(series, cache, family);
  for (const family of families) writeMetadata(out, family);
  lastRequestBytes = Math.min(out.length, MAX_SIZE_HINT_BYTES);
  // The buffer belongs to this request alone: a view, not a copy.
  return out.view();
}

// The size of the last request encoded, a capacity hint for the next one (capped).
let lastRequestBytes = 0;
const MAX_SIZE_HINT_BYTES = 64 * 1024 * 1024;

function writeFamily(series: SeriesWriter, cache: LabelCache, family: MetricFamily): void {
  const name = family.name;
  switch (family.type) {
    case "counter": {
      const sampleName = cache.metricName(name + "_total");
      for (const point of family.points) {
        series.point(point.labels, name);
        series.sample(sampleName, point.value);
      }
      return;
    }
    case "gauge":
    case "unknown": {
      const sampleName = cache.metricName(name);
      for (const point of family.points) {
        series.point(point.labels, name);
        series.sample(sampleName, point.value);
      }
      return;
    }
    case "histogram": {
      const bucketName = cache.metricName(name + "_bucket");
      const countName = cache.metricName(name + "_count");
      const sumName = cache.metricName(name + "_sum");
      for (const point of family.points) {
        series.point(point.labels, name, "le");
        const bounds = cache.bounds(point.upperBounds);
        const counts = point.bucketCounts;
        for (let i = 0; i < bounds.length; i++) {
          series.sampleWith(bucketName, bounds[i], counts[i]);
        }
        series.sample(countName, point.count);
        if (hasSum(point)) series.sample(sumName, point.sum);
      }
      return;
    }
    case "summary": {
      const quantileName = cache.metricName(name);
      const countName = cache.metricName(name + "_count");
      const sumName = cache.metricName(name + "_sum");
      for (const point of family.points) {
        series.point(point.labels, name, "quantile");
        for (const { quantile, value } of point.quantiles) {
          series.sampleWith(quantileName, cache.quantile(quantile), value);
        }
        series.sample(countName, point.count);
        series.sample(sumName, point.sum);
      }
      return;
    }
    case "info": {
      const sampleName = cache.metricName(name + "_info");
      for (const point of family.points) {
        series.point(point.labels, name);
        series.sample(sampleName, 1);
      }
      return;
    }
    case "stateset": {
      const sampleName = cache.metricName(name);
      for (const point of family.points) {
        series.point(point.labels, name, name);
        for (const state of point.states) {
          series.sampleWith(sampleName, cache.label(name, state.name), state.enabled ? 1 : 0);
        }
      }
      return;
    }
  }
}

/** The family's metadata under the name a text-format scrape records it by. */
function writeMetadata(out: ProtoWriter, family: MetricFamily): void {
  let familyName = family.name;
  let type: number;
  switch (family.type) {
    case "counter":
      familyName += "_total";
      type = METADATA_TYPES.counter;
      break;
    case "info":
      familyName += "_info";
      type = METADATA_TYPES.gauge;
      break;
    case "stateset":
    case "gauge":
      type = METADATA_TYPES.gauge;
      break;
    default:
      type = METADATA_TYPES[family.type];
  }
  const metadata = out.begin(WRITE_REQUEST_METADATA);
  if (type !== 0) out.uint(METADATA_TYPE, type);
  out.string(METADATA_FAMILY_NAME, familyName);
  if (family.help !== "") out.string(METADATA_HELP, family.help);
  if (family.unit !== undefined && family.unit !== "") out.string(METADATA_UNIT, family.unit);
  out.end(metadata);
}

/** Builds the sorted extra labels of a request; exported for tests and benchmarks. */
export function remoteWriteLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  return extraLabels(labels, "remote write");
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
   * capped exponential backoff with jitter. Other failures wait for the next interval.
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
 * import { Counter, Registry, RemoteWriter } from "./mod.ts";
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
