/**
 * `startHttpServer()`: a standalone `/metrics` server on `Deno.serve`, the Deno counterpart of
 * the Python client's `start_http_server(8000)`.
 *
 * @module
 */

import { createMetricsEndpoint, type MetricsHandlerOptions } from "./handler.ts";
import { badRequest, requestUrl, textResponse } from "./responses.ts";
import { authenticator } from "./server_auth.ts";
import { requireDeno } from "../platform.ts";
import { defaultRegistry, Registry } from "../registry.ts";
import type { Auth } from "../auth.ts";
import { otlpHandler, type OtlpHandlerOptions } from "./otlp.ts";

/** TLS material for HTTPS, in PEM, as `Deno.serve` takes it. */
export interface TlsOptions {
  /** Certificate chain, PEM. */
  readonly cert: string;
  /** Private key, PEM. */
  readonly key: string;
}

/** Options of {@linkcode startHttpServer}. */
export interface HttpServerOptions extends MetricsHandlerOptions {
  /** TCP port (default 8000); `0` picks a free port, read it back from the handle's `port`. */
  readonly port?: number;
  /** Address to listen on (default `"0.0.0.0"`, every IPv4 interface). */
  readonly hostname?: string;
  /** Where the metrics are served (default `"/metrics"`): a path only, no `?query` or `#hash`. */
  readonly path?: string;
  /** Aborting it stops the server, like calling `shutdown()`. */
  readonly signal?: AbortSignal;
  /** Serve HTTPS with this certificate and key. */
  readonly tls?: TlsOptions;
  /**
   * Require credentials on every path except `/healthz` (which health checks reach without
   * any); others get 401 with a `WWW-Authenticate` challenge.
   */
  readonly auth?: Auth;
  /**
   * Whether the open server keeps the program running (default `true`, like `Deno.serve`).
   * With `false` the server runs only while something else keeps the program alive — the
   * behaviour of the Python client's daemon thread — so a batch script exits when its work is
   * done instead of serving forever.
   */
  readonly keepAlive?: boolean;
  /**
   * Called with the error when a scrape's collection fails, once per streak of scrapes that time
   * out, and with a one-line `Error` when the accept loop fails and when serving resumes.
   * Default: `console.error` (one line for the server's own events).
   */
  readonly onError?: (error: unknown) => void;
  /**
   * Also receive OTLP/HTTP metrics at `POST /v1/metrics` (see `otlpHandler`): `true`, or its
   * options (its `registry` defaults to this server's). A write endpoint: `auth` applies to it.
   */
  readonly otlp?: boolean | OtlpHandlerOptions;
  /** Called once listening, with the address. Default: print nothing. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
}

/**
 * A running metrics server, as returned by {@linkcode startHttpServer}. The handle stays valid
 * for the server's whole life, across the re-listening that follows a failed accept loop.
 */
export interface MetricsServer extends AsyncDisposable {
  /** The port actually listened on (useful with `port: 0`). */
  readonly port: number;
  /** The address actually listened on. */
  readonly addr: Deno.NetAddr;
  /** The full URL of the metrics endpoint, e.g. `http://127.0.0.1:8000/metrics`. */
  readonly url: string;
  /** Resolves once the server has stopped (after `shutdown()` or the `signal` aborted). */
  readonly finished: Promise<void>;
  /**
   * Stops accepting connections, answers scrapes still waiting for a collector `503`, lets
   * running responses finish, then resolves. Idempotent.
   */
  shutdown(): Promise<void>;
}

/**
 * Thrown by {@linkcode startHttpServer} when the port is taken. It is a `Deno.errors.AddrInUse`
 * (so existing checks keep working), with a message naming the address and what to do.
 */
export class PortInUseError extends Error {
  /** The port that was taken. */
  readonly port: number;
  /** The host name the server tried to listen on. */
  readonly hostname: string;

