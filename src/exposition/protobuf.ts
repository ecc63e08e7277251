/**
 * The protobuf exposition format: one `io.prometheus.client.MetricFamily` message per family,
 * each prefixed with its varint length ("delimited"), as `client_golang`'s `expfmt` writes it and
 * as Prometheus asks for it first when native histograms are on. Field numbers are those of
 * `io/prometheus/client/metrics.proto` (client_model); fields are written in field-number order
 * and repeated scalars unpacked (proto2), so the bytes match client_golang's.
 *
 * @module
 */

import { ProtoWriter } from "../encoding/protobuf.ts";
import type {
  BucketSpan,
  CounterPoint,
  Exemplar,
  HistogramPoint,
  Labels,
  MetricFamily,
  SummaryPoint,
} from "../model.ts";

/** The `Content-Type` of the delimited protobuf format. */
export const PROTOBUF_CONTENT_TYPE =
  "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/** `io.prometheus.client.MetricType`. */
const MetricType = { COUNTER: 0, GAUGE: 1, SUMMARY: 2, UNTYPED: 3, HISTOGRAM: 4 } as const;

// Field numbers of metrics.proto (client_model), by message.
const FAMILY_NAME = 1, FAMILY_HELP = 2, FAMILY_TYPE = 3, FAMILY_METRIC = 4;
const LABEL_NAME = 1, LABEL_VALUE = 2;
const METRIC_LABEL = 1,
  METRIC_GAUGE = 2,
  METRIC_COUNTER = 3,
  METRIC_SUMMARY = 4,
  METRIC_UNTYPED = 5,
  METRIC_HISTOGRAM = 7;
/** `value` of Gauge, Counter and Untyped. */
const VALUE = 1;
const COUNTER_EXEMPLAR = 2, COUNTER_CREATED = 3;
const SUMMARY_COUNT = 1, SUMMARY_SUM = 2, SUMMARY_QUANTILE = 3, SUMMARY_CREATED = 4;
const QUANTILE_QUANTILE = 1, QUANTILE_VALUE = 2;
const HISTOGRAM_COUNT = 1,
  HISTOGRAM_SUM = 2,
  HISTOGRAM_BUCKET = 3,
  HISTOGRAM_SCHEMA = 5,
  HISTOGRAM_ZERO_THRESHOLD = 6,
  HISTOGRAM_ZERO_COUNT = 7,
  HISTOGRAM_NEGATIVE_SPAN = 9,
  HISTOGRAM_NEGATIVE_DELTA = 10,
  HISTOGRAM_POSITIVE_SPAN = 12,
  HISTOGRAM_POSITIVE_DELTA = 13,
  HISTOGRAM_CREATED = 15;
const BUCKET_CUMULATIVE_COUNT = 1, BUCKET_UPPER_BOUND = 2, BUCKET_EXEMPLAR = 3;
const SPAN_OFFSET = 1, SPAN_LENGTH = 2;
const EXEMPLAR_LABEL = 1, EXEMPLAR_VALUE = 2, EXEMPLAR_TIMESTAMP = 3;
/** google.protobuf.Timestamp. */
const TIMESTAMP_SECONDS = 1, TIMESTAMP_NANOS = 2;

/**
 * Renders families in the delimited protobuf format. Counters are named with `_total` and info
 * metrics with `_info`, as in the text formats; info and state-set families become `UNTYPED`
 * (the protobuf format has no such types), a state set with one series per state valued 1 or 0.
 * Classic histograms carry their finite buckets (the `+Inf` one only when it has an exemplar, as
 * client_golang writes them), native ones their schema, zero bucket, spans and deltas.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "@deno-prom/client";
 * import { renderProtobuf } from "@deno-prom/client/exposition";
 * const registry = new Registry();
 * new Counter({ name: "jobs", help: "jobs run", registry }).inc();
 * const bytes: Uint8Array = renderProtobuf(await registry.collect());
 * ```
 */
export function renderProtobuf(families: readonly MetricFamily[]): Uint8Array<ArrayBuffer> {
  const writer = new ProtoWriter(4096);
  for (const family of families) writeFamily(writer, family);
  return writer.finish();
}

