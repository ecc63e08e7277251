/**
 * The `/metrics` endpoint as a plain `(Request) => Promise<Response>` function, to mount in
 * `Deno.serve`, Hono, Oak, Fresh or any other framework built on the Fetch API.
 *
 * @module
 */

import { DEFAULT_COMPRESSION_LEVEL } from "../encoding/gzip.ts";
import {
  acceptsGzip,
  escapingParameter,
  negotiateEscaping,
  negotiateFormat,
} from "../exposition/negotiate.ts";
import type { EscapingScheme } from "../validation.ts";
import {
  checkedSource,
  defaultRegistry,
  hasCollect,
  type MetricsSource,
  Registry,
} from "../registry.ts";
import { contentTypeOf, type ExpositionFormat } from "../exposition/render.ts";
import { SharedBody } from "../exposition/shared_body.ts";
import { badRequest, plainText, requestUrl } from "./responses.ts";
import {
  formatSeconds,
  MAX_SCRAPE_TIMEOUT_MS,
  scrapeDeadlineMs,
  waitForBody,
} from "./scrape_wait.ts";
import { type SelfMetrics, selfMetricsIn } from "./self_metrics.ts";
import { type Body, type SharedCollection, SharedCollections } from "./shared_collection.ts";

/** How the handler picks the wire format. */
export type FormatChoice = "negotiate" | ExpositionFormat;

/** Options of {@linkcode metricsHandler}. */
export interface MetricsHandlerOptions {
  /** What to expose; defaults to `defaultRegistry`. */
  readonly registry?: MetricsSource;
  /**
   * `"negotiate"` (the default) answers OpenMetrics to clients that prefer it in `Accept`
   * (Prometheus does), protobuf to clients that ask for it first (Prometheus with native
   * histograms on), and the text format 0.0.4 to everyone else; `"text"`, `"openmetrics"` or
   * `"protobuf"` always answers that format.
   */
  readonly format?: FormatChoice;
  /** Gzip the body when the client's `Accept-Encoding` allows it (default `true`). */
  readonly compression?: boolean;
  /**
   * The gzip level, 1 (fastest) to 9 (smallest); default 1. Prometheus asks for gzip on every
   * scrape, so this is the cost of a scrape in practice: level 1 keeps a gzipped scrape close to
   * a plain one; higher levels make smaller bodies for more CPU — choose 2 where bandwidth costs
   * more than CPU. Runtimes without `node:zlib` use `CompressionStream`, whose level is fixed.
   * `bench/gzip_bench.ts` measures the levels.
   */
  readonly compressionLevel?: number;
  /**
   * How long a scrape may wait for its metrics to be collected, rendered and compressed before
   * it is answered `503` (default 10,000 ms). A scrape that carries Prometheus'
   * `X-Prometheus-Scrape-Timeout-Seconds` header waits that long instead, less a margin (a
   * tenth, at most 500 ms) so that the answer reaches Prometheus before it gives up. A body
   * streamed as it is rendered (plain text of a large registry) must also be read to its end
   * within that time, counted from the request; past it the stream is cut off (the client
   * sees a truncated body), as the scraper has given up by then.
   */
  readonly scrapeTimeoutMs?: number;
  /**
   * How many scrapes may be in progress at once (default 64); more are answered `503` at once.
   * A scrape whose body is streamed stays in progress until its body is read to its end,
   * cancelled or cut off at the deadline, so slow readers cannot pile up without bound.
   * Scrapes that arrive while another is being collected share its collection (and its
   * rendered, compressed body), so a slow collector is never asked twice at the same time.
   */
  readonly maxConcurrentScrapes?: number;
  /**
   * Called with the error when collecting or rendering fails (the client then gets a 500 that
   * does not repeat the error's text), and once per streak of scrapes that time out.
   * Defaults to `console.error`; pass `() => {}` to stay silent.
   */
  readonly onError?: (error: unknown) => void;
  /**
   * Metrics about the endpoint itself, as client_golang's `promhttp` offers:
   * `promhttp_metric_handler_requests_total{code}` (scrapes answered, by status code),
   * `promhttp_metric_handler_requests_in_flight` (scrapes being answered) and
   * `promhttp_metric_handler_request_duration_seconds` (a histogram of the time to answer).
   * `true` registers them in `registry` (which must then be a {@linkcode Registry}); a registry
   * registers them there. Handlers given the same registry share the same metrics. Off by
   * default.
   */
  readonly selfMetrics?: Registry | true;
  /**
   * `false` leaves out the `_created` lines of counters, histograms and summaries in
   * OpenMetrics answers (the Python client's `PROMETHEUS_DISABLE_CREATED_SERIES`), which
   * halves the output of counters. Default `true`.
   */
  readonly createdSeries?: boolean;
}

