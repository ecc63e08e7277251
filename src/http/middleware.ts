/**
 * `instrumentHandler()`: request metrics for any Fetch-API handler — `Deno.serve`, Hono's
 * `app.fetch`, Fresh, Oak — with one wrapper.
 *
 * @module
 */

import { Counter, type CounterChild } from "../metrics/counter.ts";
import { Gauge, type GaugeChild } from "../metrics/gauge.ts";
import { exponentialBuckets, Histogram, type HistogramChild } from "../metrics/histogram.ts";
import type { NativeHistogramOptions } from "../metrics/native_histogram.ts";
import type { Collector } from "../model.ts";
import { defaultRegistry, type Registry } from "../registry.ts";
import { validateLabelName, validateMetricName } from "../validation.ts";
import { contentLengthOf, countedBody } from "./body_sizes.ts";
import {
  HookFailures,
  hookValuesOf,
  methodIndex,
  METHODS,
  pathnameOf,
  RouteNamer,
} from "./request_labels.ts";

// Deno defines `performance` and `Response` as lazy getters on the global object: each read is
// a getter call, which shows on a per-request path. Read once here.
const clock: Performance = performance;
const ResponseClass: typeof Response = Response;

/** A Fetch-API handler: a request (plus whatever the framework passes after it) to a response. */
// deno-lint-ignore no-explicit-any
export type FetchHandler = (request: Request, ...rest: any[]) => Response | Promise<Response>;

/** Options of {@linkcode instrumentHandler}. */
export interface InstrumentHandlerOptions {
  /** Where the metrics are registered; defaults to `defaultRegistry`. */
  readonly registry?: Registry;
  /** Prepended to every metric name, e.g. `"api_"` gives `api_http_requests_total`. */
  readonly prefix?: string;
  /**
   * Route templates in URLPattern pathname syntax (`"/todos/:id"`, `"/static/*"`); the first
   * that matches the request's path is its `route` label, and a path matching none is
   * `"other"`, so scanners cannot multiply series. Templates made only of literal segments,
   * `:name` segments and `*` are matched by a small built-in matcher on every runtime; other
   * URLPattern syntax (groups, modifiers, regular expressions) needs `URLPattern`.
   */
  readonly routes?: readonly string[];
  /**
   * Names the route of a request instead of `routes`, e.g. from the router's own match. Return
   * a template, never a raw path; `undefined` means `"other"`.
   */
  readonly route?: (request: Request) => string | undefined;
  /**
   * Buckets of the duration histogram, in seconds; default `DEFAULT_BUCKETS`, or none with
   * `native` (give both to keep classic buckets next to the native ones).
   */
  readonly buckets?: readonly number[];
  /**
   * Makes the duration histogram native (sparse, exponential; exposed in the protobuf format):
   * `true`, or the `Histogram`'s native options (`{ bucketFactor, maxBuckets, … }`, see
   * `docs/native-histograms.md`). Without `buckets`, classic buckets are dropped, as by
   * `Histogram`: the text formats then carry `_count`, `_sum` and the `+Inf` bucket only.
   * The body size histograms stay classic.
   */
  readonly native?: boolean | NativeHistogramOptions;
  /** Constant labels added to every series, e.g. `{ service: "todo" }`. */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Requests that are not measured at all: exact paths (`["/metrics", "/healthz"]`), or a
   * function saying which.
   */
  readonly exclude?: readonly string[] | ((request: Request) => boolean);
  /**
   * Labels computed from each request, by label name, e.g.
   * `{ tenant: (request) => request.headers.get("x-tenant") ?? "none" }`. Keep the values to a
   * small set: each new value is a new series.
   */
  readonly requestLabels?: Readonly<Record<string, (request: Request) => string>>;
  /**
   * Also record `http_request_size_bytes` (from `Content-Length`; requests without one are not
   * observed) and `http_response_size_bytes` (default `false`): a response's declared
   * `Content-Length`, else its body's bytes counted as they are sent, which passes the body
   * through a stream (on Deno such a response then goes out chunked; see
   * `docs/instrumenting-http.md`).
   */
  readonly bodySizes?: boolean;
  /**
   * Keep `{ trace_id, span_id }` of the request's sampled OpenTelemetry span (the one active
   * where the handler returns its response) as the exemplar of its `http_requests_total` and
   * `http_request_duration_seconds` samples (Deno with `OTEL_DENO=true`, or an OpenTelemetry
   * JS SDK registered globally; see `docs/instrumenting-http.md`). Default `false`.
   */
  readonly traceExemplars?: boolean;
}

