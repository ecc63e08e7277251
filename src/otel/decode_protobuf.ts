/**
 * Decodes an OTLP `ExportMetricsServiceRequest` from protobuf bytes (field numbers of
 * opentelemetry-proto `metrics/v1/metrics.proto`, `common/v1/common.proto` and
 * `resource/v1/resource.proto`). Bytes that are not such a message throw a `ProtoDecodeError`
 * (answered 400); points that exceed a {@linkcode DecodeLimits} bound are skipped and counted.
 *
 * @module
 */

import {
  ProtoDecodeError,
  ProtoReader,
  WIRE_FIXED64,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
} from "../encoding/protobuf_reader.ts";
import type {
  Attributes,
  DecodeLimits,
  OtlpExemplar,
  OtlpExponentialBuckets,
  OtlpExponentialPoint,
  OtlpHistogramPoint,
  OtlpMetric,
  OtlpMetricData,
  OtlpNumberPoint,
  OtlpPointBase,
  OtlpRequest,
  OtlpResourceMetrics,
  OtlpScopeMetrics,
  OtlpSummaryPoint,
} from "./otlp_types.ts";
import { keyValue, readExemplar } from "./decode_protobuf_values.ts";

/** Decoding state shared by one request: its limits and what was skipped so far. */
interface Context {
  readonly limits: DecodeLimits;
  points: number;
  skipped: number;
}

/** Decodes a request body; throws `ProtoDecodeError` when the bytes are not a valid message. */
export function decodeProtobufRequest(bytes: Uint8Array, limits: DecodeLimits): OtlpRequest {
  const context: Context = { limits, points: 0, skipped: 0 };
  const resources: OtlpResourceMetrics[] = [];
  const reader = new ProtoReader(bytes);
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      resources.push(resourceMetrics(reader.message(), context));
    } else reader.skip();
  }
  return { resources, skippedPoints: context.skipped };
}

function resourceMetrics(reader: ProtoReader, context: Context): OtlpResourceMetrics {
  let resource: Attributes = [];
  const scopes: OtlpScopeMetrics[] = [];
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      const message = reader.message();
      const attributes: [string, string][] = [];
      while (message.next()) {
        if (message.field === 1) {
          message.expect(WIRE_LENGTH_DELIMITED);
          const pair = keyValue(message.message(), context.limits, 0);
          // Resource attributes past the limits are left out of target_info, not fatal.
          if (pair !== undefined && attributes.length < context.limits.maxAttributes) {
            attributes.push(pair);
          }
        } else message.skip();
      }
      resource = attributes;
    } else if (reader.field === 2) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      scopes.push(scopeMetrics(reader.message(), context));
    } else reader.skip();
  }
  return { resource, scopes };
}

function scopeMetrics(reader: ProtoReader, context: Context): OtlpScopeMetrics {
  let scopeName = "";
  let scopeVersion = "";
  const metrics: OtlpMetric[] = [];
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      const scope = reader.message();
      while (scope.next()) {
        if (scope.field === 1) scopeName = bounded(scope, context.limits);
        else if (scope.field === 2) scopeVersion = bounded(scope, context.limits);
        else scope.skip();
      }
    } else if (reader.field === 2) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      metrics.push(metric(reader.message(), context));
    } else reader.skip();
  }
  return { scopeName, scopeVersion, metrics };
}

/** A string field, cut to the length limit (names longer than it are refused later). */
function bounded(reader: ProtoReader, limits: DecodeLimits): string {
  reader.expect(WIRE_LENGTH_DELIMITED);
  const text = reader.string();
  return text.length > limits.maxStringLength ? text.slice(0, limits.maxStringLength) : text;
}

function metric(reader: ProtoReader, context: Context): OtlpMetric {
  let name = "";
  let description = "";
  let unit = "";
  let data: OtlpMetricData = { kind: "none", points: [] };
  while (reader.next()) {
    switch (reader.field) {
      case 1:
        reader.expect(WIRE_LENGTH_DELIMITED);
        name = reader.string();
        break;
      case 2:
        description = bounded(reader, context.limits);
        break;
      case 3:
        unit = bounded(reader, context.limits);
        break;
      case 5:
        reader.expect(WIRE_LENGTH_DELIMITED);
        data = { kind: "gauge", points: numberPoints(reader.message(), context).points };
        break;
      case 7: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const sum = numberPoints(reader.message(), context);
        data = {
          kind: "sum",
          temporality: sum.temporality,
          monotonic: sum.monotonic,
          points: sum.points,
        };
        break;
      }
      case 9: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const { points, temporality } = pointsOf(reader.message(), context, histogramPoint);
        data = { kind: "histogram", temporality, points };
        break;
      }
      case 10: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const { points, temporality } = pointsOf(reader.message(), context, exponentialPoint);
        data = { kind: "exponential", temporality, points };
        break;
      }
      case 11: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        data = {
          kind: "summary",
          points: pointsOf(reader.message(), context, summaryPoint).points,
        };
        break;
      }
      default:
        reader.skip();
    }
  }
  if (name.length > context.limits.maxStringLength) {
    // A name past the limit is refused whole: its points count as rejected.
    context.skipped += data.points.length;
    return { name: "", description, unit, data: { kind: "none", points: [] } };
  }
  return { name, description, unit, data };
}

