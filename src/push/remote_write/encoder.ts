/**
 * The remote-write 1.0 `WriteRequest` encoder (prometheus/prompb): each family's
 * `MetricMetadata`, then its series, named as a text-format scrape stores them, each with one
 * sample at the write's timestamp. Registry metrics are read from storage when encoded (as a
 * scrape renders them), others from snapshots: both give the same bytes.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import { isStoredMetric, type StoredMetric } from "../../exposition/byte_render.ts";
import { formatBounds, formatFloat, hasSum } from "../../exposition/format.ts";
import type { NativeBuckets, NativeHistogram } from "../../metrics/native_histogram.ts";
import { nativeBucketsOf } from "../../metrics/native_histogram.ts";
import type { Exemplar, HistogramPoint, Labels, MetricFamily } from "../../model.ts";
import type { CounterPoint, StateSetPoint, SummaryPoint } from "../../model.ts";
import type { ExtraLabels, LabelPlan } from "./labels.ts";
import { labelMessage, labelPlan, storedLabelPlan } from "./labels.ts";
import { exemplarField, nativeHistogramField, writeMetadata } from "./fields.ts";
import type { RequestLimits, SeriesMemory, WriteRequests } from "./batching.ts";
import { RequestBuilder } from "./batching.ts";

export { type ExtraLabels, extraLabels } from "./labels.ts";

/** The staleness marker, NaN 0x7ff0000000000002, as bytes (optimized code may change a NaN). */
const STALE_NAN = Uint8Array.of(2, 0, 0, 0, 0, 0, 0xf0, 0x7f);
const EMPTY = new Uint8Array(0);
/** The label each sample of a type adds (a state set's is named after the family). */
const SAMPLE_LABELS: Partial<Record<string, string>> = { histogram: "le", summary: "quantile" };

/** Any type's point (each type reads its own fields). */
type AnyPoint = CounterPoint & HistogramPoint & SummaryPoint & StateSetPoint;

/** How a write is encoded: its extra labels, what it carries, and the limits of a request. */
export interface WriteSettings extends RequestLimits {
  readonly labels: ExtraLabels;
  /** Counters' and classic histogram buckets' exemplars. */
  readonly exemplars: boolean;
  /** Native histograms, each in a series of its own. */
  readonly nativeHistograms: boolean;
}

/** What a write encodes: snapshots (names escaped) and metrics read from storage. */
export type WriteItem = MetricFamily | StoredMetric;

/**
 * Encodes the items into Snappy-compressed requests, then a staleness marker for each series
 * `memory` says ended. Throws a `TypeError` for a series without `job`.
 */
export function encodeWrite(
  items: readonly WriteItem[],
  settings: WriteSettings,
  timestampMs: number,
  memory?: SeriesMemory,
): WriteRequests {
  const requests = new RequestBuilder(settings, memory);
  const encoder = new SeriesEncoder(requests, settings, timestampMs);
  for (const item of items) encoder.item(item);
  requests.family(EMPTY); // markers carry no family's metadata
  for (const labels of memory?.ended() ?? []) encoder.stale(labels);
  return requests.finish();
}

/**
 * Writes one family at a time. A series is its label pieces (`#pieces`, laid out once per label
 * set in name order) with `__name__` and the sample's own label in their places, a sample, and
 * an exemplar or a native histogram.
 */
class SeriesEncoder {
  readonly #requests: RequestBuilder;
  readonly #settings: WriteSettings;
  readonly #timestampMs: number;
  /** A sample field up to its value (tag, length, the value's tag), and its timestamp field. */
  readonly #sampleHead: Uint8Array;
  readonly #sampleTail: Uint8Array;
  readonly #general = new ProtoWriter(256);
  #pieces: Uint8Array[] = [];
  #plan: LabelPlan | undefined;
  /** The name of the family being written ("" for staleness markers). */
  #family = "";
  /** The `Label`s of names, bounds, quantiles, states and snapshots' values in this write. */
  readonly #labels = new Map<string, Uint8Array>();
  readonly #boundLabels = new Map<readonly number[], Uint8Array[]>();

  constructor(requests: RequestBuilder, settings: WriteSettings, timestampMs: number) {
    this.#requests = requests;
    this.#settings = settings;
    this.#timestampMs = timestampMs;
    const tail = new ProtoWriter(16);
    tail.uint(2, timestampMs);
    this.#sampleTail = tail.finish();
    this.#sampleHead = Uint8Array.of(2 * 8 + 2, 9 + this.#sampleTail.length, 1 * 8 + 1);
  }