/** The methods the endpoint answers; everything else gets 405. */
const ALLOWED_METHODS = "GET, HEAD";
/** The query parameter that filters families, as in the Python client. */
const NAME_FILTER_PARAM = "name[]";
/** The header in which Prometheus says how long it will wait for the answer. */
const SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds";
/** The body of a 500: the error itself may hold secrets, so it goes only to `onError`. */
const COLLECTION_FAILED = "error collecting metrics; see the server's log for details";
/**
 * Tells Cloudflare's workerd that a gzip body is gzipped already: without it, workerd reads
 * `Content-Encoding: gzip` as a request to compress, and would gzip the body a second time.
 * Other runtimes ignore the field.
 */
const ALREADY_ENCODED = { encodeBody: "manual" } as ResponseInit;
/** The defaults of the options above. */
const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENT_SCRAPES = 64;

function validateOptions(options: MetricsHandlerOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("metricsHandler() takes an options object, e.g. { registry }");
  }
  const {
    registry,
    format,
    onError,
    compressionLevel,
    scrapeTimeoutMs,
    maxConcurrentScrapes,
    selfMetrics,
  } = options;
  if (registry !== undefined && !hasCollect(registry)) {
    throw new TypeError(
      "metricsHandler(): registry must be a Registry or an object with a collect() method",
    );
  }
  if (
    format !== undefined && format !== "negotiate" && format !== "text" &&
    format !== "openmetrics" && format !== "protobuf"
  ) {
    throw new TypeError(
      `metricsHandler(): format must be "negotiate", "text", "openmetrics" or "protobuf", got ${
        JSON.stringify(format)
      }`,
    );
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError("metricsHandler(): onError must be a function");
  }
  if (
    compressionLevel !== undefined &&
    (!Number.isInteger(compressionLevel) || compressionLevel < 1 || compressionLevel > 9)
  ) {
    throw new RangeError(
      `metricsHandler(): compressionLevel must be an integer from 1 to 9, got ${
        String(compressionLevel)
      }`,
    );
  }
  if (
    scrapeTimeoutMs !== undefined &&
    (typeof scrapeTimeoutMs !== "number" || !(scrapeTimeoutMs > 0) ||
      scrapeTimeoutMs > MAX_SCRAPE_TIMEOUT_MS)
  ) {
    throw new RangeError(
      `metricsHandler(): scrapeTimeoutMs must be a number of ms above 0 and at most ${MAX_SCRAPE_TIMEOUT_MS}, got ${
        String(scrapeTimeoutMs)
      }`,
    );
  }
  if (
    maxConcurrentScrapes !== undefined &&
    (!Number.isInteger(maxConcurrentScrapes) || maxConcurrentScrapes < 1)
  ) {
    throw new RangeError(
      `metricsHandler(): maxConcurrentScrapes must be an integer of 1 or more, got ${
        String(maxConcurrentScrapes)
      }`,
    );
  }
  if (options.createdSeries !== undefined && typeof options.createdSeries !== "boolean") {
    throw new TypeError("metricsHandler(): createdSeries must be true or false");
  }
  if (selfMetrics !== undefined && selfMetrics !== true && !(selfMetrics instanceof Registry)) {
    throw new TypeError("metricsHandler(): selfMetrics must be true or a Registry");
  }
  if (selfMetrics === true && registry !== undefined && !(registry instanceof Registry)) {
    throw new TypeError(
      "metricsHandler(): selfMetrics: true registers in `registry`, which is not a Registry " +
        "here; pass selfMetrics: someRegistry instead",
    );
  }
}

/**
 * Holds one of the `maxConcurrentScrapes` scrapes in progress. A streamed body takes it over
 * (`takenOverByStream`) and releases it once read to its end, cancelled or cut off at the
 * scrape's deadline; otherwise the scrape releases it once its response is made.
 */
interface ScrapeInProgress {
  takenOverByStream: boolean;
  release(): void;
}

/** What a scrape asks for, read from its request. */
interface ScrapeRequest {
  readonly method: string;
  readonly format: ExpositionFormat;
  readonly escaping: EscapingScheme | undefined;
  readonly compressed: boolean;
  readonly names: string[];
  readonly deadlineMs: number;
}

/**
 * One `/metrics` endpoint: its settings, the collections its scrapes share, and how many are
 * in progress.
 */
class MetricsEndpoint {
  readonly #formatChoice: FormatChoice;
  readonly #compression: boolean;
  readonly #defaultDeadlineMs: number;
  readonly #maxInProgress: number;
  readonly #onError: (error: unknown) => void;
  readonly #self: SelfMetrics | undefined;
  /** Caches must keep one copy per format and per encoding we may answer with. */
  readonly #vary: string;
  readonly #stopSignal: AbortSignal | undefined;
  readonly #collections: SharedCollections;
  #inProgress = 0;
  /** Whether scrapes are timing out: reported on the first, quiet until one succeeds again. */
  #timingOut = false;