/** Gauge and Sum: points in field 1, temporality 2, monotonic 3. */
function numberPoints(
  reader: ProtoReader,
  context: Context,
): { points: OtlpNumberPoint[]; temporality: number; monotonic: boolean } {
  const points: OtlpNumberPoint[] = [];
  let temporality = 0;
  let monotonic = false;
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      const point = admit(context) ? numberPoint(reader.message(), context) : skipMessage(reader);
      if (point !== undefined) points.push(point);
    } else if (reader.field === 2) {
      reader.expect(WIRE_VARINT);
      temporality = reader.varint();
    } else if (reader.field === 3) {
      reader.expect(WIRE_VARINT);
      monotonic = reader.bool();
    } else reader.skip();
  }
  return { points, temporality, monotonic };
}

/** Histogram, ExponentialHistogram and Summary: points in field 1, temporality in 2. */
function pointsOf<P>(
  reader: ProtoReader,
  context: Context,
  read: (reader: ProtoReader, context: Context) => P | undefined,
): { points: P[]; temporality: number } {
  const points: P[] = [];
  let temporality = 0;
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      const point = admit(context) ? read(reader.message(), context) : skipMessage(reader);
      if (point !== undefined) points.push(point);
    } else if (reader.field === 2) {
      reader.expect(WIRE_VARINT);
      temporality = reader.varint();
    } else reader.skip();
  }
  return { points, temporality };
}

/** Whether one more point fits in the request's limit (counted as skipped when not). */
function admit(context: Context): boolean {
  if (context.points >= context.limits.maxPointsPerRequest) {
    context.skipped++;
    return false;
  }
  context.points++;
  return true;
}

function skipMessage(reader: ProtoReader): undefined {
  reader.message();
  return undefined;
}

/** The fields every point type shares, at their per-type field numbers. */
interface BaseFields {
  readonly attributes: number;
  readonly exemplars: number;
  readonly flags: number;
}

/** Reads a shared field if `reader` is at one; returns whether it was. */
function readBase(
  reader: ProtoReader,
  fields: BaseFields,
  base: {
    attributes: [string, string][];
    tooMany: boolean;
    startTimeUnixNano: number;
    timeUnixNano: number;
    flags: number;
    exemplars: OtlpExemplar[];
  },
  context: Context,
): boolean {
  const field = reader.field;
  if (field === fields.attributes) {
    reader.expect(WIRE_LENGTH_DELIMITED);
    const pair = keyValue(reader.message(), context.limits, 0);
    if (pair === undefined || base.attributes.length >= context.limits.maxAttributes) {
      base.tooMany = true;
    } else base.attributes.push(pair);
  } else if (field === 2) {
    reader.expect(WIRE_FIXED64);
    base.startTimeUnixNano = reader.fixed64();
  } else if (field === 3) {
    reader.expect(WIRE_FIXED64);
    base.timeUnixNano = reader.fixed64();
  } else if (field === fields.flags) {
    reader.expect(WIRE_VARINT);
    base.flags = reader.varint();
  } else if (field === fields.exemplars) {
    reader.expect(WIRE_LENGTH_DELIMITED);
    const exemplar = readExemplar(reader.message(), context.limits);
    // One exemplar per bucket is kept at most: more than the bucket limit is never useful.
    if (exemplar !== undefined && base.exemplars.length < context.limits.maxBuckets) {
      base.exemplars.push(exemplar);
    }
  } else return false;
  return true;
}

function newBase() {
  return {
    attributes: [] as [string, string][],
    tooMany: false,
    startTimeUnixNano: 0,
    timeUnixNano: 0,
    flags: 0,
    exemplars: [] as OtlpExemplar[],
  };
}

/** The point's shared part, or `undefined` (and counted) when its attributes were refused. */
function finishBase(
  base: ReturnType<typeof newBase>,
  context: Context,
): OtlpPointBase | undefined {
  if (base.tooMany) {
    context.skipped++;
    return undefined;
  }
  const { attributes, startTimeUnixNano, timeUnixNano, flags, exemplars } = base;
  return { attributes, startTimeUnixNano, timeUnixNano, flags, exemplars };
}

const NUMBER_FIELDS: BaseFields = { attributes: 7, exemplars: 5, flags: 8 };

function numberPoint(reader: ProtoReader, context: Context): OtlpNumberPoint | undefined {
  const base = newBase();
  let value = 0;
  while (reader.next()) {
    if (readBase(reader, NUMBER_FIELDS, base, context)) continue;
    if (reader.field === 4) {
      reader.expect(WIRE_FIXED64);
      value = reader.double();
    } else if (reader.field === 6) {
      reader.expect(WIRE_FIXED64);
      value = reader.sfixed64();
    } else reader.skip();
  }
  const shared = finishBase(base, context);
  return shared === undefined ? undefined : { ...shared, value };
}

