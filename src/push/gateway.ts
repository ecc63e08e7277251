/**
 * One-shot Pushgateway requests: push a registry (PUT or POST) or delete a group (DELETE).
 *
 * The URL follows the Pushgateway's API: `<gateway>/metrics/job/<job>{/<label>/<value>}`. A job
 * name or label value that is empty, is `.`/`..`, or holds anything beyond the URL-safe
 * characters `A-Z a-z 0-9 - . _ ~` is sent as `<name>@base64/<base64url>` (an empty value as
 * `=`), which is the only way the gateway accepts a `/` or an empty value.
 *
 * @module
 */

import { PROMETHEUS_CONTENT_TYPE, renderText } from "../exposition/text.ts";
import { defaultRegistry, type Registry } from "../registry.ts";
import { validateLabelName } from "../validation.ts";
import { PushError } from "./errors.ts";

/** Grouping labels besides `job`, e.g. `{ instance: "host-1" }`; values may be any string. */
export type GroupingKey = Readonly<Record<string, string>>;

/** Credentials for the gateway: HTTP basic auth or a bearer token. */
export type PushAuth =
  | {
    /** Basic-auth user name. */
    readonly username: string;
    /** Basic-auth password. */
    readonly password: string;
  }
  | {
    /** Sent as `Authorization: Bearer <token>`. */
    readonly bearerToken: string;
  };

/** The shape of `fetch` this client calls; pass your own to add TLS options, proxies or tracing. */
export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

/** Options shared by every gateway request. */
export interface GatewayRequestOptions {
  /** The `job` label of the group (non-empty). */
  readonly job: string;
  /** More grouping labels; their names must be valid label names other than `job`. */
  readonly groupingKey?: GroupingKey;
  /** Give up (with a {@linkcode PushError}) after this many milliseconds; default 30000. */
  readonly timeoutMs?: number;
  /** Aborts the request early; the push then rejects with a {@linkcode PushError}. */
  readonly signal?: AbortSignal;
  /** Extra request headers (e.g. a proxy's own auth header). */
  readonly headers?: HeadersInit;
  /**
   * Basic auth or bearer token. Takes precedence over a user name and password written in the
   * gateway URL (which are also sent as basic auth, and never shown in errors).
   */
  readonly auth?: PushAuth;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
}

/** Options of {@linkcode pushToGateway} and {@linkcode pushAddToGateway}. */
export interface PushOptions extends GatewayRequestOptions {
  /** The registry whose metrics are pushed; default: the default registry. */
  readonly registry?: Registry;
}

/** Options of {@linkcode deleteFromGateway}. */
export type DeleteOptions = GatewayRequestOptions;

/** Default request timeout, as in the official Python client. */
export const DEFAULT_PUSH_TIMEOUT_MS = 30_000;

// Characters a path segment can carry as they are. Everything else goes base64.
const URL_SAFE_SEGMENT = /^[A-Za-z0-9._~-]+$/;
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
// The gateway's error body is a sentence or two; anything longer is cut.
const MAX_GATEWAY_MESSAGE_BYTES = 16 * 1024;

/** Where a request goes: the URL without credentials, and the credentials it carried. */
interface GatewayTarget {
  readonly url: string;
  readonly urlAuth?: PushAuth;
}

/**
 * Builds the URL of a group: `<gateway>/metrics/job/<job>{/<label>/<value>}`, grouping labels
 * sorted by name, `http://` added when `gateway` has no scheme, any user name and password
 * removed. Throws a `TypeError` for an empty job, an invalid or reserved label name, or a
 * gateway that is not an http(s) address.
 *
 * @example
 * ```ts
 * import { gatewayUrl } from "@deno-prom/client";
 * gatewayUrl("localhost:9091", "moni"); // "http://localhost:9091/metrics/job/moni"
 * gatewayUrl("http://pgw:9091/", "backup", { path: "/var/tmp", shard: "" });
 * // "http://pgw:9091/metrics/job/backup/path@base64/L3Zhci90bXA/shard@base64/="
 * ```
 */
export function gatewayUrl(
  gateway: string | URL,
  job: string,
  groupingKey: GroupingKey = {},
): string {
  return resolveTarget(gateway, job, groupingKey).url;
}

