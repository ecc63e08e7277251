/**
 * Decodes an OTLP `ExportMetricsServiceRequest` from its JSON encoding (OTLP/HTTP JSON: field
 * names in lowerCamelCase, 64-bit integers as numbers or decimal strings, trace and span ids as
 * hex, enums as integers). A body that is not such a request throws an `OtlpJsonError`
 * (answered 400); points past a {@linkcode DecodeLimits} bound are skipped and counted.
 *
 * @module
 */

import {
  type Attributes,
  type DecodeLimits,
  MAX_VALUE_DEPTH,
  type OtlpExemplar,
  type OtlpExponentialBuckets,
  type OtlpMetric,
  type OtlpMetricData,
  type OtlpPointBase,
  type OtlpRequest,
  type OtlpResourceMetrics,
  stringifyValue,
} from "./otlp_types.ts";

/** A JSON body that is not an OTLP metrics request. */
export class OtlpJsonError extends Error {
  /** Makes the error with a message naming the bad member. */
  constructor(message: string) {
    super(message);
    this.name = "OtlpJsonError";
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

interface Context {
  readonly limits: DecodeLimits;
  points: number;
  skipped: number;
}

/** Decodes a parsed JSON body; throws `OtlpJsonError` when it has the wrong shape. */
export function decodeJsonRequest(body: unknown, limits: DecodeLimits): OtlpRequest {
  const context: Context = { limits, points: 0, skipped: 0 };
  const request = object(body, "request");
  const resources: OtlpResourceMetrics[] = list(request.resourceMetrics, "resourceMetrics").map(
    (entry) => {
      const resourceMetrics = object(entry, "resourceMetrics[]");
      const resource = resourceMetrics.resource === undefined
        ? []
        : attributes(object(resourceMetrics.resource, "resource").attributes, limits, true);
      const scopes = list(resourceMetrics.scopeMetrics, "scopeMetrics").map((item) => {
        const scopeMetrics = object(item, "scopeMetrics[]");
        const scope = scopeMetrics.scope === undefined ? {} : object(scopeMetrics.scope, "scope");
        return {
          scopeName: text(scope.name, "scope.name", limits),
          scopeVersion: text(scope.version, "scope.version", limits),
          metrics: list(scopeMetrics.metrics, "metrics").map((m) => metric(m, context)),
        };
      });
      return { resource: resource ?? [], scopes };
    },
  );
  return { resources, skippedPoints: context.skipped };
}

function object(value: unknown, what: string): Json {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new OtlpJsonError(`${what} must be an object`);
  }
  return value;
}

function list(value: unknown, what: string): Json[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpJsonError(`${what} must be an array`);
  return value;
}

function text(value: unknown, what: string, limits: DecodeLimits): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new OtlpJsonError(`${what} must be a string`);
  return value.length > limits.maxStringLength ? value.slice(0, limits.maxStringLength) : value;
}

/** A 64-bit integer: a number or a decimal string. */
function integer(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number)) {
    throw new OtlpJsonError(`${what} must be an integer`);
  }
  return number;
}

/** A double: a number, or "NaN", "Infinity", "-Infinity" as proto3 JSON writes them. */
function double(value: unknown, what: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) {
    return Number(value);
  }
  throw new OtlpJsonError(`${what} must be a number`);
}

function numbers(
  value: unknown,
  what: string,
  read: (v: unknown, w: string) => number,
  max: number,
): number[] {
  const values = list(value, what);
  if (values.length > max) throw new OtlpJsonError(`${what} has more than ${max} values`);
  return values.map((v) => read(v, what));
}

/**
 * Attributes as pairs; `undefined` when one is past the limits (the point is then refused),
 * or, with `lenient` (a resource), the pairs within the limits.
 */
function attributes(value: unknown, limits: DecodeLimits, lenient = false): Attributes | undefined {
  const pairs: [string, string][] = [];
  for (const entry of list(value, "attributes")) {
    const pair = object(entry, "attributes[]");
    const key = pair.key;
    if (typeof key !== "string") throw new OtlpJsonError("an attribute key must be a string");
    const valueText = stringifyValue(anyValue(pair.value, 0));
    const fits = key !== "" && key.length <= limits.maxStringLength &&
      valueText.length <= limits.maxStringLength && pairs.length < limits.maxAttributes;
    if (fits) pairs.push([key, valueText]);
    else if (!lenient) return undefined;
  }
  return pairs;
}

