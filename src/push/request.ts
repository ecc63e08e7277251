/**
 * The one HTTP request path shared by the Pushgateway client and remote write: one deadline over
 * building the body and the whole exchange, no redirects followed, a bounded read of an error
 * body, credentials kept out of every message. Errors thrown while building the body (a custom
 * collector's) pass through unchanged; everything that goes wrong on the wire becomes a
 * {@linkcode PushError} (or the subclass the caller names).
 *
 * @module
 */

import type { Auth } from "../auth.ts";
import { PushError, type PushErrorDetails } from "./errors.ts";

/** The shape of `fetch` this client calls; pass your own to add TLS options, proxies or tracing. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** A request body and the `Content-Encoding` it is sent with, if any. */
export interface EncodedBody {
  /** The bytes to send. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** `gzip`, `snappy`, or undefined for none. */
  readonly encoding?: string;
}

/** Why a request failed, for errors that behave differently per cause (e.g. retryability). */
export type FailureKind = "status" | "network" | "timeout" | "aborted" | "redirect";

/** Builds the error of a failed request. */
export type ErrorFactory = (
  message: string,
  details: PushErrorDetails,
  kind: FailureKind,
  response?: Response,
) => PushError;

/** One outgoing request. */
export interface OutgoingRequest {
  /** HTTP method. */
  readonly method: string;
  /** The URL, without credentials. */
  readonly url: string;
  /** Request headers (auth and content type already set). */
  readonly headers: Headers;
  /** The deadline of body building plus the exchange, in milliseconds (already validated). */
  readonly timeoutMs: number;
  /** The caller's abort signal. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * Builds the body under the deadline (`signal` aborts once the request is given up, so that
   * work left after it can stop); its own errors pass through unchanged.
   */
  readonly body?: (signal: AbortSignal) => Promise<EncodedBody>;
}

const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
// An error body is a sentence or two; anything longer is cut.
const MAX_ERROR_BODY_BYTES = 16 * 1024;

const pushErrorOf: ErrorFactory = (message, details) => new PushError(message, details);

/**
 * Sends one request and resolves on a 2xx answer. Rejects with the factory's error when the
 * receiver answers anything else (a 3xx included: redirects are never followed, so a body and
 * its credentials never go to a host the caller did not name), cannot be reached, or does not
 * answer within the deadline.
 */
export async function sendRequest(
  request: OutgoingRequest,
  makeError: ErrorFactory = pushErrorOf,
): Promise<void> {
  const { method, url, timeoutMs } = request;
  const timeoutSignal = AbortSignal.timeout(timeoutMs);
  const signal = request.signal === undefined
    ? timeoutSignal
    : AbortSignal.any([request.signal, timeoutSignal]);
  const fail = (error: unknown) =>
    requestFailure(method, url, timeoutMs, timeoutSignal, request.signal, error, makeError);

  let body: EncodedBody | undefined;
  if (request.body !== undefined) {
    try {
      body = await untilAborted(request.body(signal), signal);
    } catch (error) {
      // A collector that throws is the program's own error, not the network's: pass it on.
      if (!signal.aborted) throw error;
      throw fail(error);
    }
  }
  const headers = request.headers;
  if (body?.encoding !== undefined) headers.set("content-encoding", body.encoding);

  let response: Response;
  try {
    signal.throwIfAborted();
    const fetchFunction: FetchFunction = request.fetch ?? fetch;
    response = await fetchFunction(url, {
      method,
      headers,
      body: body?.bytes,
      signal,
      redirect: "manual",
    });
  } catch (error) {
    throw fail(error);
  }
  if (response.ok) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
    await response.body?.cancel().catch(() => {});
    const status = response.status === 0 ? undefined : response.status;
    const location = response.headers.get("location");
    throw makeError(
      `${method} ${url} was answered with a redirect (HTTP ${status ?? "3xx"}` +
        (location === null ? "" : ` to ${oneLine(redactUserInfo(location))}`) +
        `), which is not followed: configure the final URL`,
      status === undefined ? { method, url } : { method, url, status },
      "redirect",
    );
  }
  const message = (await readBounded(response)).trim();
  const statusText = response.statusText === "" ? "" : " " + response.statusText;
  throw makeError(
    `${method} ${url} failed: HTTP ${response.status}${statusText}` +
      (message === "" ? "" : `: ${oneLine(message)}`),
    { method, url, status: response.status, gatewayMessage: message },
    "status",
    response,
  );
}

