/**
 * The rarer remote-write fields (prometheus/prompb): exemplars, native histograms, metadata.
 *
 * @module
 */

import type { ProtoWriter } from "../../encoding/protobuf.ts";
import { escapeExemplar } from "../../exposition/escaping.ts";
import type { NativeBuckets } from "../../metrics/native_histogram.ts";
import type { Exemplar, MetricFamily } from "../../model.ts";
import { writeLabel } from "./labels.ts";

// Field numbers of prometheus/prompb (remote.proto, types.proto).
const REQUEST_METADATA = 3;
const METADATA_TYPE = 1, METADATA_FAMILY_NAME = 2, METADATA_HELP = 4, METADATA_UNIT = 5;
/** prompb `MetricMetadata.MetricType` (info and state sets are gauges in the text format). */
const METADATA_TYPES: Readonly<Record<string, number>> = { unknown: 0, counter: 1, gauge: 2 };
Object.assign(METADATA_TYPES, { histogram: 3, summary: 5, info: 2, stateset: 2 });
const SERIES_EXEMPLARS = 3, SERIES_HISTOGRAMS = 4;
const EXEMPLAR_LABELS = 1, EXEMPLAR_VALUE = 2, EXEMPLAR_TIMESTAMP = 3;
const HISTOGRAM_COUNT = 1, HISTOGRAM_SUM = 3, HISTOGRAM_SCHEMA = 4, HISTOGRAM_ZERO_THRESHOLD = 5;
const HISTOGRAM_ZERO_COUNT = 6, HISTOGRAM_NEGATIVE_SPANS = 8, HISTOGRAM_NEGATIVE_DELTAS = 9;
const HISTOGRAM_POSITIVE_SPANS = 11, HISTOGRAM_POSITIVE_DELTAS = 12, HISTOGRAM_TIMESTAMP = 15;
const SPAN_OFFSET = 1, SPAN_LENGTH = 2;

/**
 * A `TimeSeries.exemplars` field: labels sorted by name (empty values left out), value, and
 * timestamp in milliseconds (the request's when it has none, as a scrape stamps it).
 */
export function exemplarField(out: ProtoWriter, given: Exemplar, timestampMs: number): void {
  const exemplar = escapeExemplar(given, "underscores");
  const message = out.begin(SERIES_EXEMPLARS);
  const labels = exemplar.labels;
  for (const name of Object.keys(labels).sort()) {
    if (labels[name] !== "") writeLabel(out, name, labels[name], EXEMPLAR_LABELS);
  }
  out.double(EXEMPLAR_VALUE, exemplar.value);
  const { timestamp } = exemplar;
  out.int64(
    EXEMPLAR_TIMESTAMP,
    timestamp === undefined ? timestampMs : Math.round(timestamp * 1e3),
  );
  out.end(message);
}

/**
 * A `TimeSeries.histograms` field: one integer `Histogram` (Prometheus 2.40 on). Both oneofs
 * (`count_int`, `zero_count_int`) are written even when 0, as Go writes a set oneof; other
 * scalars only when not 0; deltas packed; no reset hint (the receiver finds resets).
 */
export function nativeHistogramField(
  out: ProtoWriter,
  count: number,
  sum: number,
  buckets: NativeBuckets,
  timestampMs: number,
): void {
  const message = out.begin(SERIES_HISTOGRAMS);
  out.uint(HISTOGRAM_COUNT, count);
  if (sum !== 0) out.double(HISTOGRAM_SUM, sum);
  if (buckets.schema !== 0) out.sint(HISTOGRAM_SCHEMA, buckets.schema);
  if (buckets.zeroThreshold !== 0) out.double(HISTOGRAM_ZERO_THRESHOLD, buckets.zeroThreshold);
  out.uint(HISTOGRAM_ZERO_COUNT, buckets.zeroCount);
  writeSpans(out, HISTOGRAM_NEGATIVE_SPANS, buckets.negativeSpans);
  out.packedSint(HISTOGRAM_NEGATIVE_DELTAS, buckets.negativeDeltas);
  writeSpans(out, HISTOGRAM_POSITIVE_SPANS, buckets.positiveSpans);
  out.packedSint(HISTOGRAM_POSITIVE_DELTAS, buckets.positiveDeltas);
  out.int64(HISTOGRAM_TIMESTAMP, timestampMs);
  out.end(message);
}

function writeSpans(out: ProtoWriter, field: number, spans: NativeBuckets["positiveSpans"]): void {
  for (const span of spans) {
    const message = out.begin(field);
    if (span.offset !== 0) out.sint(SPAN_OFFSET, span.offset);
    if (span.length !== 0) out.uint(SPAN_LENGTH, span.length);
    out.end(message);
  }
}

/** The family's `MetricMetadata`, under the name a text-format scrape records it by. */
export function writeMetadata(out: ProtoWriter, family: MetricFamily): void {
  const suffix = family.type === "counter" ? "_total" : family.type === "info" ? "_info" : "";
  const type = METADATA_TYPES[family.type];
  const metadata = out.begin(REQUEST_METADATA);
  if (type !== 0) out.uint(METADATA_TYPE, type);
  out.string(METADATA_FAMILY_NAME, family.name + suffix);
  if (family.help !== "") out.string(METADATA_HELP, family.help);
  if (family.unit !== undefined && family.unit !== "") out.string(METADATA_UNIT, family.unit);
  out.end(metadata);
}
