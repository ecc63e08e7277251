/**
 * The error every Pushgateway request failure becomes.
 *
 * @module
 */

/** What a {@linkcode PushError} carries besides its message. */
export interface PushErrorDetails {
  /** The HTTP method: `PUT`, `POST` or `DELETE`. */
  readonly method: string;
  /** The request URL, without user name or password. */
  readonly url: string;
  /** The HTTP status, when the gateway answered. */
  readonly status?: number;
  /** The body the gateway answered with (trimmed, at most a few KiB), when it answered. */
  readonly gatewayMessage?: string;
  /** The underlying network error, timeout or abort reason, when there was no answer. */
  readonly cause?: unknown;
}

/**
 * A push or delete that did not succeed: either the gateway answered with a non-2xx status
 * (`status` and `gatewayMessage` are set) or the request never completed — connection refused,
 * timeout, abort (`cause` is set). The message and `url` never contain credentials.
 *
 * @example
 * ```ts
 * import { PushError, pushToGateway, Registry } from "@deno-prom/client";
 * try {
 *   await pushToGateway("127.0.0.1:9", { job: "batch", registry: new Registry(), timeoutMs: 1000 });
 * } catch (error) {
 *   if (error instanceof PushError) console.log(error.method, error.url, error.status ?? error.cause);
 * }
 * ```
 */
export class PushError extends Error {
  /** The HTTP status, when the gateway answered (e.g. 400 for an inconsistent push). */
  readonly status?: number;
  /** The HTTP method: `PUT`, `POST` or `DELETE`. */
  readonly method: string;
  /** The request URL, without user name or password. */
  readonly url: string;
  /** The body the gateway answered with, e.g. `pushed metrics are invalid or inconsistent …`. */
  readonly gatewayMessage?: string;

  /** Builds the error; `message` should already name the method and the URL. */
  constructor(message: string, details: PushErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "PushError";
    this.method = details.method;
    this.url = details.url;
    if (details.status !== undefined) this.status = details.status;
    if (details.gatewayMessage !== undefined) this.gatewayMessage = details.gatewayMessage;
  }
}

/**
 * A remote write that did not succeed: the receiver answered non-2xx (`status` and
 * `gatewayMessage`, the receiver's answer, are set), or the request never completed (`cause`).
 * `retryable` says whether sending again may succeed: true for 5xx, 429 and network failures
 * or timeouts, false for other 4xx (the receiver refuses this data; resending will not help),
 * redirects and the caller's own abort. The message and `url` never contain credentials.
 *
 * @example
 * ```ts
 * import { Registry, remoteWrite, RemoteWriteError } from "@deno-prom/client";
 * try {
 *   await remoteWrite("http://127.0.0.1:9/api/v1/write", {
 *     registry: new Registry(), labels: { job: "cli" }, timeoutMs: 1000,
 *   });
 * } catch (error) {
 *   if (error instanceof RemoteWriteError && error.retryable) console.log("try again later");
 * }
 * ```
 */
export class RemoteWriteError extends PushError {
  /** Whether sending again may succeed (5xx, 429, network failure, timeout). */
  readonly retryable: boolean;
  /** How long the receiver asked to wait (its `Retry-After` header), in milliseconds. */
  readonly retryAfterMs?: number;

  /** Builds the error; `retryable` is decided by the caller from the status or failure. */
  constructor(
    message: string,
    details: PushErrorDetails,
    retryable: boolean,
    retryAfterMs?: number,
  ) {
    super(message, details);
    this.name = "RemoteWriteError";
    this.retryable = retryable;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}
