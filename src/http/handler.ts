/**
 * The `/metrics` endpoint as a plain `(Request) => Promise<Response>` function, to mount in
 * `Deno.serve`, Hono, Oak, Fresh or any other framework built on the Fetch API.
 *
 * @module
 */

import { acceptsGzip, negotiateFormat } from "../exposition/negotiate.ts";
import type { MetricFamily } from "../model.ts";
import {
  type CollectOptions,
  contentTypeOf,
  defaultRegistry,
  type ExpositionFormat,
  render,
} from "../registry.ts";

/**
 * Anything the handler can expose: a {@linkcode Registry}, or any object that gathers families
 * the same way (for example an aggregator merging several workers). It should honour
 * `options.names`, which carries the `?name[]=` filter of the request.
 */
export interface MetricsSource {
  /** Returns fresh snapshots, keeping only the families named in `options.names` when given. */
  collect(
    options?: CollectOptions,
  ): Promise<readonly MetricFamily[]> | readonly MetricFamily[];
}

/** How the handler picks the wire format. */
export type FormatChoice = "negotiate" | ExpositionFormat;

/** Options of {@linkcode metricsHandler}. */
export interface MetricsHandlerOptions {
  /** What to expose; defaults to `defaultRegistry`. */
  readonly registry?: MetricsSource;
  /**
   * `"negotiate"` (the default) answers OpenMetrics to clients that prefer it in `Accept`
   * (Prometheus does) and the text format 0.0.4 to everyone else; `"text"` or `"openmetrics"`
   * always answers that format.
   */
  readonly format?: FormatChoice;
  /** Gzip the body when the client's `Accept-Encoding` allows it (default `true`). */
  readonly compression?: boolean;
  /**
   * Called with the error when collecting or rendering fails (the client then gets a 500).
   * Defaults to `console.error`; pass `() => {}` to stay silent.
   */
  readonly onError?: (error: unknown) => void;
}

/** The methods the endpoint answers; everything else gets 405. */
const ALLOWED_METHODS = "GET, HEAD";
/** The query parameter that filters families, as in the Python client. */
const NAME_FILTER_PARAM = "name[]";
/** Longest error message echoed to the client: enough to diagnose, short enough for a log line. */
const MAX_REASON_LENGTH = 200;

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

/** The first line of an error's message, cut to a length fit for a response body. */
function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split("\n", 1)[0];
  return firstLine.length > MAX_REASON_LENGTH
    ? firstLine.slice(0, MAX_REASON_LENGTH) + "…"
    : firstLine;
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const compressed = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}

function validateOptions(options: MetricsHandlerOptions): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("metricsHandler() takes an options object, e.g. { registry }");
  }
  const { registry, format, onError } = options;
  if (
    registry !== undefined &&
    (registry === null || typeof registry !== "object" || typeof registry.collect !== "function")
  ) {
    throw new TypeError(
      "metricsHandler(): registry must be a Registry or an object with a collect() method",
    );
  }
  if (
    format !== undefined && format !== "negotiate" && format !== "text" && format !== "openmetrics"
  ) {
    throw new TypeError(
      `metricsHandler(): format must be "negotiate", "text" or "openmetrics", got ${
        JSON.stringify(format)
      }`,
    );
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError("metricsHandler(): onError must be a function");
  }
}

/**
 * Creates the `/metrics` endpoint: GET and HEAD only (405 with `Allow` otherwise), the format
 * negotiated from `Accept` (or forced with `format`), gzip when `Accept-Encoding` allows it,
 * `?name[]=a&name[]=b` to keep only some families, and a 500 with a one-line reason when a
 * collector throws or rejects (the next scrape collects afresh). It does not look at the path:
 * route to it however your framework does.
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
 */
export function metricsHandler(
  options: MetricsHandlerOptions = {},
): (request: Request) => Promise<Response> {
  validateOptions(options);
  const source: MetricsSource = options.registry ?? defaultRegistry;
  const formatChoice: FormatChoice = options.format ?? "negotiate";
  const compression = options.compression ?? true;
  const onError = options.onError ?? ((error: unknown) => console.error(error));
  // Caches must keep one copy per format and per encoding we may answer with.
  const vary = formatChoice === "negotiate" ? "Accept-Encoding, Accept" : "Accept-Encoding";

  return async function handleMetricsRequest(request: Request): Promise<Response> {
    const method = request.method;
    if (method !== "GET" && method !== "HEAD") {
      return plainText(405, `method ${method} not allowed; use GET or HEAD`, method, {
        allow: ALLOWED_METHODS,
      });
    }
    const format: ExpositionFormat = formatChoice === "negotiate"
      ? negotiateFormat(request.headers.get("accept"))
      : formatChoice;
    const names = new URL(request.url).searchParams.getAll(NAME_FILTER_PARAM);

    let body: Uint8Array<ArrayBuffer>;
    try {
      const families = await source.collect(names.length > 0 ? { names } : {});
      body = new TextEncoder().encode(render(families, format));
    } catch (error) {
      try {
        onError(error);
      } catch {
        // A failing error reporter must not turn a 500 into a crash.
      }
      return plainText(500, `error collecting metrics: ${shortReason(error)}`, method);
    }

    const headers = new Headers({
      "content-type": contentTypeOf(format),
      "cache-control": "no-store",
      vary,
    });
    if (compression && acceptsGzip(request.headers.get("accept-encoding"))) {
      body = await gzip(body);
      headers.set("content-encoding", "gzip");
    }
    headers.set("content-length", String(body.byteLength));
    // `encodeBody: "manual"` stops workerd (Cloudflare Workers) from gzipping the gzipped body a
    // second time, as it does by default for a Content-Encoding; other runtimes ignore it.
    const init = { status: 200, headers, encodeBody: "manual" } as ResponseInit;
    return new Response(method === "HEAD" ? null : body, init);
  };
}
