/**
 * A zero-dependency Prometheus client for Deno and the edge (Deno Deploy, Bun, Cloudflare
 * Workers): counters, gauges, classic and native histograms, summaries, info and enums, with
 * labels, constant and default labels, timers and decorators; the Prometheus text 0.0.4,
 * OpenMetrics 1.0 and protobuf exposition formats, with UTF-8 names escaped as the scraper
 * negotiates; a `/metrics` handler for any Fetch-API server and a standalone server for Deno;
 * request metrics for any `(Request) => Response` handler in one wrapper
 * (`instrumentHandler`); runtime and process metrics; a Pushgateway client and background
 * pusher, Prometheus remote write (one-shot and background), and node_exporter's textfile
 * format; and one view of the metrics of many isolates, Web Workers or processes.
 *
 * @example
 * ```ts
 * import { Histogram, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const h = new Histogram({
 *   name: "job_duration_seconds", help: "duration of job", labelNames: ["job_name"],
 *   buckets: [1, 2, 3, 10, 20, 50, 100], registry,
 * });
 * h.labels({ job_name: "test_job" }).observe(0.149);
 * console.log(await registry.metrics());
 * ```
 *
 * The root holds what most programs use. Subpaths hold the rest: `./exposition` (the snapshot
 * data model, renderers, content negotiation, escaping and validation of families, native
 * bucket helpers), `./workers` (one view of many isolates, Web Workers or processes),
 * `./collectors` (the process and runtime collectors one by one), and `./http` and `./push`
 * (each mode alone, with its constants and helper types).
 *
 * @module
 */

// --- Metric types, their options and children ---
export {
  type RegistryLifecycleOptions,
  type SeriesLifecycleOptions,
  SeriesOverflowError,
} from "./src/metrics/series_limits.ts";
export {
  Counter,
  type CounterChild,
  type CounterOptions,
  type CountExceptionsOptions,
} from "./src/metrics/counter.ts";
export { Gauge, type GaugeChild, type GaugeOptions } from "./src/metrics/gauge.ts";
export {
  DEFAULT_BUCKETS,
  exponentialBuckets,
  Histogram,
  type HistogramChild,
  type HistogramOptions,
  linearBuckets,
} from "./src/metrics/histogram.ts";
export type { NativeHistogramOptions } from "./src/metrics/native_histogram.ts";
export { Summary, type SummaryChild, type SummaryOptions } from "./src/metrics/summary.ts";
export { Info, type InfoChild, type InfoOptions } from "./src/metrics/info.ts";
export { Enum, type EnumChild, type EnumOptions } from "./src/metrics/enum.ts";
export type { LabelValue, LabelValues, MetricOptions } from "./src/metrics/base.ts";
export type { FunctionWrapper } from "./src/metrics/timer.ts";

// --- Registries, and the types a custom collector returns ---
export {
  type CollectOptions,
  defaultRegistry,
  type MetricsOptions,
  type MetricsSource,
  Registry,
  type RegistryOptions,
} from "./src/registry.ts";
export type { Collector, Exemplar, Labels, MetricFamily } from "./src/model.ts";

// --- Pull mode: the /metrics handler and server, request metrics, runtime metrics ---
export {
  type FormatChoice,
  metricsHandler,
  type MetricsHandlerOptions,
} from "./src/http/handler.ts";
export {
  type HttpServerOptions,
  type MetricsServer,
  PortInUseError,
  startHttpServer,
  type TlsOptions,
} from "./src/http/server.ts";
export {
  type OtlpCollector,
  type OtlpHandler,
  otlpHandler,
  type OtlpHandlerOptions,
} from "./src/http/otlp.ts";
export type { Auth } from "./src/auth.ts";
export {
  type FetchHandler,
  instrumentHandler,
  type InstrumentHandlerOptions,
} from "./src/http/middleware.ts";
export {
  collectDefaultMetrics,
  type DefaultMetrics,
  type DefaultMetricsOptions,
} from "./src/collectors/defaults.ts";

// --- Push mode: Pushgateway, remote write, node_exporter's textfile ---
export { PushError, type PushErrorDetails, RemoteWriteError } from "./src/push/errors.ts";
export {
  deleteFromGateway,
  type GatewayRequestOptions,
  type GroupingKey,
  pushAddToGateway,
  type PushOptions,
  pushToGateway,
} from "./src/push/gateway.ts";
export { Pusher, type PusherOptions } from "./src/push/pusher.ts";
export { remoteWrite, type RemoteWriteOptions } from "./src/push/remote_write/write.ts";
export { RemoteWriter, type RemoteWriterOptions } from "./src/push/remote_write/writer.ts";
export { writeToTextfile } from "./src/textfile.ts";
