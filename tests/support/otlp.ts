/**
 * Test helpers for the OTLP receiver: an encoder from the OTLP JSON shape to protobuf bytes
 * (the fields our receiver reads, at opentelemetry-proto's field numbers), and request makers.
 *
 * @module
 */

import { ProtoWriter } from "../../src/encoding/protobuf.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const FIXED64 = 1;
const LEN = 2;

function fixed64(w: ProtoWriter, field: number, value: unknown): void {
  if (value === undefined) return;
  const n = Number(value);
  w.tag(field, FIXED64);
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, n % 4294967296, true);
  view.setUint32(4, Math.floor(n / 4294967296), true);
  w.raw(bytes);
}

function sfixed64(w: ProtoWriter, field: number, value: unknown): void {
  const n = Number(value);
  w.tag(field, FIXED64);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigInt64(0, BigInt(n), true);
  w.raw(bytes);
}

function anyValue(w: ProtoWriter, value: Json): void {
  if (value.stringValue !== undefined) w.string(1, value.stringValue);
  else if (value.boolValue !== undefined) w.uint(2, value.boolValue ? 1 : 0);
  else if (value.intValue !== undefined) w.int64(3, Number(value.intValue));
  else if (value.doubleValue !== undefined) w.double(4, value.doubleValue);
  else if (value.arrayValue !== undefined) {
    const m = w.begin(5);
    for (const v of value.arrayValue.values ?? []) {
      const inner = w.begin(1);
      anyValue(w, v);
      w.end(inner);
    }
    w.end(m);
  }
}

function keyValues(w: ProtoWriter, field: number, attributes: Json[] | undefined): void {
  for (const { key, value } of attributes ?? []) {
    const m = w.begin(field);
    w.string(1, key);
    const v = w.begin(2);
    anyValue(w, value ?? {});
    w.end(v);
    w.end(m);
  }
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function exemplars(w: ProtoWriter, field: number, list: Json[] | undefined): void {
  for (const e of list ?? []) {
    const m = w.begin(field);
    keyValues(w, 7, e.filteredAttributes);
    fixed64(w, 2, e.timeUnixNano);
    if (e.asInt !== undefined) sfixed64(w, 6, e.asInt);
    else w.double(3, e.asDouble ?? 0);
    if (e.spanId) w.bytes(4, hexBytes(e.spanId));
    if (e.traceId) w.bytes(5, hexBytes(e.traceId));
    w.end(m);
  }
}

function numberPoint(w: ProtoWriter, p: Json): void {
  keyValues(w, 7, p.attributes);
  fixed64(w, 2, p.startTimeUnixNano);
  fixed64(w, 3, p.timeUnixNano);
  if (p.asInt !== undefined) sfixed64(w, 6, p.asInt);
  else w.double(4, p.asDouble ?? 0);
  exemplars(w, 5, p.exemplars);
  if (p.flags) w.uint(8, p.flags);
}

function histogramPoint(w: ProtoWriter, p: Json): void {
  keyValues(w, 9, p.attributes);
  fixed64(w, 2, p.startTimeUnixNano);
  fixed64(w, 3, p.timeUnixNano);
  fixed64(w, 4, p.count ?? 0);
  if (p.sum !== undefined) w.double(5, p.sum);
  if ((p.bucketCounts ?? []).length > 0) {
    w.tag(6, LEN);
    w.varint(p.bucketCounts.length * 8);
    for (const c of p.bucketCounts) {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(c), true);
      w.raw(b);
    }
  }
  w.packedDouble(7, (p.explicitBounds ?? []).map(Number));
  exemplars(w, 8, p.exemplars);
  if (p.flags) w.uint(10, p.flags);
}

function buckets(w: ProtoWriter, field: number, b: Json | undefined): void {
  if (b === undefined) return;
  const m = w.begin(field);
  w.sint(1, b.offset ?? 0);
  w.packedUint(2, (b.bucketCounts ?? []).map(Number));
  w.end(m);
}

function exponentialPoint(w: ProtoWriter, p: Json): void {
  keyValues(w, 1, p.attributes);
  fixed64(w, 2, p.startTimeUnixNano);
  fixed64(w, 3, p.timeUnixNano);
  fixed64(w, 4, p.count ?? 0);
  if (p.sum !== undefined) w.double(5, p.sum);
  w.sint(6, p.scale ?? 0);
  fixed64(w, 7, p.zeroCount ?? 0);
  buckets(w, 8, p.positive);
  buckets(w, 9, p.negative);
  if (p.flags) w.uint(10, p.flags);
  exemplars(w, 11, p.exemplars);
  if (p.zeroThreshold !== undefined) w.double(14, p.zeroThreshold);
}