  constructor(options: MetricsHandlerOptions, stopSignal: AbortSignal | undefined) {
    const source: MetricsSource = options.registry ?? defaultRegistry;
    this.#formatChoice = options.format ?? "negotiate";
    this.#compression = options.compression ?? true;
    this.#defaultDeadlineMs = options.scrapeTimeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
    this.#maxInProgress = options.maxConcurrentScrapes ?? DEFAULT_MAX_CONCURRENT_SCRAPES;
    this.#onError = options.onError ?? ((error: unknown) => console.error(error));
    this.#self = options.selfMetrics === undefined ? undefined : selfMetricsIn(
      options.selfMetrics === true ? source as Registry : options.selfMetrics,
    );
    this.#vary = this.#formatChoice === "negotiate" ? "Accept-Encoding, Accept" : "Accept-Encoding";
    this.#stopSignal = stopSignal;
    this.#collections = new SharedCollections({
      source,
      // A source other than a Registry is checked as a registry checks its custom collectors
      // (bad families dropped and reported to onError).
      checked: checkedSource(source),
      createdSeries: options.createdSeries ?? true,
      compressionLevel: options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL,
      onError: this.#onError,
    });
  }

  /** Answers one request, counted in the self metrics when they are on. */
  async handle(request: Request): Promise<Response> {
    const self = this.#self;
    const started = self === undefined ? 0 : performance.now();
    self?.inFlight.inc();
    let response: Response;
    try {
      response = await this.#dispatch(request);
    } finally {
      self?.inFlight.dec();
    }
    if (self !== undefined) {
      self.requests.labels(String(response.status)).inc();
      self.duration.observe((performance.now() - started) / 1000);
    }
    return response;
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // A failing error reporter must not turn a 500 into a crash.
    }
  }

  async #dispatch(request: Request): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      return plainText(405, `method ${method} not allowed; use GET or HEAD`, method, {
        allow: ALLOWED_METHODS,
      });
    }
    const url = requestUrl(request);
    if (url === undefined) return badRequest(method);
    if (this.#inProgress >= this.#maxInProgress) {
      return plainText(
        503,
        `too many scrapes in progress (at most ${this.#maxInProgress}); try again later`,
        method,
        { "retry-after": "1" },
      );
    }
    this.#inProgress++;
    let held = true;
    const scrape: ScrapeInProgress = {
      takenOverByStream: false,
      release: () => {
        if (held) {
          held = false;
          this.#inProgress--;
        }
      },
    };
    try {
      return await this.#answer(request, url, performance.now(), scrape);
    } finally {
      if (!scrape.takenOverByStream) scrape.release();
    }
  }

  #readScrapeRequest(request: Request, url: URL): ScrapeRequest {
    const format: ExpositionFormat = this.#formatChoice === "negotiate"
      ? negotiateFormat(request.headers.get("accept"))
      : this.#formatChoice;
    return {
      method: request.method,
      format,
      escaping: negotiateEscaping(request.headers.get("accept"), format),
      compressed: this.#compression && acceptsGzip(request.headers.get("accept-encoding")),
      names: url.searchParams.getAll(NAME_FILTER_PARAM),
      deadlineMs: scrapeDeadlineMs(
        request.headers.get(SCRAPE_TIMEOUT_HEADER),
        this.#defaultDeadlineMs,
      ),
    };
  }

  /** Answers a scrape that holds one of the `maxConcurrentScrapes`, taken at `started`. */
  async #answer(
    request: Request,
    url: URL,
    started: number,
    scrape: ScrapeInProgress,
  ): Promise<Response> {
    const asked = this.#readScrapeRequest(request, url);
    const collection = this.#collections.join(asked.names);
    const outcome = await waitForBody(
      collection.body(asked.format, asked.escaping, asked.compressed),
      collection,
      asked.deadlineMs,
      request,
      this.#stopSignal,
    );
    switch (outcome.kind) {
      case "body":
        this.#timingOut = false;
        return this.#bodyResponse(asked, outcome.body, started, scrape);
      case "failed":
        if (!outcome.collection.failureReported) {
          outcome.collection.failureReported = true;
          this.#report(outcome.error);
        }
        // The detail (which may hold secrets) goes to onError only, never to the scraper.
        return plainText(500, COLLECTION_FAILED, asked.method);
      case "timeout":
        return this.#timeoutResponse(asked, collection);
      case "gone":
        return plainText(503, "the client went away before the metrics were ready", asked.method);
      case "stopping":
        return plainText(503, "the metrics server is shutting down", asked.method);
    }
  }

  #bodyResponse(
    asked: ScrapeRequest,
    body: Body,
    started: number,
    scrape: ScrapeInProgress,
  ): Response {
    const headers = new Headers({
      "content-type": contentTypeOf(asked.format) + escapingParameter(asked.escaping),
      "cache-control": "no-store",
      vary: this.#vary,
    });
    if (asked.compressed) headers.set("content-encoding", "gzip");
    // A body rendered whole (small, compressed, protobuf, HEAD) has its length; a larger one is
    // streamed as it is rendered, without (Prometheus reads chunked bodies).
    let bytes: Uint8Array<ArrayBuffer> | undefined;
    if (!(body instanceof SharedBody)) bytes = body;
    else if (body.complete || asked.method === "HEAD") bytes = body.whole();
    if (bytes !== undefined) headers.set("content-length", String(bytes.byteLength));
    const streamed = (shared: SharedBody) => {
      // The stream keeps the scrape in progress, and the deadline covers reading it too: past
      // it the scraper has given up.
      scrape.takenOverByStream = true;
      return shared.stream({
        onError: (error) => this.#report(error),
        onEnd: () => scrape.release(),
        deadlineMs: Math.max(0, asked.deadlineMs - (performance.now() - started)),
      });
    };
    const content = asked.method === "HEAD" ? null : bytes ?? streamed(body as SharedBody);
    return new Response(content, {
      status: 200,
      headers,
      ...(asked.compressed ? ALREADY_ENCODED : {}),
    });
  }

  #timeoutResponse(asked: ScrapeRequest, collection: SharedCollection): Response {
    // The next scrape starts a fresh collection rather than waiting on this one.
    this.#collections.drop(collection);
    const waited = formatSeconds(asked.deadlineMs);
    if (!this.#timingOut) {
      this.#timingOut = true;
      this.#report(
        new Error(
          `collecting metrics took longer than ${waited}; scrapes are answered 503 until a ` +
            `collection completes in time`,
        ),
      );
    }
    return plainText(
      503,
      `collecting metrics took longer than ${waited} (the scrape timeout)`,
      asked.method,
    );
  }
}

