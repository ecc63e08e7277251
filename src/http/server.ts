/**
 * `startHttpServer()`: a standalone `/metrics` server on `Deno.serve`, the Deno counterpart of
 * the Python client's `start_http_server(8000)`.
 *
 * @module
 */

import { metricsHandler, type MetricsHandlerOptions } from "./handler.ts";
import { requireDeno } from "../platform.ts";

/** HTTP basic authentication: the scraper must send this user name and password. */
export interface BasicAuth {
  /** The expected user name (must not contain `:`). */
  readonly username: string;
  /** The expected password. */
  readonly password: string;
}

/** Bearer token authentication: the scraper must send `Authorization: Bearer <token>`. */
export interface BearerAuth {
  /** The expected token. */
  readonly bearerToken: string;
}

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
  /** Where the metrics are served (default `"/metrics"`). */
  readonly path?: string;
  /** Aborting it stops the server, like calling `shutdown()`. */
  readonly signal?: AbortSignal;
  /** Serve HTTPS with this certificate and key. */
  readonly tls?: TlsOptions;
  /**
   * Require credentials on every path except `/healthz` (which health checks reach without
   * any); others get 401 with a `WWW-Authenticate` challenge.
   */
  readonly auth?: BasicAuth | BearerAuth;
  /**
   * Whether the open server keeps the program running (default `true`, like `Deno.serve`).
   * With `false` the server runs only while something else keeps the program alive — the
   * behaviour of the Python client's daemon thread — so a batch script exits when its work is
   * done instead of serving forever.
   */
  readonly keepAlive?: boolean;
  /** Called once listening, with the address. Default: print nothing. */
  readonly onListen?: (addr: Deno.NetAddr) => void;
}

/** A running metrics server, as returned by {@linkcode startHttpServer}. */
export interface MetricsServer extends AsyncDisposable {
  /** The port actually listened on (useful with `port: 0`). */
  readonly port: number;
  /** The address actually listened on. */
  readonly addr: Deno.NetAddr;
  /** The full URL of the metrics endpoint, e.g. `http://127.0.0.1:8000/metrics`. */
  readonly url: string;
  /** Resolves once the server has stopped (after `shutdown()` or the `signal` aborted). */
  readonly finished: Promise<void>;
  /** Stops accepting connections, lets running requests finish, then resolves. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Thrown by {@linkcode startHttpServer} when the port is taken. It is a `Deno.errors.AddrInUse`,
 * so existing checks keep working, with a message naming the address and what to do.
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

// On Deno a PortInUseError is also a `Deno.errors.AddrInUse`, so existing `instanceof` checks keep
// working; the base is looked up, not named, because importing must touch no `Deno` global.
const denoAddrInUse = (globalThis as { Deno?: typeof Deno }).Deno?.errors.AddrInUse;
if (denoAddrInUse !== undefined) {
  Object.setPrototypeOf(PortInUseError.prototype, denoAddrInUse.prototype);
}

/** The health-check path, always served (without authentication). */
const HEALTH_PATH = "/healthz";
/** The realm named in authentication challenges. */
const REALM = "metrics";

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
  if (path === HEALTH_PATH) {
    throw new TypeError(`startHttpServer(): path cannot be ${HEALTH_PATH}, the health check's`);
  }
  if (auth !== undefined) {
    if ("bearerToken" in auth) {
      if (typeof auth.bearerToken !== "string" || auth.bearerToken === "") {
        throw new TypeError("startHttpServer(): auth.bearerToken must be a non-empty string");
      }
    } else if (
      typeof auth?.username !== "string" || typeof auth.password !== "string" ||
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

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

/**
 * Compares two digests in time independent of where they differ. Digests of the secrets are
 * compared rather than the secrets, so the length of the secret does not leak either.
 */
function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i] ^ b[i];
  return difference === 0;
}

/** Returns a check of the `Authorization` header against the configured credentials. */
function authenticator(
  auth: BasicAuth | BearerAuth,
): { challenge: string; check: (request: Request) => Promise<boolean> } {
  const encoder = new TextEncoder();
  const bearer = "bearerToken" in auth;
  const scheme = bearer ? "bearer" : "basic";
  const secret = bearer ? auth.bearerToken : `${auth.username}:${auth.password}`;
  const expected = sha256(encoder.encode(secret));
  const challenge = bearer ? `Bearer realm="${REALM}"` : `Basic realm="${REALM}", charset="UTF-8"`;

  async function check(request: Request): Promise<boolean> {
    const header = request.headers.get("authorization");
    if (header === null) return false;
    const space = header.indexOf(" ");
    if (space < 0 || header.slice(0, space).toLowerCase() !== scheme) return false;
    const credentials = header.slice(space + 1).trim();
    let presented: Uint8Array<ArrayBuffer>;
    if (bearer) {
      presented = encoder.encode(credentials);
    } else {
      try {
        // Basic credentials are base64 of the UTF-8 bytes of "user:password".
        presented = Uint8Array.from(atob(credentials), (char) => char.charCodeAt(0));
      } catch {
        return false;
      }
    }
    return digestsEqual(await sha256(presented), await expected);
  }
  return { challenge, check };
}

/** The host to put in a URL for an address we listen on (wildcards → loopback). */
function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "[::1]";
  return hostname.includes(":") && !hostname.startsWith("[") ? `[${hostname}]` : hostname;
}

