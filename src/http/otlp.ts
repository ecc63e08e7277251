/**
 * `otlpHandler()`: an OTLP/HTTP metrics receiver (`POST /v1/metrics`, protobuf or JSON, gzip
 * or not) whose series appear in a registry beside its own metrics, translated by the
 * OpenTelemetry "Prometheus and OpenMetrics compatibility" spec. See `docs/opentelemetry.md`.
 *
 * @module
 */

import { defaultRegistry, markCheckedAtSource, Registry } from "../registry.ts";
import { registryLimits } from "../metrics/series_limits.ts";
import type { Collector } from "../model.ts";
import { concatChunks } from "../exposition/byte_writer.ts";
import { exposedNames } from "../exposition/validate.ts";
import { escapeName } from "../validation.ts";
import { decodeProtobufRequest } from "../otel/decode_protobuf.ts";
import { decodeJsonRequest } from "../otel/decode_json.ts";
import { type DecodeLimits, DEFAULT_DECODE_LIMITS, type OtlpRequest } from "../otel/otlp_types.ts";
import { OtlpStore } from "../otel/store.ts";
import {
  contentTypeOf,
  exportResponseBody,
  type OtlpEncoding,
  RPC_INTERNAL,
  RPC_INVALID_ARGUMENT,
  RPC_RESOURCE_EXHAUSTED,
  RPC_UNAVAILABLE,
  RPC_UNIMPLEMENTED,
  statusBody,
} from "../otel/response.ts";

/** Options of {@linkcode otlpHandler}. */
export interface OtlpHandlerOptions {
  /** Where the received series appear (default: the default registry). */
  readonly registry?: Registry;
  /** Largest body taken, compressed and after gunzip (default 4 MiB); larger ones get 413. */
  readonly maxBodyBytes?: number;
  /**
   * A series not written for this long leaves the output and the memory (default 300 000:
   * five minutes), so a sender that stops or restarts leaves no ghosts. `Infinity` keeps them.
   */
  readonly expireAfterMs?: number;
  /**
   * Series per metric (default: the registry's `maxSeriesPerMetric`, 10 000 unless set; a
   * registry's `Infinity` leaves only `maxSeries`). Past it, a new series goes into one series
   * labelled `otel.metric.overflow="true"`, which adds up what such series record (see
   * `docs/opentelemetry.md`).
   */
  readonly maxSeriesPerMetric?: number;
  /** Series over every metric (default 50 000), with the same overflow. */
  readonly maxSeries?: number;
  /** Metrics (families) held (default 1 000); the points of further ones are refused. */
  readonly maxMetrics?: number;
  /**
   * Resource attributes copied onto every series of that resource, which keeps the series of
   * several senders apart (default `["service.namespace", "service.name",
   * "service.instance.id"]`, those a resource has). `[]` copies none (one sender only).
   * Every resource attribute is in `target_info` as well.
   */
  readonly resourceLabels?: readonly string[];
  /** Add `otel_scope_name` and `otel_scope_version` labels (default `true`, as the spec says). */
  readonly scopeLabels?: boolean;
  /** Requests decoded at once; more get 429 with `Retry-After` (default 4). */
  readonly maxConcurrentRequests?: number;
  /** How long a body may take to arrive, in milliseconds (default 10 000); then 408. */
  readonly bodyTimeoutMs?: number;
  /** Data points per request (default 50 000); further points are refused (`partial_success`). */
  readonly maxPointsPerRequest?: number;
  /** Attributes per point (default 128); a point with more is refused. */
  readonly maxAttributes?: number;
  /**
   * Characters of an attribute key or value (default 4 096); a point with a longer one is
   * refused, and a longer resource attribute left out of `target_info`.
   */
  readonly maxStringLength?: number;
  /** Buckets per histogram point, each side, and quantiles per summary point (default 4 096). */
  readonly maxBuckets?: number;
  /**
   * Characters of label names and values held over every series (default 8 000 000, about
   * 16 MB): with the series caps, the bound on what senders can make the receiver keep. A new
   * series past it is treated as one past the series cap.
   */
  readonly maxLabelCharacters?: number;
  /** Clock in milliseconds, for tests (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Called with an unexpected failure of the receiver itself (the sender gets a 500 with a
   * fixed message, never the error, which may hold internal details). Default: one
   * `console.error` line.
   */
  readonly onError?: (error: unknown) => void;
}

/** The collector holding what an {@linkcode otlpHandler} received. */
export interface OtlpCollector extends Collector {
  /** How many series it holds now (overflow series included). */
  readonly seriesCount: number;
  /** Forgets every series. */
  clear(): void;
}

/** The handler {@linkcode otlpHandler} returns: a fetch handler plus its series store. */
export interface OtlpHandler {
  /** Answers one OTLP/HTTP request; never throws. */
  (request: Request): Promise<Response>;
  /**
   * The collector holding the received series, registered in the registry (unregister it to
   * stop exposing them).
   */
  readonly collector: OtlpCollector;
}

