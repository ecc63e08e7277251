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
import { activeTraceLabels, type TraceLabels } from "../otel/trace_context.ts";

// Deno defines `performance`, `Response` and `ReadableStream` as lazy getters on the global
// object: each read is a getter call, which shows on a per-request path. Read once here.
const clock: Performance = performance;
const ResponseClass: typeof Response = Response;
const ReadableStreamClass: typeof ReadableStream = ReadableStream;

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
   * observed) and `http_response_size_bytes` (default `false`).
   */
  readonly bodySizes?: boolean;
  /**
   * Keep `{ trace_id, span_id }` of the sampled OpenTelemetry span active when the request
   * arrives as the exemplar of its `http_requests_total` and `http_request_duration_seconds`
   * samples (Deno with `OTEL_DENO=true`, or an OpenTelemetry JS SDK registered globally; see
   * `docs/instrumenting-http.md`). Default `false`.
   */
  readonly traceExemplars?: boolean;
}

/** Buckets of the body size histograms: 100 B to 100 MB, by powers of ten. */
const SIZE_BUCKETS: readonly number[] = Object.freeze(exponentialBuckets(100, 10, 7));

/** The standard methods, in the order of their index; anything else is `OTHER`. */
const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "OTHER",
] as const;
const OTHER_METHOD = METHODS.length - 1;

/** The index of a method in {@linkcode METHODS} (a switch: no allocation for the usual ones). */
export function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "CONNECT":
      return 5;
    case "OPTIONS":
      return 6;
    case "TRACE":
      return 7;
    case "PATCH":
      return 8;
  }
  // Fetch normalises the case of most standard methods, but not of PATCH or CONNECT.
  const upper = method.toUpperCase();
  return upper === method ? OTHER_METHOD : methodIndex(upper);
}

/** The label a path that matches no route gets. */
const OTHER_ROUTE = "other";