  /** Writes an item's metadata and series. */
  item(item: WriteItem): void {
    const family = isStoredMetric(item) ? item.family : item;
    this.#family = family.name;
    this.#general.reset();
    writeMetadata(this.#general, family);
    this.#requests.family(this.#general.finish());
    this.#plan = undefined;
    if (isStoredMetric(item)) this.#stored(item);
    else this.#snapshot(item);
  }

  /** A series that ended: its labels as last sent, and a staleness marker. */
  stale(labels: Uint8Array): void {
    this.#family = "";
    this.#pieces = [labels];
    const sample = Uint8Array.of(...this.#sampleHead, ...STALE_NAN, ...this.#sampleTail);
    this.#write(undefined, sample, false);
  }

  #snapshot(family: MetricFamily): void {
    const names = this.#names(family);
    const sampleLabel = family.type === "stateset" ? family.name : SAMPLE_LABELS[family.type];
    for (const point of family.points as readonly AnyPoint[]) {
      this.#pointLabels(point.labels, sampleLabel);
      const native = this.#settings.nativeHistograms ? nativeBucketsOf(point) : undefined;
      this.#point(family, names, point, native);
    }
  }

  /** A metric read from storage now: the same bytes as `#snapshot` of its snapshot. */
  #stored(item: StoredMetric): void {
    const { labels, store: { numbers, sides, counts } } = item.storage.read();
    const { layout } = item.storage;
    const extra = this.#settings.labels;
    const sampleLabel = SAMPLE_LABELS[layout.type];
    const { plan, fill } = storedLabelPlan(labels, item.defaults, extra, sampleLabel);
    const names = this.#names(item.family);
    const stride = layout.numberStride;
    const exemplars = layout.type === "gauge" ? undefined : sides[layout.exemplarSide];
    // A gauge's value function set since the gathering is called, as a scrape would.
    const functions = layout.type === "gauge" ? sides[layout.functionSide] : undefined;
    const natives = layout.type === "histogram" && this.#settings.nativeHistograms
      ? sides[layout.nativeSide ?? -1] as readonly (NativeHistogram | undefined)[] | undefined
      : undefined;
    const bounds = layout.type === "histogram" ? layout.upperBounds : [];
    const cumulative = new Array<number>(bounds.length);
    // One point object for every series: its numbers are the series' own when it is written.
    const point: { -readonly [K in keyof AnyPoint]: AnyPoint[K] } = {
      ...{ labels: {}, upperBounds: bounds, bucketCounts: cumulative, quantiles: [], states: [] },
      ...{ value: 0, count: 0, sum: 0 },
    };
    const total = layout.type === "counter" ? layout.unlabelledTotal() : undefined;
    this.#plan = plan;
    this.#pieces = plan.fixed.slice();
    for (let slot = 0; slot < labels.slotCount; slot++) {
      // A metric with an overflow series is gathered as a snapshot; one made since waits.
      if (!labels.isLive(slot) || slot === labels.overflowSlot) continue;
      fill(slot, this.#pieces);
      this.#checkJob();
      if (layout.type === "histogram") {
        let count = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative[i] = count += counts[slot * bounds.length + i];
        }
        point.count = count;
        point.sum = numbers[slot * stride + layout.sumOffset];
        point.exemplars = exemplars?.[slot] as Exemplar[] | undefined;
      } else {
        const offset = layout.type === "counter" ? layout.totalOffset : layout.valueOffset;
        const valueFunction = functions?.[slot] as (() => number) | undefined;
        point.value = valueFunction?.() ?? total ?? numbers[slot * stride + offset];
        point.exemplar = exemplars?.[slot] as Exemplar | undefined;
      }
      this.#point(item.family, names, point, natives?.[slot]?.buckets());
    }
  }

  /** A point's series, its labels laid out (`names`: its `__name__` labels, as `#names` gives). */
  #point(family: MetricFamily, names: Uint8Array[], point: AnyPoint, native?: NativeBuckets): void {
    const { type, name } = family;
    if (type === "histogram") {
      const bounds = this.#bounds(point.upperBounds);
      for (let i = 0; i < bounds.length; i++) {
        const exemplar = this.#exemplarField(point.exemplars?.[i]);
        this.#series(names[0], bounds[i], point.bucketCounts[i], exemplar);
      }
      this.#series(names[1], undefined, point.count);
      if (hasSum(point)) this.#series(names[2], undefined, point.sum);
      if (native === undefined) return;
      this.#general.reset();
      nativeHistogramField(this.#general, point.count, point.sum, native, this.#timestampMs);
      this.#series(names[3], undefined, undefined, this.#general.view());
    } else if (type === "summary") {
      for (const { quantile, value } of point.quantiles) {
        this.#series(names[0], this.#label("quantile", formatFloat(quantile)), value);
      }
      this.#series(names[1], undefined, point.count);
      this.#series(names[2], undefined, point.sum);
    } else if (type === "stateset") {
      for (const state of point.states) {
        this.#series(names[0], this.#label(name, state.name), state.enabled ? 1 : 0);
      }
    } else {
      this.#series(names[0], undefined, point.value ?? 1, this.#exemplarField(point.exemplar));
    }
  }

