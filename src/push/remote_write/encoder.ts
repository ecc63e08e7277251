/**
 * The remote-write 1.0 `WriteRequest` encoder (prometheus/prompb): series named as a text-format
 * scrape stores them, one sample each at the request's timestamp, one `MetricMetadata` per
 * family. Registry metrics are read from storage (`stored_series.ts`), others from snapshots;
 * both give the same bytes. Series boundaries are recorded so that batching can cut anywhere.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import { formatBounds, formatFloat, hasSum } from "../../exposition/format.ts";
import { type NativeBuckets, nativeBucketsOf } from "../../metrics/native_histogram.ts";
import type { CounterPoint, Exemplar, HistogramPoint, Labels, MetricFamily } from "../../model.ts";
import {
  type ExtraLabels,
  labelMessage,
  type MergePlan,
  mergePlan,
  storedLabels,
  writeLabel,
} from "./labels.ts";
import { exemplarField, nativeHistogramField, writeMetadata } from "./fields.ts";
import type { BucketExemplars, StoredSeries } from "./stored_series.ts";

export { type ExtraLabels, extraLabels, remoteWriteLabels } from "./labels.ts";

// Tags (field number × 8 + wire type) of WriteRequest.timeseries, TimeSeries.samples,
// Sample.value and Sample.timestamp.
const SERIES_TAG = 1 * 8 + 2, SAMPLE_TAG = 2 * 8 + 2, VALUE_TAG = 1 * 8 + 1, TIMESTAMP_TAG = 2 * 8;
/** Prometheus' staleness marker: the NaN 0x7ff0000000000002 ("this series ended"). */
const STALE_NAN = new Float64Array(new BigUint64Array([0x7ff0000000000002n]).buffer)[0];

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
 * The encoded series of one write: every `TimeSeries` field one after another in `bytes`,
 * series `i` ending at `ends[i]`, its labels from `labelStarts[i]` to `labelEnds[i]`, of the
 * family `families[i]` (-1 for a staleness marker) whose `MetricMetadata` is `metadata[f]`.
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
 * Encodes the items' series, then a staleness marker for each label set `ended` gives (given
 * the series written). Throws a `TypeError` for a series without `job`.
 */
export function encodeSeries(
  items: readonly WriteItem[],
  extra: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
  ended?: (encoder: SeriesEncoder) => readonly Uint8Array[],
): EncodedSeries {
  const encoder = new SeriesEncoder(extra, timestampMs, options);
  items.forEach((item, f) => "storage" in item ? encoder.stored(item, f) : encoder.family(item, f));
  for (const labels of ended?.(encoder) ?? []) encoder.stale(labels);
  return encoder.finish(items.map((item) => "storage" in item ? item.family : item));
}