const HISTOGRAM_FIELDS: BaseFields = { attributes: 9, exemplars: 8, flags: 10 };

function histogramPoint(reader: ProtoReader, context: Context): OtlpHistogramPoint | undefined {
  const base = newBase();
  let count = 0;
  let sum: number | undefined;
  const bucketCounts: number[] = [];
  const explicitBounds: number[] = [];
  const max = context.limits.maxBuckets + 1;
  while (reader.next()) {
    if (readBase(reader, HISTOGRAM_FIELDS, base, context)) continue;
    switch (reader.field) {
      case 4:
        reader.expect(WIRE_FIXED64);
        count = reader.fixed64();
        break;
      case 5:
        reader.expect(WIRE_FIXED64);
        sum = reader.double();
        break;
      case 6:
        reader.repeated(bucketCounts, (r) => r.fixed64(), max);
        break;
      case 7:
        reader.repeated(explicitBounds, (r) => r.double(), max);
        break;
      default:
        reader.skip();
    }
  }
  const shared = finishBase(base, context);
  return shared === undefined ? undefined : { ...shared, count, sum, bucketCounts, explicitBounds };
}

const EXPONENTIAL_FIELDS: BaseFields = { attributes: 1, exemplars: 11, flags: 10 };

function exponentialPoint(
  reader: ProtoReader,
  context: Context,
): OtlpExponentialPoint | undefined {
  const base = newBase();
  let count = 0;
  let sum: number | undefined;
  let scale = 0;
  let zeroCount = 0;
  let zeroThreshold = 0;
  let positive: OtlpExponentialBuckets = { offset: 0, bucketCounts: [] };
  let negative: OtlpExponentialBuckets = { offset: 0, bucketCounts: [] };
  while (reader.next()) {
    if (readBase(reader, EXPONENTIAL_FIELDS, base, context)) continue;
    switch (reader.field) {
      case 4:
        reader.expect(WIRE_FIXED64);
        count = reader.fixed64();
        break;
      case 5:
        reader.expect(WIRE_FIXED64);
        sum = reader.double();
        break;
      case 6:
        reader.expect(WIRE_VARINT);
        scale = reader.sint();
        break;
      case 7:
        reader.expect(WIRE_FIXED64);
        zeroCount = reader.fixed64();
        break;
      case 8:
        reader.expect(WIRE_LENGTH_DELIMITED);
        positive = exponentialBuckets(reader.message(), context.limits);
        break;
      case 9:
        reader.expect(WIRE_LENGTH_DELIMITED);
        negative = exponentialBuckets(reader.message(), context.limits);
        break;
      case 14:
        reader.expect(WIRE_FIXED64);
        zeroThreshold = reader.double();
        break;
      default:
        reader.skip();
    }
  }
  const shared = finishBase(base, context);
  return shared === undefined
    ? undefined
    : { ...shared, count, sum, scale, zeroCount, zeroThreshold, positive, negative };
}

function exponentialBuckets(reader: ProtoReader, limits: DecodeLimits): OtlpExponentialBuckets {
  let offset = 0;
  const bucketCounts: number[] = [];
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_VARINT);
      offset = reader.sint();
    } else if (reader.field === 2) {
      reader.repeated(bucketCounts, (r) => r.varint(), limits.maxBuckets);
    } else reader.skip();
  }
  return { offset, bucketCounts };
}

const SUMMARY_FIELDS: BaseFields = { attributes: 7, exemplars: -1, flags: 8 };

function summaryPoint(reader: ProtoReader, context: Context): OtlpSummaryPoint | undefined {
  const base = newBase();
  let count = 0;
  let sum = 0;
  const quantiles: { quantile: number; value: number }[] = [];
  while (reader.next()) {
    if (readBase(reader, SUMMARY_FIELDS, base, context)) continue;
    switch (reader.field) {
      case 4:
        reader.expect(WIRE_FIXED64);
        count = reader.fixed64();
        break;
      case 5:
        reader.expect(WIRE_FIXED64);
        sum = reader.double();
        break;
      case 6: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const entry = reader.message();
        let quantile = 0;
        let value = 0;
        while (entry.next()) {
          if (entry.field === 1) {
            entry.expect(WIRE_FIXED64);
            quantile = entry.double();
          } else if (entry.field === 2) {
            entry.expect(WIRE_FIXED64);
            value = entry.double();
          } else entry.skip();
        }
        if (quantiles.length >= context.limits.maxBuckets) {
          throw new ProtoDecodeError(`more than ${context.limits.maxBuckets} quantiles`);
        }
        quantiles.push({ quantile, value });
        break;
      }
      default:
        reader.skip();
    }
  }
  const shared = finishBase(base, context);
  return shared === undefined ? undefined : { ...shared, count, sum, quantiles };
}
