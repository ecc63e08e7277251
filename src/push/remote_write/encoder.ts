/**
 * The remote-write 1.0 `WriteRequest` encoder (prometheus/prompb): series named as a scrape of
 * the text format 0.0.4 stores them, each with one sample at the request's timestamp, and one
 * `MetricMetadata` per family. A registry's counters, gauges and histograms are encoded from
 * their storage (`stored_series.ts`: numbers from the typed arrays, each distinct label value
 * encoded once), everything else from its snapshot; both give the same bytes. The series
 * are encoded into one buffer with their boundaries recorded, so that batching can cut the
 * request between any two series; compression is the general Snappy compressor's.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import { formatBounds, formatFloat, hasSum } from "../../exposition/format.ts";
import type { NativeBuckets } from "../../metrics/native_histogram.ts";
import { nativeBucketsOf } from "../../metrics/native_histogram.ts";
import type { CounterPoint, Exemplar, HistogramPoint, Labels, MetricFamily } from "../../model.ts";
import {
  type ExtraLabels,
  labelMessage,
  type MergePlan,
  mergePlan,
  sameKeys,
  writeLabel,
} from "./labels.ts";
import { exemplarField, nativeHistogramField, writeMetadata } from "./fields.ts";
import { type BucketExemplars, storedLabels, type StoredSeries } from "./stored_series.ts";

export { type StoredSeries, storedSeries } from "./stored_series.ts";

// Field numbers of prometheus/prompb (remote.proto, types.proto).
const REQUEST_SERIES = 1;
const SERIES_LABELS = 1, SERIES_SAMPLES = 2;
const SAMPLE_VALUE = 1, SAMPLE_TIMESTAMP = 2;
/** Tag bytes (wire type included) of a series, a sample, a sample's value and timestamp. */
const SERIES_TAG = REQUEST_SERIES * 8 + 2, SAMPLE_TAG = SERIES_SAMPLES * 8 + 2;
const VALUE_TAG = SAMPLE_VALUE * 8 + 1, TIMESTAMP_TAG = SAMPLE_TIMESTAMP * 8;

/**
 * Prometheus' staleness marker: a NaN with this bit pattern (0x7ff0000000000002) says "this
 * series ended". Any other NaN is an ordinary value.
 */
export const STALE_NAN_BITS = 0x7ff0000000000002n;
const STALE_NAN = new Float64Array(new BigUint64Array([STALE_NAN_BITS]).buffer)[0];

export { type ExtraLabels, extraLabels, remoteWriteLabels } from "./labels.ts";

/** What else than samples a request carries. */
export interface WriteOptions {
  /** Counters' and classic histogram buckets' exemplars (default true). */
  readonly exemplars?: boolean;
  /** Native histograms, each in a series of its own (default true). */
  readonly nativeHistograms?: boolean;
}

/** What a write encodes: snapshots (names escaped) and metrics read from storage. */
export type WriteItem = MetricFamily | StoredSeries;

/**
 * The encoded series of one write: every `TimeSeries` field (tag and length included) one
 * after another in `bytes`, series `i` from `ends[i - 1]` (0 for the first) to `ends[i]`, its
 * labels from `labelStarts[i]` to `labelEnds[i]`; `families[i]` is the index of its family in
 * `metadata` (-1 for a staleness marker), `metadata[f]` that family's `MetricMetadata` field.
 */
export interface EncodedSeries {
  readonly bytes: Uint8Array;
  readonly count: number;
  readonly ends: Int32Array;
  readonly labelStarts: Int32Array;
  readonly labelEnds: Int32Array;
  readonly families: Int32Array;
  readonly metadata: readonly Uint8Array[];
  /** Each family's name, for messages. */
  readonly names: readonly string[];
}

/**
 * Encodes the items' series, then the series `ended` gives (the label bytes of series that
 * ended, given those written) with a staleness marker each. Throws a `TypeError` for a series
 * without `job` when the extra labels have none.
 */