function textResponse(
  status: number,
  text: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(text + "\n", {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * Starts an HTTP server exposing the metrics at `path` (default `/metrics`) on `port`
 * (default 8000), plus `GET /healthz` → `200 ok`; other paths get 404. Pass a number to set
 * just the port, as in the Python client's `start_http_server(8000)`.
 *
 * By default the server keeps the program running, like any `Deno.serve` server; pass
 * `keepAlive: false` to let the program exit once nothing else is left to do.
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
  const Deno = requireDeno(
    "startHttpServer()",
    "serve metricsHandler() from the runtime's own server",
  );
  const settings: HttpServerOptions = typeof options === "number" ? { port: options } : options;
  if (settings === null || typeof settings !== "object") {
    throw new TypeError("startHttpServer() takes a port number or an options object");
  }
  validateServerOptions(settings);
  const {
    port = 8000,
    hostname = "0.0.0.0",
    path = "/metrics",
    signal,
    tls,
    auth,
    keepAlive = true,
    onListen = () => {},
  } = settings;
  const handleMetrics = metricsHandler(settings);
  const guard = auth === undefined ? undefined : authenticator(auth);

  async function route(request: Request): Promise<Response> {
    const pathname = new URL(request.url).pathname;
    if (pathname === HEALTH_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return textResponse(405, "method not allowed; use GET or HEAD", { allow: "GET, HEAD" });
      }
      return textResponse(200, "ok");
    }
    if (guard !== undefined && !(await guard.check(request))) {
      return textResponse(401, "unauthorized", { "www-authenticate": guard.challenge });
    }
    if (pathname !== path) return textResponse(404, `not found; metrics are at ${path}`);
    return handleMetrics(request);
  }

  const serveOptions: Deno.ServeTcpOptions = {
    port,
    hostname,
    signal,
    onListen: (addr) => onListen(addr as Deno.NetAddr),
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = tls === undefined
      ? Deno.serve(serveOptions, route)
      : Deno.serve({ ...serveOptions, cert: tls.cert, key: tls.key }, route);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw new PortInUseError(hostname, port, error);
    throw error;
  }
  if (!keepAlive) server.unref();

  const addr = server.addr;
  const url = `${tls === undefined ? "http" : "https"}://${
    urlHost(addr.hostname)
  }:${addr.port}${path}`;
  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => stopping ??= server.shutdown().then(() => server.finished);
  return {
    port: addr.port,
    addr,
    url,
    finished: server.finished,
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}
