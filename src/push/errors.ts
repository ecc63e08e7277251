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