/** Buckets of the body size histograms: 100 B to 100 MB, by powers of ten. */
const SIZE_BUCKETS: readonly number[] = Object.freeze(exponentialBuckets(100, 10, 7));

// --- Options ---------------------------------------------------------------------------------

/** The options, checked, in the shape the wrapper uses them. */
interface WrapperConfig {
  readonly registry: Registry;
  readonly prefix: string;
  readonly buckets: readonly number[] | undefined;
  readonly native: boolean | NativeHistogramOptions | undefined;
  readonly bodySizes: boolean;
  readonly traceExemplars: boolean;
  readonly constantNames: readonly string[];
  readonly constantValues: readonly string[];
  readonly hookNames: readonly string[];
  readonly hooks: readonly ((request: Request) => string)[];
  readonly templates: readonly string[];
  readonly routeOf: ((request: Request) => string | undefined) | undefined;
  readonly excludedPaths: ReadonlySet<string>;
  readonly excludes: ((request: Request) => boolean) | undefined;
}

/** Label names and their values from an options object, each name new and valid. */
function labelEntries<V>(
  what: string,
  given: Readonly<Record<string, V>> | undefined,
  taken: Set<string>,
  valid: (value: V) => boolean,
  expected: string,
): [readonly string[], readonly V[]] {
  if (given === undefined) return [[], []];
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new TypeError(`instrumentHandler(): ${what} must be an object keyed by label name`);
  }
  const names = Object.keys(given);
  for (const name of names) {
    validateLabelName(name);
    if (taken.has(name)) {
      throw new TypeError(
        `instrumentHandler(): ${what}: "${name}" is already a label (method, route and status ` +
          `are the wrapper's own)`,
      );
    }
    taken.add(name);
    if (!valid(given[name])) {
      throw new TypeError(`instrumentHandler(): ${what}.${name} must be ${expected}`);
    }
  }
  return [names, names.map((name) => given[name])];
}

/** Checks the options, with a `TypeError` naming the bad one. */
function configOf(options: InstrumentHandlerOptions): WrapperConfig {
  if (options === null || typeof options !== "object") {
    throw new TypeError("instrumentHandler() takes an options object, e.g. { routes: [...] }");
  }
  if (options.routes !== undefined && options.route !== undefined) {
    throw new TypeError("instrumentHandler(): give either routes or route, not both");
  }
  if (options.routes !== undefined && !Array.isArray(options.routes)) {
    throw new TypeError("instrumentHandler(): routes must be an array of path templates");
  }
  if (options.route !== undefined && typeof options.route !== "function") {
    throw new TypeError("instrumentHandler(): route must be a function of the request");
  }
  const exclude = options.exclude;
  if (
    exclude !== undefined && typeof exclude !== "function" &&
    !(Array.isArray(exclude) && exclude.every((path) => typeof path === "string"))
  ) {
    throw new TypeError("instrumentHandler(): exclude must be an array of paths or a function");
  }
  const native = options.native;
  if (
    native !== undefined && typeof native !== "boolean" &&
    (native === null || typeof native !== "object" || Array.isArray(native))
  ) {
    throw new TypeError(
      "instrumentHandler(): native must be true, false or native histogram options " +
        "({ bucketFactor, maxBuckets, … })",
    );
  }
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string") {
    throw new TypeError(`instrumentHandler(): prefix must be a string, got ${typeof prefix}`);
  }
  if (prefix !== "") validateMetricName(prefix);
  const taken = new Set(["method", "route", "status"]);
  const isString = (value: unknown) => typeof value === "string";
  const [constantNames, constantValues] = labelEntries(
    "labels",
    options.labels,
    taken,
    isString,
    "a string",
  );
  const [hookNames, hooks] = labelEntries(
    "requestLabels",
    options.requestLabels,
    taken,
    (hook) => typeof hook === "function",
    "a function of the request",
  );
  return {
    registry: options.registry ?? defaultRegistry,
    prefix,
    buckets: options.buckets,
    native,
    bodySizes: options.bodySizes === true,
    traceExemplars: options.traceExemplars === true,
    constantNames,
    constantValues,
    hookNames,
    hooks,
    templates: options.routes ?? [],
    routeOf: options.route,
    excludedPaths: new Set(typeof exclude === "function" ? [] : exclude ?? []),
    excludes: typeof exclude === "function" ? exclude : undefined,
  };
}