export function encodeSeries(
  items: readonly WriteItem[],
  extra: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
  ended?: (encoder: SeriesEncoder) => readonly Uint8Array[],
): EncodedSeries {
  const encoder = new SeriesEncoder(extra, timestampMs, options);
  for (let f = 0; f < items.length; f++) {
    const item = items[f];
    if ("storage" in item) encoder.stored(item, f);
    else encoder.family(item, f);
  }
  for (const labels of ended?.(encoder) ?? []) encoder.stale(labels);
  // A metric read from storage has a family without points for its metadata.
  return encoder.finish(items.map((item) => "storage" in item ? item.family : item));
}

/**
 * One `WriteRequest` (not compressed) of all the items' series, then their metadata: what a
 * write sends when it fits in one request.
 */
export function encodeWriteRequest(
  items: readonly WriteItem[],
  extra: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array<ArrayBuffer> {
  const encoded = encodeSeries(items, extra, timestampMs, options);
  const all = encoded.metadata.map((_, f) => f);
  return requestBytes(encoded, 0, encoded.count, all);
}

/** A `WriteRequest` of series `[from, to)` of `encoded`, then the metadata of `families`. */
export function requestBytes(
  encoded: EncodedSeries,
  from: number,
  to: number,
  families: readonly number[],
): Uint8Array<ArrayBuffer> {
  const start = from === 0 ? 0 : encoded.ends[from - 1];
  const parts = [encoded.bytes.subarray(start, to === 0 ? 0 : encoded.ends[to - 1])];
  for (const f of families) parts.push(encoded.metadata[f]);
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) at = copy(part, 0, part.length, bytes, at);
  return bytes;
}

/** Grows an Int32Array to hold at least `needed` entries, keeping its contents. */
function grown(array: Int32Array<ArrayBuffer>, needed: number): Int32Array<ArrayBuffer> {
  if (needed <= array.length) return array;
  const bigger = new Int32Array(Math.max(needed, array.length * 2));
  bigger.set(array);
  return bigger;
}

/**
 * Writes series one label set at a time: its labels merged with the extra ones are laid out
 * once in `#point` (with the byte positions where `__name__` and the sample's extra label go),
 * then each of its series is that layout with its name (and extra) label spliced in, a sample,
 * and what follows the sample (an exemplar) or replaces it (a native histogram).
 */
export class SeriesEncoder {
  readonly #extra: ExtraLabels;
  readonly #timestampMs: number;
  readonly #exemplars: boolean;
  readonly #natives: boolean;
  // The request's series, and the current label set, written by hand: the bytes of the hot
  // path (labels, samples) need no general protobuf writer.
  #out = new Uint8Array(64 * 1024);
  #outLength = 0;
  #point = new Uint8Array(256);
  #pointLength = 0;
  readonly #general = new ProtoWriter(256);
  readonly #tail = new ProtoWriter(256);
  /** The varint of the timestamp, and a sample's length (value and timestamp fields). */
  readonly #timestamp: Uint8Array;
  readonly #sampleLength: number;
  readonly #value = new Float64Array(1);
  readonly #valueBytes = new Uint8Array(this.#value.buffer);
  readonly #labelCache = new Map<string, Uint8Array>();
  /** The `le` labels of each bounds array (a metric's points share theirs). */
  readonly #bounds = new Map<readonly number[], Uint8Array[]>();
  #plan: MergePlan | undefined;
  /** Where, in the label set's layout, the first and the second spliced label go. */
  #firstAt = 0;
  #secondAt = 0;
  #nameFirst = true;
  #count = 0;
  #ends = new Int32Array(1024);
  #labelStarts = new Int32Array(1024);
  #labelEnds = new Int32Array(1024);
  #families = new Int32Array(1024);
  #family = -1;

  constructor(extra: ExtraLabels, timestampMs: number, options: WriteOptions) {
    this.#extra = extra;
    this.#timestampMs = timestampMs;
    this.#exemplars = options.exemplars ?? true;
    this.#natives = options.nativeHistograms ?? true;
    const timestamp = new ProtoWriter(16);
    timestamp.varint(timestampMs);
    this.#timestamp = timestamp.finish();
    this.#sampleLength = 1 + 8 + 1 + this.#timestamp.length;
  }