/**
 * Builds the endpoint. `stopSignal` (used by `startHttpServer`) answers every waiting scrape
 * `503` at once when it aborts, so that shutting down never waits for a hung collector.
 */
export function createMetricsEndpoint(
  options: MetricsHandlerOptions,
  stopSignal?: AbortSignal,
): (request: Request) => Promise<Response> {
  validateOptions(options);
  const endpoint = new MetricsEndpoint(options, stopSignal);
  return function handleMetricsRequest(request: Request): Promise<Response> {
    return endpoint.handle(request);
  };
}

/**
 * Creates the `/metrics` endpoint: GET and HEAD only (405 with `Allow` otherwise), the format
 * negotiated from `Accept` (or forced with `format`), gzip when `Accept-Encoding` allows it,
 * `?name[]=a&name[]=b` to keep only some families. It does not look at the path: route to it
 * however your framework does.
 *
 * It never lets a scraper or a collector hurt the program: a scrape waits at most its deadline
 * (Prometheus' scrape timeout, else `scrapeTimeoutMs`) and is then answered `503`; a scrape
 * whose client went away stops waiting; scrapes arriving together share one collection, and
 * beyond `maxConcurrentScrapes` are answered `503`; a collector that throws gives a `500` whose
 * body does not repeat the error (it goes to `onError`); a malformed `Host` header gives `400`.
 *
 * @example Mount it in an existing `Deno.serve` app
 * ```ts
 * import { Counter, metricsHandler } from "@deno-prom/client";
 * const requests = new Counter({ name: "http_requests_total", help: "requests served" });
 * const metrics = metricsHandler();
 * const server = Deno.serve({ port: 0, onListen() {} }, (request) => {
 *   if (new URL(request.url).pathname === "/metrics") return metrics(request);
 *   requests.inc();
 *   return new Response("hello");
 * });
 * await server.shutdown();
 * ```
 *
 * @example Call it directly
 * ```ts
 * import { metricsHandler, Registry } from "@deno-prom/client";
 * const handle = metricsHandler({ registry: new Registry() });
 * const response = await handle(new Request("http://localhost/metrics"));
 * response.headers.get("content-type"); // "text/plain; version=0.0.4; charset=utf-8"
 * ```
 *
 * @example Metrics about the endpoint itself
 * ```ts
 * import { metricsHandler, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const handle = metricsHandler({ registry, selfMetrics: true });
 * await (await handle(new Request("http://localhost/metrics"))).text();
 * const text = await registry.metrics(); // has promhttp_metric_handler_requests_total{code="200"} 1.0
 * ```
 */
export function metricsHandler(
  options: MetricsHandlerOptions = {},
): (request: Request) => Promise<Response> {
  return createMetricsEndpoint(options);
}
