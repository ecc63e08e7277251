/**
 * Push mode alone: Pushgateway requests and the background `Pusher`, remote write and the
 * background `RemoteWriter`, their errors and credential types, and what the root leaves out:
 * the default timeouts and gzip threshold, `gatewayUrl`, and the types of the `fetch`, backoff
 * and failure/recovery callback options. Import from here to keep a bundle to what it uses.
 *
 * @example
 * ```ts ignore
 * import { Counter, Registry } from "@deno-prom/client";
 * import { pushToGateway } from "@deno-prom/client/push";
 * const registry = new Registry();
 * new Counter({ name: "rows_processed", help: "rows", registry }).inc(42);
 * await pushToGateway("localhost:9091", { job: "etl", registry });
 * ```
 *
 * @module
 */

export type { Auth, BasicAuth, BearerAuth } from "../auth.ts";
export { PushError, type PushErrorDetails, RemoteWriteError } from "./errors.ts";
export {
  DEFAULT_GZIP_MIN_BYTES,
  DEFAULT_PUSH_TIMEOUT_MS,
  deleteFromGateway,
  type FetchFunction,
  type GatewayRequestOptions,
  gatewayUrl,
  type GroupingKey,
  pushAddToGateway,
  type PushOptions,
  pushToGateway,
} from "./gateway.ts";
export {
  type BackgroundOptions,
  BackgroundSender,
  type BackoffOptions,
  Pusher,
  type PusherOptions,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "./pusher.ts";
export {
  DEFAULT_REMOTE_WRITE_TIMEOUT_MS,
  remoteWrite,
  type RemoteWriteOptions,
} from "./remote_write/write.ts";
export { RemoteWriter, type RemoteWriterOptions } from "./remote_write/writer.ts";