function writeFamily(w: ProtoWriter, family: MetricFamily): void {
  const message = w.begin(-1);
  switch (family.type) {
    case "counter":
      header(w, family.name + "_total", family.help, MetricType.COUNTER);
      for (const point of family.points) writeCounter(w, point);
      break;
    case "gauge":
      header(w, family.name, family.help, MetricType.GAUGE);
      for (const point of family.points) writeValue(w, point.labels, METRIC_GAUGE, point.value);
      break;
    case "unknown":
      header(w, family.name, family.help, MetricType.UNTYPED);
      for (const point of family.points) writeValue(w, point.labels, METRIC_UNTYPED, point.value);
      break;
    case "summary":
      header(w, family.name, family.help, MetricType.SUMMARY);
      for (const point of family.points) writeSummary(w, point);
      break;
    case "histogram":
      header(w, family.name, family.help, MetricType.HISTOGRAM);
      for (const point of family.points) writeHistogram(w, point);
      break;
    case "info":
      header(w, family.name + "_info", family.help, MetricType.UNTYPED);
      for (const point of family.points) writeValue(w, point.labels, METRIC_UNTYPED, 1);
      break;
    case "stateset":
      header(w, family.name, family.help, MetricType.UNTYPED);
      for (const point of family.points) {
        for (const state of point.states) {
          const labels = { ...point.labels, [family.name]: state.name };
          writeValue(w, labels, METRIC_UNTYPED, state.enabled ? 1 : 0);
        }
      }
      break;
  }
  w.end(message);
}

function header(w: ProtoWriter, name: string, help: string, type: number): void {
  w.string(FAMILY_NAME, name);
  w.string(FAMILY_HELP, help);
  w.uint(FAMILY_TYPE, type);
}

/** Label pairs sorted by name, as client_golang sorts them. */
function writeLabels(w: ProtoWriter, field: number, labels: Labels): void {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const pair = w.begin(field);
    w.string(LABEL_NAME, name);
    w.string(LABEL_VALUE, labels[name]);
    w.end(pair);
  }
}

/** A `google.protobuf.Timestamp` from seconds since the epoch (zero fields left out, proto3). */
function writeTimestamp(w: ProtoWriter, field: number, seconds: number): void {
  let whole = Math.floor(seconds);
  let nanos = Math.round((seconds - whole) * 1e9);
  if (nanos >= 1e9) {
    whole++;
    nanos -= 1e9;
  }
  const timestamp = w.begin(field);
  if (whole !== 0) w.int64(TIMESTAMP_SECONDS, whole);
  if (nanos !== 0) w.uint(TIMESTAMP_NANOS, nanos);
  w.end(timestamp);
}

function writeExemplar(w: ProtoWriter, field: number, exemplar: Exemplar): void {
  const message = w.begin(field);
  writeLabels(w, EXEMPLAR_LABEL, exemplar.labels);
  w.double(EXEMPLAR_VALUE, exemplar.value);
  if (exemplar.timestamp !== undefined) writeTimestamp(w, EXEMPLAR_TIMESTAMP, exemplar.timestamp);
  w.end(message);
}

/**
 * One `Metric` message: its sorted label pairs, then the value message `field` (Gauge, Counter,
 * Summary, Untyped or Histogram) whose content `writeValue` writes.
 */
function writeMetric(w: ProtoWriter, labels: Labels, field: number, writeValue: () => void): void {
  const metric = w.begin(FAMILY_METRIC);
  writeLabels(w, METRIC_LABEL, labels);
  const value = w.begin(field);
  writeValue();
  w.end(value);
  w.end(metric);
}

/** A Metric holding one Gauge or Untyped value. */
function writeValue(w: ProtoWriter, labels: Labels, field: number, value: number): void {
  writeMetric(w, labels, field, () => w.double(VALUE, value));
}