  /** Builds the error for `hostname:port`; `cause` is the original error from `Deno.serve`. */
  constructor(hostname: string, port: number, cause?: unknown) {
    super(
      `cannot serve metrics on ${hostname}:${port}: the port is already in use; ` +
        `pass another port (e.g. { port: ${port === 65535 ? port - 1 : port + 1} }), ` +
        `or port: 0 to let the system pick a free one`,
      { cause },
    );
    this.name = "PortInUseError";
    this.port = port;
    this.hostname = hostname;
  }
}

/**
 * Makes {@linkcode PortInUseError} a `Deno.errors.AddrInUse`. Done when first thrown rather
 * than by `extends`, so that importing the library touches no `Deno` global and works on
 * runtimes without it (workerd, browsers), where the server is never started.
 */
function linkPortInUseErrorToDeno(): void {
  const addrInUse = Deno.errors.AddrInUse.prototype;
  if (Object.getPrototypeOf(PortInUseError.prototype) !== addrInUse) {
    Object.setPrototypeOf(PortInUseError.prototype, addrInUse);
  }
}

/** The health-check path, always served (without authentication). */
const HEALTH_PATH = "/healthz";
/** Wait before listening again after the accept loop failed: doubles per failure up to the max. */
const RELISTEN_FIRST_DELAY_MS = 100;
const RELISTEN_MAX_DELAY_MS = 5_000;

function validateServerOptions(options: HttpServerOptions): void {
  const { port, path, auth, tls, keepAlive } = options;
  if (
    port !== undefined &&
    (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535)
  ) {
    throw new RangeError(
      `startHttpServer(): port must be an integer from 0 to 65535, got ${String(port)}`,
    );
  }
  if (path !== undefined && (typeof path !== "string" || !path.startsWith("/"))) {
    throw new TypeError(`startHttpServer(): path must start with "/", got ${JSON.stringify(path)}`);
  }
  if (path !== undefined && /[?#]/.test(path)) {
    throw new TypeError(
      `startHttpServer(): path must be a path only, without "?" or "#" (requests are matched ` +
        `on their path, so no request would ever reach it), got ${JSON.stringify(path)}`,
    );
  }
  if (path === HEALTH_PATH) {
    throw new TypeError(`startHttpServer(): path cannot be ${HEALTH_PATH}, the health check's`);
  }
  if (auth !== undefined) {
    if (auth === null || typeof auth !== "object") {
      throw new TypeError(
        `startHttpServer(): auth must be { username, password } or { bearerToken }, got ${
          auth === null ? "null" : typeof auth
        }; leave it out to serve without authentication`,
      );
    }
    if ("bearerToken" in auth) {
      if (typeof auth.bearerToken !== "string" || auth.bearerToken === "") {
        throw new TypeError("startHttpServer(): auth.bearerToken must be a non-empty string");
      }
    } else if (
      typeof auth.username !== "string" || typeof auth.password !== "string" ||
      auth.username === "" || auth.username.includes(":")
    ) {
      throw new TypeError(
        "startHttpServer(): auth must be { username, password } (a non-empty user name " +
          "without ':') or { bearerToken }",
      );
    }
  }
  if (tls !== undefined && (typeof tls?.cert !== "string" || typeof tls.key !== "string")) {
    throw new TypeError("startHttpServer(): tls must be { cert, key }, both PEM strings");
  }
  if (keepAlive !== undefined && typeof keepAlive !== "boolean") {
    throw new TypeError("startHttpServer(): keepAlive must be true or false");
  }
}

/** The host to put in a URL for an address we listen on (wildcards → loopback). */
function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "[::1]";
  return hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
}

/**
 * Starts an HTTP server exposing the metrics at `path` (default `/metrics`) on `port`
 * (default 8000), plus `GET /healthz` → `200 ok`; other paths get 404. Pass a number to set
 * just the port, as in the Python client's `start_http_server(8000)`.
 *
 * By default the server keeps the program running, like any `Deno.serve` server; pass
 * `keepAlive: false` to let the program exit once nothing else is left to do.
 *
 * The server never takes the program down: when its accept loop fails (for instance when
 * stalled connections exhaust the descriptors: `Too many open files`), it logs one line (to
 * `onError` if given, else `console.error`), closes that listener's connections and listens
 * again on the same port, with backoff, and the returned handle stays valid. Requests with a
 * malformed `Host` header get 400 and are not logged; `shutdown()` answers scrapes still
 * waiting for a collector 503 and does not wait for the collector. The scrape deadline,
 * coalescing and concurrency bound are those of {@linkcode metricsHandler}.
 *
 * Throws a {@linkcode PortInUseError} when the port is taken.
 *
 * @example
 * ```ts
 * import { Counter, startHttpServer } from "@deno-prom/client";
 * const jobs = new Counter({ name: "jobs_processed_total", help: "jobs processed" });
 * await using server = startHttpServer({ port: 0, hostname: "127.0.0.1" });
 * jobs.inc();
 * const text = await (await fetch(server.url)).text(); // contains "jobs_processed_total 1.0"
 * ```
 */
export function startHttpServer(options: HttpServerOptions | number = {}): MetricsServer {
  const deno = requireDeno(
    "startHttpServer()",
    "serve metricsHandler() from the runtime's own server",
  );
  const settings: HttpServerOptions = typeof options === "number" ? { port: options } : options;
  if (settings === null || typeof settings !== "object") {
    throw new TypeError("startHttpServer() takes a port number or an options object");
  }
  validateServerOptions(settings);
  const server = new RelisteningServer(deno, settings);
  const { signal, tls, path = "/metrics" } = settings;
  const shutdown = () => server.shutdown();
  const onAbort = () => void shutdown();
  if (signal?.aborted) onAbort();
  else {
    signal?.addEventListener("abort", onAbort, { once: true });
    server.finished.then(() => signal?.removeEventListener("abort", onAbort));
  }
  const addr = server.addr;
  const scheme = tls === undefined ? "http" : "https";
  return {
    port: addr.port,
    addr,
    url: `${scheme}://${urlHost(addr.hostname)}:${addr.port}${path}`,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

/**
 * A `Deno.serve` server of the metrics that listens again on the same port whenever its
 * accept loop fails, until shut down.
 */
class RelisteningServer {
  /** The address first listened on; every later listener uses its port. */
  readonly addr: Deno.NetAddr;
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
  readonly #deno: typeof Deno;
  readonly #settings: HttpServerOptions;
  readonly #path: string;
  /** Where the server listens, for log lines. */
  readonly #where: string;
  readonly #handleMetrics: (request: Request) => Promise<Response>;
  readonly #guard: ReturnType<typeof authenticator> | undefined;
  /** The OTLP receiver at `/v1/metrics`, when `otlp` asks for one. */
  readonly #otlp: OtlpEndpoint | undefined;
  /** Aborted by shutdown(): scrapes still waiting for a collector are answered 503 at once. */
  readonly #stopping = new AbortController();
  /** The listener serving now. */
  #current: Deno.HttpServer<Deno.NetAddr>;
  /** Servers whose accept loop died, being shut down (which closes their connections). */
  readonly #closing = new Set<Promise<void>>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Whether the accept loop has failed and no request was served since: a streak of failures
   * is logged once, and its end once, when a request gets through again.
   */
  #failing = false;
  /** Listen attempts since the streak began, for the backoff. */
  #attemptsInStreak = 0;
  #stopped = false;
  #shuttingDown: Promise<void> | undefined;
  #resolveFinished: () => void = () => {};

  constructor(deno: typeof Deno, settings: HttpServerOptions) {
    this.#deno = deno;
    this.#settings = settings;
    this.#path = settings.path ?? "/metrics";
    this.#handleMetrics = createMetricsEndpoint(settings, this.#stopping.signal);
    this.#guard = settings.auth === undefined ? undefined : authenticator(settings.auth);
    this.#otlp = otlpEndpoint(settings);
    this.finished = new Promise<void>((resolve) => this.#resolveFinished = resolve);
    const port = settings.port ?? 8000;
    const hostname = settings.hostname ?? "0.0.0.0";
    try {
      this.#current = this.#serve(port, true);
    } catch (error) {
      this.#otlp?.release();
      if (error instanceof deno.errors.AddrInUse) {
        linkPortInUseErrorToDeno();
        throw new PortInUseError(hostname, port, error);
      }
      throw error;
    }
    this.addr = this.#current.addr;
    this.#where = `${hostname}:${this.addr.port}`;
  }

  /**
   * Stops listening, answers scrapes still waiting 503, lets running responses finish.
   * Idempotent.
   */
  shutdown(): Promise<void> {
    return this.#shuttingDown ??= (async () => {
      this.#stopped = true;
      this.#stopping.abort();
      this.#otlp?.release();
      clearTimeout(this.#retryTimer);
      await this.#current.shutdown().catch(() => {});
      await this.#current.finished.catch(() => {});
      await Promise.all(this.#closing);
      this.#resolveFinished();
    })();
  }

  /** One line per event in the log (or one call of `onError`), never a stack per request. */
  #log(message: string): void {
    const onError = this.#settings.onError;
    if (onError === undefined) {
      console.error(message);
      return;
    }
    try {
      onError(new Error(message));
    } catch {
      // A failing reporter must not stop the server from recovering.
    }
  }

  #serve(listenPort: number, announce: boolean): Deno.HttpServer<Deno.NetAddr> {
    const { hostname = "0.0.0.0", tls, keepAlive = true, onListen = () => {} } = this.#settings;
    const route = (request: Request) => this.#route(request);
    const serveOptions: Deno.ServeTcpOptions = {
      port: listenPort,
      hostname,
      onListen: announce ? (addr) => onListen(addr as Deno.NetAddr) : () => {},
      // Unexpected failures in `route` are reported once each, without a stack per request.
      onError: (error) => {
        this.#log(`metrics server: a request failed: ${oneLine(error)}`);
        return textResponse(500, "internal error");
      },
    };
    const server = tls === undefined
      ? this.#deno.serve(serveOptions, route)
      : this.#deno.serve({ ...serveOptions, cert: tls.cert, key: tls.key }, route);
    if (!keepAlive) server.unref();
    server.finished.catch((error) => this.#acceptLoopFailed(server, error));
    return server;
  }

  async #route(request: Request): Promise<Response> {
    if (this.#failing) {
      this.#failing = false;
      this.#attemptsInStreak = 0;
      this.#log(`metrics server on ${this.#where} is serving again`);
    }
    const url = requestUrl(request);
    if (url === undefined) return badRequest(request.method);
    const pathname = url.pathname;
    if (pathname === HEALTH_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return textResponse(405, "method not allowed; use GET or HEAD", { allow: "GET, HEAD" });
      }
      return textResponse(200, "ok");
    }
    const guard = this.#guard;
    if (guard !== undefined && !(await guard.check(request))) {
      return textResponse(401, "unauthorized", { "www-authenticate": guard.challenge });
    }
    if (this.#otlp !== undefined && pathname === OTLP_PATH) return this.#otlp.handle(request);
    if (pathname !== this.#path) {
      return textResponse(404, `not found; metrics are at ${this.#path}`);
    }
    return this.#handleMetrics(request);
  }

  /**
   * Deno.serve's accept loop rejects `finished` when accepting fails (`Too many open files`)
   * and stops listening. Nobody else handles that rejection, so without this the whole
   * program would exit. Instead: one line in the log, the dead server's connections closed
   * (stalled half-requests are what usually exhausts the descriptors), and a new listener on
   * the same port, retried with backoff until descriptors are free again.
   */
  #acceptLoopFailed(server: Deno.HttpServer<Deno.NetAddr>, error: unknown): void {
    if (this.#stopped || server !== this.#current) return;
    if (!this.#failing) {
      this.#failing = true;
      this.#log(
        `metrics server on ${this.#where} stopped accepting connections (${oneLine(error)}); ` +
          `closing its connections and listening again`,
      );
    }
    const closed = server.shutdown().catch(() => {}).finally(() => this.#closing.delete(closed));
    this.#closing.add(closed);
    this.#listenAgain();
  }

  /** Listens again after a delay that doubles with each attempt of the streak. */
  #listenAgain(): void {
    if (this.#stopped) return;
    const delay = Math.min(
      RELISTEN_FIRST_DELAY_MS * 2 ** this.#attemptsInStreak++,
      RELISTEN_MAX_DELAY_MS,
    );
    const timer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopped) return;
      try {
        this.#current = this.#serve(this.addr.port, false);
      } catch {
        // Still out of descriptors (or the port was taken meanwhile): try again later.
        this.#listenAgain();
      }
    }, delay);
    this.#retryTimer = timer;
    if (this.#settings.keepAlive === false) this.#deno.unrefTimer(timer);
  }
}