// --- The metrics -----------------------------------------------------------------------------

/** The children one (method, route, status, …) combination writes to. */
interface Series {
  readonly requests: CounterChild;
  readonly duration: HistogramChild;
  readonly requestSize: HistogramChild | undefined;
  readonly responseSize: HistogramChild | undefined;
}

/** Registers the wrapper's metrics, all or none, and records each exchange in them. */
class HttpMetrics {
  readonly bodySizes: boolean;
  readonly inFlight: GaugeChild | Gauge;
  readonly #config: WrapperConfig;
  readonly #requests: Counter;
  readonly #duration: Histogram;
  readonly #requestSize: Histogram | undefined;
  readonly #responseSize: Histogram | undefined;
  // Series by a numeric key of (route, method, status), when no request hook adds labels.
  readonly #cache = new Map<number, Series>();

  constructor(config: WrapperConfig) {
    this.#config = config;
    this.bodySizes = config.bodySizes;
    const { registry, prefix, constantNames } = config;
    const labelNames = ["method", "route", "status", ...constantNames, ...config.hookNames];
    const registered: Collector[] = [];
    const register = <M extends Collector>(make: () => M): M => {
      const metric = make();
      registered.push(metric);
      return metric;
    };
    try {
      this.#requests = register(() =>
        new Counter({
          name: prefix + "http_requests_total",
          help: "HTTP requests answered, by method, route and status.",
          labelNames,
          registry,
          traceExemplars: config.traceExemplars,
        })
      );
      this.#duration = register(() =>
        new Histogram({
          name: prefix + "http_request_duration_seconds",
          help: "Time from receiving an HTTP request to the handler's response, in seconds.",
          labelNames,
          buckets: config.buckets,
          native: config.native,
          registry,
          traceExemplars: config.traceExemplars,
        })
      );
      const inFlight = register(() =>
        new Gauge({
          name: prefix + "http_requests_in_flight",
          help: "HTTP requests being handled (until the handler returns its response).",
          labelNames: constantNames,
          registry,
        })
      );
      this.inFlight = constantNames.length === 0 ? inFlight : inFlight.labels(
        Object.fromEntries(constantNames.map((name, i) => [name, config.constantValues[i]])),
      );
      if (config.bodySizes) {
        this.#requestSize = register(() =>
          new Histogram({
            name: prefix + "http_request_size_bytes",
            help: "Sizes of HTTP request bodies (from Content-Length), in bytes.",
            labelNames,
            buckets: SIZE_BUCKETS,
            registry,
          })
        );
        this.#responseSize = register(() =>
          new Histogram({
            name: prefix + "http_response_size_bytes",
            help: "Sizes of HTTP response bodies, in bytes.",
            labelNames,
            buckets: SIZE_BUCKETS,
            registry,
          })
        );
      }
    } catch (error) {
      // Leave nothing half-registered behind.
      for (const metric of registered) registry.unregister(metric);
      throw error;
    }
  }

  /**
   * Counts and times one answered exchange, observes its sizes (a response size of -1 is left
   * for later, or unknown), ends its in-flight count, and returns its series.
   */
  record(exchange: Exchange, status: number, responseBytes: number): Series {
    const seconds = (clock.now() - exchange.started) / 1000;
    const hookValues = exchange.hookValues;
    const key = hookValues === undefined && exchange.routeId >= 0
      ? (exchange.routeId * METHODS.length + exchange.methodIdx) * 1000 + (status % 1000)
      : -1;
    let series = key >= 0 ? this.#cache.get(key) : undefined;
    if (series === undefined) {
      series = this.#seriesFor(exchange, status);
      if (key >= 0) this.#cache.set(key, series);
    }
    // With `traceExemplars`, these children attach the active span: recording happens where the
    // handler's response is returned (in its async context), so that is the request's span.
    series.requests.inc();
    series.duration.observe(seconds);
    if (series.requestSize !== undefined && exchange.requestBytes >= 0) {
      series.requestSize.observe(exchange.requestBytes);
    }
    if (series.responseSize !== undefined && responseBytes >= 0) {
      series.responseSize.observe(responseBytes);
    }
    this.inFlight.dec();
    return series;
  }

  #seriesFor(exchange: Exchange, status: number): Series {
    const config = this.#config;
    const values: Record<string, string> = {
      method: METHODS[exchange.methodIdx],
      route: exchange.route,
      status: String(status),
    };
    config.constantNames.forEach((name, i) => values[name] = config.constantValues[i]);
    config.hookNames.forEach((name, i) => values[name] = exchange.hookValues![i]);
    return {
      requests: this.#requests.labels(values),
      duration: this.#duration.labels(values),
      requestSize: this.#requestSize?.labels(values),
      responseSize: this.#responseSize?.labels(values),
    };
  }
}

