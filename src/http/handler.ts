/**
 * The `/metrics` endpoint as a plain `(Request) => Promise<Response>` function, to mount in
 * `Deno.serve`, Hono, Oak, Fresh or any other framework built on the Fetch API.
 *
 * @module
 */

import { DEFAULT_COMPRESSION_LEVEL, gzip } from "../encoding/gzip.ts";
import {
  acceptsGzip,
  escapingParameter,
  negotiateEscaping,
  negotiateFormat,
} from "../exposition/negotiate.ts";
import { Counter } from "../metrics/counter.ts";
import { Gauge } from "../metrics/gauge.ts";
import { Histogram } from "../metrics/histogram.ts";
import type { MetricFamily } from "../model.ts";
import type { EscapingScheme } from "../validation.ts";
import {
  checkedSource,
  type CollectOptions,
  defaultRegistry,
  hasCollect,
  type MetricsSource,
  Registry,
} from "../registry.ts";
import { contentTypeOf, type ExpositionFormat, renderBytes } from "../exposition/render.ts";
import { ByteRender, type RenderItems } from "../exposition/byte_render.ts";
import { gatherForBytes } from "../registry.ts";
import { SharedBody } from "../exposition/shared_body.ts";
import { withoutCreated } from "../exposition/created.ts";

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
   * scrape, so this is the cost of a scrape in practice. Measured through the whole handler
   * (`bench/gzip_bench.ts`, 10,000 series, 1.66 MB of text, `node:zlib` in Deno 2.9): level 1
   * compresses 10.8× and a gzipped scrape takes 1.37–1.47× a plain one; level 2 compresses
   * 15.5× at 1.61–1.65×; level 6 (zlib's usual default) 17.5× at 4.4×. Level 1 is the default
   * because it keeps a gzipped scrape within 1.6× a plain one; choose 2 where bandwidth costs
   * more than CPU. Runtimes without `node:zlib` use `CompressionStream`, whose level is fixed
   * (5.4× a plain scrape).
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
/** How long a scrape waits before it starts watching for its client going away. */
const CLIENT_WATCH_DELAY_MS = 200;
/** The longest wait a scrape-timeout header may ask for: a bound, even for an odd header. */
const MAX_SCRAPE_TIMEOUT_MS = 300_000;
/** The margin kept from the scraper's timeout: a tenth of it, at most this. */
const MAX_SCRAPE_TIMEOUT_MARGIN_MS = 500;
/** Characters allowed in a `Host` header: a host name or IPv4 address, or `[IPv6]`, and a port. */
const VALID_HOST = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;

/** A short plain-text answer (errors, 405). */
function plainText(
  status: number,
  text: string,
  method: string,
  headers: Record<string, string> = {},
): Response {
  const body = new TextEncoder().encode(text + "\n");
  return new Response(method === "HEAD" ? null : body, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "content-length": String(body.byteLength),
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * The URL of a request, or `undefined` when it cannot be trusted: a `Host` header with spaces
 * or slashes (which would make URL parsing throw, or move the path) or a URL that does not
 * parse. Such a request gets 400 and is not logged: it is the client's mistake.
 */
export function requestUrl(request: Request): URL | undefined {
  const host = request.headers.get("host");
  if (host !== null && host !== "" && !VALID_HOST.test(host)) return undefined;
  try {
    return new URL(request.url);
  } catch {
    return undefined;
  }
}

/** The 400 answer to a request whose `Host` header or URL is malformed. */
export function badRequest(method: string): Response {
  return plainText(400, "bad request: malformed Host header or URL", method);
}

/**
 * How long a scrape may wait, in ms: the scraper's own timeout less a margin when it sent one,
 * else the configured default.
 */
export function scrapeDeadlineMs(header: string | null, defaultMs: number): number {
  if (header === null) return defaultMs;
  const seconds = Number(header.trim());
  if (header.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) return defaultMs;
  const timeoutMs = Math.min(seconds * 1000, MAX_SCRAPE_TIMEOUT_MS);
  return timeoutMs - Math.min(timeoutMs / 10, MAX_SCRAPE_TIMEOUT_MARGIN_MS);
}

/** Seconds, as a reason line shows them (`9.5 s`). */
function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/**
 * One collection and what is made of it. Scrapes that arrive while it is busy (collecting,
 * rendering or compressing) join it instead of starting their own; once all its work has
 * settled, or a scrape waiting on it has timed out, the next scrape starts a new one.
 */
interface Round {
  /** The snapshots, collected when a body first needs them. */
  families: Promise<readonly MetricFamily[]> | undefined;
  /** What the byte renderer walks (a `Registry` only), gathered when first needed. */
  items: Promise<RenderItems | undefined> | undefined;
  /** The names of the `name[]` filter. */
  readonly names: readonly string[];
  /** Bodies by `format` or `format+gzip`, each made once. */
  readonly bodies: Map<string, Promise<Body>>;
  /** The streamed bodies, sealed when the round retires (no reader joins them any more). */
  readonly shared: SharedBody[];
  /** Pieces of work not settled yet; the round is retired when this reaches 0. */
  pending: number;
  /** Whether the error of this round was reported already (once per round, not per scrape). */
  reported: boolean;
}

/**
 * A body: whole bytes (protobuf, gzip, snapshot renders), or the text formats of a `Registry`
 * rendered chunk by chunk as the response is read (see `SharedBody`).
 */
type Body = Uint8Array<ArrayBuffer> | SharedBody;

/** What waiting for a body came to. */
type Outcome =
  | { readonly kind: "body"; readonly body: Body }
  | { readonly kind: "failed"; readonly error: unknown; readonly round: Round }
  | { readonly kind: "timeout" }
  | { readonly kind: "gone" }
  | { readonly kind: "stopping" };

/**
 * Waits for `body` at most `deadlineMs`, and no longer than the client stays (`request.signal`)
 * or the server runs (`stopSignal`). Leaves no timer or listener behind.
 *
 * The client's signal is looked at only once the wait has lasted `CLIENT_WATCH_DELAY_MS`:
 * in `Deno.serve`, merely reading `request.signal` prints a one-time warning about its legacy
 * abort behaviour, which a quick scrape has no reason to cause.
 */
function waitForBody(
  body: Promise<Body>,
  round: Round,
  deadlineMs: number,
  request: Request,
  stopSignal: AbortSignal | undefined,
): Promise<Outcome> {
  if (stopSignal?.aborted) return Promise.resolve({ kind: "stopping" });
  return new Promise<Outcome>((resolve) => {
    let clientSignal: AbortSignal | undefined;
    const onGone = () => finish({ kind: "gone" });
    const onStop = () => finish({ kind: "stopping" });
    const timer = setTimeout(() => finish({ kind: "timeout" }), deadlineMs);
    const watchTimer = setTimeout(() => {
      clientSignal = request.signal;
      if (clientSignal.aborted) onGone();
      else clientSignal.addEventListener("abort", onGone, { once: true });
    }, Math.min(CLIENT_WATCH_DELAY_MS, deadlineMs));
    let settled = false;
    function finish(outcome: Outcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(watchTimer);
      clientSignal?.removeEventListener("abort", onGone);
      stopSignal?.removeEventListener("abort", onStop);
      resolve(outcome);
    }
    stopSignal?.addEventListener("abort", onStop, { once: true });
    body.then(
      (bytes) => finish({ kind: "body", body: bytes }),
      (error) => finish({ kind: "failed", error, round }),
    );
  });
}

/** The endpoint's own metrics (see `selfMetrics`). */
interface SelfMetrics {
  readonly requests: Counter;
  readonly inFlight: Gauge;
  readonly duration: Histogram;
}

/** Self metrics by registry, so that handlers sharing a registry share them too. */
const selfMetricsByRegistry = new WeakMap<Registry, SelfMetrics>();

function selfMetricsIn(registry: Registry): SelfMetrics {
  let metrics = selfMetricsByRegistry.get(registry);
  if (metrics === undefined) {
    const requests = new Counter({
      name: "promhttp_metric_handler_requests_total",
      help: "Total number of scrapes by HTTP status code.",
      labelNames: ["code"],
      registry,
    });
    // As client_golang does: the usual codes are present from the start, at 0.
    for (const code of ["200", "500", "503"]) requests.labels(code);
    metrics = {
      requests,
      inFlight: new Gauge({
        name: "promhttp_metric_handler_requests_in_flight",
        help: "Current number of scrapes being served.",
        registry,
      }),
      duration: new Histogram({
        name: "promhttp_metric_handler_request_duration_seconds",
        help: "Time taken to answer a scrape, in seconds.",
        registry,
      }),
    };
    selfMetricsByRegistry.set(registry, metrics);
  }
  return metrics;
}

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
 * Builds the endpoint. `stopSignal` (used by `startHttpServer`) answers every waiting scrape
 * `503` at once when it aborts, so that shutting down never waits for a hung collector.
 */
export function createMetricsEndpoint(
  options: MetricsHandlerOptions,
  stopSignal?: AbortSignal,
): (request: Request) => Promise<Response> {
  validateOptions(options);
  const source: MetricsSource = options.registry ?? defaultRegistry;
  // What the snapshots come from: a source other than a Registry is checked as a registry
  // checks its custom collectors (bad families dropped and reported to onError).
  const checked = checkedSource(source);
  const formatChoice: FormatChoice = options.format ?? "negotiate";
  const compression = options.compression ?? true;
  const level = options.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL;
  const defaultDeadlineMs = options.scrapeTimeoutMs ?? DEFAULT_SCRAPE_TIMEOUT_MS;
  const maxInProgress = options.maxConcurrentScrapes ?? DEFAULT_MAX_CONCURRENT_SCRAPES;
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  const createdSeries = options.createdSeries ?? true;
  const self = options.selfMetrics === undefined ? undefined : selfMetricsIn(
    options.selfMetrics === true ? source as Registry : options.selfMetrics,
  );
  // Caches must keep one copy per format and per encoding we may answer with.
  const vary = formatChoice === "negotiate" ? "Accept-Encoding, Accept" : "Accept-Encoding";

  /** The busy round of each `name[]` filter (the key), which new scrapes join. */
  const rounds = new Map<string, Round>();
  let inProgress = 0;
  /** Whether scrapes are timing out: reported on the first, quiet until one succeeds again. */
  let timingOut = false;

  function report(error: unknown): void {
    try {
      onError(error);
    } catch {
      // A failing error reporter must not turn a 500 into a crash.
    }
  }

  function retire(key: string, round: Round): void {
    if (rounds.get(key) === round) rounds.delete(key);
    for (const body of round.shared) body.seal();
  }

  /** Tracks one piece of a round's work, retiring the round when the last one settles. */
  function track<T>(key: string, round: Round, work: Promise<T>): Promise<T> {
    round.pending++;
    const tracked = work.finally(() => {
      if (--round.pending === 0) retire(key, round);
    });
    // A scrape that stopped waiting leaves nobody to see a failure: keep it from going unhandled.
    tracked.catch(() => {});
    return tracked;
  }

  function startRound(key: string, names: string[]): Round {
    const round: Round = {
      families: undefined,
      items: undefined,
      names,
      bodies: new Map(),
      shared: [],
      pending: 0,
      reported: false,
    };
    rounds.set(key, round);
    return round;
  }

  // Inside an async function, a collector that throws synchronously rejects like one that
  // rejects, and every scrape of the round sees the same failure.
  // Families a collector got wrong are dropped and reported to onError (see validate.ts).
  function collectOptions(round: Round): CollectOptions {
    return round.names.length > 0 ? { names: round.names, onError } : { onError };
  }

  /** The round's snapshots, collected once. */
  function familiesOf(key: string, round: Round): Promise<readonly MetricFamily[]> {
    return round.families ??= track(
      key,
      round,
      (async () => await checked.collect(collectOptions(round)))(),
    );
  }

  /**
   * What the byte renderer walks, gathered once; `undefined` (render the snapshots) for a
   * registry with a prefix or default labels.
   */
  function itemsOf(
    key: string,
    round: Round,
    registry: Registry,
  ): Promise<RenderItems | undefined> {
    return round.items ??= track(key, round, gatherForBytes(registry, collectOptions(round)));
  }

  /**
   * The plain body of a text format: streamed from the byte renderer where it can be. The
   * collection starts before this returns, as scrapes joining the round expect.
   */
  function textBody(
    key: string,
    round: Round,
    format: "text" | "openmetrics",
    escaping: EscapingScheme | undefined,
  ): Promise<Body> {
    const fromSnapshots = (): Promise<Body> =>
      familiesOf(key, round).then((families) =>
        renderBytes(createdSeries ? families : families.map(withoutCreated), format, escaping)
      );
    if (!(source instanceof Registry)) return fromSnapshots();
    return itemsOf(key, round, source).then((items): Body | Promise<Body> => {
      if (items === undefined) return fromSnapshots();
      const body = new SharedBody(new ByteRender(items, { format, escaping, createdSeries }));
      round.shared.push(body);
      return body;
    });
  }

  function bodyOf(
    key: string,
    round: Round,
    format: ExpositionFormat,
    escaping: EscapingScheme | undefined,
    compressed: boolean,
  ): Promise<Body> {
    const id = `${format}/${escaping ?? ""}${compressed ? "+gzip" : ""}`;
    let body = round.bodies.get(id);
    if (body === undefined) {
      body = compressed
        ? bodyOf(key, round, format, escaping, false).then((plain) =>
          gzip(plain instanceof SharedBody ? plain.whole() : plain, level)
        )
        : format === "protobuf"
        ? familiesOf(key, round).then((families) => renderBytes(families, format, escaping))
        : textBody(key, round, format, escaping);
      body = track(key, round, body);
      round.bodies.set(id, body);
    }
    return body;
  }

  /**
   * Answers a scrape that holds one of the `maxConcurrentScrapes` places (`place`, taken at
   * `started`). A streamed body keeps the place (`handedToBody`) until it is read to its end,
   * cancelled or cut off at the scrape's deadline, and then releases it; otherwise the caller
   * releases it once the response is made.
   */
  async function answer(
    request: Request,
    url: URL,
    started: number,
    place: { handedToBody: boolean; release(): void },
  ): Promise<Response> {
    const method = request.method;
    const format: ExpositionFormat = formatChoice === "negotiate"
      ? negotiateFormat(request.headers.get("accept"))
      : formatChoice;
    const escaping = negotiateEscaping(request.headers.get("accept"), format);
    const compressed = compression && acceptsGzip(request.headers.get("accept-encoding"));
    const names = url.searchParams.getAll(NAME_FILTER_PARAM);
    const key = JSON.stringify([...new Set(names)].sort());
    const deadlineMs = scrapeDeadlineMs(
      request.headers.get(SCRAPE_TIMEOUT_HEADER),
      defaultDeadlineMs,
    );

    const round = rounds.get(key) ?? startRound(key, names);
    const outcome = await waitForBody(
      bodyOf(key, round, format, escaping, compressed),
      round,
      deadlineMs,
      request,
      stopSignal,
    );
    switch (outcome.kind) {
      case "body": {
        timingOut = false;
        const headers = new Headers({
          "content-type": contentTypeOf(format) + escapingParameter(escaping),
          "cache-control": "no-store",
          vary,
        });
        if (compressed) headers.set("content-encoding", "gzip");
        const body = outcome.body;
        // A body rendered whole (small, compressed, protobuf, HEAD) has its length; a larger
        // one is streamed as it is rendered, without (Prometheus reads chunked bodies).
        let bytes: Uint8Array<ArrayBuffer> | undefined;
        if (!(body instanceof SharedBody)) bytes = body;
        else if (body.complete || method === "HEAD") bytes = body.whole();
        if (bytes !== undefined) headers.set("content-length", String(bytes.byteLength));
        const streamed = (shared: SharedBody) => {
          // The stream keeps the scrape's place, and the deadline covers reading it too: past
          // it the scraper has given up.
          place.handedToBody = true;
          return shared.stream({
            onError: report,
            onEnd: () => place.release(),
            deadlineMs: Math.max(0, deadlineMs - (performance.now() - started)),
          });
        };
        const content = method === "HEAD" ? null : bytes ?? streamed(body as SharedBody);
        return new Response(content, {
          status: 200,
          headers,
          ...(compressed ? ALREADY_ENCODED : {}),
        });
      }
      case "failed":
        if (!outcome.round.reported) {
          outcome.round.reported = true;
          report(outcome.error);
        }
        // The detail (which may hold secrets) goes to onError only, never to the scraper.
        return plainText(500, COLLECTION_FAILED, method);
      case "timeout":
        // The next scrape starts a fresh collection rather than waiting on this one.
        retire(key, round);
        if (!timingOut) {
          timingOut = true;
          report(
            new Error(
              `collecting metrics took longer than ${
                formatSeconds(deadlineMs)
              }; scrapes are answered 503 until a collection completes in time`,
            ),
          );
        }
        return plainText(
          503,
          `collecting metrics took longer than ${formatSeconds(deadlineMs)} (the scrape timeout)`,
          method,
        );
      case "gone":
        return plainText(503, "the client went away before the metrics were ready", method);
      case "stopping":
        return plainText(503, "the metrics server is shutting down", method);
    }
  }

  return async function handleMetricsRequest(request: Request): Promise<Response> {
    const started = self === undefined ? 0 : performance.now();
    self?.inFlight.inc();
    let response: Response;
    try {
      response = await dispatch(request);
    } finally {
      self?.inFlight.dec();
    }
    if (self !== undefined) {
      self.requests.labels(String(response.status)).inc();
      self.duration.observe((performance.now() - started) / 1000);
    }
    return response;
  };

  async function dispatch(request: Request): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      return plainText(405, `method ${method} not allowed; use GET or HEAD`, method, {
        allow: ALLOWED_METHODS,
      });
    }
    const url = requestUrl(request);
    if (url === undefined) return badRequest(method);
    if (inProgress >= maxInProgress) {
      return plainText(
        503,
        `too many scrapes in progress (at most ${maxInProgress}); try again later`,
        method,
        { "retry-after": "1" },
      );
    }
    inProgress++;
    let held = true;
    const place = {
      handedToBody: false,
      release() {
        if (held) {
          held = false;
          inProgress--;
        }
      },
    };
    try {
      return await answer(request, url, performance.now(), place);
    } finally {
      if (!place.handedToBody) place.release();
    }
  }
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
