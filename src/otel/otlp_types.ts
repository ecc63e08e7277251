/**
 * The decoded shape of an OTLP `ExportMetricsServiceRequest` (opentelemetry-proto
 * `collector/metrics/v1`), as both decoders (protobuf and JSON) produce it: only the fields the
 * translation reads, with attribute values already turned into strings and every list bounded
 * by {@linkcode DecodeLimits}.
 *
 * @module
 */

/** Attributes as translated label values (non-string values already stringified). */
export type Attributes = readonly (readonly [key: string, value: string])[];

/** `AggregationTemporality`: 0 unspecified, 1 delta, 2 cumulative. */
export const TEMPORALITY_DELTA = 1;
/** Cumulative temporality. */
export const TEMPORALITY_CUMULATIVE = 2;
/** `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the series ended (a staleness marker). */
export const FLAG_NO_RECORDED_VALUE = 1;

/** An OTLP exemplar. */
export interface OtlpExemplar {
  readonly attributes: Attributes;
  readonly timeUnixNano: number;
  readonly value: number;
  /** Lower-case hex, empty when absent. */
  readonly traceId: string;
  /** Lower-case hex, empty when absent. */
  readonly spanId: string;
}

/** What every data point has. */
export interface OtlpPointBase {
  readonly attributes: Attributes;
  readonly startTimeUnixNano: number;
  readonly timeUnixNano: number;
  readonly flags: number;
  readonly exemplars: readonly OtlpExemplar[];
}

/** A `NumberDataPoint`. */
export interface OtlpNumberPoint extends OtlpPointBase {
  readonly value: number;
}

/** A `HistogramDataPoint`. */
export interface OtlpHistogramPoint extends OtlpPointBase {
  readonly count: number;
  readonly sum: number | undefined;
  readonly bucketCounts: readonly number[];
  readonly explicitBounds: readonly number[];
}

/** `ExponentialHistogramDataPoint.Buckets`. */
export interface OtlpExponentialBuckets {
  readonly offset: number;
  readonly bucketCounts: readonly number[];
}

/** An `ExponentialHistogramDataPoint`. */
export interface OtlpExponentialPoint extends OtlpPointBase {
  readonly count: number;
  readonly sum: number | undefined;
  readonly scale: number;
  readonly zeroCount: number;
  readonly zeroThreshold: number;
  readonly positive: OtlpExponentialBuckets;
  readonly negative: OtlpExponentialBuckets;
}

/** A `SummaryDataPoint`. */
export interface OtlpSummaryPoint extends OtlpPointBase {
  readonly count: number;
  readonly sum: number;
  readonly quantiles: readonly { readonly quantile: number; readonly value: number }[];
}

/** The data of a `Metric`: which oneof member was set, with its points. */
export type OtlpMetricData =
  | { readonly kind: "gauge"; readonly points: readonly OtlpNumberPoint[] }
  | {
    readonly kind: "sum";
    readonly temporality: number;
    readonly monotonic: boolean;
    readonly points: readonly OtlpNumberPoint[];
  }
  | {
    readonly kind: "histogram";
    readonly temporality: number;
    readonly points: readonly OtlpHistogramPoint[];
  }
  | {
    readonly kind: "exponential";
    readonly temporality: number;
    readonly points: readonly OtlpExponentialPoint[];
  }
  | { readonly kind: "summary"; readonly points: readonly OtlpSummaryPoint[] }
  | { readonly kind: "none"; readonly points: readonly never[] };

/** A `Metric`. */
export interface OtlpMetric {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly data: OtlpMetricData;
}

/** A `ScopeMetrics`. */
export interface OtlpScopeMetrics {
  readonly scopeName: string;
  readonly scopeVersion: string;
  readonly metrics: readonly OtlpMetric[];
}

/** A `ResourceMetrics`. */
export interface OtlpResourceMetrics {
  readonly resource: Attributes;
  readonly scopes: readonly OtlpScopeMetrics[];
}

/** A decoded `ExportMetricsServiceRequest`. */
export interface OtlpRequest {
  readonly resources: readonly OtlpResourceMetrics[];
  /** Points left out by the decoder because a limit was reached (reported as rejected). */
  readonly skippedPoints: number;
}

/**
 * Bounds on what one request may hold, so a hostile body cannot make the decoder allocate
 * more than a small multiple of its size, nor recurse deeply.
 */
export interface DecodeLimits {
  /** Data points per request; further points are skipped and reported as rejected. */
  readonly maxPointsPerRequest: number;
  /** Attributes per point, resource or scope; a point with more is rejected whole. */
  readonly maxAttributes: number;
  /** Characters of an attribute key or value, a metric name, a unit or a description. */
  readonly maxStringLength: number;
  /** Buckets (explicit or exponential, each side) and quantiles per point. */
  readonly maxBuckets: number;
}

/** The defaults of {@linkcode DecodeLimits}. */
export const DEFAULT_DECODE_LIMITS: DecodeLimits = Object.freeze({
  maxPointsPerRequest: 50_000,
  maxAttributes: 128,
  maxStringLength: 4096,
  maxBuckets: 4096,
});

/** How deep arrays and key-value lists may nest inside an attribute value. */
export const MAX_VALUE_DEPTH = 8;

/** Hex digits of bytes (trace and span ids). */
export function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += (byte < 16 ? "0" : "") + byte.toString(16);
  return text;
}

/** A non-string attribute value as its string, per the OpenTelemetry attribute spec (JSON). */
export function stringifyValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") {
    if (Number.isFinite(value)) return String(value);
    return value !== value ? "NaN" : value > 0 ? "Inf" : "-Inf";
  }
  return JSON.stringify(value) ?? "";
}