// --- The wrapper -----------------------------------------------------------------------------

/**
 * Wraps a Fetch-API handler so that every request is counted and timed:
 *
 * - `http_requests_total{method,route,status}` (counter),
 * - `http_request_duration_seconds{method,route,status}` (histogram; native with `native`),
 * - `http_requests_in_flight` (gauge),
 * - with `bodySizes: true`, `http_request_size_bytes` and `http_response_size_bytes`.
 *
 * `route` is a template from `routes` (or `route(request)`), `"other"` for a path that matches
 * none; `method` is one of the standard methods or `OTHER`. Each request is recorded exactly
 * once, when the handler returns (or resolves) its response: the duration ends there, before the
 * body is sent, and the response goes back untouched (its `Content-Length` kept), whatever its
 * body. A handler that throws (or rejects) is counted with `status="500"` and its error passes
 * through unchanged; anything it returns that is not a `Response` is counted as a 500 and passed
 * back as is. Paths in `exclude` are not measured. Per request, a known combination costs a few
 * hundred nanoseconds and one small object, no label objects (see `docs/instrumenting-http.md`).
 *
 * @example With Deno.serve
 * ```ts
 * import { instrumentHandler, metricsHandler } from "@deno-prom/client";
 * const metrics = metricsHandler();
 * const app = (request: Request): Response | Promise<Response> =>
 *   new URL(request.url).pathname === "/metrics" ? metrics(request) : Response.json({ ok: true });
 * const handler = instrumentHandler(app, {
 *   routes: ["/todos", "/todos/:id"],
 *   exclude: ["/metrics"],
 * });
 * // Deno.serve(handler);
 * ```
 *
 * @example With Hono (any `fetch(request, env, ctx)` keeps its extra arguments)
 * ```ts ignore
 * const app = new Hono();
 * export default { fetch: instrumentHandler(app.fetch, { route: (req) => routeOf(req) }) };
 * ```
 */