function anyValue(value: unknown, depth: number): unknown {
  if (value === undefined || value === null) return "";
  if (depth > MAX_VALUE_DEPTH) {
    throw new OtlpJsonError(`attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  }
  const any = object(value, "attribute value");
  if (typeof any.stringValue === "string") return any.stringValue;
  if (typeof any.boolValue === "boolean") return any.boolValue;
  if (any.intValue !== undefined) return integer(any.intValue, "intValue");
  if (any.doubleValue !== undefined) return double(any.doubleValue, "doubleValue");
  if (any.arrayValue !== undefined) {
    return list(object(any.arrayValue, "arrayValue").values, "arrayValue.values").map((v) =>
      anyValue(v, depth + 1)
    );
  }
  if (any.kvlistValue !== undefined) {
    const entries: Record<string, unknown> = {};
    for (const entry of list(object(any.kvlistValue, "kvlistValue").values, "kvlistValue")) {
      const pair = object(entry, "kvlistValue.values[]");
      entries[String(pair.key)] = anyValue(pair.value, depth + 1);
    }
    return entries;
  }
  if (typeof any.bytesValue === "string") return any.bytesValue;
  return "";
}

function metric(value: unknown, context: Context): OtlpMetric {
  const m = object(value, "metric");
  const { limits } = context;
  const name = typeof m.name === "string" ? m.name : "";
  const description = text(m.description, "description", limits);
  const unit = text(m.unit, "unit", limits);
  let data: OtlpMetricData = { kind: "none", points: [] };
  if (m.gauge !== undefined) {
    data = { kind: "gauge", points: points(object(m.gauge, "gauge"), context, numberPoint) };
  } else if (m.sum !== undefined) {
    const sum = object(m.sum, "sum");
    data = {
      kind: "sum",
      temporality: integer(sum.aggregationTemporality, "aggregationTemporality"),
      monotonic: sum.isMonotonic === true,
      points: points(sum, context, numberPoint),
    };
  } else if (m.histogram !== undefined) {
    const histogram = object(m.histogram, "histogram");
    data = {
      kind: "histogram",
      temporality: integer(histogram.aggregationTemporality, "aggregationTemporality"),
      points: points(histogram, context, (p, base) => ({
        ...base,
        count: integer(p.count, "count"),
        sum: p.sum === undefined ? undefined : double(p.sum, "sum"),
        bucketCounts: numbers(p.bucketCounts, "bucketCounts", integer, limits.maxBuckets + 1),
        explicitBounds: numbers(p.explicitBounds, "explicitBounds", double, limits.maxBuckets + 1),
      })),
    };
  } else if (m.exponentialHistogram !== undefined) {
    const histogram = object(m.exponentialHistogram, "exponentialHistogram");
    data = {
      kind: "exponential",
      temporality: integer(histogram.aggregationTemporality, "aggregationTemporality"),
      points: points(histogram, context, (p, base) => ({
        ...base,
        count: integer(p.count, "count"),
        sum: p.sum === undefined ? undefined : double(p.sum, "sum"),
        scale: integer(p.scale, "scale"),
        zeroCount: integer(p.zeroCount, "zeroCount"),
        zeroThreshold: double(p.zeroThreshold, "zeroThreshold"),
        positive: buckets(p.positive, limits),
        negative: buckets(p.negative, limits),
      })),
    };
  } else if (m.summary !== undefined) {
    data = {
      kind: "summary",
      points: points(object(m.summary, "summary"), context, (p, base) => {
        const entries = list(p.quantileValues, "quantileValues");
        if (entries.length > limits.maxBuckets) {
          throw new OtlpJsonError(`more than ${limits.maxBuckets} quantiles`);
        }
        return {
          ...base,
          count: integer(p.count, "count"),
          sum: double(p.sum, "sum"),
          quantiles: entries.map((entry) => {
            const q = object(entry, "quantileValues[]");
            return { quantile: double(q.quantile, "quantile"), value: double(q.value, "value") };
          }),
        };
      }),
    };
  }
  if (name.length > limits.maxStringLength) {
    context.skipped += data.points.length;
    return { name: "", description, unit, data: { kind: "none", points: [] } };
  }
  return { name, description, unit, data };
}

function buckets(value: unknown, limits: DecodeLimits): OtlpExponentialBuckets {
  if (value === undefined || value === null) return { offset: 0, bucketCounts: [] };
  const b = object(value, "buckets");
  return {
    offset: integer(b.offset, "offset"),
    bucketCounts: numbers(b.bucketCounts, "bucketCounts", integer, limits.maxBuckets),
  };
}

function points<P>(
  holder: Json,
  context: Context,
  read: (point: Json, base: OtlpPointBase) => P,
): P[] {
  const result: P[] = [];
  for (const entry of list(holder.dataPoints, "dataPoints")) {
    if (context.points >= context.limits.maxPointsPerRequest) {
      context.skipped++;
      continue;
    }
    context.points++;
    const point = object(entry, "dataPoints[]");
    const base = pointBase(point, context.limits);
    if (base === undefined) {
      context.skipped++;
      continue;
    }
    result.push(read(point, base));
  }
  return result;
}

function pointBase(point: Json, limits: DecodeLimits): OtlpPointBase | undefined {
  const pairs = attributes(point.attributes, limits);
  if (pairs === undefined) return undefined;
  const exemplars: OtlpExemplar[] = [];
  for (const entry of list(point.exemplars, "exemplars").slice(0, limits.maxBuckets)) {
    const e = object(entry, "exemplars[]");
    exemplars.push({
      attributes: attributes(e.filteredAttributes, limits, true) ?? [],
      timeUnixNano: integer(e.timeUnixNano, "exemplar timeUnixNano"),
      value: e.asInt !== undefined ? integer(e.asInt, "asInt") : double(e.asDouble, "asDouble"),
      traceId: hexId(e.traceId, 32),
      spanId: hexId(e.spanId, 16),
    });
  }
  return {
    attributes: pairs,
    startTimeUnixNano: integer(point.startTimeUnixNano, "startTimeUnixNano"),
    timeUnixNano: integer(point.timeUnixNano, "timeUnixNano"),
    flags: integer(point.flags, "flags"),
    exemplars,
    // Number points carry their value here too; other types ignore it.
    ...(point.asInt !== undefined || point.asDouble !== undefined
      ? {
        value: point.asInt !== undefined
          ? integer(point.asInt, "asInt")
          : double(point.asDouble, "asDouble"),
      }
      : {}),
  };
}

function numberPoint(_point: Json, base: OtlpPointBase): OtlpPointBase & { value: number } {
  return { value: 0, ...base };
}

/** A trace or span id: hex of the given length, else empty. */
function hexId(value: unknown, length: number): string {
  return typeof value === "string" && value.length === length && /^[0-9a-fA-F]+$/.test(value)
    ? value.toLowerCase()
    : "";
}