/** The path of an absolute URL string, without query or fragment (no URL object built). */
export function pathnameOf(url: string): string {
  const authority = url.indexOf("//");
  const start = url.indexOf("/", authority < 0 ? 0 : authority + 2);
  if (start < 0) return "/";
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

// --- Route templates -----------------------------------------------------------------------

/** Characters of URLPattern syntax beyond `:name` and `*`, which need URLPattern itself. */
const ADVANCED_SYNTAX = /[(){}?+\\]|:[A-Za-z_$][\w$]*\*/;
/** Characters a path holds unencoded: a template with others needs URLPattern's encoding. */
const PLAIN_TEMPLATE = /^[A-Za-z0-9\-._~!$&'*,;=:@%/]*$/;

/** Whether the built-in matcher handles this template exactly as URLPattern would. */
export function isSimpleTemplate(template: string): boolean {
  return !ADVANCED_SYNTAX.test(template) && PLAIN_TEMPLATE.test(template);
}

/**
 * The built-in matcher of a simple template: literal text, `:name` for one non-empty segment
 * (URLPattern's `[^/]+?`) and `*` for anything (`.*`), anchored at both ends.
 */
export function compileSimpleTemplate(template: string): RegExp {
  let source = "^";
  let i = 0;
  while (i < template.length) {
    const char = template[i];
    if (char === ":") {
      const name = /^:[A-Za-z_$][\w$]*/.exec(template.slice(i));
      if (name === null) {
        throw new TypeError(`route template "${template}": ":" must start a parameter name`);
      }
      source += "[^/]+";
      i += name[0].length;
    } else if (char === "*") {
      source += ".*";
      i++;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      i++;
    }
  }
  return new RegExp(source + "$");
}

/** Tests a path against one template. */
type PathTest = (pathname: string, url: string) => boolean;

/** The test for one template: the built-in matcher when it suffices, else `URLPattern`. */
function templateTest(template: string): PathTest {
  if (typeof template !== "string" || !(template.startsWith("/") || template.startsWith("*"))) {
    throw new TypeError(
      `instrumentHandler(): route template ${JSON.stringify(template)} must be a path ` +
        `starting with "/"`,
    );
  }
  if (isSimpleTemplate(template)) {
    const pattern = compileSimpleTemplate(template);
    return (pathname) => pattern.test(pathname);
  }
  const URLPatternClass = (globalThis as {
    URLPattern?: new (init: { pathname: string }) => { test(input: string): boolean };
  }).URLPattern;
  if (URLPatternClass === undefined) {
    throw new TypeError(
      `instrumentHandler(): route template "${template}" uses URLPattern syntax beyond ` +
        `":name" and "*", and this runtime has no URLPattern; use simple templates or a ` +
        `route(request) function`,
    );
  }
  let pattern;
  try {
    pattern = new URLPatternClass({ pathname: template });
  } catch (error) {
    throw new TypeError(
      `instrumentHandler(): route template "${template}" is not a valid URLPattern pathname: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  return (_pathname, url) => pattern.test(url);
}

/** Finds the route of a path: the index of the first template that matches, else -1. */
function routeFinder(templates: readonly string[]): (pathname: string, url: string) => number {
  const tests = templates.map(templateTest);
  return (pathname, url) => {
    for (let i = 0; i < tests.length; i++) {
      if (tests[i](pathname, url)) return i;
    }
    return -1;
  };
}

// --- Deno only: recognising bodies held in memory, from Deno's private internals -------------
//
// A response whose body is a stream must be timed until the stream ends, which means wrapping
// it. A body given as a string or bytes is complete when the handler returns. No public Web API
// tells the two apart: reading `response.body` turns any body into a stream, and wrapping every
// body costs about 4 µs more per response in-process and, through Deno.serve, loses its fast
// path for fixed bodies (chunked instead of Content-Length; about 1.8× the time of a minimal
// request end to end). Measured by `bench/middleware_body_bench.ts`.
//
// So, on Deno only, this section reads the runtime's private fields: the inner response (whose
// `body.streamOrStatic` holds a ReadableStream or the string/bytes given) and, since Deno 2.9's
// fast path, the field where `new Response(string)` and `Response.json()` without init keep the
// string while the inner body stays `null`. That is fragile by nature, hence: everything private
// is confined to this section; the fields are found once, at first use, by a self-check on six
// probe responses of known bodies, accepted only if all six read back exactly; whatever does
// not match — another runtime (Bun, workerd, Node), another Deno release, a throw — leaves
// `inMemoryBodyOf` answering `undefined` for every response, so every body is wrapped, which is
// always correct, only slower. Any later surprise errs the same way: a value that is not a
// string, bytes or null counts as a stream.

/** Where Deno keeps a response's body: the inner response, and the lazy string (Deno 2.9+). */
interface DenoBodyFields {
  readonly inner: symbol;
  readonly lazy: symbol | undefined;
}

/** The fields found by the self-check; `null` once it failed; `undefined` before it. */
let denoBodyFields: DenoBodyFields | null | undefined;

/** What the body of Deno's private inner response holds, as far as it matters here. */
interface DenoInnerBody {
  readonly streamOrStatic?: { readonly body?: unknown } | ReadableStream;
}

/** A string or bytes as themselves; `null` for none; `undefined` for anything else. */
function heldValue(value: unknown): string | Uint8Array | null | undefined {
  if (value === null || value === undefined) return null;
  return typeof value === "string" || value instanceof Uint8Array ? value : undefined;
}

/**
 * The body of a response read through `fields`: `null` when it has none, the string or bytes
 * when held in memory, `undefined` when it is (or may be) a stream.
 */
function denoHeldBody(
  response: object,
  fields: DenoBodyFields,
): string | Uint8Array | null | undefined {
  const slots = response as Record<symbol, unknown>;
  const inner = slots[fields.inner];
  if (inner === null || typeof inner !== "object") return undefined;
  const body = (inner as { body?: DenoInnerBody | null }).body;
  if (body === null) return fields.lazy === undefined ? null : heldValue(slots[fields.lazy]);
  const held = body?.streamOrStatic;
  if (held === undefined || held instanceof ReadableStreamClass) return undefined;
  return heldValue(held.body) ?? undefined;
}

/**
 * The self-check: the fields under which responses built by `ResponseType` keep their body the
 * way Deno does, or `null` when no choice reads back all six probes exactly. Internal, exported
 * for tests (fake `ResponseType`s play runtimes whose fields mislead).
 */
export function probeDenoBodyFields(
  ResponseType: typeof Response = ResponseClass,
): DenoBodyFields | null {
  try {
    const text = new ResponseType("text", { status: 404 });
    const bytes = new ResponseType(new Uint8Array([1]));
    const empty = new ResponseType(null);
    const streamed = new ResponseType(new ReadableStreamClass());
    const plain = new ResponseType("plain"); // Deno 2.9+: the string held outside the inner body
    const read = new ResponseType("read");
    void read.body; // a body once asked for is a stream, however it began
    const lazyCandidates = [undefined, ...Object.getOwnPropertySymbols(plain)];
    for (const inner of Object.getOwnPropertySymbols(text)) {
      const streamInside = (streamed as unknown as Record<symbol, { body?: DenoInnerBody }>)[inner]
        ?.body?.streamOrStatic;
      if (!(streamInside instanceof ReadableStreamClass)) continue;
      for (const lazy of lazyCandidates) {
        const fields = { inner, lazy };
        if (
          denoHeldBody(text, fields) === "text" &&
          denoHeldBody(bytes, fields) instanceof Uint8Array &&
          denoHeldBody(empty, fields) === null &&
          denoHeldBody(streamed, fields) === undefined &&
          denoHeldBody(plain, fields) === "plain" &&
          denoHeldBody(read, fields) === undefined
        ) {
          return fields;
        }
      }
    }
  } catch {
    // No usable probe: every body is then treated as a stream.
  }
  return null;
}

/**
 * Internal, for tests: forgets the self-check's result (`undefined`: check again at next use),
 * or sets it (`null`: behave as on a runtime where in-memory bodies cannot be recognised).
 */
export function setDenoBodyFields(fields: DenoBodyFields | null | undefined): void {
  denoBodyFields = fields;
}

/**
 * A response's body when it is known to be complete without reading it: `null` for none, the
 * string or bytes held in memory; `undefined` when it may be a stream — always, outside Deno.
 */
function inMemoryBodyOf(response: Response): string | Uint8Array | null | undefined {
  if (denoBodyFields === undefined) denoBodyFields = probeDenoBodyFields();
  if (denoBodyFields === null) return undefined;
  return denoHeldBody(response, denoBodyFields);
}

// --- Timing a streamed body ------------------------------------------------------------------

/** The UTF-8 length of a string, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // a surrogate pair (2 UTF-16 units) is 4 bytes
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * `body`, passed through chunk by chunk, calling `done(bytes)` once when it ends, fails or is
 * cancelled (for instance when the client goes away). Pulls only when its reader pulls.
 */
function timedBody(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let bytes = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done(bytes);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          finish();
          controller.close();
          return;
        }
        bytes += chunk.value?.byteLength ?? 0;
        controller.enqueue(chunk.value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

// --- Options ---------------------------------------------------------------------------------

/** Reports a failing hook once per streak of failures, not once per request. */
class HookFailures {
  #failing = false;

  ok(): void {
    this.#failing = false;
  }

  failed(what: string, error: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    console.error(
      `instrumentHandler(): ${what} threw (${
        error instanceof Error ? error.message : String(error)
      }); using a fallback label until it succeeds again`,
    );
  }
}

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

// --- Routes of requests ----------------------------------------------------------------------

/** How many distinct names a `route()` function may give before its series stop being cached. */
const MAX_CACHED_ROUTE_NAMES = 1000;

/**
 * Names the route of each request, from the templates or the `route()` function, and numbers
 * it for the series cache (-1: a name past the cache's bound, not cached).
 */
class RouteNamer {
  /** The route of the latest `resolve`: kept here, so resolving allocates no result object. */
  route = OTHER_ROUTE;
  readonly #templates: readonly string[];
  readonly #findTemplate: (pathname: string, url: string) => number;
  readonly #routeOf: ((request: Request) => string | undefined) | undefined;
  readonly #failures: HookFailures;
  readonly #ids = new Map<string, number>();

  constructor(config: WrapperConfig, failures: HookFailures) {
    this.#templates = config.templates;
    this.#findTemplate = routeFinder(config.templates);
    this.#routeOf = config.routeOf;
    this.#failures = failures;
  }

  /** Sets `route` for this request and returns its number. */
  resolve(pathname: string, url: string, request: Request): number {
    const templates = this.#templates;
    const routeOf = this.#routeOf;
    if (routeOf === undefined) {
      const index = this.#findTemplate(pathname, url);
      this.route = index < 0 ? OTHER_ROUTE : templates[index];
      return index < 0 ? templates.length : index;
    }
    let route = OTHER_ROUTE;
    try {
      const named = routeOf(request);
      if (typeof named === "string" && named !== "") route = named;
      this.#failures.ok();
    } catch (error) {
      this.#failures.failed("route(request)", error);
    }
    this.route = route;
    let id = this.#ids.get(route);
    if (id === undefined) {
      if (this.#ids.size >= MAX_CACHED_ROUTE_NAMES) return -1;
      id = this.#ids.size;
      this.#ids.set(route, id);
    }
    return id;
  }
}

/** The values of the `requestLabels` hooks for a request ("" for a hook that throws). */
function hookValuesOf(
  config: WrapperConfig,
  request: Request,
  failures: HookFailures,
): string[] | undefined {
  const hooks = config.hooks;
  if (hooks.length === 0) return undefined;
  const values: string[] = [];
  for (let i = 0; i < hooks.length; i++) {
    let value = "";
    try {
      const given = hooks[i](request);
      value = typeof given === "string" ? given : String(given);
    } catch (error) {
      failures.failed(`requestLabels.${config.hookNames[i]}(request)`, error);
    }
    values.push(value);
  }
  return values;
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
class HttpMetrics implements Recorder {
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
        })
      );
      this.#duration = register(() =>
        new Histogram({
          name: prefix + "http_request_duration_seconds",
          help: "Time from receiving an HTTP request to the end of its response body, in seconds.",
          labelNames,
          buckets: config.buckets,
          native: config.native,
          registry,
        })
      );
      const inFlight = register(() =>
        new Gauge({
          name: prefix + "http_requests_in_flight",
          help: "HTTP requests being handled (until their response body ends).",
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

  /** Counts, times and sizes one finished exchange, and ends its in-flight count. */
  record(exchange: Exchange, status: number, responseBytes: number): void {
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
    // The span is the one active when the request arrived (a streamed body ends outside it);
    // its labels go through the plain children's exemplar path.
    const trace = exchange.trace;
    if (trace === undefined) {
      series.requests.inc();
      series.duration.observe(seconds);
    } else {
      series.requests.inc(1, trace);
      series.duration.observe(seconds, trace);
    }
    if (series.requestSize !== undefined && exchange.requestBytes >= 0) {
      series.requestSize.observe(exchange.requestBytes);
    }
    if (series.responseSize !== undefined && responseBytes >= 0) {
      series.responseSize.observe(responseBytes);
    }
    this.inFlight.dec();
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
 * none; `method` is one of the standard methods or `OTHER`. A handler that throws (or
 * rejects) is counted with `status="500"` and the error passes through unchanged. A streamed
 * body is timed until it ends or is cancelled. Paths in `exclude` are not measured. Per
 * request, a known combination costs a few hundred nanoseconds and one small object, no label
 * objects (see `docs/instrumenting-http.md`).
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
  // Routes first: a bad template must fail before any metric is registered.
  const routes = new RouteNamer(config, failures);
  const metrics = new HttpMetrics(config);
  const { excludedPaths, excludes } = config;

  const instrumented = function (this: unknown, request: Request): Response | Promise<Response> {
    const url = request.url;
    const pathname = pathnameOf(url);
    if (excludes === undefined ? excludedPaths.has(pathname) : excludes(request)) {
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
      hookValuesOf(config, request, failures),
      metrics.bodySizes ? contentLengthOf(request.headers) : -1,
      config.traceExemplars ? activeTraceLabels() : undefined,
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

/** Where an {@linkcode Exchange} records its outcome: the wrapper's metrics. */
interface Recorder {
  readonly bodySizes: boolean;
  record(exchange: Exchange, status: number, responseBytes: number): void;
}

/** One request on its way through the handler: what its series needs once it is answered. */
class Exchange {
  constructor(
    readonly recorder: Recorder,
    readonly started: number,
    readonly methodIdx: number,
    readonly route: string,
    readonly routeId: number,
    readonly hookValues: readonly string[] | undefined,
    readonly requestBytes: number,
    readonly trace: TraceLabels | undefined,
  ) {}

  /** Records a response, at once or (for a streamed body) when the body ends. */
  finish(response: Response): Response {
    const recorder = this.recorder;
    if (!(response instanceof ResponseClass)) {
      // Not a response: the server will fail the request; count what the client gets.
      recorder.record(this, 500, -1);
      return response;
    }
    const status = response.status;
    const inMemory = inMemoryBodyOf(response);
    if (inMemory !== undefined) {
      const bytes = !recorder.bodySizes || inMemory === null
        ? 0
        : typeof inMemory === "string"
        ? utf8Length(inMemory)
        : inMemory.byteLength;
      recorder.record(this, status, bytes);
      return response;
    }
    const body = response.body;
    if (body === null) {
      recorder.record(this, status, 0);
      return response;
    }
    const timed = timedBody(body, (bytes) => recorder.record(this, status, bytes));
    return new Response(timed, {
      status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }

  /** Records a handler that threw or rejected as a 500, and passes the error on. */
  fail(error: unknown): never {
    this.recorder.record(this, 500, -1);
    throw error;
  }
}

/** The request's `Content-Length`, or -1 when absent or not a number. */
function contentLengthOf(headers: Headers): number {
  const text = headers.get("content-length");
  if (text === null) return -1;
  const bytes = Number(text);
  return Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : -1;
}
