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
import { checkedSource, defaultRegistry, hasCollect, type MetricsSource } from "../registry.ts";
import { escapeName, labelEntries, positiveMs } from "../validation.ts";
import { type Auth, authorizationHeader, base64Of } from "../auth.ts";
import {
  type EncodedBody,
  type FetchFunction,
  gzip,
  parseEndpoint,
  sendRequest,
} from "./request.ts";

export type { FetchFunction } from "./request.ts";

/** Grouping labels besides `job`, e.g. `{ instance: "host-1" }`; values may be any string. */
export type GroupingKey = Readonly<Record<string, string>>;

/** Options shared by every gateway request, and all that {@linkcode deleteFromGateway} takes. */
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
  readonly auth?: Auth;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
}

/** Options of {@linkcode pushToGateway} and {@linkcode pushAddToGateway}. */
export interface PushOptions extends GatewayRequestOptions {
  /**
   * Where the pushed metrics come from: a `Registry`, a worker aggregator, a directory
   * collector, or anything with `collect()`. Default: the default registry.
   */
  readonly registry?: MetricsSource;
  /**
   * Gzip the body (`Content-Encoding: gzip`, which the Pushgateway accepts since 1.5): `true`
   * always, `false` never, a number when the body has at least that many bytes. Default
   * {@linkcode DEFAULT_GZIP_MIN_BYTES}. Set `false` for a gateway older than 1.5.
   */
  readonly gzip?: boolean | number;
}

/** Default request timeout, as in the official Python client. */
export const DEFAULT_PUSH_TIMEOUT_MS = 30_000;

/**
 * Bodies from this size up are gzipped by default: a smaller body fits in a packet or two, so
 * compressing it saves no round trip and costs CPU; a larger one shrinks five- to tenfold.
 */
export const DEFAULT_GZIP_MIN_BYTES = 4096;

// Characters a path segment can carry as they are. Everything else goes base64.
const URL_SAFE_SEGMENT = /^[A-Za-z0-9._~-]+$/;

/** Where a request goes: the URL without credentials, and the credentials it carried. */
interface GatewayTarget {
  readonly url: string;
  readonly urlAuth?: Auth;
}

/**
 * Builds the URL of a group: `<gateway>/metrics/job/<job>{/<label>/<value>}`, grouping labels
 * sorted by name, `http://` added when `gateway` has no scheme, any user name and password
 * removed. Throws a `TypeError` for an empty job, an invalid or reserved label name, or a
 * gateway that is not an http(s) address.
 *
 * @example
 * ```ts
 * import { gatewayUrl } from "@deno-prom/client/push";
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
 * whole. Rejects with a {@linkcode PushError} when the gateway answers non-2xx (a redirect is
 * not followed: it is an error too), cannot be reached, or does not answer within `timeoutMs`;
 * with a `TypeError` for invalid options. An error thrown by a collector of the registry
 * rejects the push unchanged (it is the program's error, not the network's); nothing is sent.
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
  options: GatewayRequestOptions,
): Promise<void> {
  checkOptionsObject(options);
  const target = resolveTarget(gateway, options.job, options.groupingKey);
  await sendGatewayRequest("DELETE", target, options, undefined);
}

async function pushWith(
  method: "PUT" | "POST",
  gateway: string | URL,
  options: PushOptions,
): Promise<void> {
  checkOptionsObject(options);
  const target = resolveTarget(gateway, options.job, options.groupingKey);
  const registry = options.registry ?? defaultRegistry;
  if (!hasCollect(registry)) {
    throw new TypeError(`registry for ${target.url} must have a collect() method`);
  }
  const gzipMinBytes = gzipThreshold(options.gzip, target.url);
  await sendGatewayRequest(method, target, options, async () => {
    // A source other than a Registry has its families checked here, as a registry would.
    const text = renderText(await checkedSource(registry).collect());
    return encodeTextBody(text, gzipMinBytes);
  });
}

/** The smallest body to gzip (Infinity: never) from the `gzip` option. */
function gzipThreshold(option: boolean | number | undefined, url: string): number {
  if (option === undefined) return DEFAULT_GZIP_MIN_BYTES;
  if (option === true) return 0;
  if (option === false) return Infinity;
  if (typeof option === "number" && option >= 0) return option;
  throw new TypeError(
    `gzip for ${url} must be true, false or a size in bytes (>= 0), got ${String(option)}`,
  );
}

/** UTF-8 bytes of the text, gzipped from `gzipMinBytes` up. */
export async function encodeTextBody(text: string, gzipMinBytes: number): Promise<EncodedBody> {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length < gzipMinBytes) return { bytes };
  return { bytes: await gzip(bytes), encoding: "gzip" };
}

function checkOptionsObject(options: unknown): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("the push options must be an object with at least { job }");
  }
}

/** Sends one gateway request; `renderBody` (for PUT/POST) runs under the request's deadline. */
async function sendGatewayRequest(
  method: string,
  target: GatewayTarget,
  options: GatewayRequestOptions,
  renderBody: (() => Promise<EncodedBody>) | undefined,
): Promise<void> {
  const timeoutMs = positiveMs(
    options.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS,
    `timeoutMs for ${target.url}`,
  );
  const headers = new Headers(options.headers);
  if (renderBody !== undefined) headers.set("content-type", PROMETHEUS_CONTENT_TYPE);
  const auth = options.auth ?? target.urlAuth;
  if (auth !== undefined) headers.set("authorization", authorizationHeader(auth, target.url));
  await sendRequest({
    method,
    url: target.url,
    headers,
    timeoutMs,
    signal: options.signal,
    fetch: options.fetch,
    body: renderBody,
  });
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
  const { base, urlAuth } = parseEndpoint(gateway, "gateway");
  let path = "/metrics/" + encodeGroupingPair("job", job);
  for (const [name, value] of sortedGroupingKey(job, groupingKey ?? {})) {
    path += "/" + encodeGroupingPair(name, value);
  }
  const url = base.origin + base.pathname.replace(/\/+$/, "") + path + base.search;
  return urlAuth === undefined ? { url } : { url, urlAuth };
}

function sortedGroupingKey(job: string, groupingKey: GroupingKey): [string, string][] {
  const entries = labelEntries(groupingKey, "groupingKey", `of job "${job}"`);
  for (const [name] of entries) {
    if (name === "job") {
      throw new TypeError(
        `groupingKey of job "${job}" must not contain "job": the job is given by the job option`,
      );
    }
  }
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `name/value` when the value is safe in a path segment, else `name@base64/<base64url>`. */
function encodeGroupingPair(label: string, value: string): string {
  // A UTF-8 label name goes in the path in the `values` escaping (`U__…`), which is itself a
  // legacy name: legacy names are unchanged.
  const name = escapeName(label, "values", "label");
  // "." and ".." would be removed as dot segments by URL normalisation.
  if (URL_SAFE_SEGMENT.test(value) && value !== "." && value !== "..") return `${name}/${value}`;
  return `${name}@base64/${value === "" ? "=" : base64UrlOf(value)}`;
}

function base64UrlOf(text: string): string {
  return base64Of(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