function writeCounter(w: ProtoWriter, point: CounterPoint): void {
  writeMetric(w, point.labels, METRIC_COUNTER, () => {
    w.double(VALUE, point.value);
    if (point.exemplar !== undefined) writeExemplar(w, COUNTER_EXEMPLAR, point.exemplar);
    if (point.created !== undefined) writeTimestamp(w, COUNTER_CREATED, point.created);
  });
}

function writeSummary(w: ProtoWriter, point: SummaryPoint): void {
  writeMetric(w, point.labels, METRIC_SUMMARY, () => {
    w.uint(SUMMARY_COUNT, point.count);
    w.double(SUMMARY_SUM, point.sum);
    for (const { quantile, value } of point.quantiles) {
      const message = w.begin(SUMMARY_QUANTILE);
      w.double(QUANTILE_QUANTILE, quantile);
      w.double(QUANTILE_VALUE, value);
      w.end(message);
    }
    if (point.created !== undefined) writeTimestamp(w, SUMMARY_CREATED, point.created);
  });
}

function writeHistogram(w: ProtoWriter, point: HistogramPoint): void {
  writeMetric(w, point.labels, METRIC_HISTOGRAM, () => {
    w.uint(HISTOGRAM_COUNT, point.count);
    w.double(HISTOGRAM_SUM, point.sum);
    const { upperBounds, bucketCounts, exemplars } = point;
    const last = upperBounds.length - 1;
    for (let i = 0; i <= last; i++) {
      const exemplar = exemplars?.[i];
      // +Inf is implied by the count; it is written only to carry an exemplar.
      if (i === last && upperBounds[i] === Infinity && exemplar === undefined) break;
      const bucket = w.begin(HISTOGRAM_BUCKET);
      w.uint(BUCKET_CUMULATIVE_COUNT, bucketCounts[i]);
      w.double(BUCKET_UPPER_BOUND, upperBounds[i]);
      if (exemplar !== undefined) writeExemplar(w, BUCKET_EXEMPLAR, exemplar);
      w.end(bucket);
    }
    if (point.schema !== undefined) {
      w.sint(HISTOGRAM_SCHEMA, point.schema);
      w.double(HISTOGRAM_ZERO_THRESHOLD, point.zeroThreshold ?? 0);
      w.uint(HISTOGRAM_ZERO_COUNT, point.zeroCount ?? 0);
      writeSpans(
        w,
        HISTOGRAM_NEGATIVE_SPAN,
        HISTOGRAM_NEGATIVE_DELTA,
        point.negativeSpans,
        point.negativeDeltas,
      );
      writeSpans(
        w,
        HISTOGRAM_POSITIVE_SPAN,
        HISTOGRAM_POSITIVE_DELTA,
        isBlankNative(point) ? NO_OP_SPANS : point.positiveSpans,
        point.positiveDeltas,
      );
    }
    if (point.created !== undefined) writeTimestamp(w, HISTOGRAM_CREATED, point.created);
  });
}

/** One empty span: what marks a histogram as native when nothing else would (see below). */
const NO_OP_SPANS: readonly BucketSpan[] = [{ offset: 0, length: 0 }];

/**
 * A native histogram with a zero threshold of 0, nothing in its zero bucket and no buckets would
 * look classic to Prometheus, which tells them apart by spans or a zero threshold: client_golang
 * then writes one empty span, and so do we.
 */
function isBlankNative(point: HistogramPoint): boolean {
  return (point.zeroThreshold ?? 0) === 0 && (point.zeroCount ?? 0) === 0 &&
    (point.positiveSpans?.length ?? 0) === 0 && (point.negativeSpans?.length ?? 0) === 0;
}

/** Spans, then their deltas (repeated sint64, unpacked as proto2 declares them). */
function writeSpans(
  w: ProtoWriter,
  spanField: number,
  deltaField: number,
  spans: readonly BucketSpan[] | undefined,
  deltas: readonly number[] | undefined,
): void {
  for (const span of spans ?? []) {
    const message = w.begin(spanField);
    w.sint(SPAN_OFFSET, span.offset);
    w.uint(SPAN_LENGTH, span.length);
    w.end(message);
  }
  for (const delta of deltas ?? []) w.sint(deltaField, delta);
}