const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
const DEFAULT_RESOURCE_LABELS = ["service.namespace", "service.name", "service.instance.id"];

function positiveOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new RangeError(`otlpHandler(): ${name} must be a positive number, got ${String(value)}`);
  }
  return value;
}

/**
 * Makes an OTLP/HTTP metrics receiver for `POST /v1/metrics`. Its series are collected with
 * the registry's own metrics (a name that clashes with one of them is refused), in every
 * format, and reach push and remote write like any collector. It is a write endpoint: put it
 * behind authentication where others can reach it (`startHttpServer({ otlp: true, auth })`).
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { otlpHandler } from "@deno-prom/client/http";
 * const registry = new Registry();
 * const receive = otlpHandler({ registry });
 * const body = JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{
 *   name: "jobs", sum: { aggregationTemporality: 2, isMonotonic: true,
 *     dataPoints: [{ asInt: "3", timeUnixNano: "1" }] },
 * }] }] }] });
 * const response = await receive(new Request("http://localhost/v1/metrics", {
 *   method: "POST", headers: { "content-type": "application/json" }, body,
 * }));
 * response.status; // 200
 * await registry.metrics(); // contains "jobs_total 3"
 * ```
 */
export function otlpHandler(options: OtlpHandlerOptions = {}): OtlpHandler {
  if (options === null || typeof options !== "object") {
    throw new TypeError("otlpHandler() takes an options object, e.g. { registry }");
  }
  const registry = options.registry ?? defaultRegistry;
  if (!(registry instanceof Registry)) {
    throw new TypeError("otlpHandler(): registry must be a Registry");
  }
  const maxBodyBytes = positiveOption(options.maxBodyBytes, "maxBodyBytes", DEFAULT_MAX_BODY_BYTES);
  const maxConcurrent = positiveOption(options.maxConcurrentRequests, "maxConcurrentRequests", 4);
  const bodyTimeoutMs = positiveOption(options.bodyTimeoutMs, "bodyTimeoutMs", 10_000);
  const resourceLabels = options.resourceLabels ?? DEFAULT_RESOURCE_LABELS;
  if (!Array.isArray(resourceLabels) || resourceLabels.some((k) => typeof k !== "string")) {
    throw new TypeError("otlpHandler(): resourceLabels must be an array of attribute keys");
  }
  const limits: DecodeLimits = {
    maxPointsPerRequest: positiveOption(
      options.maxPointsPerRequest,
      "maxPointsPerRequest",
      DEFAULT_DECODE_LIMITS.maxPointsPerRequest,
    ),
    maxAttributes: positiveOption(
      options.maxAttributes,
      "maxAttributes",
      DEFAULT_DECODE_LIMITS.maxAttributes,
    ),
    maxStringLength: positiveOption(
      options.maxStringLength,
      "maxStringLength",
      DEFAULT_DECODE_LIMITS.maxStringLength,
    ),
    maxBuckets: positiveOption(options.maxBuckets, "maxBuckets", DEFAULT_DECODE_LIMITS.maxBuckets),
  };
  const onError = options.onError ??
    ((error: unknown) => console.error(`otlpHandler: ${oneLine(error)}`));
  const reportInternalError = (error: unknown): void => {
    try {
      onError(error);
    } catch {
      // A failing reporter must not turn the sender's 500 into a throw.
    }
  };
  const store = new OtlpStore({
    expireAfterMs: positiveOption(options.expireAfterMs, "expireAfterMs", 300_000),
    // One cap rule for a registry's series, built-in or received (docs/cardinality.md).
    maxSeriesPerMetric: positiveOption(
      options.maxSeriesPerMetric,
      "maxSeriesPerMetric",
      registryLimits(registry).maxSeries,
    ),
    maxSeries: positiveOption(options.maxSeries, "maxSeries", 50_000),
    maxMetrics: positiveOption(options.maxMetrics, "maxMetrics", 1_000),
    maxLabelCharacters: positiveOption(
      options.maxLabelCharacters,
      "maxLabelCharacters",
      8_000_000,
    ),
    resourceLabels,
    scopeLabels: options.scopeLabels ?? true,
    now: options.now ?? Date.now,
    isTaken: (name, type) =>
      exposedNames(escapeName(name, "underscores"), type).some((sample) =>
        registry.getMetric(sample) !== undefined
      ),
  });
  registry.register(store);
  // Every family the store holds was checked when received (src/otel/store.ts): a scrape does
  // not check it again.
  markCheckedAtSource(store);
  let inFlight = 0;

  const handler = async (request: Request): Promise<Response> => {
    let encoding: OtlpEncoding = "protobuf";
    try {
      const contentType = (request.headers.get("content-type") ?? "").split(";")[0].trim()
        .toLowerCase();
      if (contentType === "application/json") encoding = "json";
      if (request.method !== "POST") {
        return answerStatus(encoding, 405, RPC_UNIMPLEMENTED, "use POST", { allow: "POST" });
      }
      if (contentType !== "application/x-protobuf" && contentType !== "application/json") {
        return answerStatus(
          encoding,
          415,
          RPC_INVALID_ARGUMENT,
          `content type ${JSON.stringify(contentType)} is not application/x-protobuf or ` +
            `application/json`,
        );
      }
      const contentEncoding = (request.headers.get("content-encoding") ?? "identity").trim()
        .toLowerCase();
      if (contentEncoding !== "gzip" && contentEncoding !== "identity") {
        return answerStatus(
          encoding,
          415,
          RPC_INVALID_ARGUMENT,
          `content encoding ${JSON.stringify(contentEncoding)} is not gzip`,
        );
      }
      if (inFlight >= maxConcurrent) {
        await request.body?.cancel().catch(() => {});
        return answerStatus(encoding, 429, RPC_UNAVAILABLE, "too many requests at once", {
          "retry-after": "1",
        });
      }
      inFlight++;
      try {
        const declared = Number(request.headers.get("content-length") ?? "0");
        if (declared > maxBodyBytes) return tooLarge(encoding, maxBodyBytes, request);
        const body = await readLimited(request.body, maxBodyBytes, bodyTimeoutMs);
        if (body === "timeout") {
          return answerStatus(encoding, 408, RPC_UNAVAILABLE, "the body took too long to arrive");
        }
        if (body === "too large") return tooLarge(encoding, maxBodyBytes, request);
        let bytes = body;
        if (contentEncoding === "gzip") {
          const unzipped = await gunzipLimited(body, maxBodyBytes, bodyTimeoutMs);
          if (unzipped === "too large") return tooLarge(encoding, maxBodyBytes, request);
          if (unzipped === "timeout" || unzipped === "invalid") {
            return answerStatus(encoding, 400, RPC_INVALID_ARGUMENT, "the body is not valid gzip");
          }
          bytes = unzipped;
        }
        let decoded: OtlpRequest;
        try {
          decoded = encoding === "json"
            ? decodeJsonRequest(JSON.parse(new TextDecoder().decode(bytes)), limits)
            : decodeProtobufRequest(bytes, limits);
        } catch (error) {
          return answerStatus(
            encoding,
            400,
            RPC_INVALID_ARGUMENT,
            `the body is not an OTLP ExportMetricsServiceRequest: ${
              error instanceof Error ? error.message : String(error)
            }`,
          );
        }
        const result = store.ingest(decoded);
        const message = result.rejected === 0 ? "" : result.reasons.join("; ");
        return new Response(exportResponseBody(encoding, result.rejected, message), {
          status: 200,
          headers: { "content-type": contentTypeOf(encoding) },
        });
      } finally {
        inFlight--;
      }
    } catch (error) {
      // Never into the host: an unexpected failure is the sender's 500, with a fixed message;
      // the error itself (which may hold internal details) goes to onError only.
      reportInternalError(error);
      return answerStatus(encoding, 500, RPC_INTERNAL, "internal error");
    }
  };
  return Object.assign(handler, { collector: store });
}