  /** Lays out a snapshot point's labels (the plan is made again only when its keys change). */
  #pointLabels(labels: Labels, sampleLabel: string | undefined): void {
    const keys = Object.keys(labels);
    let plan = this.#plan;
    if (
      plan === undefined || plan.sampleLabel !== sampleLabel || plan.keys.length !== keys.length ||
      plan.keys.some((key, i) => key !== keys[i])
    ) {
      this.#plan = plan = labelPlan(keys, this.#settings.labels, sampleLabel);
      this.#pieces = plan.fixed.slice();
    }
    for (let k = 0; k < plan.own.length; k++) {
      const name = plan.own[k];
      const value = name === undefined ? "" : labels[name];
      this.#pieces[k] = value === "" ? plan.fixed[k] : this.#label(name!, value);
    }
    this.#checkJob();
  }

  #checkJob(): void {
    if ((this.#pieces[this.#plan!.jobAt]?.length ?? 0) > 0) return;
    throw new TypeError(
      `a series of "${this.#family}" has no job label: give remote write labels: { job: "…" }`,
    );
  }

  /** A cached `Label` message. */
  #label(name: string, value: string): Uint8Array {
    const key = name + "\u0000" + value;
    let bytes = this.#labels.get(key);
    if (bytes === undefined) this.#labels.set(key, bytes = labelMessage(name, value));
    return bytes;
  }

  /** The `le` labels of each bounds array (a metric's points share theirs). */
  #bounds(upperBounds: readonly number[]): Uint8Array[] {
    let labels = this.#boundLabels.get(upperBounds);
    if (labels === undefined) {
      labels = formatBounds(upperBounds).map((bound) => this.#label("le", bound));
      this.#boundLabels.set(upperBounds, labels);
    }
    return labels;
  }

  /** A family's `__name__` labels: by type, as its series are named in the text format. */
  #names(family: MetricFamily): Uint8Array[] {
    const suffixes = family.type === "histogram"
      ? ["_bucket", "_count", "_sum", ""]
      : family.type === "summary"
      ? ["", "_count", "_sum"]
      : [family.type === "counter" ? "_total" : family.type === "info" ? "_info" : ""];
    return suffixes.map((suffix) => this.#label("__name__", family.name + suffix));
  }

  /** A `TimeSeries.exemplars` field, if wanted (a view, valid until the next one). */
  #exemplarField(exemplar: Exemplar | undefined): Uint8Array | undefined {
    if (exemplar === undefined || !this.#settings.exemplars) return undefined;
    this.#general.reset();
    exemplarField(this.#general, exemplar, this.#timestampMs);
    return this.#general.view();
  }

  /** A series: the pieces with `nameLabel` and `sampleLabel` in their places, and the rest. */
  #series(nameLabel: Uint8Array, sampleLabel?: Uint8Array, value?: number, field?: Uint8Array) {
    const { nameAt, sampleLabelAt } = this.#plan!;
    this.#pieces[nameAt] = nameLabel;
    if (sampleLabelAt >= 0) this.#pieces[sampleLabelAt] = sampleLabel ?? EMPTY;
    this.#write(value, field);
  }

  /** One `TimeSeries`: the label pieces, a sample of `value` if given, then `field` if any. */
  #write(value: number | undefined, field: Uint8Array = EMPTY, seen = true): void {
    const pieces = this.#pieces;
    let length = field.length;
    if (value !== undefined) length += this.#sampleHead.length + 8 + this.#sampleTail.length;
    for (let k = 0; k < pieces.length; k++) length += pieces[k].length;
    const out = this.#requests.out;
    const start = out.length;
    out.tag(1, 2);
    out.varint(length);
    const labelsFrom = out.length;
    for (let k = 0; k < pieces.length; k++) out.raw(pieces[k]);
    const labelsTo = out.length;
    if (value !== undefined) {
      out.raw(this.#sampleHead);
      out.rawDouble(value);
      out.raw(this.#sampleTail);
    }
    out.raw(field);
    this.#requests.series(start, labelsFrom, labelsTo, this.#family, seen);
  }
}