export function instrumentHandler<H extends FetchHandler>(
  handler: H,
  options: InstrumentHandlerOptions = {},
): (...args: Parameters<H>) => Response | Promise<Response> {
  if (typeof handler !== "function") {
    throw new TypeError(`instrumentHandler() takes a handler function, got ${typeof handler}`);
  }
  const config = configOf(options);
  const failures = new HookFailures();
  const excludeFailures = new HookFailures();
  // Routes first: a bad template must fail before any metric is registered.
  const routes = new RouteNamer(config.templates, config.routeOf, failures);
  const metrics = new HttpMetrics(config);
  const { excludedPaths, excludes, hookNames, hooks } = config;

  const instrumented = function (this: unknown, request: Request): Response | Promise<Response> {
    const url = request.url;
    const pathname = pathnameOf(url);
    if (
      excludes === undefined
        ? excludedPaths.has(pathname)
        : isExcluded(excludes, request, excludeFailures)
    ) {
      return handler.apply(this, arguments as unknown as Parameters<H>);
    }
    const started = clock.now();
    metrics.inFlight.inc();
    const routeId = routes.resolve(pathname, url, request);
    const exchange = new Exchange(
      metrics,
      started,
      methodIndex(request.method),
      routes.route,
      routeId,
      hookValuesOf(hookNames, hooks, request, failures),
      metrics.bodySizes ? contentLengthOf(request.headers) : -1,
    );
    let result: Response | Promise<Response>;
    try {
      result = arguments.length === 1
        ? handler.call(this, request)
        : handler.apply(this, arguments as unknown as Parameters<H>);
    } catch (error) {
      return exchange.fail(error);
    }
    if (result instanceof ResponseClass) return exchange.finish(result);
    return Promise.resolve(result).then(
      (response) => exchange.finish(response),
      (error) => exchange.fail(error),
    );
  };
  return instrumented as unknown as (...args: Parameters<H>) => Response | Promise<Response>;
}

/** What an `exclude` function says of `request`; a throw means measured, and is reported. */
function isExcluded(
  excludes: (request: Request) => boolean,
  request: Request,
  failures: HookFailures,
): boolean {
  try {
    const excluded = Boolean(excludes(request));
    failures.ok();
    return excluded;
  } catch (error) {
    failures.failed("exclude(request)", error, "measuring the requests");
    return false;
  }
}

/** One request on its way through the handler: what its series needs once it is answered. */
class Exchange {
  constructor(
    readonly metrics: HttpMetrics,
    readonly started: number,
    readonly methodIdx: number,
    readonly route: string,
    readonly routeId: number,
    readonly hookValues: readonly string[] | undefined,
    readonly requestBytes: number,
  ) {}

  /**
   * Records what the handler returned, once, and returns it: the response itself, unless its
   * body's size has to be counted as it is sent (`bodySizes`, no `Content-Length`).
   */
  finish(response: Response): Response {
    const metrics = this.metrics;
    if (!(response instanceof ResponseClass)) {
      // Not a response: the server will fail the request; count what the client gets.
      metrics.record(this, 500, -1);
      return response;
    }
    const status = response.status;
    if (!metrics.bodySizes) {
      metrics.record(this, status, -1);
      return response;
    }
    const declared = contentLengthOf(response.headers);
    const body = declared >= 0 ? null : response.body;
    if (body === null) {
      metrics.record(this, status, declared >= 0 ? declared : 0);
      return response;
    }
    const series = metrics.record(this, status, -1);
    // A body already read or being read (a proxied response read through a reader) cannot be
    // passed through a counter: it goes back as it is, its size not observed.
    if (body.locked || response.bodyUsed || series.responseSize === undefined) return response;
    const responseSize = series.responseSize;
    try {
      return new ResponseClass(countedBody(body, (bytes) => responseSize.observe(bytes)), {
        status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch {
      // A status `new Response` refuses (a 101 upgrade): the response as it is, size unknown.
      return response;
    }
  }

  /** Records a handler that threw or rejected as a 500, and passes the error on. */
  fail(error: unknown): never {
    this.metrics.record(this, 500, -1);
    throw error;
  }
}