  /** A cached `Label` message (names, bounds, quantiles, states repeat in a request). */
  #label(name: string, value: string): Uint8Array {
    const key = name + "\u0000" + value;
    const bytes = this.#labelCache.get(key) ?? labelMessage(name, value);
    this.#labelCache.set(key, bytes);
    return bytes;
  }

  #boundLabels(upperBounds: readonly number[]): Uint8Array[] {
    let labels = this.#bounds.get(upperBounds);
    if (labels === undefined) {
      labels = formatBounds(upperBounds).map((bound) => this.#label("le", bound));
      this.#bounds.set(upperBounds, labels);
    }
    return labels;
  }

  /** The `__name__` labels of a histogram's series. */
  #histogramNames(name: string): Uint8Array[] {
    return ["_bucket", "_count", "_sum", ""].map((suffix) =>
      this.#label("__name__", name + suffix)
    );
  }

  /** Writes the series of the snapshot `family`, the `index`th family of the request. */
  family(family: MetricFamily, index: number): void {
    this.#family = index;
    const name = family.name;
    switch (family.type) {
      case "counter":
      case "gauge":
      case "unknown":
      case "info": {
        const suffix = family.type === "counter" ? "_total" : family.type === "info" ? "_info" : "";
        const nameLabel = this.#label("__name__", name + suffix);
        for (const point of family.points as readonly CounterPoint[]) {
          this.#layOutPoint(point.labels, name, undefined, family.points.length);
          this.#sampleSeries(nameLabel, point.value ?? 1, point.exemplar);
        }
        return;
      }
      case "histogram": {
        const names = this.#histogramNames(name);
        for (const point of family.points) {
          const bounds = this.#boundLabels(point.upperBounds);
          this.#layOutPoint(point.labels, name, "le", family.points.length * (bounds.length + 3));
          const sum = hasSum(point) ? point.sum : undefined;
          this.#histogramSeries(names, bounds, point.bucketCounts, sum, point.exemplars);
          const native = this.#natives ? nativeBucketsOf(point) : undefined;
          if (native !== undefined) this.#nativeSeries(names[3], point.count, point.sum, native);
        }
        return;
      }
      case "summary": {
        const quantileName = this.#label("__name__", name);
        const countName = this.#label("__name__", name + "_count");
        const sumName = this.#label("__name__", name + "_sum");
        for (const point of family.points) {
          this.#layOutPoint(point.labels, name, "quantile", family.points.length * 5);
          for (const { quantile, value } of point.quantiles) {
            const label = this.#label("quantile", formatFloat(quantile));
            this.#series(quantileName, label, value, true, undefined);
          }
          this.#series(countName, undefined, point.count, true, undefined);
          this.#series(sumName, undefined, point.sum, true, undefined);
        }
        return;
      }
      case "stateset": {
        const nameLabel = this.#label("__name__", name);
        for (const point of family.points) {
          this.#layOutPoint(point.labels, name, name, family.points.length * point.states.length);
          for (const state of point.states) {
            const label = this.#label(name, state.name);
            this.#series(nameLabel, label, state.enabled ? 1 : 0, true, undefined);
          }
        }
        return;
      }
    }
  }

  /**
   * Writes the series of a metric read from storage (the same series, in the same order, as
   * `family` writes of its snapshot), the `index`th family of the request.
   */
  stored(item: StoredSeries, index: number): void {
    this.#family = index;
    const { labels, numbers, side, total } = item;
    const layout = item.storage.layout;
    const name = item.family.name;
    const merge = storedLabels(item, this.#extra, layout.type === "histogram" ? "le" : undefined);
    const stride = layout.numberStride;
    let writeSeries: (slot: number) => void;
    let perSlot = 1;
    if (layout.type === "counter") {
      const nameLabel = this.#label("__name__", name + "_total");
      writeSeries = (slot) =>
        this.#sampleSeries(
          nameLabel,
          total ?? numbers[slot * stride + layout.totalOffset],
          side?.[slot] as Exemplar | undefined,
        );
    } else if (layout.type === "gauge") {
      // A gauge with value functions (`setFunction`) is gathered as a snapshot.
      const nameLabel = this.#label("__name__", name);
      writeSeries = (slot) =>
        this.#series(
          nameLabel,
          undefined,
          numbers[slot * stride + layout.valueOffset],
          true,
          undefined,
        );
    } else {
      const names = this.#histogramNames(name);
      const bounds = this.#boundLabels(layout.upperBounds);
      const { counts, natives } = item;
      const cumulative = new Array<number>(bounds.length);
      const withSum = hasSum({ upperBounds: layout.upperBounds } as HistogramPoint);
      perSlot = bounds.length + 3;
      writeSeries = (slot) => {
        let count = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative[i] = count += counts[slot * bounds.length + i];
        }
        const sum = numbers[slot * stride + layout.sumOffset];
        const exemplars = side?.[slot] as BucketExemplars | undefined;
        this.#histogramSeries(names, bounds, cumulative, withSum ? sum : undefined, exemplars);
        const native = this.#natives ? natives?.[slot] : undefined;
        if (native !== undefined) this.#nativeSeries(names[3], count, sum, native);
      };
    }
    for (let slot = 0; slot < labels.slotCount; slot++) {
      // An overflow series (series lifecycle) has its own labels only in snapshots: a metric
      // with one is gathered as a snapshot, and one made since waits for the next write.
      if (!labels.isLive(slot) || slot === labels.overflowSlot) continue;
      merge.at(slot);
      this.#layOut(merge.plan, name, labels.slotCount * perSlot, merge.labelOf);
      writeSeries(slot);
    }
  }

  /** A counter's or gauge's series: a sample, and the exemplar if any (and wanted). */
  #sampleSeries(nameLabel: Uint8Array, value: number, exemplar: Exemplar | undefined): void {
    const tail = exemplar === undefined || !this.#exemplars
      ? undefined
      : this.#exemplarTail(exemplar);
    this.#series(nameLabel, undefined, value, true, tail);
  }

  /** A classic histogram's series: buckets (cumulative counts), `_count`, and `_sum` if given. */
  #histogramSeries(
    names: readonly Uint8Array[],
    bounds: readonly Uint8Array[],
    cumulative: readonly number[],
    sum: number | undefined,
    exemplars: BucketExemplars | undefined,
  ): void {
    for (let i = 0; i < bounds.length; i++) {
      const exemplar = this.#exemplars ? exemplars?.[i] : undefined;
      const tail = exemplar === undefined ? undefined : this.#exemplarTail(exemplar);
      this.#series(names[0], bounds[i], cumulative[i], true, tail);
    }
    const count = cumulative[bounds.length - 1];
    this.#series(names[1], undefined, count, true, undefined);
    if (sum !== undefined) this.#series(names[2], undefined, sum, true, undefined);
  }

  #nativeSeries(nameLabel: Uint8Array, count: number, sum: number, native: NativeBuckets): void {
    this.#series(nameLabel, undefined, 0, false, this.#nativeTail(count, sum, native));
  }

  /** Makes room for `series` more series like the current one, at once (see `#growOut`). */
  #reserve(series: number): void {
    const expected = Math.ceil(series * (this.#pointLength + 64 + this.#sampleLength) * 1.1);
    if (this.#outLength + expected > this.#out.length) this.#growOut(expected);
    const count = this.#count + series;
    this.#ends = grown(this.#ends, count);
    this.#labelStarts = grown(this.#labelStarts, count);
    this.#labelEnds = grown(this.#labelEnds, count);
    this.#families = grown(this.#families, count);
  }

  /** How many series have been written. */
  get count(): number {
    return this.#count;
  }

  /**
   * Where the `Label` fields of each series written are: series `i`'s from `starts[i]` to
   * `ends[i]` of `bytes` (views of the encoder's buffers, valid until it writes again).
   */
  labels(): { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } {
    return { bytes: this.#out, starts: this.#labelStarts, ends: this.#labelEnds };
  }

  /** A series that ended: its labels as last sent, and a staleness marker. */
  stale(labels: Uint8Array): void {
    this.#family = -1;
    this.#pointLength = 0;
    this.#addToPoint(labels);
    this.#firstAt = this.#secondAt = labels.length;
    this.#series(undefined, undefined, STALE_NAN, true, undefined);
  }

  /** The series written, and the metadata of `families` (those of the items written). */
  finish(families: readonly MetricFamily[]): EncodedSeries {
    const metadata = new ProtoWriter(256);
    return {
      bytes: this.#out.subarray(0, this.#outLength),
      count: this.#count,
      ends: this.#ends,
      labelStarts: this.#labelStarts,
      labelEnds: this.#labelEnds,
      families: this.#families,
      metadata: families.map((family) => {
        metadata.reset();
        writeMetadata(metadata, family);
        return metadata.finish();
      }),
      names: families.map((family) => family.name),
    };
  }

  /** The plan of a snapshot point's labels (made again for each family and key list). */
  #planOf(labels: Labels, extraName: string | undefined): MergePlan {
    const keys = Object.keys(labels);
    let plan = this.#plan;
    if (
      plan === undefined || this.#family !== this.#planFamily || plan.extraName !== extraName ||
      !sameKeys(plan.keys, keys)
    ) {
      plan = this.#plan = mergePlan(keys, this.#extra, extraName);
      this.#planFamily = this.#family;
    }
    return plan;
  }

  /** The family whose point `#plan` was made for. */
  #planFamily = -1;

  /** `#layOut` of a snapshot point's labels: each own label encoded here. */
  #layOutPoint(labels: Labels, family: string, extraName: string | undefined, series: number) {
    const plan = this.#planOf(labels, extraName);
    this.#layOut(plan, family, series, (k) => {
      const name = plan.ownNames[k];
      if (name === undefined || labels[name] === "") return undefined;
      const general = this.#general;
      general.reset();
      writeLabel(general, SERIES_LABELS, name, labels[name]);
      return general.view();
    });
  }

  /**
   * Lays out a label set merged with the extra ones in `#point` as `plan` says, with the places
   * where `__name__` and the extra label go: `labelOf(k)` gives step k's own `Label`, or none
   * (or an empty one for an empty value: no label, the extra one of its name applies). Throws
   * without a `job` label. On a new plan, makes room for `series` series.
   */
  #layOut(
    plan: MergePlan,
    family: string,
    series: number,
    labelOf: (k: number) => Uint8Array | undefined,
  ): void {
    this.#pointLength = 0;
    let hasJob = this.#extra.hasJob;
    let nameAt = -1;
    let extraAt = -1;
    const steps = plan.ownNames.length;
    for (let k = 0; k <= steps; k++) {
      if (k === plan.nameAt) nameAt = this.#pointLength;
      if (k === plan.extraAt) extraAt = this.#pointLength;
      if (k === steps) break;
      let bytes = labelOf(k);
      if (bytes === undefined || bytes.length === 0) bytes = plan.added[k];
      else if (k === plan.jobAt) hasJob = true;
      if (bytes !== undefined) this.#addToPoint(bytes);
    }
    if (!hasJob) {
      throw new TypeError(
        `a series of "${family}" has no job label: give remote write labels: { job: "…" }`,
      );
    }
    this.#nameFirst = plan.extraName === undefined || "__name__" < plan.extraName;
    this.#firstAt = this.#nameFirst ? nameAt : extraAt;
    this.#secondAt = this.#nameFirst ? extraAt : nameAt;
    if (this.#laidOut !== plan) this.#reserve(series);
    this.#laidOut = plan;
  }

  /** The plan of the last layout. */
  #laidOut: MergePlan | undefined;

  /** A sample of `value` at the request's timestamp, at `at` of `out`; returns its end. */
  #sample(out: Uint8Array, at: number, value: number): number {
    out[at++] = SAMPLE_TAG;
    out[at++] = this.#sampleLength;
    out[at++] = VALUE_TAG;
    this.#value[0] = value;
    at = copy(this.#valueBytes, 0, 8, out, at);
    out[at++] = TIMESTAMP_TAG;
    return copy(this.#timestamp, 0, this.#timestamp.length, out, at);
  }

  /** Records a series that ends at `#outLength`, its labels from `labelStart` to `labelEnd`. */
  #record(labelStart: number, labelEnd: number): void {
    const i = this.#count++;
    if (i === this.#ends.length) {
      this.#ends = grown(this.#ends, i + 1);
      this.#labelStarts = grown(this.#labelStarts, i + 1);
      this.#labelEnds = grown(this.#labelEnds, i + 1);
      this.#families = grown(this.#families, i + 1);
    }
    this.#ends[i] = this.#outLength;
    this.#labelStarts[i] = labelStart;
    this.#labelEnds[i] = labelEnd;
    this.#families[i] = this.#family;
  }

  /**
   * One `TimeSeries`: the label set with `nameLabel` and `extraLabel` spliced in, a sample of
   * `value` (unless `withSample` is false), then `tail` if any.
   */
  #series(
    nameLabel: Uint8Array | undefined,
    extraLabel: Uint8Array | undefined,
    value: number,
    withSample: boolean,
    tail: Uint8Array | undefined,
  ): void {
    const point = this.#point;
    const pointLength = this.#pointLength;
    const first = this.#nameFirst ? nameLabel : extraLabel;
    const second = this.#nameFirst ? extraLabel : nameLabel;
    const labelsLength = pointLength + (first?.length ?? 0) + (second?.length ?? 0);
    const content = labelsLength + (withSample ? 2 + this.#sampleLength : 0) +
      (tail?.length ?? 0);
    if (this.#outLength + content + 6 > this.#out.length) this.#growOut(content + 6);
    const out = this.#out;
    let at = this.#outLength;
    out[at++] = SERIES_TAG;
    at = writeVarint(out, at, content);
    const labelStart = at;
    at = copy(point, 0, this.#firstAt, out, at);
    if (first !== undefined) at = copy(first, 0, first.length, out, at);
    at = copy(point, this.#firstAt, this.#secondAt, out, at);
    if (second !== undefined) at = copy(second, 0, second.length, out, at);
    at = copy(point, this.#secondAt, pointLength, out, at);
    const labelEnd = at;
    if (withSample) at = this.#sample(out, at, value);
    if (tail !== undefined) at = copy(tail, 0, tail.length, out, at);
    this.#outLength = at;
    this.#record(labelStart, labelEnd);
  }

  /** Grows the output: at once by what is expected (growing step by step copies it often). */
  #growOut(extra: number): void {
    const bigger = new Uint8Array(Math.max(this.#out.length * 2, this.#outLength + extra));
    bigger.set(this.#out.subarray(0, this.#outLength));
    this.#out = bigger;
  }

  #addToPoint(bytes: Uint8Array): void {
    const length = this.#pointLength;
    if (length + bytes.length > this.#point.length) {
      const bigger = new Uint8Array(Math.max(this.#point.length * 2, length + bytes.length));
      bigger.set(this.#point.subarray(0, length));
      this.#point = bigger;
    }
    this.#pointLength = copy(bytes, 0, bytes.length, this.#point, length);
  }

  /** A `TimeSeries.exemplars` field (a view of `#tail`, valid until the next tail). */
  #exemplarTail(exemplar: Exemplar): Uint8Array {
    this.#tail.reset();
    exemplarField(this.#tail, exemplar, this.#timestampMs);
    return this.#tail.view();
  }

  /** A `TimeSeries.histograms` field (a view of `#tail`, valid until the next tail). */
  #nativeTail(count: number, sum: number, buckets: NativeBuckets): Uint8Array {
    this.#tail.reset();
    nativeHistogramField(this.#tail, count, sum, buckets, this.#timestampMs);
    return this.#tail.view();
  }
}

/** Writes `value` as a varint at `at` of `out`; returns where it ends. */
function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Copies `from[start, end)` to `to` at `at`; returns where it ends. Short runs by hand. */
function copy(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  if (end - start > 64) {
    to.set(from.subarray(start, end), at);
    return at + end - start;
  }
  for (let i = start; i < end; i++) to[at++] = from[i];
  return at;
}