/**
 * Pushes the registry's metrics with HTTP PUT: the group `job` + `groupingKey` is replaced as a
 * whole. Rejects with a {@linkcode PushError} when the gateway answers non-2xx, cannot be
 * reached, or does not answer within `timeoutMs`; with a `TypeError` for invalid options.
 *
 * @example
 * ```ts ignore
 * import { Gauge, pushToGateway, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const lastSuccess = new Gauge({ name: "job_last_success_unixtime", help: "last success", registry });
 * lastSuccess.setToCurrentTime();
 * await pushToGateway("localhost:9091", { job: "batch", registry });
 * ```
 */
export async function pushToGateway(gateway: string | URL, options: PushOptions): Promise<void> {
  await pushWith("PUT", gateway, options);
}

/**
 * Pushes the registry's metrics with HTTP POST: only the families with the same names are
 * replaced in the group; the group's other families stay. Fails like {@linkcode pushToGateway}.
 *
 * @example
 * ```ts ignore
 * import { Counter, pushAddToGateway, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * new Counter({ name: "rows_processed", help: "rows", registry }).inc(42);
 * await pushAddToGateway("localhost:9091", { job: "etl", groupingKey: { step: "load" }, registry });
 * ```
 */
export async function pushAddToGateway(gateway: string | URL, options: PushOptions): Promise<void> {
  await pushWith("POST", gateway, options);
}

/**
 * Deletes the group `job` + `groupingKey` from the gateway (HTTP DELETE, no body). Deleting a
 * group that does not exist succeeds. Fails like {@linkcode pushToGateway}.
 *
 * @example
 * ```ts ignore
 * import { deleteFromGateway } from "@deno-prom/client";
 * await deleteFromGateway("localhost:9091", { job: "batch" });
 * ```
 */
export async function deleteFromGateway(
  gateway: string | URL,
  options: DeleteOptions,
): Promise<void> {
  checkOptionsObject(options);
  const target = resolveTarget(gateway, options.job, options.groupingKey);
  await sendRequest("DELETE", target, options, undefined);
}

async function pushWith(
  method: "PUT" | "POST",
  gateway: string | URL,
  options: PushOptions,
): Promise<void> {
  checkOptionsObject(options);
  const target = resolveTarget(gateway, options.job, options.groupingKey);
  const registry = options.registry ?? defaultRegistry;
  await sendRequest(method, target, options, () => registry.collect().then(renderText));
}

function checkOptionsObject(options: unknown): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("the push options must be an object with at least { job }");
  }
}

/** Sends one request; `renderBody` (for PUT/POST) runs under the same deadline as the request. */
async function sendRequest(
  method: string,
  target: GatewayTarget,
  options: GatewayRequestOptions,
  renderBody: (() => Promise<string>) | undefined,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0 && timeoutMs < Infinity)) {
    throw new RangeError(
      `timeoutMs for ${target.url} must be a positive number of milliseconds, got ${
        String(timeoutMs)
      }`,
    );
  }
  const headers = buildHeaders(target, options, renderBody !== undefined);
  const fetchFunction: FetchFunction = options.fetch ?? fetch;
  const timeoutSignal = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined
    ? timeoutSignal
    : AbortSignal.any([options.signal, timeoutSignal]);

  let response: Response;
  try {
    const body = renderBody === undefined ? undefined : await untilAborted(renderBody(), signal);
    signal.throwIfAborted();
    response = await fetchFunction(target.url, { method, headers, body, signal });
  } catch (error) {
    throw requestFailure(method, target.url, timeoutMs, timeoutSignal, options.signal, error);
  }
  if (response.ok) {
    await response.body?.cancel().catch(() => {});
    return;
  }
  const gatewayMessage = (await readBounded(response)).trim();
  const statusText = response.statusText === "" ? "" : " " + response.statusText;
  throw new PushError(
    `${method} ${target.url} failed: HTTP ${response.status}${statusText}` +
      (gatewayMessage === "" ? "" : `: ${oneLine(gatewayMessage)}`),
    { method, url: target.url, status: response.status, gatewayMessage },
  );
}

function buildHeaders(
  target: GatewayTarget,
  options: GatewayRequestOptions,
  hasBody: boolean,
): Headers {
  const headers = new Headers(options.headers);
  if (hasBody) headers.set("content-type", PROMETHEUS_CONTENT_TYPE);
  const auth = options.auth ?? target.urlAuth;
  if (auth !== undefined) headers.set("authorization", authorizationHeader(auth, target.url));
  return headers;
}