/** Where `otlp: true` receives OTLP/HTTP metrics, as OTLP/HTTP senders post them. */
const OTLP_PATH = "/v1/metrics";

/** A mounted OTLP receiver, and how to take it out of its registry. */
interface OtlpEndpoint {
  readonly handle: (request: Request) => Promise<Response>;
  readonly release: () => void;
}

/** The OTLP receiver `otlp` asks for, on the server's registry unless it names its own. */
function otlpEndpoint(settings: HttpServerOptions): OtlpEndpoint | undefined {
  const { otlp, registry, path } = settings;
  if (otlp === undefined || otlp === false) return undefined;
  if (path === OTLP_PATH) {
    throw new TypeError(`startHttpServer(): path cannot be ${OTLP_PATH} with otlp, the receiver's`);
  }
  const options: OtlpHandlerOptions = otlp === true ? {} : otlp;
  if (options.registry === undefined && registry !== undefined && !(registry instanceof Registry)) {
    throw new TypeError("startHttpServer(): otlp needs registry to be a Registry");
  }
  const target = options.registry ?? registry as Registry | undefined ?? defaultRegistry;
  const handle = otlpHandler({ ...options, registry: target });
  // A stopped server's receiver leaves the registry: a new one may take its names.
  return { handle, release: () => target.unregister(handle.collector) };
}

/** The first line of an error's message, for a one-line log entry. */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0];
}
