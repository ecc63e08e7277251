/**
 * Pull mode alone: the `/metrics` handler, the standalone server (Deno only, checked when
 * called) and the HTTP middleware, with the credential types the server takes (`BasicAuth` and
 * `BearerAuth`, the two shapes of `Auth`, only here and in `./push`). Import from here to keep a
 * bundle to what it uses.
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { metricsHandler } from "@deno-prom/client/http";
 * const handle = metricsHandler({ registry: new Registry() });
 * const response = await handle(new Request("http://localhost/metrics"));
 * ```
 *
 * @module
 */

export type { Auth, BasicAuth, BearerAuth } from "../auth.ts";
export { type FormatChoice, metricsHandler, type MetricsHandlerOptions } from "./handler.ts";
export {
  type HttpServerOptions,
  type MetricsServer,
  PortInUseError,
  startHttpServer,
  type TlsOptions,
} from "./server.ts";
export {
  type OtlpCollector,
  type OtlpHandler,
  otlpHandler,
  type OtlpHandlerOptions,
} from "./otlp.ts";
export {
  type FetchHandler,
  instrumentHandler,
  type InstrumentHandlerOptions,
} from "./middleware.ts";