/** One uncompressed `WriteRequest` of all the items' series, then their metadata. */
export function encodeWriteRequest(
  items: readonly WriteItem[],
  extra: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array<ArrayBuffer> {
  const encoded = encodeSeries(items, extra, timestampMs, options);
  return requestBytes(encoded, 0, encoded.count, encoded.metadata.map((_, f) => f));
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
  parts.reduce((at, part) => copy(part, 0, part.length, bytes, at), 0);
  return bytes;
}

/**
 * Writes series one label set at a time: laid out once in `#labelSet` (merged with the extra
 * labels), each of its series is that layout with `__name__` and the sample's own label (`le`,
 * `quantile`, a state) spliced in, a sample, and an exemplar or a native histogram.
 */
export class SeriesEncoder {
  readonly #extra: ExtraLabels;
  readonly #timestampMs: number;
  readonly #exemplars: boolean;
  readonly #natives: boolean;
  #out = new Uint8Array(64 * 1024);
  #outLength = 0;
  #labelSet = new Uint8Array(256);
  #labelSetLength = 0;
  /** Where in `#labelSet` the first and the second spliced label go, and which is first. */
  #firstSpliceAt = 0;
  #secondSpliceAt = 0;
  #nameFirst = true;
  readonly #general = new ProtoWriter(256);
  /** The varint of the timestamp, and a sample's length (value and timestamp fields). */
  readonly #timestamp: Uint8Array;
  readonly #sampleLength: number;
  readonly #value = new Float64Array(1);
  readonly #valueBytes = new Uint8Array(this.#value.buffer);
  readonly #labelCache = new Map<string, Uint8Array>();
  /** The `le` labels of each bounds array (a metric's points share theirs). */
  readonly #boundsCache = new Map<readonly number[], Uint8Array[]>();
  /** The merge plan of the last snapshot point, and its family's index. */
  #plan: MergePlan | undefined;
  #planFamily = -1;
  #count = 0;
  #ends = new Int32Array(1024);
  #labelStarts = new Int32Array(1024);
  #labelEnds = new Int32Array(1024);
  #families = new Int32Array(1024);
  #family = -1;
  /** The plan of the last layout. */
  #laidOut: MergePlan | undefined;

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

  /** How many series have been written. */
  get count(): number {
    return this.#count;
  }

  /** Where each series' labels are in `bytes` (views, valid until the encoder writes again). */
  labels(): { bytes: Uint8Array; starts: Int32Array; ends: Int32Array } {
    return { bytes: this.#out, starts: this.#labelStarts, ends: this.#labelEnds };
  }

  /** Writes the series of the snapshot `family`, the `index`th item of the request. */
  family(family: MetricFamily, index: number): void {
    this.#family = index;
    const name = family.name;
    if (family.type === "histogram") {
      const names = this.#histogramNames(name);
      for (const point of family.points) {
        const series = family.points.length * (point.upperBounds.length + 3);
        this.#layOutPoint(point.labels, name, "le", series);
        const sum = hasSum(point) ? point.sum : undefined;
        const bounds = this.#boundLabels(point.upperBounds);
        this.#histogramSeries(names, bounds, point.bucketCounts, sum, point.exemplars);
        const native = this.#natives ? nativeBucketsOf(point) : undefined;
        if (native !== undefined) this.#nativeSeries(names[3], point.count, point.sum, native);
      }
    } else if (family.type === "summary") {
      const [countName, sumName, quantileName] = this.#histogramNames(name).slice(1);
      for (const point of family.points) {
        this.#layOutPoint(point.labels, name, "quantile", family.points.length * 5);
        for (const { quantile, value } of point.quantiles) {
          this.#series(quantileName, this.#label("quantile", formatFloat(quantile)), value);
        }
        this.#series(countName, undefined, point.count);
        this.#series(sumName, undefined, point.sum);
      }
    } else if (family.type === "stateset") {
      const nameLabel = this.#label("__name__", name);
      for (const point of family.points) {
        this.#layOutPoint(point.labels, name, name, family.points.length * point.states.length);
        for (const state of point.states) {
          this.#series(nameLabel, this.#label(name, state.name), state.enabled ? 1 : 0);
        }
      }
    } else {
      const suffix = family.type === "counter" ? "_total" : family.type === "info" ? "_info" : "";
      const nameLabel = this.#label("__name__", name + suffix);
      for (const point of family.points as readonly CounterPoint[]) {
        this.#layOutPoint(point.labels, name, undefined, family.points.length);
        this.#sampleSeries(nameLabel, point.value ?? 1, point.exemplar);
      }
    }
  }

  /** Writes a metric read from storage: the same bytes as `family` of its snapshot. */
  stored(item: StoredSeries, index: number): void {
    this.#family = index;
    const { labels, numbers, side, total } = item;
    const layout = item.storage.layout;
    const name = item.family.name;
    const extraName = layout.type === "histogram" ? "le" : undefined;
    const merge = storedLabels(labels, item.defaults, this.#extra, extraName);
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
      const nameLabel = this.#label("__name__", name);
      writeSeries = (slot) =>
        this.#series(nameLabel, undefined, numbers[slot * stride + layout.valueOffset]);
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
      // A metric with an overflow series is gathered as a snapshot; one made since waits.
      if (!labels.isLive(slot) || slot === labels.overflowSlot) continue;
      merge.at(slot);
      this.#layOut(merge.plan, name, labels.slotCount * perSlot, merge.labelOf);
      writeSeries(slot);
    }
  }

  /** A series that ended: its labels as last sent, and a staleness marker. */
  stale(labels: Uint8Array): void {
    this.#family = -1;
    this.#labelSetLength = 0;
    this.#addToLabelSet(labels);
    this.#firstSpliceAt = this.#secondSpliceAt = labels.length;
    this.#series(undefined, undefined, STALE_NAN);
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

  /** A cached `Label` message (names, bounds, quantiles, states repeat in a request). */
  #label(name: string, value: string): Uint8Array {
    const key = name + "\u0000" + value;
    const bytes = this.#labelCache.get(key) ?? labelMessage(name, value);
    this.#labelCache.set(key, bytes);
    return bytes;
  }

  #boundLabels(upperBounds: readonly number[]): Uint8Array[] {
    let labels = this.#boundsCache.get(upperBounds);
    if (labels === undefined) {
      labels = formatBounds(upperBounds).map((bound) => this.#label("le", bound));
      this.#boundsCache.set(upperBounds, labels);
    }
    return labels;
  }

  /** The `__name__` labels of `_bucket`, `_count`, `_sum` and the bare name. */
  #histogramNames(name: string): Uint8Array[] {
    return ["_bucket", "_count", "_sum", ""].map((suffix) =>
      this.#label("__name__", name + suffix)
    );
  }

  /** A counter's or gauge's series: a sample, and the exemplar if any (and wanted). */
  #sampleSeries(nameLabel: Uint8Array, value: number, exemplar: Exemplar | undefined): void {
    const wanted = exemplar !== undefined && this.#exemplars;
    this.#series(nameLabel, undefined, value, wanted ? this.#exemplarField(exemplar) : undefined);
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
      const field = exemplar === undefined ? undefined : this.#exemplarField(exemplar);
      this.#series(names[0], bounds[i], cumulative[i], field);
    }
    this.#series(names[1], undefined, cumulative[bounds.length - 1]);
    if (sum !== undefined) this.#series(names[2], undefined, sum);
  }

  /** A native histogram's series: a `histograms` field in place of a sample. */
  #nativeSeries(nameLabel: Uint8Array, count: number, sum: number, native: NativeBuckets): void {
    this.#general.reset();
    nativeHistogramField(this.#general, count, sum, native, this.#timestampMs);
    this.#series(nameLabel, undefined, undefined, this.#general.view());
  }

  /** A `TimeSeries.exemplars` field (a view, valid until the general writer writes again). */
  #exemplarField(exemplar: Exemplar): Uint8Array {
    this.#general.reset();
    exemplarField(this.#general, exemplar, this.#timestampMs);
    return this.#general.view();
  }

  /** `#layOut` of a snapshot point's labels, each own label encoded here. */
  #layOutPoint(labels: Labels, family: string, extraName: string | undefined, series: number) {
    const keys = Object.keys(labels);
    let plan = this.#plan;
    if (
      plan === undefined || this.#family !== this.#planFamily || plan.extraName !== extraName ||
      plan.keys.length !== keys.length || plan.keys.some((key, i) => key !== keys[i])
    ) {
      plan = this.#plan = mergePlan(keys, this.#extra, extraName);
      this.#planFamily = this.#family;
    }
    const ownNames = plan.ownNames;
    this.#layOut(plan, family, series, (k) => {
      const name = ownNames[k];
      if (name === undefined || labels[name] === "") return undefined;
      this.#general.reset();
      writeLabel(this.#general, name, labels[name]);
      return this.#general.view();
    });
  }

  /**
   * Lays out a label set merged with the extra ones in `#labelSet` as `plan` says, and where
   * the spliced labels go: `labelOf(k)` gives step k's own `Label`, or none or an empty one (the
   * extra label of its name applies). Throws without a `job` label. On a new plan, makes room
   * for `series` series like this one at once (growing step by step copies the output often).
   */
  #layOut(
    plan: MergePlan,
    family: string,
    series: number,
    labelOf: (k: number) => Uint8Array | undefined,
  ): void {
    this.#labelSetLength = 0;
    let hasJob = this.#extra.hasJob;
    let nameAt = -1;
    let extraAt = -1;
    const steps = plan.ownNames.length;
    for (let k = 0; k <= steps; k++) {
      if (k === plan.nameAt) nameAt = this.#labelSetLength;
      if (k === plan.extraAt) extraAt = this.#labelSetLength;
      if (k === steps) break;
      let bytes = labelOf(k);
      if (bytes === undefined || bytes.length === 0) bytes = plan.added[k];
      else if (k === plan.jobAt) hasJob = true;
      if (bytes !== undefined) this.#addToLabelSet(bytes);
    }
    if (!hasJob) {
      throw new TypeError(
        `a series of "${family}" has no job label: give remote write labels: { job: "…" }`,
      );
    }
    this.#nameFirst = plan.extraName === undefined || "__name__" < plan.extraName;
    this.#firstSpliceAt = this.#nameFirst ? nameAt : extraAt;
    this.#secondSpliceAt = this.#nameFirst ? extraAt : nameAt;
    if (this.#laidOut === plan) return;
    this.#laidOut = plan;
    const expected = Math.ceil(series * (this.#labelSetLength + 64 + this.#sampleLength) * 1.1);
    this.#out = grown(this.#out, this.#outLength, expected);
    this.#growIndex(this.#count + series);
  }

  #growIndex(count: number): void {
    const written = this.#count;
    this.#ends = grown(this.#ends, written, count - written);
    this.#labelStarts = grown(this.#labelStarts, written, count - written);
    this.#labelEnds = grown(this.#labelEnds, written, count - written);
    this.#families = grown(this.#families, written, count - written);
  }

  #addToLabelSet(bytes: Uint8Array): void {
    this.#labelSet = grown(this.#labelSet, this.#labelSetLength, bytes.length);
    this.#labelSetLength = copy(bytes, 0, bytes.length, this.#labelSet, this.#labelSetLength);
  }

  /**
   * One `TimeSeries`: the label set with `nameLabel` and `extraLabel` spliced in, a sample of
   * `value` (none when undefined), then `field` (an exemplar or a native histogram) if any.
   */
  #series(
    nameLabel: Uint8Array | undefined,
    extraLabel: Uint8Array | undefined,
    value: number | undefined,
    field?: Uint8Array,
  ): void {
    const labelSet = this.#labelSet;
    const labelSetLength = this.#labelSetLength;
    const first = this.#nameFirst ? nameLabel : extraLabel;
    const second = this.#nameFirst ? extraLabel : nameLabel;
    const content = labelSetLength + (first?.length ?? 0) + (second?.length ?? 0) +
      (value === undefined ? 0 : 2 + this.#sampleLength) + (field?.length ?? 0);
    if (this.#outLength + content + 6 > this.#out.length) {
      this.#out = grown(this.#out, this.#outLength, content + 6);
    }
    const out = this.#out;
    let at = this.#outLength;
    out[at++] = SERIES_TAG;
    at = writeVarint(out, at, content);
    const labelStart = at;
    at = copy(labelSet, 0, this.#firstSpliceAt, out, at);
    if (first !== undefined) at = copy(first, 0, first.length, out, at);
    at = copy(labelSet, this.#firstSpliceAt, this.#secondSpliceAt, out, at);
    if (second !== undefined) at = copy(second, 0, second.length, out, at);
    at = copy(labelSet, this.#secondSpliceAt, labelSetLength, out, at);
    const labelEnd = at;
    if (value !== undefined) {
      out[at++] = SAMPLE_TAG;
      out[at++] = this.#sampleLength;
      out[at++] = VALUE_TAG;
      this.#value[0] = value;
      at = copy(this.#valueBytes, 0, 8, out, at);
      out[at++] = TIMESTAMP_TAG;
      at = copy(this.#timestamp, 0, this.#timestamp.length, out, at);
    }
    if (field !== undefined) at = copy(field, 0, field.length, out, at);
    this.#outLength = at;
    const i = this.#count++;
    if (i === this.#ends.length) this.#growIndex(i + 1);
    this.#ends[i] = at;
    this.#labelStarts[i] = labelStart;
    this.#labelEnds[i] = labelEnd;
    this.#families[i] = this.#family;
  }
}

/** `array`, or a copy at least twice as long when `length + more` does not fit. */
function grown<T extends Uint8Array<ArrayBuffer> | Int32Array<ArrayBuffer>>(
  array: T,
  length: number,
  more: number,
): T {
  if (length + more <= array.length) return array;
  const size = Math.max(array.length * 2, length + more);
  const bigger = new (array.constructor as new (size: number) => Uint8Array)(size);
  bigger.set(array.subarray(0, length) as Uint8Array);
  return bigger as T;
}

/** Writes `value` as a varint at `at` of `out`; returns where it ends. */
function writeVarint(out: Uint8Array, at: number, value: number): number {
  for (; value >= 0x80; value = Math.floor(value / 128)) out[at++] = (value & 0x7f) | 0x80;
  out[at++] = value;
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
