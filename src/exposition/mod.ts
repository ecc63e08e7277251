/**
 * The exposition layer alone, for code that handles snapshots itself (a custom collector, a
 * proxy, a test): the snapshot data model (one family and point type per metric type), the
 * renderers and content types of the text 0.0.4, OpenMetrics 1.0 and protobuf formats, content
 * negotiation, UTF-8 name escaping, the checks a registry applies to untrusted families, and
 * native histogram bucket helpers. `Registry.metrics()` and `metricsHandler` use all of this
 * already; a program that only counts and serves needs none of it.
 *
 * @example Render a family built by hand, after checking it
 * ```ts
 * import type { MetricFamily } from "@deno-prom/client";
 * import { negotiateFormat, render, validateFamily } from "@deno-prom/client/exposition";
 * const family: MetricFamily = {
 *   type: "gauge", name: "queue_depth", help: "jobs waiting", points: [{ labels: {}, value: 3 }],
 * };
 * const problem = validateFamily(family); // undefined: nothing wrong
 * const format = negotiateFormat("application/openmetrics-text; version=1.0.0"); // "openmetrics"
 * const text = render([family], format);
 * // "# HELP queue_depth jobs waiting\n# TYPE queue_depth gauge\nqueue_depth 3.0\n# EOF\n"
 * ```
 *
 * @module
 */

export type {
  BucketSpan,
  CounterFamily,
  CounterPoint,
  GaugeAggregation,
  GaugeFamily,
  GaugePoint,
  HistogramFamily,
  HistogramPoint,
  InfoFamily,
  InfoPoint,
  MetricFamilyBase,
  MetricType,
  Quantile,
  State,
  StateSetFamily,
  StateSetPoint,
  SummaryFamily,
  SummaryPoint,
  UnknownFamily,
} from "../model.ts";
export { GAUGE_AGGREGATIONS } from "../model.ts";
export { contentTypeOf, type ExpositionFormat, render } from "./render.ts";
export { PROMETHEUS_CONTENT_TYPE, renderText } from "./text.ts";
export { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./openmetrics.ts";
export { PROTOBUF_CONTENT_TYPE, renderProtobuf } from "./protobuf.ts";
export { negotiateEscaping, negotiateFormat } from "./negotiate.ts";
export { escapeName, type EscapingScheme } from "../validation.ts";
export { escapeFamily } from "./escaping.ts";
export { InvalidFamilyError, validateFamily } from "./validate.ts";
export {
  mergeNativeBuckets,
  type NativeBuckets,
  NativeHistogram,
  type NativeSettings,
  schemaForBucketFactor,
} from "../metrics/native_histogram.ts";