function answerStatus(
  encoding: OtlpEncoding,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(statusBody(encoding, code, message), {
    status,
    headers: { "content-type": contentTypeOf(encoding), ...headers },
  });
}

function tooLarge(encoding: OtlpEncoding, limit: number, request: Request): Response {
  request.body?.cancel().catch(() => {});
  return answerStatus(
    encoding,
    413,
    RPC_RESOURCE_EXHAUSTED,
    `the body is larger than ${limit} bytes (maxBodyBytes)`,
  );
}

/** Reads a stream to its end, stopping at `limit` bytes or after `timeoutMs`. */
async function readLimited(
  stream: ReadableStream<Uint8Array> | null,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer> | "too large" | "timeout"> {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    while (true) {
      const next = await Promise.race([reader.read(), deadline]);
      if (next === "timeout") {
        reader.cancel().catch(() => {});
        return "timeout";
      }
      if (next.done) break;
      total += next.value.byteLength;
      if (total > limit) {
        reader.cancel().catch(() => {});
        return "too large";
      }
      chunks.push(next.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return concatChunks(chunks);
}

/** gunzips `bytes`, stopping at `limit` bytes of output (a gzip bomb stops there). */
async function gunzipLimited(
  bytes: Uint8Array<ArrayBuffer>,
  limit: number,
  timeoutMs: number,
): Promise<Uint8Array<ArrayBuffer> | "too large" | "timeout" | "invalid"> {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await readLimited(stream, limit, timeoutMs);
  } catch {
    return "invalid";
  }
}

/** The first line of an error's message, for a one-line log entry. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0];
}