function authorizationHeader(auth: PushAuth, url: string): string {
  if (auth !== null && typeof auth === "object") {
    if ("bearerToken" in auth && typeof auth.bearerToken === "string") {
      return `Bearer ${auth.bearerToken}`;
    }
    if (
      "username" in auth && typeof auth.username === "string" &&
      typeof auth.password === "string"
    ) {
      return `Basic ${base64Of(`${auth.username}:${auth.password}`)}`;
    }
  }
  throw new TypeError(
    `auth for ${url} must be { username, password } or { bearerToken }, each a string`,
  );
}

/** Turns whatever a failed fetch threw into a PushError that says why, without credentials. */
function requestFailure(
  method: string,
  url: string,
  timeoutMs: number,
  timeoutSignal: AbortSignal,
  userSignal: AbortSignal | undefined,
  error: unknown,
): PushError {
  if (userSignal?.aborted) {
    return new PushError(`${method} ${url} was aborted`, {
      method,
      url,
      cause: userSignal.reason,
    });
  }
  if (timeoutSignal.aborted) {
    return new PushError(`${method} ${url} timed out after ${timeoutMs} ms`, {
      method,
      url,
      cause: error,
    });
  }
  return new PushError(`${method} ${url} failed: ${networkDetail(error)}`, {
    method,
    url,
    cause: error,
  });
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

/** Reads at most MAX_GATEWAY_MESSAGE_BYTES of an error body; a body that fails midway gives what came. */
async function readBounded(response: Response): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    while (bytes < MAX_GATEWAY_MESSAGE_BYTES) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      bytes += value.byteLength;
      text += decoder.decode(value.subarray(0, MAX_GATEWAY_MESSAGE_BYTES), { stream: true });
    }
  } catch {
    // Timed out or cut mid-body: the part that arrived still explains the failure.
  }
  await reader.cancel().catch(() => {});
  return text + decoder.decode();
}

function resolveTarget(
  gateway: string | URL,
  job: string,
  groupingKey: GroupingKey | undefined,
): GatewayTarget {
  if (typeof job !== "string" || job === "") {
    throw new TypeError(
      `job must be a non-empty string (the Pushgateway refuses an empty job), got ${
        JSON.stringify(job) ?? String(job)
      }`,
    );
  }
  const { base, urlAuth } = parseGateway(gateway);
  let path = "/metrics/" + encodeGroupingPair("job", job);
  for (const [name, value] of sortedGroupingKey(job, groupingKey ?? {})) {
    path += "/" + encodeGroupingPair(name, value);
  }
  const url = base.origin + base.pathname.replace(/\/+$/, "") + path + base.search;
  return urlAuth === undefined ? { url } : { url, urlAuth };
}

function sortedGroupingKey(job: string, groupingKey: GroupingKey): [string, string][] {
  if (groupingKey === null || typeof groupingKey !== "object" || Array.isArray(groupingKey)) {
    throw new TypeError(
      `groupingKey of job "${job}" must be an object of label names to string values`,
    );
  }
  const entries = Object.entries(groupingKey);
  for (const [name, value] of entries) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`groupingKey of job "${job}": ${(error as Error).message}`);
    }
    if (name === "job") {
      throw new TypeError(
        `groupingKey of job "${job}" must not contain "job": the job is given by the job option`,
      );
    }
    if (typeof value !== "string") {
      throw new TypeError(
        `groupingKey label "${name}" of job "${job}" must be a string, got ${typeof value}`,
      );
    }
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `name/value` when the value is safe in a path segment, else `name@base64/<base64url>`. */
function encodeGroupingPair(name: string, value: string): string {
  // "." and ".." would be removed as dot segments by URL normalisation.
  if (URL_SAFE_SEGMENT.test(value) && value !== "." && value !== "..") return `${name}/${value}`;
  return `${name}@base64/${value === "" ? "=" : base64UrlOf(value)}`;
}

function parseGateway(gateway: string | URL): { base: URL; urlAuth?: PushAuth } {
  const text = gateway instanceof URL ? gateway.href : gateway;
  if (typeof text !== "string" || text.trim() === "") {
    throw new TypeError(
      `gateway must be a URL or "host:port" such as "localhost:9091", got ${
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
      `gateway ${JSON.stringify(redactUserInfo(withScheme))} is not a valid URL`,
    );
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(
      `gateway ${
        JSON.stringify(redactUserInfo(withScheme))
      } must use http:// or https://, not ${base.protocol}//`,
    );
  }
  let urlAuth: PushAuth | undefined;
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

/** Removes `user:password@` from anything that looks like a URL. */
function redactUserInfo(text: string): string {
  return text.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\s]*@/g, "$1");
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ");
}

function base64Of(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function base64UrlOf(text: string): string {
  return base64Of(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