function summaryPoint(w: ProtoWriter, p: Json): void {
  keyValues(w, 7, p.attributes);
  fixed64(w, 2, p.startTimeUnixNano);
  fixed64(w, 3, p.timeUnixNano);
  fixed64(w, 4, p.count ?? 0);
  w.double(5, p.sum ?? 0);
  for (const q of p.quantileValues ?? []) {
    const m = w.begin(6);
    w.double(1, q.quantile);
    w.double(2, q.value);
    w.end(m);
  }
  if (p.flags) w.uint(8, p.flags);
}

function points(
  w: ProtoWriter,
  field: number,
  data: Json,
  write: (w: ProtoWriter, p: Json) => void,
): void {
  const m = w.begin(field);
  for (const p of data.dataPoints ?? []) {
    const pm = w.begin(1);
    write(w, p);
    w.end(pm);
  }
  if (data.aggregationTemporality !== undefined) w.uint(2, data.aggregationTemporality);
  if (data.isMonotonic) w.uint(3, 1);
  w.end(m);
}

/** Encodes an OTLP JSON-shaped `ExportMetricsServiceRequest` as protobuf bytes. */
export function encodeOtlpProtobuf(request: Json): Uint8Array<ArrayBuffer> {
  const w = new ProtoWriter();
  for (const rm of request.resourceMetrics ?? []) {
    const rmm = w.begin(1);
    if (rm.resource !== undefined) {
      const r = w.begin(1);
      keyValues(w, 1, rm.resource.attributes);
      w.end(r);
    }
    for (const sm of rm.scopeMetrics ?? []) {
      const smm = w.begin(2);
      if (sm.scope !== undefined) {
        const s = w.begin(1);
        if (sm.scope.name) w.string(1, sm.scope.name);
        if (sm.scope.version) w.string(2, sm.scope.version);
        w.end(s);
      }
      for (const metric of sm.metrics ?? []) {
        const mm = w.begin(2);
        if (metric.name) w.string(1, metric.name);
        if (metric.description) w.string(2, metric.description);
        if (metric.unit) w.string(3, metric.unit);
        if (metric.gauge) points(w, 5, metric.gauge, numberPoint);
        if (metric.sum) points(w, 7, metric.sum, numberPoint);
        if (metric.histogram) points(w, 9, metric.histogram, histogramPoint);
        if (metric.exponentialHistogram) {
          points(w, 10, metric.exponentialHistogram, exponentialPoint);
        }
        if (metric.summary) points(w, 11, metric.summary, summaryPoint);
        w.end(mm);
      }
      w.end(smm);
    }
    w.end(rmm);
  }
  return w.finish();
}

/** A POST of `request` to `/v1/metrics` in `encoding`, gzipped when asked. */
export async function otlpRequest(
  request: Json,
  encoding: "protobuf" | "json" = "protobuf",
  gzip = false,
): Promise<Request> {
  let body: Uint8Array<ArrayBuffer> = encoding === "json"
    ? new TextEncoder().encode(JSON.stringify(request))
    : encodeOtlpProtobuf(request);
  const headers: Record<string, string> = {
    "content-type": encoding === "json" ? "application/json" : "application/x-protobuf",
  };
  if (gzip) {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"));
    body = new Uint8Array(await new Response(stream).arrayBuffer());
    headers["content-encoding"] = "gzip";
  }
  return new Request("http://127.0.0.1/v1/metrics", { method: "POST", headers, body });
}

/** One resource with one scope holding `metrics`. */
export function oneResource(metrics: Json[], resource: Json[] = [], scope = {}): Json {
  return {
    resourceMetrics: [{
      resource: { attributes: resource },
      scopeMetrics: [{ scope, metrics }],
    }],
  };
}

/** A string attribute. */
export function attr(key: string, value: string): Json {
  return { key, value: { stringValue: value } };
}

/** A cumulative monotonic sum with one point. */
export function counter(name: string, value: number, start: number, time: number, extra = {}) {
  return {
    name,
    sum: {
      aggregationTemporality: 2,
      isMonotonic: true,
      dataPoints: [{ asDouble: value, startTimeUnixNano: start, timeUnixNano: time, ...extra }],
    },
  };
}
