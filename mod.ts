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
 * @module
 */

export type {
  BucketSpan,
  Collector,
  CounterFamily,
  CounterPoint,
  Exemplar,
  GaugeFamily,
  GaugePoint,
  HistogramFamily,
  HistogramPoint,
  InfoFamily,
  InfoPoint,
  Labels,
  MetricFamily,
  MetricFamilyBase,
  MetricType,
  Quantile,
  State,
  StateSetFamily,
  StateSetPoint,
  SummaryFamily,
  SummaryPoint,
  UnknownFamily,
} from "./src/model.ts";
export {
  type CollectOptions,
  defaultRegistry,
  type MetricsOptions,
  type MetricsSource,
  Registry,
  type RegistryOptions,
} from "./src/registry.ts";
export { contentTypeOf, type ExpositionFormat, render } from "./src/exposition/render.ts";
export type { LabelValue, LabelValues, MetricOptions } from "./src/metrics/base.ts";
export type { FunctionWrapper } from "./src/metrics/timer.ts";
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
export {
  mergeNativeBuckets,
  type NativeBuckets,
  NativeHistogram,
  type NativeHistogramOptions,
  type NativeSettings,
  schemaForBucketFactor,
} from "./src/metrics/native_histogram.ts";
export { Summary, type SummaryChild, type SummaryOptions } from "./src/metrics/summary.ts";
export { Info, type InfoChild, type InfoOptions } from "./src/metrics/info.ts";
export { Enum, type EnumChild, type EnumOptions } from "./src/metrics/enum.ts";
export { PROMETHEUS_CONTENT_TYPE, renderText } from "./src/exposition/text.ts";
export { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./src/exposition/openmetrics.ts";
export { PROTOBUF_CONTENT_TYPE, renderProtobuf } from "./src/exposition/protobuf.ts";

// --- Push mode: Pushgateway client and background pusher (src/push/) ---
export { PushError, type PushErrorDetails, RemoteWriteError } from "./src/push/errors.ts";
export {
  DEFAULT_GZIP_MIN_BYTES,
  DEFAULT_PUSH_TIMEOUT_MS,
  deleteFromGateway,
  type DeleteOptions,
  type FetchFunction,
  type GatewayRequestOptions,
  gatewayUrl,
  type GroupingKey,
  pushAddToGateway,
  type PushOptions,
  pushToGateway,
} from "./src/push/gateway.ts";
export {
  type BackoffOptions,
  Pusher,
  type PusherOptions,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "./src/push/pusher.ts";
export {
  DEFAULT_REMOTE_WRITE_TIMEOUT_MS,
  remoteWrite,
  type RemoteWriteOptions,
} from "./src/push/remote_write/write.ts";
export { RemoteWriter, type RemoteWriterOptions } from "./src/push/remote_write/writer.ts";

// --- Pull mode: content negotiation, /metrics handler and server, runtime metrics ---
export { negotiateEscaping, negotiateFormat } from "./src/exposition/negotiate.ts";
export { escapeName, type EscapingScheme } from "./src/validation.ts";
export { escapeFamily } from "./src/exposition/escaping.ts";
export { InvalidFamilyError, validateFamily } from "./src/exposition/validate.ts";
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
export type { Auth, Auth as PushAuth, BasicAuth, BearerAuth } from "./src/auth.ts";
export {
  type FetchHandler,
  instrumentHandler,
  type InstrumentHandlerOptions,
} from "./src/http/middleware.ts";
export { writeToTextfile } from "./src/textfile.ts";
export { ProcessCollector, type ProcessCollectorOptions } from "./src/collectors/process.ts";
export { RuntimeCollector, type RuntimeCollectorOptions } from "./src/collectors/runtime.ts";
export {
  collectDefaultMetrics,
  type DefaultMetrics,
  type DefaultMetricsOptions,
} from "./src/collectors/defaults.ts";

// --- Many workers, one view: aggregation across isolates, Web Workers and processes (src/workers/) ---
export { GAUGE_AGGREGATIONS, type GaugeAggregation } from "./src/model.ts";
export {
  DEFAULT_WORKER_LABEL,
  type MergeOptions,
  mergeSnapshots,
  type WorkerSnapshot,
} from "./src/workers/merge.ts";
export {
  aggregateWorkers,
  type AggregateWorkersOptions,
  type PeerStatus,
  WorkerAggregator,
} from "./src/workers/broadcast.ts";
export {
  DirectoryCollector,
  directoryCollector,
  type DirectoryCollectorOptions,
  DirectoryPublisher,
  type DirectoryPublisherOptions,
  publishToDirectory,
} from "./src/workers/directory.ts";