/**
 * The wait a `Retry-After` header asks for, in milliseconds (seconds or an HTTP date), or
 * `undefined` when there is none or it cannot be read.
 */
export function retryAfterMs(response: Response, nowMs = Date.now()): number | undefined {
  const header = response.headers.get("retry-after")?.trim();
  if (header === undefined || header === "") return undefined;
  if (/^\d+$/.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/** Turns whatever a failed fetch threw into an error that says why, without credentials. */
function requestFailure(
  method: string,
  url: string,
  timeoutMs: number,
  timeoutSignal: AbortSignal,
  userSignal: AbortSignal | undefined,
  error: unknown,
  makeError: ErrorFactory,
): PushError {
  if (userSignal?.aborted) {
    return makeError(
      `${method} ${url} was aborted`,
      { method, url, cause: userSignal.reason },
      "aborted",
    );
  }
  if (timeoutSignal.aborted) {
    return makeError(
      `${method} ${url} timed out after ${timeoutMs} ms`,
      { method, url, cause: error },
      "timeout",
    );
  }
  return makeError(
    `${method} ${url} failed: ${networkDetail(error)}`,
    { method, url, cause: error },
    "network",
  );
}

/** The most telling line of a fetch error: Deno puts the OS reason in `cause`. */
function networkDetail(error: unknown): string {
  const innermost = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const text = innermost instanceof Error ? innermost.message : String(innermost);
  return oneLine(redactUserInfo(text.replace(/^error sending request for url \([^)]*\): /, "")));
}

/** Resolves with `promise`, or rejects as soon as `signal` aborts. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Reads at most MAX_ERROR_BODY_BYTES of an error body; a body that fails midway gives what came. */
async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    while (bytes < MAX_ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      text += decoder.decode(value.subarray(0, MAX_ERROR_BODY_BYTES), { stream: true });
    }
  } catch {
    // Timed out or cut mid-body: the part that arrived still explains the failure.
  }
  await reader.cancel().catch(() => {});
  return text + decoder.decode();
}

/**
 * Parses an http(s) endpoint given as a URL or `host:port` (`http://` assumed): the URL without
 * user-info or fragment, and the user-info as basic-auth credentials. A `TypeError` naming
 * `what` (e.g. `gateway`) for anything else, never echoing a password.
 */
export function parseEndpoint(
  endpoint: string | URL,
  what: string,
): { base: URL; urlAuth?: Auth } {
  const text = endpoint instanceof URL ? endpoint.href : endpoint;
  if (typeof text !== "string" || text.trim() === "") {
    throw new TypeError(
      `${what} must be a URL or "host:port" such as "localhost:9091", got ${
        typeof text === "string" ? '""' : typeof text
      }`,
    );
  }
  const trimmed = text.trim();
  const withScheme = HAS_SCHEME.test(trimmed) ? trimmed : "http://" + trimmed;
  let base: URL;
  try {
    base = new URL(withScheme);
  } catch {
    throw new TypeError(
      `${what} ${JSON.stringify(redactUserInfo(withScheme))} is not a valid URL`,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(
      `${what} ${
        JSON.stringify(redactUserInfo(withScheme))
      } must use http:// or https://, not ${base.protocol}//`,
    );
  }
  let urlAuth: Auth | undefined;
  if (base.username !== "" || base.password !== "") {
    urlAuth = {
      username: safeDecode(base.username),
      password: safeDecode(base.password),
    };
    base.username = "";
    base.password = "";
  }
  base.hash = "";
  return urlAuth === undefined ? { base } : { base, urlAuth };
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** Removes `user:password@` from anything that looks like a URL. */
export function redactUserInfo(text: string): string {
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\s]*@/g, "$1");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ");
}

/**
 * Gzips `bytes` with the Web-standard `CompressionStream` (Deno, Bun, workerd and browsers all
 * have it, so no `node:zlib` is needed).
 */
export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
