/**
 * The remote-write 1.0 `WriteRequest` encoder: families as `TimeSeries` (named as a scrape of
 * the text format 0.0.4 stores them) and `MetricMetadata`, in protobuf, and Snappy-compressed
 * while they are encoded where the encoder knows which bytes repeat (see
 * `encodeCompressedWriteRequest`). A `Registry`'s counters, gauges and histograms are read
 * straight from their storage, as the byte renderer reads them (`gatherWriteItems`), into the
 * same bytes as their snapshots. Sending is `remote_write.ts`'s.
 *
 * @module
 */

import { ProtoWriter } from "../encoding/protobuf.ts";
import { SnappyBlockWriter } from "../encoding/snappy.ts";
import {
  formatBounds,
  formatFloat,
  hasSum,
  labelSlotOf,
  labelSourceOf,
  type LabelTextSource,
} from "../exposition/format.ts";
import type { Exemplar, HistogramPoint, Labels, MetricFamily } from "../model.ts";
import { escapeName, validateLabelName } from "../validation.ts";
import type { LabelSets } from "../metrics/label_sets.ts";
import { familyWithoutPoints, isStoredMetric } from "../exposition/byte_render.ts";
import type { MetricStorage } from "../metrics/storage_read.ts";

import { escapeExemplar, escapeFamily } from "../exposition/escaping.ts";
import {
  type NativeBuckets,
  nativeBucketsOf,
  type NativeHistogram,
} from "../metrics/native_histogram.ts";
import { gatherForBytes, type Registry } from "../registry.ts";

/** A histogram series' exemplars, one per bucket. */
type BucketExemplars = readonly (Exemplar | undefined)[];

/** The extra labels, sorted, with each Label message pre-encoded. */
export interface ExtraLabels {
  readonly names: readonly string[];
  /** Each one's `Label` message. */
  readonly encoded: readonly Uint8Array[];
  readonly hasJob: boolean;
}

/** The extra labels of a request for `url`, validated, escaped and sorted. */
export function extraLabels(labels: Readonly<Record<string, string>>, url: string): ExtraLabels {
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError(`labels for ${url} must be an object of label names to string values`);
  }
  const given = labels;
  const escaped: Record<string, string> = {};
  for (const name of Object.keys(given)) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`labels for ${url}: ${(error as Error).message}`);
    }
    if (typeof given[name] !== "string") {
      throw new TypeError(
        `label "${name}" for ${url} must be a string, got ${typeof given[name]}`,
      );
    }
    escaped[escapeName(name, "underscores", "label")] = given[name];
  }
  labels = escaped;
  const names = Object.keys(labels).sort(byCodeUnits);
  // An empty value is no label at all (Prometheus' data model): nothing to add.
  const added = names.filter((name) => labels[name] !== "");
  const encoded = added.map((name) => {
    const writer = new ProtoWriter(64);
    writeLabel(writer, name, labels[name]);
    return writer.finish();
  });
  return { names: added, encoded, hasJob: added.includes("job") };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Field numbers of prometheus/prompb (remote.proto, types.proto).
const WRITE_REQUEST_TIMESERIES = 1;
const WRITE_REQUEST_METADATA = 3;
const TIMESERIES_LABELS = 1;
const TIMESERIES_SAMPLES = 2;
const TIMESERIES_EXEMPLARS = 3;
const TIMESERIES_HISTOGRAMS = 4;
const LABEL_NAME = 1;
const LABEL_VALUE = 2;
const SAMPLE_VALUE = 1;
const SAMPLE_TIMESTAMP = 2;
const EXEMPLAR_LABELS = 1;
const EXEMPLAR_VALUE = 2;
const EXEMPLAR_TIMESTAMP = 3;
// `Histogram` (prompb/types.proto, Prometheus 2.40 on): the integer forms of the oneofs.
const HISTOGRAM_COUNT_INT = 1;
const HISTOGRAM_SUM = 3;
const HISTOGRAM_SCHEMA = 4;
const HISTOGRAM_ZERO_THRESHOLD = 5;
const HISTOGRAM_ZERO_COUNT_INT = 6;
const HISTOGRAM_NEGATIVE_SPANS = 8;
const HISTOGRAM_NEGATIVE_DELTAS = 9;
const HISTOGRAM_POSITIVE_SPANS = 11;
const HISTOGRAM_POSITIVE_DELTAS = 12;
const HISTOGRAM_TIMESTAMP = 15;
const SPAN_OFFSET = 1;
const SPAN_LENGTH = 2;
const METADATA_TYPE = 1;
const METADATA_FAMILY_NAME = 2;
const METADATA_HELP = 4;
const METADATA_UNIT = 5;
/** `MetricMetadata.MetricType` values. */
const METADATA_TYPES = {
  unknown: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
} as const;

/** Bytes a request repeats (a `__name__`, `le` or `quantile` label) and where they went last. */
interface Piece {
  readonly bytes: Uint8Array;
  /** Position of their latest copy in the request, -1 before it is written. */
  at: number;
}

/**
 * Writes the `TimeSeries` messages of a request into one growable buffer. Each point's labels
 * (plus the extra labels it lacks) are encoded once as `Label` messages; every sample series
 * splices in its `__name__` (and `le`, `quantile` or state) label at the sorted position. The
 * parts a series repeats — the point's labels in its later series, a name or bound already
 * written — are copied from where they first appeared in the buffer (a native `copyWithin`),
 * and each series' length is known before it is written, so nothing is moved afterwards.
 *
 * In compressed mode (`remoteWrite`'s) the same repeats become Snappy copies and nothing is
 * laid out: see `#copySingle` and `#copyPoint` for a metric's series (whose labels come
 * pre-encoded), `#compressedSeries` for other points.
 */
class SeriesWriter {
  #buffer: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #length = 0;
  // The current point's Label messages (`#pointLength` bytes), and a writer for the labels that
  // need more than the short-ASCII fast form.
  #point = new Uint8Array(256);
  #pointView = new DataView(this.#point.buffer);
  #pointLength = 0;
  readonly #slowLabel = new ProtoWriter(256);
  // A TimeSeries' or Sample's first bytes, for literals in compressed mode.
  readonly #head = new Uint8Array(8);
  readonly #extra: ExtraLabels;
  // The Sample message's tail: `timestamp` (field 2) with the request's one timestamp.
  readonly #timestamp: Uint8Array;
  readonly #sampleLength: number;
  // The current point: its Label messages, cut in three where `__name__` and the extra label
  // go (cut1 for the one that sorts first), and where each part was first written in the
  // buffer (-1: not yet).
  #cut1 = 0;
  #cut2 = 0;
  #nameFirst = true;
  readonly #written = [-1, -1, -1];
  // A copy inside the buffer not made yet (see `#copy`).
  #copyFrom = 0;
  #copyTo = 0;
  #copyLength = 0;
  /** The merge of the last point's labels with the added ones. */
  #plan: PointPlan | undefined;
  /** `#writeDirect`'s layout of the last plan with its `__name__` label. */
  #direct: DirectPlan | undefined;
  /** `#writeDirect`'s own labels' bytes of the current series, and of the one before. */
  #own: Uint8Array[] = [];
  #previousOwn: Uint8Array[] = [];
  /** The plan, start and length of the series `#writeDirect` wrote last (if nothing since). */
  #previousDirect: DirectPlan | undefined;
  #previousStart = 0;
  #previousSeriesLength = 0;
  /** The pre-encoded start of each own label's message, by name (see `PlanStep`). */
  readonly #heads = new Map<string, Uint8Array | undefined>();
  // Compressed mode (see `#compressedSeries`): the block, the uncompressed length so far, the
  // previous point's bytes and both points' series.
  readonly #snappy: SnappyBlockWriter | undefined;
  #position = 0;
  #previousPoint = new Uint8Array(256);
  #previousView = new DataView(this.#previousPoint.buffer);
  #previousLength = 0;
  #series0 = new PointSeries();
  #series1 = new PointSeries();
  // Of the current point against the previous one: bytes equal at the start and at the end
  // (0 when the two are cut differently).
  #samePrefix = 0;
  #sameSuffix = 0;
  // Whether the current point is cut like the previous one and as long.
  #sameShape = false;
  // Region starts (see `HEAD`) of the series being written and of the two it copies from.
  readonly #at = new Float64Array(STRIDE);
  // The values' bytes: this series', then the two candidates'.
  readonly #values = new Float64Array(3);
  readonly #valueBytes = new Uint8Array(this.#values.buffer);
  // Compressed mode, `#copySingle`: this request's number (see `LabelBytes`), where the last
  // such series' head, sample and constant label blocks went, its content length and value.
  readonly #request = ++requestCount;
  #singleContent = -1;
  #singleHeadAt = 0;
  // Where the last Sample written by `#copySample` went, its value, and room for comparing
  // the next value's bytes with it.
  #sampleAt = -1;
  #sampleValue = 0;
  readonly #sampleValues = new Float64Array(2);
  readonly #sampleValueBytes = new Uint8Array(this.#sampleValues.buffer);
  readonly #sampleValueWords = new Int32Array(this.#sampleValues.buffer);
  #blockPlan: DirectPlan | undefined;
  #blockAt: number[] = [];
  // `#copySingleRun`: the series `#copySingle` wrote last, when the next one may repeat it — its
  // plan, label source and value ids (a metric's reading), its own labels' ids, start, end (-1:
  // the next series may not repeat it), head length and own labels' length.
  #runDirect: DirectPlan | undefined;
  #runSource: LabelTextSource | undefined;
  #runIds: LabelSets | undefined;
  #runLastIds = new Int32Array(8);
  #runStart = 0;
  #runEnd = -1;
  #runHeadLength = 0;
  /** Within a run's series: where each constant block and own label starts, where labels end. */
  #runBlockAt = new Int32Array(8);
  #runOwnAt = new Int32Array(8);
  #runLabelsEnd = 0;
  /** Whether the places of the last run's parts are recorded (see `#settleRun`). */
  #runSettled = true;
  /** One bit per own label that is no `LabelBytes` (an added label standing in: a literal). */
  #runPlain = 0;
  // `#copyPoint`: the layout of the last point, the previous one so written, its start and its
  // series' values.
  #pointLayout: PointLayout | undefined;
  #previousCopied: PointLayout | undefined;
  #previousPointStart = 0;
  #pointOwn: Uint8Array[] = [];
  #previousPointOwn: Uint8Array[] = [];
  #previousValues = new Float64Array(32);
  /** Whether the last point `#copyPoint` wrote had exemplars (then the next is not copied whole). */
  #previousHadExemplars = false;
  // The last native histogram written (its bytes, and where), which the next one copies the
  // bytes they share from (see `#nativeTail`).
  #lastNative = new Uint8Array(64);
  #lastNativeLength = 0;
  #lastNativeAt = -1;

  constructor(
    extra: ExtraLabels,
    timestampMs: number,
    capacity: number,
    compressed = false,
  ) {
    this.#snappy = compressed ? new SnappyBlockWriter(capacity) : undefined;
    this.#buffer = new Uint8Array(compressed ? 16 : Math.max(1024, capacity));
    this.#view = new DataView(this.#buffer.buffer);
    this.#extra = extra;
    const timestamp = new ProtoWriter(16);
    timestamp.int64(SAMPLE_TIMESTAMP, timestampMs);
    this.#timestamp = timestamp.finish();
    // The value field (tag + 8 bytes), then the timestamp field.
    this.#sampleLength = 9 + this.#timestamp.length;
  }

  /** The bytes written so far: a view of the buffer. */
  view(): Uint8Array<ArrayBuffer> {
    return this.#buffer.subarray(0, this.#length);
  }

  /**
   * Compressed mode: appends a flat writer's series (compressed by searching for repeats);
   * the next series copies nothing from before them.
   */
  appendSearched(flat: SeriesWriter): void {
    const bytes = flat.view();
    this.#snappy!.compressed(bytes);
    this.#position += bytes.length;
    this.#series0.count = 0;
    this.#series1.count = 0;
  }

  /** Flat mode: the most bytes written between two `clear()`s. */
  largestBatch = 0;

  /** Flat mode: forgets what was written, to write the next batch into the same buffer. */
  clear(): void {
    if (this.#length > this.largestBatch) this.largestBatch = this.#length;
    this.#length = 0;
    this.#previousDirect = undefined;
  }

  /** In compressed mode, the Snappy block of everything written. */
  finishCompressed(): Uint8Array<ArrayBuffer> {
    return this.#snappy!.finish(this.#position);
  }

  /** Appends bytes as they are (the metadata after the series). */
  append(bytes: Uint8Array): void {
    this.#previousDirect = undefined;
    if (this.#snappy !== undefined) {
      this.#snappy.bytes(bytes, 0, bytes.length);
      this.#position += bytes.length;
      return;
    }
    this.#ensure(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /**
   * Takes the labels of the next point; `extraName` is the label its samples add (`le`,
   * `quantile`, a state set's name), which replaces a label of that name.
   */
  point(labels: Labels, family: string, extraName?: string): void {
    this.pointAt(labels, labelSourceOf(labels), labelSlotOf(labels), family, extraName);
  }

  /**
   * `point` for the series at `slot` of a label `source` (see `labelSourceOf`), `labels` being
   * the labels object of any series of it (the names, the constant labels' values): the
   * direct path gives no labels object per series.
   */
  pointAt(
    labels: Labels,
    source: LabelTextSource | undefined,
    seriesSlot: number,
    family: string,
    extraName?: string,
  ): void {
    const plan = this.#planOf(labels, source, extraName);
    if (this.#snappy !== undefined) this.#nextPoint();
    this.#pointLength = 0;
    let nameCut = -1;
    let extraCut = -1;
    let hasJob = plan.hasJob;
    const steps = plan.steps;
    // A metric's series: its own labels' Label messages come pre-encoded, one per distinct value.
    const slot = plan.encodes ? seriesSlot : -1;
    for (let k = 0; k < steps.length; k++) {
      if (k === plan.nameCut) nameCut = this.#pointLength;
      if (k === plan.extraCut) extraCut = this.#pointLength;
      const step = steps[k];
      if (step.position >= 0 && slot >= 0) {
        const bytes = source!.labelBytesOf!(slot, step.position, encodeLabel);
        if (bytes.length === 0) {
          if (step.added !== undefined) this.#addToPoint(step.added);
        } else {
          if (step.name === "job") hasJob = true;
          this.#addToPoint(bytes);
        }
        continue;
      }
      const head = step.head;
      if (head === undefined && step.name === undefined) {
        this.#addToPoint(step.added!);
        continue;
      }
      const name = step.name!;
      const value = labels[name];
      // An empty value is no label at all (Prometheus' data model), as a scrape stores it; an
      // added label of that name then applies.
      if (value === "") {
        if (step.added !== undefined) this.#addToPoint(step.added);
        continue;
      }
      if (name === "job") hasJob = true;
      this.#labelToPoint(name, head, value);
    }
    if (!hasJob) throw noJobError(family);
    if (nameCut < 0) nameCut = this.#pointLength;
    if (extraCut < 0) extraCut = this.#pointLength;
    this.#nameFirst = extraName === undefined || "__name__" < extraName;
    this.#cut1 = this.#nameFirst ? nameCut : extraCut;
    this.#cut2 = this.#nameFirst ? extraCut : nameCut;
    this.#written.fill(-1);
    if (this.#snappy !== undefined) this.#comparePoints();
  }

  /**
   * The merge of a point's labels with the added ones. The labels of one metric's series share
   * their names (and come one after another): their merge is worked out once and reused. Other
   * labels objects (a custom collector's, a merged snapshot's) reuse the last plan when they
   * have the same keys in the same order.
   */
  #planOf(labels: Labels, source: LabelTextSource | undefined, extraName?: string): PointPlan {
    const keys = source === undefined ? Object.keys(labels) : undefined;
    let plan = this.#plan;
    if (
      plan === undefined || plan.source !== source || plan.extraName !== extraName ||
      (keys !== undefined && !sameKeys(plan.keys!, keys))
    ) {
      plan = this.#plan = planPoint(labels, source, keys, this.#extra, extraName, this.#heads);
    }
    return plan;
  }

  /**
   * A point with one series (a counter's, a gauge's, an info's): `point` then `sample`, or in
   * flat mode, for a metric's series with the added labels' `job`, written straight into the
   * request from the series' pre-encoded labels (see `#writeDirect`).
   */
  single(
    labels: Labels,
    family: string,
    nameLabel: Piece,
    value: number,
    tails?: SeriesTails,
  ): void {
    this.singleAt(
      labels,
      labelSourceOf(labels),
      labelSlotOf(labels),
      family,
      nameLabel,
      value,
      tails,
    );
  }

  /**
   * `single` for the series at `slot` of a label `source` (see `pointAt`); `tails` (series 0)
   * what its sample is followed by (an exemplar), if anything.
   */
  singleAt(
    labels: Labels,
    source: LabelTextSource | undefined,
    slot: number,
    family: string,
    nameLabel: Piece,
    value: number,
    tails?: SeriesTails,
    ids?: LabelSets,
  ): void {
    // The next series of a run (see `#copySingleRun`), without looking up the plans: the last
    // ones, `#planOf` and `#directPlanOf` would give them again.
    const run = this.#runDirect;
    if (
      ids !== undefined && tails === undefined && this.#position === this.#runEnd &&
      run !== undefined && ids === this.#runIds && source !== undefined &&
      source === this.#runSource &&
      nameLabel === run.nameLabel &&
      this.#direct === run && this.#plan === run.plan &&
      this.#copySingleRun(run, source, slot, ids, value)
    ) {
      return;
    }
    if (source !== undefined) {
      const plan = this.#planOf(labels, source, undefined);
      if (plan.encodes) {
        if (this.#snappy !== undefined) {
          this.#copySingle(plan, source, slot, labels, family, nameLabel, value, tails, ids);
          return;
        }
        if (plan.hasJob) {
          this.#writeDirect(plan, source, slot, labels, nameLabel, value, tails);
          return;
        }
      }
    }
    this.pointAt(labels, source, slot, family);
    this.sample(nameLabel, value, tails, 0);
  }

  /**
   * A point with several series (a histogram's: buckets, count, sum), its labels and `source`
   * as for `pointAt`: series `j` has name label `pieces.names[j]`, the extra label
   * `pieces.extras[j]` if any (`extraName` the plan's) and value `values[j]`, followed by what
   * `tails` has for it (an exemplar). When `tails` has a native histogram (as series
   * `names.length`), one more series named `pieces.nativeName`, with the labels of the ones
   * without an extra label, carries it instead of a sample. In compressed mode, a metric's
   * series are written as `#copyPoint` does.
   */
  pointSeriesAt(
    labels: Labels,
    source: LabelTextSource | undefined,
    slot: number,
    family: string,
    extraName: string,
    pieces: PointPieces,
    values: ArrayLike<number>,
    tails?: SeriesTails,
  ): void {
    if (this.#snappy !== undefined && source !== undefined) {
      const plan = this.#planOf(labels, source, extraName);
      if (plan.encodes) {
        this.#copyPoint(plan, source, slot, labels, family, pieces, values, tails);
        return;
      }
    }
    this.pointAt(labels, source, slot, family, extraName);
    const names = pieces.names;
    const extras = pieces.extras;
    for (let j = 0; j < names.length; j++) {
      const extra = extras[j];
      if (extra === undefined) this.sample(names[j], values[j], tails, j);
      else this.sampleWith(names[j], extra, values[j], tails, j);
    }
    const native = names.length;
    if (tails !== undefined && tails.lengthOf(native) > 0) {
      const nameLabel = pieces.nativeName!;
      const added = nameLabel.bytes.length;
      if (this.#nameFirst) this.#series(nameLabel, undefined, added, 0, tails, native, false);
      else this.#series(undefined, nameLabel, added, 0, tails, native, false);
    }
  }

  /**
   * Compressed mode: a point's series whose own labels come pre-encoded (see `#copySingle`),
   * as Snappy elements. When the previous point so written had the same layout (same names,
   * own labels as long), this point is that one `distance` bytes back but for the own labels
   * that differ (copied from where they were last written: the series before, within the
   * point) and the value bytes that differ: long copies at one offset around them. Otherwise
   * each part is copied from where it was last written, or written once. A point with exemplars
   * (literals after their samples) and the one after it are never copied whole; a native
   * histogram's series follows the others (see `#nativeTail`).
   */
  #copyPoint(
    plan: PointPlan,
    source: LabelTextSource,
    slot: number,
    labels: Labels,
    family: string,
    pieces: PointPieces,
    values: ArrayLike<number>,
    tails: SeriesTails | undefined,
  ): void {
    let layout = this.#pointLayout;
    if (layout === undefined || layout.plan !== plan || layout.pieces !== pieces) {
      layout = this.#pointLayout = pointLayout(plan, labels, pieces);
    }
    const first = layout.series[0];
    const own = this.#pointOwn;
    const previousOwn = this.#previousPointOwn;
    const positions = first.positions;
    const ownBytes = readOwnLabels(first, source, slot, own, family);
    // Exemplars change the lengths of the series they follow; a native histogram's series comes
    // after the others.
    const withExemplars = tails !== undefined && tails.anyBefore(pieces.names.length);
    let sameLengths = this.#previousCopied === layout && !withExemplars &&
      !this.#previousHadExemplars;
    for (let k = 0; sameLengths && k < positions.length; k++) {
      if (own[k].length !== previousOwn[k].length) sameLengths = false;
    }
    this.#series0.count = 0;
    this.#series1.count = 0;
    const snappy = this.#snappy!;
    const request = this.#request;
    const head = this.#head;
    const timestamp = this.#timestamp;
    const sampleLength = this.#sampleLength;
    const start = this.#position;
    const distance = start - this.#previousPointStart;
    const count = pieces.names.length;
    if (this.#previousValues.length < count) this.#previousValues = new Float64Array(count);
    const previousValues = this.#previousValues;
    let at = start;
    for (let j = 0; j < count; j++) {
      const series = layout.series[j];
      const blocks = series.blocks;
      const blockAt = layout.blockAt[j];
      const tailLength = tails === undefined ? 0 : tails.lengthOf(j);
      const headLength = writeSeriesHead(
        head,
        0,
        2 + sampleLength + series.constantBytes + ownBytes + tailLength,
      );
      if (sameLengths) snappy.copy(distance, headLength);
      else snappy.bytes(head, 0, headLength);
      at += headLength;
      for (let k = 0; k < blocks.length; k++) {
        const block = blocks[k];
        const length = block.length;
        if (length > 0) {
          if (sameLengths) snappy.copy(distance, length);
          else if (blockAt[k] >= 0) snappy.copy(at - blockAt[k], length);
          else snappy.bytes(block, 0, length);
          blockAt[k] = at;
          at += length;
        }
        if (k === positions.length) break;
        const bytes = own[k];
        const ownLength = bytes.length;
        if (ownLength === 0) continue;
        if (bytes instanceof LabelBytes) {
          if (sameLengths && bytes === previousOwn[k]) snappy.copy(distance, ownLength);
          else if (bytes.request === request) snappy.copy(at - bytes.writtenAt, ownLength);
          else snappy.bytes(bytes, 0, ownLength);
          bytes.request = request;
          bytes.writtenAt = at;
        } else if (sameLengths && bytes === previousOwn[k]) {
          snappy.copy(distance, ownLength);
        } else {
          snappy.bytes(bytes, 0, ownLength);
        }
        at += ownLength;
      }
      // The sample as the previous point's series, else as the series before.
      const value = values[j];
      if (sameLengths) this.#copySample(distance, previousValues[j], value);
      else this.#copySample(this.#sampleAt < 0 ? 0 : at - this.#sampleAt, this.#sampleValue, value);
      this.#sampleAt = at;
      this.#sampleValue = value;
      previousValues[j] = value;
      at += 11 + timestamp.length;
      if (tailLength > 0) at = this.#tail(tails!, j, at);
    }
    if (tails !== undefined && tails.lengthOf(count) > 0) {
      // The native histogram's series: the labels as above, the Histogram as a literal.
      const series = layout.series[count];
      const tailLength = tails.lengthOf(count);
      const headLength = writeSeriesHead(head, 0, series.constantBytes + ownBytes + tailLength);
      snappy.bytes(head, 0, headLength);
      at = this.#copyLabels(series, layout.blockAt[count], own, at + headLength);
      at = this.#nativeTail(tails, count, at);
    }
    this.#previousHadExemplars = withExemplars;
    this.#position = at;
    this.#previousCopied = layout;
    this.#previousPointStart = start;
    this.#pointOwn = previousOwn;
    this.#previousPointOwn = own;
  }

  /**
   * Compressed mode: a Sample field (head, `value`, timestamp) as a copy of the one `offset`
   * bytes back, whose value was `previous`, around a literal of the value bytes that differ
   * (all one offset: runs go on into the next series); `offset` 0: written out.
   */
  #copySample(offset: number, previous: number, value: number): void {
    const snappy = this.#snappy!;
    const timestamp = this.#timestamp;
    const bytes = this.#sampleValueBytes;
    const pair = this.#sampleValues;
    pair[0] = value;
    if (offset === 0) {
      const head = this.#head;
      head[0] = TIMESERIES_SAMPLES * 8 + LENGTH_DELIMITED;
      head[1] = this.#sampleLength;
      head[2] = SAMPLE_VALUE * 8 + FIXED64;
      snappy.bytes(head, 0, 3);
      snappy.bytes(bytes, 0, 8);
      snappy.bytes(timestamp, 0, timestamp.length);
      return;
    }
    pair[1] = previous;
    let k = 0;
    while (k < 8 && bytes[k] === bytes[8 + k]) k++;
    snappy.copy(offset, 3 + k);
    if (k === 8) {
      snappy.copy(offset, timestamp.length);
      return;
    }
    let end = 8;
    while (end > k && bytes[end - 1] === bytes[end + 7]) end--;
    snappy.bytes(bytes, k, end);
    snappy.copy(offset, 8 - end + timestamp.length);
  }

  /** The `DirectPlan` of `plan` with `nameLabel` (the last one, or a new one). */
  #directPlanOf(plan: PointPlan, labels: Labels, nameLabel: Piece): DirectPlan {
    let direct = this.#direct;
    if (direct === undefined || direct.plan !== plan || direct.nameLabel !== nameLabel) {
      direct = this.#direct = directPlan(plan, labels, nameLabel);
    }
    return direct;
  }

  /**
   * Compressed mode: one TimeSeries of a point whose own labels come pre-encoded from
   * `source` (a metric's series, from its snapshot or its storage), as Snappy elements, its
   * bytes never laid out: each part is a copy of its latest occurrence in the request, which
   * the encoder knows without searching — the head, the sample's head, value bytes and
   * timestamp from the last such series, each run of constant labels from the last series of
   * this layout, each own label's bytes from where they were last written (`LabelBytes`).
   * Parts that follow each other in both places make one copy: a run of series with the same
   * layout costs a copy up to the first label that differs, one per such label, and one or two
   * around the value bytes that differ. What was never written is a literal, and so is the
   * tail (an exemplar) after the sample.
   */
  #copySingle(
    plan: PointPlan,
    source: LabelTextSource,
    slot: number,
    labels: Labels,
    family: string,
    nameLabel: Piece,
    value: number,
    tails: SeriesTails | undefined,
    ids?: LabelSets,
  ): void {
    const direct = this.#directPlanOf(plan, labels, nameLabel);
    if (
      ids !== undefined && tails === undefined && this.#position === this.#runEnd &&
      direct === this.#runDirect && source === this.#runSource && ids === this.#runIds &&
      this.#copySingleRun(direct, source, slot, ids, value)
    ) {
      return;
    }
    if (!this.#runSettled) this.#settleRun(0);
    if (this.#blockPlan !== direct) {
      this.#blockPlan = direct;
      this.#blockAt = direct.blocks.map(() => -1);
    }
    const own = this.#own;
    const tailLength = tails === undefined ? 0 : tails.lengthOf(0);
    const content = 2 + this.#sampleLength + direct.constantBytes +
      readOwnLabels(direct, source, slot, own, family) + tailLength;
    // The histogram path's candidates are not before this series any more.
    this.#series0.count = 0;
    this.#series1.count = 0;
    const snappy = this.#snappy!;
    const start = this.#position;
    const head = this.#head;
    const headLength = writeSeriesHead(head, 0, content);
    if (content === this.#singleContent) snappy.copy(start - this.#singleHeadAt, headLength);
    else snappy.bytes(head, 0, headLength);
    const at = this.#copyLabels(direct, this.#blockAt, own, start + headLength);
    const timestamp = this.#timestamp;
    const sampleAt = this.#sampleAt;
    this.#copySample(sampleAt < 0 ? 0 : at - sampleAt, this.#sampleValue, value);
    this.#sampleAt = at;
    this.#sampleValue = value;
    this.#singleContent = content;
    this.#singleHeadAt = start;
    this.#position = at + 11 + timestamp.length;
    if (tailLength > 0) this.#position = this.#tail(tails!, 0, this.#position);
    this.#runEnd = -1;
    const positions = direct.positions;
    if (ids !== undefined && tailLength === 0 && positions.length <= MAX_RUN_LABELS) {
      // The next series of this reading may repeat this one (see `#copySingleRun`).
      if (this.#runLastIds.length < positions.length) {
        this.#runLastIds = new Int32Array(positions.length);
      }
      const base = slot * ids.width;
      const seriesIds = ids.seriesIds;
      const blocks = direct.blocks;
      if (this.#runBlockAt.length < blocks.length) {
        this.#runBlockAt = new Int32Array(blocks.length);
        this.#runOwnAt = new Int32Array(blocks.length);
      }
      // Where each part is within the series: the same in every series of the run.
      let plain = 0;
      let relative = headLength;
      for (let k = 0; k < blocks.length; k++) {
        this.#runBlockAt[k] = relative;
        relative += blocks[k].length;
        if (k === positions.length) break;
        this.#runLastIds[k] = seriesIds[base + positions[k]];
        if (!(own[k] instanceof LabelBytes)) plain |= 1 << k;
        this.#runOwnAt[k] = relative;
        relative += own[k].length;
      }
      this.#runLabelsEnd = relative;
      this.#runPlain = plain;
      this.#runDirect = direct;
      this.#runSource = source;
      this.#runIds = ids;
      this.#runStart = start;
      this.#runEnd = this.#position;
      this.#runHeadLength = headLength;
    }
  }

  /**
   * Ends a run of `#copySingleRun` series: where the last one put its constant blocks and its
   * own labels (but those in `skip`, replaced since), which `#copySingle` copies from and
   * `#copySingleRun` leaves unrecorded while they repeat.
   */
  #settleRun(skip: number): void {
    this.#runSettled = true;
    const direct = this.#runDirect!;
    const blocks = direct.blocks;
    const positions = direct.positions;
    const start = this.#runStart;
    const kept = ~(skip | this.#runPlain);
    if (this.#blockPlan === direct) {
      for (let k = 0; k < blocks.length; k++) {
        if (blocks[k].length > 0) this.#blockAt[k] = start + this.#runBlockAt[k];
      }
    }
    for (let k = 0; k < positions.length; k++) {
      if ((kept & (1 << k)) !== 0 && this.#own[k].length > 0) {
        (this.#own[k] as LabelBytes).writtenAt = start + this.#runOwnAt[k];
      }
    }
  }

  /**
   * Compressed mode: `#copySingle` for a series right after one it wrote from the same
   * reading (`ids`, its value ids) and plan, without tails, when the two are as long: the
   * series is then the one before, `distance` bytes back, but for the own labels whose value
   * id changed and the value bytes that differ. The same elements as `#copySingle`, found with
   * fewer steps: own labels whose id did not change are neither read (`labelBytesOf`) nor
   * copied on their own, but counted into the run copied from the series before. Returns false
   * (nothing written) when the lengths differ.
   */
  #copySingleRun(
    direct: DirectPlan,
    source: LabelTextSource,
    slot: number,
    ids: LabelSets,
    value: number,
  ): boolean {
    const positions = direct.positions;
    const lastIds = this.#runLastIds;
    const own = this.#own;
    const seriesIds = ids.seriesIds;
    const base = slot * ids.width;
    const ownAt = this.#runOwnAt;
    const previousStart = this.#runStart;
    let mismatch = false;
    let changed = 0;
    for (let k = 0; k < positions.length; k++) {
      const id = seriesIds[base + positions[k]];
      if (id === lastIds[k]) continue;
      let bytes = source.labelBytesOf!(slot, positions[k], encodeLabel);
      if (bytes.length === 0) {
        if (k === direct.jobPosition && !direct.hasJob) {
          // No job any more: `#copySingle` throws the error.
          mismatch = true;
          break;
        }
        bytes = direct.fallbacks[k];
      }
      // Another length moves what follows: not the series before with a few bytes changed.
      if (bytes.length !== own[k].length) mismatch = true;
      // The label replaced was last written in the series before.
      const replaced = own[k];
      if ((this.#runPlain & (1 << k)) === 0 && replaced.length > 0) {
        (replaced as LabelBytes).writtenAt = previousStart + ownAt[k];
      }
      own[k] = bytes;
      lastIds[k] = id;
      changed |= 1 << k;
      if (bytes instanceof LabelBytes) this.#runPlain &= ~(1 << k);
      else this.#runPlain |= 1 << k;
    }
    if (mismatch) {
      // `own` holds this series' labels (but where it broke off); `#copySingle` reads them again.
      if (!this.#runSettled) this.#settleRun(changed);
      this.#runSettled = true;
      this.#runEnd = -1;
      return false;
    }
    this.#runSettled = false;
    const snappy = this.#snappy!;
    const start = this.#position;
    const distance = start - previousStart;
    // Own labels written as `#copyLabels` writes them: not copied with the series before. The
    // others, and the constant blocks, are where they were in the series before (`distance`
    // back): their places are recorded when the run ends (`#settleRun`).
    const special = changed | this.#runPlain;
    // The bytes since the last element that is not a copy from the series before.
    let from = 0;
    for (let k = 0; special >>> k !== 0; k++) {
      if ((special & (1 << k)) === 0) continue;
      const bytes = own[k];
      if (bytes.length === 0) continue;
      const relative = ownAt[k];
      if (relative > from) snappy.copy(distance, relative - from);
      this.#copyOwnLabel(bytes, start + relative);
      from = relative + bytes.length;
    }
    const run = this.#runLabelsEnd - from;
    const at = start + this.#runLabelsEnd;
    // The sample: as the one before but for the value bytes that differ (see `#copySample`).
    const timestampLength = this.#timestamp.length;
    const pair = this.#sampleValues;
    pair[0] = value;
    pair[1] = this.#sampleValue;
    // The bytes that differ (little-endian), from the XOR of each half: the lowest differing
    // byte is the lowest set bit's, the highest the highest set bit's.
    const words = this.#sampleValueWords;
    const low = words[0] ^ words[2];
    const high = words[1] ^ words[3];
    if ((low | high) === 0) {
      snappy.copy(distance, run + 11 + timestampLength);
    } else {
      const same = low !== 0
        ? (31 - Math.clz32(low & -low)) >> 3
        : 4 + ((31 - Math.clz32(high & -high)) >> 3);
      const end = high !== 0 ? 8 - (Math.clz32(high) >> 3) : 4 - (Math.clz32(low) >> 3);
      // Elements that nothing joins (a literal between two copies at one offset) are written
      // at once.
      snappy.copyLast(distance, run + 3 + same);
      snappy.bytesLast(this.#sampleValueBytes, same, end);
      snappy.copy(distance, 8 - end + timestampLength);
    }
    this.#sampleAt = at;
    this.#sampleValue = value;
    this.#singleHeadAt = start;
    this.#runStart = start;
    this.#position = this.#runEnd = at + 11 + timestampLength;
    return true;
  }

  /**
   * Compressed mode: the labels of a series laid out as `direct` at `at` (the head written),
   * each constant block copied from where `blockAt` says it was last written, each own label
   * (`own`, see `readOwnLabels`) from where it was last written, else as a literal. Returns
   * where the labels end.
   */
  #copyLabels(direct: DirectPlan, blockAt: number[], own: Uint8Array[], at: number): number {
    const snappy = this.#snappy!;
    const positions = direct.positions;
    const blocks = direct.blocks;
    for (let k = 0; k < blocks.length; k++) {
      const block = blocks[k];
      if (block.length > 0) {
        const from = blockAt[k];
        if (from >= 0) snappy.copy(at - from, block.length);
        else snappy.bytes(block, 0, block.length);
        blockAt[k] = at;
        at += block.length;
      }
      if (k === positions.length) break;
      const bytes = own[k];
      const length = bytes.length;
      if (length === 0) continue;
      this.#copyOwnLabel(bytes, at);
      at += length;
    }
    return at;
  }

  /**
   * Compressed mode: an own label's bytes at `at`, copied from where this request last wrote
   * them (`LabelBytes`), else as a literal.
   */
  #copyOwnLabel(bytes: Uint8Array, at: number): void {
    const snappy = this.#snappy!;
    const length = bytes.length;
    if (bytes instanceof LabelBytes) {
      if (bytes.request === this.#request) {
        snappy.copy(at - bytes.writtenAt, length);
      } else {
        snappy.bytes(bytes, 0, length);
        bytes.request = this.#request;
      }
      bytes.writtenAt = at;
    } else {
      snappy.bytes(bytes, 0, length);
    }
  }

  /**
   * Compressed mode: series `j`'s tail, a native histogram, at `at`: the runs of bytes it shares
   * with the last one written, at the same place counted from the start (and from the end when
   * the two differ in length: the timestamp, the last deltas), as copies of it; the rest as
   * literals. Returns where it ends.
   */
  #nativeTail(tails: SeriesTails, j: number, at: number): number {
    const snappy = this.#snappy!;
    const bytes = tails.bytes;
    const start = tails.starts[j];
    const length = tails.ends[j] - start;
    const last = this.#lastNative;
    const lastLength = this.#lastNativeLength;
    if (this.#lastNativeAt < 0) {
      snappy.bytes(bytes, start, start + length);
    } else {
      const offset = at - this.#lastNativeAt;
      const shared = Math.min(length, lastLength);
      let suffix = 0;
      if (length !== lastLength) {
        while (
          suffix < shared && bytes[start + length - 1 - suffix] === last[lastLength - 1 - suffix]
        ) suffix++;
        if (suffix < MIN_COPY) suffix = 0;
      }
      const front = length - suffix;
      const limit = Math.min(front, lastLength);
      let i = 0;
      while (i < front) {
        const run = sameRun(bytes, start, last, i, limit);
        if (run >= MIN_COPY) {
          snappy.copy(offset, run);
          i += run;
          continue;
        }
        // A literal up to the next run worth a copy.
        let end = i + 1;
        while (
          end < front &&
          sameRun(bytes, start, last, end, Math.min(end + MIN_COPY, limit)) < MIN_COPY
        ) end++;
        snappy.bytes(bytes, start + i, start + end);
        i = end;
      }
      if (suffix > 0) snappy.copy(offset + length - lastLength, suffix);
    }
    if (last.length < length) this.#lastNative = new Uint8Array(length * 2);
    this.#lastNative.set(bytes.subarray(start, start + length));
    this.#lastNativeLength = length;
    this.#lastNativeAt = at;
    return at + length;
  }

  /** Compressed mode: series `j`'s tail at `at`, as a literal; returns where it ends. */
  #tail(tails: SeriesTails, j: number, at: number): number {
    const start = tails.starts[j];
    const end = tails.ends[j];
    this.#snappy!.bytes(tails.bytes, start, end);
    return at + end - start;
  }

  /**
   * Flat mode: one TimeSeries of a point whose own labels come pre-encoded from `source`, its
   * labels written in name order without going through the point's buffer: the runs of
   * constant labels (`__name__`, the added ones) as one block each (see `directPlan`), each own
   * label's bytes (or the added label of its name when its value is empty), the sample, then
   * the tail (an exemplar) if any: a series with one is not copied by the next.
   */
  #writeDirect(
    plan: PointPlan,
    source: LabelTextSource,
    slot: number,
    labels: Labels,
    nameLabel: Piece,
    value: number,
    tails: SeriesTails | undefined,
  ): void {
    const direct = this.#directPlanOf(plan, labels, nameLabel);
    const own = this.#own;
    const previous = this.#previousOwn;
    const positions = direct.positions;
    const start = this.#length;
    // Whether this series is laid out like the one just written (same labels, own labels as
    // long): then it is a copy of it with the labels that differ and the value written over.
    const tailLength = tails === undefined ? 0 : tails.lengthOf(0);
    let sameLayout = this.#previousDirect === direct && tailLength === 0 &&
      this.#previousStart + this.#previousSeriesLength === start;
    let content = 2 + this.#sampleLength + direct.constantBytes + tailLength;
    for (let k = 0; k < positions.length; k++) {
      let bytes = source.labelBytesOf!(slot, positions[k], encodeLabel);
      if (bytes.length === 0) bytes = direct.fallbacks[k];
      own[k] = bytes;
      content += bytes.length;
      if (sameLayout && bytes.length !== previous[k].length) sameLayout = false;
    }
    this.#ensure(content + 6);
    const buffer = this.#buffer;
    const view = this.#view;
    const blocks = direct.blocks;
    const timestamp = this.#timestamp;
    let at: number;
    if (sameLayout) {
      const length = this.#previousSeriesLength;
      copyInside(buffer, view, this.#previousStart, length, start);
      // Past the head (as long as the copied one's: same content length), then label by label.
      at = start + writeSeriesHead(this.#head, 0, content);
      for (let k = 0; k < positions.length; k++) {
        at += blocks[k].length;
        const bytes = own[k];
        if (bytes !== previous[k]) {
          for (let i = 0; i < bytes.length; i++) buffer[at + i] = bytes[i];
        }
        at += bytes.length;
      }
      view.setFloat64(start + length - timestamp.length - 8, value, true);
      at = start + length;
    } else {
      at = writeSeriesHead(buffer, start, content);
      for (let k = 0; k < blocks.length; k++) {
        const block = blocks[k];
        if (block.length > 0) {
          copyBytes(block, direct.views[k], 0, block.length, buffer, view, at);
          at += block.length;
        }
        if (k < positions.length) {
          const bytes = own[k];
          for (let i = 0; i < bytes.length; i++) buffer[at++] = bytes[i];
        }
      }
      buffer[at++] = TIMESERIES_SAMPLES * 8 + LENGTH_DELIMITED;
      buffer[at++] = this.#sampleLength;
      buffer[at++] = SAMPLE_VALUE * 8 + FIXED64;
      view.setFloat64(at, value, true);
      at += 8;
      for (let i = 0; i < timestamp.length; i++) buffer[at++] = timestamp[i];
      if (tailLength > 0) at = this.#flatTail(tails!, 0, at);
    }
    this.#length = at;
    this.#own = previous;
    this.#previousOwn = own;
    this.#previousDirect = tailLength === 0 ? direct : undefined;
    this.#previousStart = start;
    this.#previousSeriesLength = at - start;
  }

  /** Compressed mode: the current point becomes the previous one. */
  #nextPoint(): void {
    const previous = this.#previousPoint;
    const previousView = this.#previousView;
    this.#previousPoint = this.#point;
    this.#previousView = this.#pointView;
    this.#previousLength = this.#pointLength;
    this.#point = previous;
    this.#pointView = previousView;
    const older = this.#series1;
    this.#series1 = this.#series0;
    this.#series0 = older;
    older.count = 0;
  }

  /** Compressed mode: which bytes of the new point equal the previous point's. */
  #comparePoints(): void {
    const current = this.#series0;
    const previous = this.#series1;
    current.cut1 = this.#cut1;
    current.cut2 = this.#cut2;
    current.pointLength = this.#pointLength;
    this.#samePrefix = 0;
    this.#sameSuffix = 0;
    this.#sameShape = previous.count > 0 && previous.cut1 === this.#cut1 &&
      previous.cut2 === this.#cut2 && previous.pointLength === this.#pointLength;
    if (previous.count === 0 || previous.cut1 !== this.#cut1 || previous.cut2 !== this.#cut2) {
      return;
    }
    const a = this.#point;
    const b = this.#previousPoint;
    const length = Math.min(this.#pointLength, this.#previousLength);
    const aView = this.#pointView;
    const bView = this.#previousView;
    let prefix = 0;
    while (prefix + 4 <= length && aView.getInt32(prefix) === bView.getInt32(prefix)) prefix += 4;
    while (prefix < length && a[prefix] === b[prefix]) prefix++;
    this.#samePrefix = prefix;
    if (this.#pointLength !== this.#previousLength || prefix === length) return;
    let suffix = 0;
    while (
      suffix + 4 <= length - prefix &&
      aView.getInt32(length - suffix - 4) === bView.getInt32(length - suffix - 4)
    ) {
      suffix += 4;
    }
    const last = length - 1;
    while (suffix < length - prefix && a[last - suffix] === b[last - suffix]) suffix++;
    this.#sameSuffix = suffix;
  }

  /**
   * Appends a Label message of the point: a short ASCII one written by hand after its
   * pre-encoded `head` (see `PlanStep`), the rest by ProtoWriter.
   */
  #labelToPoint(name: string, head: Uint8Array | undefined, value: string): void {
    if (head !== undefined) {
      const valueLength = value.length;
      const content = head.length + 1 + valueLength;
      if (content < 128) {
        if (this.#pointLength + content + 2 > this.#point.length) this.#growPoint(content + 2);
        const point = this.#point;
        let at = this.#pointLength;
        point[at++] = TIMESERIES_LABELS * 8 + LENGTH_DELIMITED;
        point[at++] = content;
        for (let i = 0; i < head.length; i++) point[at++] = head[i];
        point[at++] = valueLength;
        let ascii = true;
        for (let i = 0; i < valueLength; i++) {
          const unit = value.charCodeAt(i);
          if (unit >= 0x80) {
            ascii = false;
            break;
          }
          point[at++] = unit;
        }
        if (ascii) {
          this.#pointLength = at;
          return;
        }
      }
    }
    const slow = this.#slowLabel;
    slow.reset();
    writeLabel(slow, name, value);
    this.#addToPoint(slow.view());
  }

  #addToPoint(bytes: Uint8Array): void {
    if (this.#pointLength + bytes.length > this.#point.length) this.#growPoint(bytes.length);
    const point = this.#point;
    let at = this.#pointLength;
    for (let i = 0; i < bytes.length; i++) point[at++] = bytes[i];
    this.#pointLength += bytes.length;
  }

  #growPoint(extra: number): void {
    const grown = new Uint8Array(Math.max(this.#point.length * 2, this.#pointLength + extra));
    grown.set(this.#point.subarray(0, this.#pointLength));
    this.#point = grown;
    this.#pointView = new DataView(grown.buffer);
  }

  /**
   * One series of the current point: its `__name__` label and one sample, followed by series
   * `j`'s tail in `tails` if any.
   */
  sample(nameLabel: Piece, value: number, tails?: SeriesTails, j = 0): void {
    const added = nameLabel.bytes.length;
    if (this.#nameFirst) this.#series(nameLabel, undefined, added, value, tails, j, true);
    else this.#series(undefined, nameLabel, added, value, tails, j, true);
  }

  /** One series with the point's extra label too (`le`, `quantile`, a state). */
  sampleWith(
    nameLabel: Piece,
    extraLabel: Piece,
    value: number,
    tails?: SeriesTails,
    j = 0,
  ): void {
    const added = nameLabel.bytes.length + extraLabel.bytes.length;
    if (this.#nameFirst) this.#series(nameLabel, extraLabel, added, value, tails, j, true);
    else this.#series(extraLabel, nameLabel, added, value, tails, j, true);
  }

  /**
   * A TimeSeries: tag, length, the point's labels with `atCut1`/`atCut2` spliced in, the
   * sample (unless `withSample` is false), then series `j`'s tail in `tails` if any.
   */
  #series(
    atCut1: Piece | undefined,
    atCut2: Piece | undefined,
    addedBytes: number,
    value: number,
    tails: SeriesTails | undefined,
    j: number,
    withSample: boolean,
  ): void {
    this.#previousDirect = undefined;
    const pointLength = this.#pointLength;
    const sampleLength = this.#sampleLength;
    const tailLength = tails === undefined ? 0 : tails.lengthOf(j);
    const content = pointLength + addedBytes + (withSample ? 2 + sampleLength : 0) + tailLength;
    if (this.#snappy !== undefined) {
      if (tailLength > 0) {
        this.#literalSeries(atCut1, atCut2, content, value, tails!, j, withSample);
      } else this.#compressedSeries(atCut1, atCut2, content, value);
      return;
    }
    this.#ensure(content + 6);
    const buffer = this.#buffer;
    let at = writeSeriesHead(buffer, this.#length, content);
    const cut1 = this.#cut1;
    const cut2 = this.#cut2;
    at = this.#part(0, 0, cut1, at);
    if (atCut1 !== undefined) at = this.#piece(atCut1, at);
    at = this.#part(1, cut1, cut2, at);
    if (atCut2 !== undefined) at = this.#piece(atCut2, at);
    at = this.#part(2, cut2, pointLength, at);
    this.#flushCopy();
    if (withSample) {
      buffer[at++] = TIMESERIES_SAMPLES * 8 + LENGTH_DELIMITED;
      buffer[at++] = sampleLength;
      buffer[at++] = SAMPLE_VALUE * 8 + FIXED64;
      this.#view.setFloat64(at, value, true);
      at += 8;
      const timestamp = this.#timestamp;
      for (let i = 0; i < timestamp.length; i++) buffer[at++] = timestamp[i];
    }
    if (tailLength > 0) at = this.#flatTail(tails!, j, at);
    this.#length = at;
  }

  /** Flat mode: series `j`'s tail at `at` (room made); returns where it ends. */
  #flatTail(tails: SeriesTails, j: number, at: number): number {
    const bytes = tails.bytes;
    const end = tails.ends[j];
    const buffer = this.#buffer;
    for (let i = tails.starts[j]; i < end; i++) buffer[at++] = bytes[i];
    return at;
  }

  /**
   * Compressed mode: a series with a tail (exemplars, a native histogram), all literals but
   * the spliced-in labels (copied from where they were last written). It is no candidate for
   * later series (see `#compressedSeries`), which copy only from where they know the bytes.
   */
  #literalSeries(
    atCut1: Piece | undefined,
    atCut2: Piece | undefined,
    content: number,
    value: number,
    tails: SeriesTails,
    j: number,
    withSample: boolean,
  ): void {
    const snappy = this.#snappy!;
    const head = this.#head;
    const point = this.#point;
    let at = this.#position + writeSeriesHead(head, 0, content);
    snappy.bytes(head, 0, at - this.#position);
    const cuts = [0, this.#cut1, this.#cut2, this.#pointLength];
    for (let part = 0; part < 3; part++) {
      if (cuts[part + 1] > cuts[part]) snappy.bytes(point, cuts[part], cuts[part + 1]);
      at += cuts[part + 1] - cuts[part];
      const piece = part === 0 ? atCut1 : part === 1 ? atCut2 : undefined;
      if (piece === undefined) continue;
      const length = piece.bytes.length;
      if (piece.at >= 0) snappy.copy(at - piece.at, length);
      else snappy.bytes(piece.bytes, 0, length);
      piece.at = at;
      at += length;
    }
    if (withSample) {
      head[0] = TIMESERIES_SAMPLES * 8 + LENGTH_DELIMITED;
      head[1] = this.#sampleLength;
      head[2] = SAMPLE_VALUE * 8 + FIXED64;
      snappy.bytes(head, 0, 3);
      this.#values[0] = value;
      snappy.bytes(this.#valueBytes, 0, 8);
      snappy.bytes(this.#timestamp, 0, this.#timestamp.length);
      at += 2 + this.#sampleLength;
    }
    this.#position = withSample ? this.#tail(tails, j, at) : this.#nativeTail(tails, j, at);
  }

  /**
   * Compressed mode: one TimeSeries as Snappy elements, without writing its bytes. Each region
   * (see `HEAD`) is copied from the same region of one of two earlier series whose bytes there
   * are known to be equal — the same series of the previous point (`r`: same name, same bound,
   * labels equal up to where the points differ) or the previous series (`a`: same point) —
   * preferring the one the last copy continues, so that runs span series; a `le` or `quantile`
   * label can also come from its latest appearance. What no candidate has is a literal.
   */
  #compressedSeries(
    atCut1: Piece | undefined,
    atCut2: Piece | undefined,
    content: number,
    value: number,
  ): void {
    const current = this.#series0;
    const previous = this.#series1;
    const index = current.count;
    const start = this.#position;
    if (
      this.#sameShape && index < previous.count && previous.contents[index] === content &&
      previous.firsts[index] === atCut1 && previous.seconds[index] === atCut2 &&
      this.#seriesLikePrevious(atCut1, atCut2, content, value)
    ) {
      return;
    }
    const first = atCut1 === undefined ? 0 : atCut1.bytes.length;
    const second = atCut2 === undefined ? 0 : atCut2.bytes.length;
    layout(this.#at, start, content, first, second, current, this.#sampleLength);
    const values = this.#values;
    values[0] = value;
    // Candidate r: this series' counterpart in the previous point.
    const hasR = index < previous.count;
    const atR = hasR ? index * STRIDE : 0;
    if (hasR) values[2] = previous.values[index];
    // Candidate a: the series before this one.
    const aSeries = index > 0 ? current : previous;
    const aIndex = index > 0 ? index - 1 : previous.count - 1;
    const hasA = aIndex >= 0;
    const atA = hasA ? aIndex * STRIDE : 0;
    if (hasA) values[1] = aSeries.values[aIndex];
    const rStarts = previous.regions;
    const aStarts = aSeries.regions;
    const starts = this.#at;
    for (let region = 0; region < REGIONS; region++) {
      const length = starts[region + 1] - starts[region];
      if (length === 0) continue;
      const piece = region === FIRST ? atCut1 : region === SECOND ? atCut2 : undefined;
      let k = 0;
      while (k < length) {
        const want = this.#position - this.#snappy!.copyOffset;
        let from = -1;
        let run = 0;
        if (hasR) {
          const m = this.#match(region, previous, index, k, length, piece, content, 2);
          if (m > 0) {
            from = rStarts[atR + region] + k;
            run = m;
          }
        }
        if (hasA && from !== want) {
          const m = this.#match(
            region,
            aSeries,
            aIndex,
            k,
            length,
            piece,
            content,
            1,
          );
          const at = aStarts[atA + region] + k;
          if (m > 0 && (at === want || m > run)) {
            from = at;
            run = m;
          }
        }
        if (run === 0 && piece !== undefined && piece.at >= 0 && k === 0) {
          from = piece.at;
          run = length;
        }
        if (run > 0) {
          this.#snappy!.copy(this.#position - from, run);
        } else {
          run = this.#literal(region, k, length, atCut1, atCut2, content, index > 0);
        }
        this.#position += run;
        k += run;
      }
      if (piece !== undefined) piece.at = starts[region];
    }
    current.add(starts, content, atCut1, atCut2, value);
  }

  /**
   * The common case of `#compressedSeries`, when this series is laid out like its counterpart
   * `r` in the previous point (same length, same spliced-in labels, points cut alike): it is
   * `r` except where the points' bytes differ and in its value. Copies, in order: the start
   * from the previous series `a` as far as that has the same labels (so a run from `a` spans
   * from one series into the next), from `r` up to where the points differ, the differing
   * bytes from `a` (same point) or as a literal, then up to the value from `a` when it is laid
   * out alike from there on, else from `r`; the value byte by byte; the timestamp. Returns
   * false, having written nothing, when the points differ across a spliced-in label.
   */
  #seriesLikePrevious(
    atCut1: Piece | undefined,
    atCut2: Piece | undefined,
    content: number,
    value: number,
  ): boolean {
    const current = this.#series0;
    const previous = this.#series1;
    const index = current.count;
    const cut1 = this.#cut1;
    const cut2 = this.#cut2;
    const pointLength = this.#pointLength;
    const diffStart = this.#samePrefix;
    const diffEnd = pointLength - this.#sameSuffix;
    const differ = diffStart < diffEnd;
    let part = VALUE;
    let partStart = 0;
    if (differ) {
      part = diffStart < cut1 ? PART0 : diffStart < cut2 ? PART1 : PART2;
      partStart = this.#partStart(part);
      if (diffEnd > (part === PART0 ? cut1 : part === PART1 ? cut2 : pointLength)) return false;
    }
    const at = current.reserve();
    const regions = current.regions;
    const rRegions = previous.regions;
    const rAt = index * STRIDE;
    const start = this.#position;
    const toR = start - rRegions[rAt];
    for (let k = 0; k < STRIDE; k++) regions[at + k] = rRegions[rAt + k] + toR;
    const valueStart = regions[at + VALUE];
    const diffAt = differ ? regions[at + part] + diffStart - partStart : valueStart;
    const diffEndAt = differ ? diffAt + diffEnd - diffStart : valueStart;
    const snappy = this.#snappy!;
    const values = this.#values;
    values[0] = value;
    values[2] = previous.values[index];
    let tail = toR;
    let slot = 2;
    if (index > 0) {
      const aAt = at - STRIDE;
      const toA = start - regions[aAt];
      const a = index - 1;
      const sameFirst = current.firsts[a] === atCut1;
      const sameSecond = current.seconds[a] === atCut2;
      let aUntil = current.contents[a] !== content
        ? start
        : !sameFirst
        ? regions[at + FIRST]
        : !sameSecond
        ? regions[at + SECOND]
        : valueStart;
      if (aUntil > diffAt) aUntil = diffAt;
      if (aUntil > start) snappy.copy(toA, aUntil - start);
      if (diffAt > aUntil) snappy.copy(toR, diffAt - aUntil);
      if (differ) {
        const toAPart = regions[at + part] - regions[aAt + part];
        snappy.copy(toAPart, diffEndAt - diffAt);
        if (part === PART2 || (sameSecond && (part === PART1 || sameFirst))) {
          tail = toAPart;
          slot = 1;
          values[1] = current.values[a];
        }
      }
    } else {
      if (diffAt > start) snappy.copy(toR, diffAt - start);
      if (differ) snappy.bytes(this.#point, diffStart, diffEnd);
    }
    if (valueStart > diffEndAt) snappy.copy(tail, valueStart - diffEndAt);
    const bytes = this.#valueBytes;
    const other = slot * 8;
    let k = 0;
    while (k < 8 && bytes[k] === bytes[other + k]) k++;
    if (k > 0) snappy.copy(tail, k);
    if (k < 8) {
      let t = 8;
      while (t > k && bytes[t - 1] === bytes[other + t - 1]) t--;
      snappy.bytes(bytes, k, t);
      if (t < 8) snappy.copy(tail, 8 - t);
    }
    snappy.copy(tail, this.#timestamp.length);
    this.#position = regions[at + REGIONS];
    if (atCut1 !== undefined) atCut1.at = regions[at + FIRST];
    if (atCut2 !== undefined) atCut2.at = regions[at + SECOND];
    current.contents[index] = content;
    current.firsts[index] = atCut1;
    current.seconds[index] = atCut2;
    current.values[index] = value;
    current.count++;
    return true;
  }

  /** Where part `region` (`PART0`, `PART1` or `PART2`) starts in the point's bytes. */
  #partStart(region: number): number {
    return region === PART0 ? 0 : region === PART1 ? this.#cut1 : this.#cut2;
  }

  /**
   * How many bytes of `region`, from byte `k` on, equal those of series `index` of `series`
   * (the current point's or the previous one's) at the same place in the region.
   */
  #match(
    region: number,
    series: PointSeries,
    index: number,
    k: number,
    length: number,
    piece: Piece | undefined,
    content: number,
    valueSlot: number,
  ): number {
    switch (region) {
      case HEAD:
        return series.contents[index] === content ? length - k : 0;
      case PART0:
      case PART1:
      case PART2: {
        if (series === this.#series0) return length - k;
        const partStart = this.#partStart(region);
        const at = partStart + k;
        const end = partStart + length;
        if (at < this.#samePrefix) return Math.min(this.#samePrefix, end) - at;
        if (this.#sameSuffix > 0 && at >= this.#pointLength - this.#sameSuffix) return end - at;
        return 0;
      }
      case FIRST:
        return series.firsts[index] === piece ? length - k : 0;
      case SECOND:
        return series.seconds[index] === piece ? length - k : 0;
      case VALUE: {
        const bytes = this.#valueBytes;
        const other = valueSlot * 8;
        let m = 0;
        while (k + m < 8 && bytes[k + m] === bytes[other + k + m]) m++;
        return m;
      }
      default:
        return length - k;
    }
  }

  /** Writes literal bytes of `region` from byte `k` on: as many as no candidate can match. */
  #literal(
    region: number,
    k: number,
    length: number,
    atCut1: Piece | undefined,
    atCut2: Piece | undefined,
    content: number,
    samePointCandidate: boolean,
  ): number {
    const snappy = this.#snappy!;
    switch (region) {
      case HEAD: {
        writeSeriesHead(this.#head, 0, content);
        snappy.bytes(this.#head, k, length);
        return length - k;
      }
      case PART0:
      case PART1:
      case PART2: {
        const partStart = this.#partStart(region);
        let end = partStart + length;
        // Up to where the previous point's bytes are the same again.
        const suffixStart = this.#pointLength - this.#sameSuffix;
        if (
          !samePointCandidate && this.#sameSuffix > 0 && suffixStart > partStart + k &&
          suffixStart < end
        ) {
          end = suffixStart;
        }
        snappy.bytes(this.#point, partStart + k, end);
        return end - partStart - k;
      }
      case FIRST:
        snappy.bytes(atCut1!.bytes, k, length);
        return length - k;
      case SECOND:
        snappy.bytes(atCut2!.bytes, k, length);
        return length - k;
      case SAMPLE: {
        const head = this.#head;
        head[0] = TIMESERIES_SAMPLES * 8 + LENGTH_DELIMITED;
        head[1] = this.#sampleLength;
        head[2] = SAMPLE_VALUE * 8 + FIXED64;
        snappy.bytes(head, k, length);
        return length - k;
      }
      case VALUE:
        // One byte: the candidates may match again after it.
        snappy.byte(this.#valueBytes[k]);
        return 1;
      default:
        snappy.bytes(this.#timestamp, k, length);
        return length - k;
    }
  }

  /** Part `index` of the point's labels at `at`: from the point's bytes once, then copied. */
  #part(index: number, start: number, end: number, at: number): number {
    const length = end - start;
    if (length === 0) return at;
    const from = this.#written[index];
    if (from >= 0) {
      this.#copy(from, length, at);
    } else {
      copyBytes(this.#point, this.#pointView, start, end, this.#buffer, this.#view, at);
    }
    // The next series copies from here, right after the pieces it copies from this series too:
    // one copy for all of them.
    this.#written[index] = at;
    return at + length;
  }

  /** A repeated piece at `at`: copied from its latest appearance, or written the first time. */
  #piece(piece: Piece, at: number): number {
    const bytes = piece.bytes;
    if (piece.at >= 0) {
      this.#copy(piece.at, bytes.length, at);
    } else {
      this.#buffer.set(bytes, at);
    }
    piece.at = at;
    return at + bytes.length;
  }

  /**
   * Copies `length` bytes at `from` (written before this series) to `at`: later, joined with
   * the next copy when that one continues it in both places (fewer, longer copies).
   */
  #copy(from: number, length: number, at: number): void {
    const pending = this.#copyLength;
    if (pending > 0) {
      if (this.#copyFrom + pending === from && this.#copyTo + pending === at) {
        this.#copyLength = pending + length;
        return;
      }
      this.#flushCopy();
    }
    this.#copyFrom = from;
    this.#copyTo = at;
    this.#copyLength = length;
  }

  #flushCopy(): void {
    const length = this.#copyLength;
    if (length === 0) return;
    copyInside(this.#buffer, this.#view, this.#copyFrom, length, this.#copyTo);
    this.#copyLength = 0;
  }

  #ensure(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2));
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/**
 * Fills `own` with the `Label` messages of the own labels (in `direct`'s order) of the series
 * at `slot` of `source` — for an empty value, the added label of its name if any — and returns
 * their length. Throws when the series has no `job` label then.
 */
function readOwnLabels(
  direct: DirectPlan,
  source: LabelTextSource,
  slot: number,
  own: Uint8Array[],
  family: string,
): number {
  const positions = direct.positions;
  let length = 0;
  let hasJob = direct.hasJob;
  for (let k = 0; k < positions.length; k++) {
    let bytes = source.labelBytesOf!(slot, positions[k], encodeLabel);
    if (bytes.length === 0) bytes = direct.fallbacks[k];
    else if (k === direct.jobPosition) hasJob = true;
    own[k] = bytes;
    length += bytes.length;
  }
  if (!hasJob) throw noJobError(family);
  return length;
}

function noJobError(family: string): TypeError {
  return new TypeError(
    `a series of "${family}" has no job label: give remote write labels: { job: "…" }`,
  );
}

/** The most own labels `SeriesWriter.#copySingleRun` takes (one bit each in a number). */
const MAX_RUN_LABELS = 30;

/** Compressed writers made so far: each one's number tells its `LabelBytes` marks apart. */
let requestCount = 0;

/**
 * A pre-encoded `Label` message as a label source keeps it per distinct value (see
 * `encodeLabel`), with where the compressed request numbered `request` last wrote it: the
 * next series with this label copies it from there (`SeriesWriter.#copySingle`).
 */
class LabelBytes extends Uint8Array {
  request = 0;
  writtenAt = 0;
}

/** A TimeSeries' tag and `content` length at `at`; returns where its content starts. */
function writeSeriesHead(out: Uint8Array, at: number, content: number): number {
  out[at++] = WRITE_REQUEST_TIMESERIES * 8 + LENGTH_DELIMITED;
  let size = content;
  while (size >= 0x80) {
    out[at++] = (size & 0x7f) | 0x80;
    size >>>= 7;
  }
  out[at++] = size;
  return at;
}

/**
 * The parts of a TimeSeries message, in order, as compressed mode copies them: the tag and
 * length, the point's labels in three parts with the two spliced-in labels between them
 * (`First` at cut1, `Second` at cut2), the Sample's tag, length and value tag, its value, its
 * timestamp field.
 */
const HEAD = 0;
const PART0 = 1;
const FIRST = 2;
const PART1 = 3;
const SECOND = 4;
const PART2 = 5;
const SAMPLE = 6;
const VALUE = 7;
const TIMESTAMP = 8;
const REGIONS = 9;
/** Numbers kept per series: each region's start, and the end. */
const STRIDE = REGIONS + 1;

/**
 * Where each region of a series starts (and, at `REGIONS`, where the series ends), given its
 * start, content length, spliced-in labels' lengths and its point's cuts.
 */
function layout(
  out: Float64Array,
  start: number,
  content: number,
  first: number,
  second: number,
  point: PointSeries,
  sampleLength: number,
): void {
  let head = 2;
  for (let size = content; size >= 0x80; size >>>= 7) head++;
  out[HEAD] = start;
  out[PART0] = start + head;
  out[FIRST] = out[PART0] + point.cut1;
  out[PART1] = out[FIRST] + first;
  out[SECOND] = out[PART1] + point.cut2 - point.cut1;
  out[PART2] = out[SECOND] + second;
  out[SAMPLE] = out[PART2] + point.pointLength - point.cut2;
  out[VALUE] = out[SAMPLE] + 3;
  out[TIMESTAMP] = out[VALUE] + 8;
  out[REGIONS] = out[SAMPLE] + 2 + sampleLength;
}

/** The series written for one point in compressed mode: where each went and what it holds. */
class PointSeries {
  count = 0;
  cut1 = 0;
  cut2 = 0;
  pointLength = 0;
  /** Each series' region starts, `STRIDE` numbers per series. */
  regions = new Float64Array(64 * STRIDE);
  readonly contents: number[] = [];
  readonly firsts: (Piece | undefined)[] = [];
  readonly seconds: (Piece | undefined)[] = [];
  readonly values: number[] = [];

  /** Makes room for the next series' region starts; returns where they go. */
  reserve(): number {
    const at = this.count * STRIDE;
    if (at + STRIDE > this.regions.length) {
      const grown = new Float64Array(this.regions.length * 2);
      grown.set(this.regions);
      this.regions = grown;
    }
    return at;
  }

  add(
    starts: Float64Array,
    content: number,
    first: Piece | undefined,
    second: Piece | undefined,
    value: number,
  ): void {
    const at = this.reserve();
    this.regions.set(starts, at);
    const i = this.count++;
    this.contents[i] = content;
    this.firsts[i] = first;
    this.seconds[i] = second;
    this.values[i] = value;
  }
}

/**
 * One label of a point, in name order: an added one (`added` its Label message) or the point's
 * own `name`, whose value is read from each point. An own label's `head` is its Label message
 * from the name's tag to the value's tag (`undefined` for a long or non-ASCII name), and
 * `added` is the added label of the same name that applies when its value is empty.
 */
interface PlanStep {
  readonly name: string | undefined;
  /** The own label's position in the plan's source (see `LabelTextSource.positionOf`), or -1. */
  readonly position: number;
  readonly head: Uint8Array | undefined;
  readonly added: Uint8Array | undefined;
}

/** How the labels of a point merge with the added ones (see `planPoint`). */
interface PointPlan {
  /** Where the labels came from, when they came from a metric's series (see `labelSourceOf`). */
  readonly source: LabelTextSource | undefined;
  /** Otherwise, their keys in their order. */
  readonly keys: readonly string[] | undefined;
  readonly extraName: string | undefined;
  readonly steps: readonly PlanStep[];
  /** The step before which `__name__` goes, and the one before which the extra label goes. */
  readonly nameCut: number;
  readonly extraCut: number;
  /** Whether the added labels have a `job`. */
  readonly hasJob: boolean;
  /** Whether the source gives own labels pre-encoded (`LabelTextSource.labelBytesOf`). */
  readonly encodes: boolean;
}

/**
 * Merges the names of `labels` (without one named `extraName`, which gives way to the extra
 * label) with the added ones, both in code-unit order; a label of the point's own wins over
 * an added one of the same name unless its value is empty.
 */
function planPoint(
  labels: Labels,
  source: LabelTextSource | undefined,
  keys: readonly string[] | undefined,
  extra: ExtraLabels,
  extraName: string | undefined,
  heads: Map<string, Uint8Array | undefined>,
): PointPlan {
  const extraNames = extra.names;
  // A fresh array: ours to sort.
  const own = Object.keys(labels);
  if (extraName !== undefined) {
    const namesake = own.indexOf(extraName);
    if (namesake >= 0) own.splice(namesake, 1);
  }
  if (!isSorted(own)) own.sort(byCodeUnits);
  const encodes = source?.labelBytesOf !== undefined && source.positionOf !== undefined;
  const steps: PlanStep[] = [];
  let nameCut = -1;
  let extraCut = -1;
  let i = 0;
  let j = 0;
  while (i < own.length || j < extraNames.length) {
    let step: PlanStep;
    if (j >= extraNames.length || (i < own.length && own[i] <= extraNames[j])) {
      const name = own[i++];
      let head = heads.get(name);
      if (head === undefined && !heads.has(name)) {
        head = labelHead(name);
        heads.set(name, head);
      }
      const position = encodes ? source!.positionOf!(name) : -1;
      step = {
        name,
        position,
        head,
        added: name === extraNames[j] ? extra.encoded[j++] : undefined,
      };
    } else {
      const added = j++;
      if (extraNames[added] === extraName) continue;
      step = { name: undefined, position: -1, head: undefined, added: extra.encoded[added] };
    }
    // Labels sort by name in code-unit order; "__name__" goes where it falls (first unless a
    // label name starts with an upper-case letter).
    const name = step.name ?? extraNames[j - 1];
    if (nameCut < 0 && name > "__name__") nameCut = steps.length;
    if (extraCut < 0 && extraName !== undefined && name > extraName) extraCut = steps.length;
    steps.push(step);
  }
  return { source, keys, extraName, steps, nameCut, extraCut, hasJob: extra.hasJob, encodes };
}

/**
 * A point with one series laid out for `SeriesWriter.#writeDirect`: `blocks[k]` (the constant
 * labels, `__name__` among them, joined) goes before own label `positions[k]`, the last block
 * after all; `fallbacks[k]` is what an own label with an empty value is written as (the added
 * label of its name, else nothing).
 */
interface DirectPlan {
  readonly plan: PointPlan;
  readonly nameLabel: Piece;
  readonly blocks: readonly Uint8Array[];
  readonly views: readonly DataView[];
  readonly positions: readonly number[];
  readonly fallbacks: readonly Uint8Array[];
  /** The blocks' bytes together. */
  readonly constantBytes: number;
  /** Whether the added or constant labels have a `job`. */
  readonly hasJob: boolean;
  /** Which own label (index into `positions`) is `job`, or -1. */
  readonly jobPosition: number;
}

/**
 * The series of a histogram's point, for `SeriesWriter.#copyPoint`: each one's `__name__` label
 * and extra label (`le` of a bucket; none for `_count` and `_sum`).
 */
interface PointPieces {
  readonly names: readonly Piece[];
  readonly extras: readonly (Piece | undefined)[];
  /** The `__name__` label of the series a native histogram goes in (the family's own name). */
  readonly nativeName?: Piece;
}

/**
 * A point's series laid out for `SeriesWriter.#copyPoint` (a `DirectPlan` per series, all with
 * the same own labels, the native histogram's last), and where each series' constant blocks were last written (-1: not yet).
 */
interface PointLayout {
  readonly plan: PointPlan;
  readonly pieces: PointPieces;
  readonly series: readonly DirectPlan[];
  readonly blockAt: readonly number[][];
}

function pointLayout(plan: PointPlan, labels: Labels, pieces: PointPieces): PointLayout {
  const series = pieces.names.map((name, j) => directPlan(plan, labels, name, pieces.extras[j]));
  if (pieces.nativeName !== undefined) series.push(directPlan(plan, labels, pieces.nativeName));
  return { plan, pieces, series, blockAt: series.map((one) => one.blocks.map(() => -1)) };
}

/**
 * Lays out `plan` (of a point with pre-encoded own labels) with `nameLabel` (and `extraLabel`,
 * the plan's extra label, if given) spliced in; the source's constant labels (the same in all
 * its series) are read from `labels`.
 */
function directPlan(
  plan: PointPlan,
  labels: Labels,
  nameLabel: Piece,
  extraLabel?: Piece,
): DirectPlan {
  const nameFirst = plan.extraName === undefined || "__name__" < plan.extraName;
  const blocks: Uint8Array[] = [];
  const positions: number[] = [];
  const fallbacks: Uint8Array[] = [];
  let block: Uint8Array[] = [];
  const join = (parts: Uint8Array[]) => {
    const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    return joined;
  };
  const steps = plan.steps;
  let hasJob = plan.hasJob;
  let jobPosition = -1;
  for (let k = 0; k <= steps.length; k++) {
    const last = k === steps.length;
    const nameHere = k === plan.nameCut || (last && plan.nameCut < 0);
    const extraHere = extraLabel !== undefined &&
      (k === plan.extraCut || (last && plan.extraCut < 0));
    if (nameHere && (nameFirst || !extraHere)) block.push(nameLabel.bytes);
    if (extraHere) block.push(extraLabel.bytes);
    if (nameHere && !nameFirst && extraHere) block.push(nameLabel.bytes);
    if (last) break;
    const step = steps[k];
    if (step.position >= 0) {
      blocks.push(join(block));
      block = [];
      if (step.name === "job") jobPosition = positions.length;
      positions.push(step.position);
      fallbacks.push(step.added ?? NO_LABEL);
    } else if (step.name !== undefined) {
      // A constant label of the metric; empty (no label), the added one of its name applies.
      const bytes = encodeLabel(step.name, labels[step.name]);
      if (step.name === "job" && bytes.length > 0) hasJob = true;
      block.push(bytes.length > 0 ? bytes : step.added ?? NO_LABEL);
    } else {
      block.push(step.added!);
    }
  }
  blocks.push(join(block));
  return {
    plan,
    nameLabel,
    blocks,
    views: blocks.map((joined) => new DataView(joined.buffer)),
    positions,
    fallbacks,
    constantBytes: blocks.reduce((sum, joined) => sum + joined.length, 0),
    hasJob,
    jobPosition,
  };
}

/** Whether two key lists are the same, in the same order. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A Label message's bytes from the name's tag to the value's tag, for a short ASCII `name`
 * (else `undefined`).
 */
function labelHead(name: string): Uint8Array | undefined {
  if (name.length > 100) return undefined;
  const head = new Uint8Array(name.length + 3);
  head[0] = LABEL_NAME * 8 + LENGTH_DELIMITED;
  head[1] = name.length;
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit >= 0x80) return undefined;
    head[i + 2] = unit;
  }
  head[name.length + 2] = LABEL_VALUE * 8 + LENGTH_DELIMITED;
  return head;
}

/** Whether names are in code-unit order already (a metric's label names usually are). */
function isSorted(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if (names[i - 1] > names[i]) return false;
  return true;
}

// Copies of more than this many bytes go to the native `copyWithin`/`set` (a fixed cost of a
// call); shorter ones move four bytes per step through DataViews, which measured faster than
// a byte loop, and than the native call below this size.
const SHORT_COPY = 96;

/** Copies `length` bytes at `from` to `at` in the same buffer (not overlapping). */
function copyInside(
  buffer: Uint8Array,
  view: DataView,
  from: number,
  length: number,
  at: number,
): void {
  if (length > SHORT_COPY) {
    buffer.copyWithin(at, from, from + length);
    return;
  }
  let i = 0;
  for (; i + 4 <= length; i += 4) view.setInt32(at + i, view.getInt32(from + i, true), true);
  for (; i < length; i++) buffer[at + i] = buffer[from + i];
}

/** Copies `source[start, end)` to `target` at `at` (each with a DataView over all of it). */
function copyBytes(
  source: Uint8Array,
  sourceView: DataView,
  start: number,
  end: number,
  target: Uint8Array,
  targetView: DataView,
  at: number,
): void {
  const length = end - start;
  if (length > SHORT_COPY) {
    target.set(source.subarray(start, end), at);
    return;
  }
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    targetView.setInt32(at + i, sourceView.getInt32(start + i, true), true);
  }
  for (; i < length; i++) target[at + i] = source[start + i];
}

/**
 * What some series of a point carry besides (or instead of) their one sample, encoded for the
 * point: exemplars, after a sample, and a native histogram, in a series of its own. Series
 * `j`'s bytes are `bytes[starts[j], ends[j])` (none when equal); one buffer is reused for every
 * point of a request, and a point with nothing to add passes no tails at all.
 */
export class SeriesTails {
  readonly #writer = new ProtoWriter(256);
  readonly #timestampMs: number;
  /** Whether exemplars are sent (see `WriteOptions`). */
  readonly exemplars: boolean;
  /** Whether native histograms are sent (see `WriteOptions`). */
  readonly natives: boolean;
  bytes: Uint8Array = NO_LABEL;
  starts = new Int32Array(32);
  ends = new Int32Array(32);

  constructor(timestampMs: number, options: WriteOptions) {
    this.#timestampMs = timestampMs;
    this.exemplars = options.exemplars ?? true;
    this.natives = options.nativeHistograms ?? true;
  }

  /** Starts a point of `seriesCount` series, none with a tail yet. */
  start(seriesCount: number): void {
    this.#writer.reset();
    if (this.starts.length < seriesCount) {
      this.starts = new Int32Array(seriesCount * 2);
      this.ends = new Int32Array(seriesCount * 2);
    } else {
      this.starts.fill(0, 0, seriesCount);
      this.ends.fill(0, 0, seriesCount);
    }
  }

  /** Whether a series before series `count` has a tail. */
  anyBefore(count: number): boolean {
    for (let j = 0; j < count; j++) if (this.ends[j] > this.starts[j]) return true;
    return false;
  }

  /** Series `j`'s tail's length (0: none). */
  lengthOf(j: number): number {
    return this.ends[j] - this.starts[j];
  }

  /** Series `j` carries `exemplar` (names escaped as remote write sends names). */
  exemplar(j: number, exemplar: Exemplar): void {
    const writer = this.#writer;
    this.starts[j] = writer.length;
    writeExemplar(writer, escapeExemplar(exemplar, "underscores"), this.#timestampMs);
    this.ends[j] = writer.length;
  }

  /** Series `j` is a native histogram of `count` observations summing to `sum`. */
  native(j: number, count: number, sum: number, buckets: NativeBuckets): void {
    const writer = this.#writer;
    this.starts[j] = writer.length;
    writeNativeHistogram(writer, count, sum, buckets, this.#timestampMs);
    this.ends[j] = writer.length;
  }

  /** Ends the point: whether any series has a tail (`bytes` then holds them). */
  finish(): boolean {
    if (this.#writer.length === 0) return false;
    this.bytes = this.#writer.view();
    return true;
  }
}

/**
 * A `TimeSeries.exemplars` field: the exemplar's labels (sorted by name, empty values left
 * out), value, and timestamp in milliseconds (the request's when it has none, as a scrape
 * stamps an exemplar without one with the scrape's time).
 */
function writeExemplar(out: ProtoWriter, exemplar: Exemplar, timestampMs: number): void {
  const message = out.begin(TIMESERIES_EXEMPLARS);
  const labels = exemplar.labels;
  const names = Object.keys(labels);
  if (!isSorted(names)) names.sort(byCodeUnits);
  for (const name of names) {
    const value = labels[name];
    if (value === "") continue;
    const label = out.begin(EXEMPLAR_LABELS);
    out.string(LABEL_NAME, name);
    out.string(LABEL_VALUE, value);
    out.end(label);
  }
  out.double(EXEMPLAR_VALUE, exemplar.value);
  const timestamp = exemplar.timestamp;
  out.int64(
    EXEMPLAR_TIMESTAMP,
    timestamp === undefined ? timestampMs : Math.round(timestamp * 1000),
  );
  out.end(message);
}

/**
 * A `TimeSeries.histograms` field: one integer `Histogram` (prompb, Prometheus 2.40 on) at
 * `timestampMs`. Both oneofs (`count_int`, `zero_count_int`) are written even when 0, as Go
 * writes a set oneof; the other scalars only when not 0, the deltas packed (proto3), no reset
 * hint (the receiver finds resets itself).
 */
function writeNativeHistogram(
  out: ProtoWriter,
  count: number,
  sum: number,
  buckets: NativeBuckets,
  timestampMs: number,
): void {
  const message = out.begin(TIMESERIES_HISTOGRAMS);
  out.uint(HISTOGRAM_COUNT_INT, count);
  if (sum !== 0) out.double(HISTOGRAM_SUM, sum);
  if (buckets.schema !== 0) out.sint(HISTOGRAM_SCHEMA, buckets.schema);
  if (buckets.zeroThreshold !== 0) out.double(HISTOGRAM_ZERO_THRESHOLD, buckets.zeroThreshold);
  out.uint(HISTOGRAM_ZERO_COUNT_INT, buckets.zeroCount);
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

/**
 * Fills `tails` for a histogram point of `bucketCount` buckets (series 0…) and `seriesCount`
 * classic series: the buckets' exemplars, and the native histogram (series `seriesCount`) if
 * any. Returns `tails`, or `undefined` when there is nothing to add.
 */
function histogramTails(
  tails: SeriesTails,
  seriesCount: number,
  exemplars: readonly (Exemplar | undefined)[] | undefined,
  count: number,
  sum: number,
  native: NativeBuckets | undefined,
): SeriesTails | undefined {
  const withExemplars = exemplars !== undefined && tails.exemplars;
  if (!tails.natives) native = undefined;
  if (!withExemplars && native === undefined) return undefined;
  tails.start(seriesCount + 1);
  if (withExemplars) {
    for (let i = 0; i < exemplars.length; i++) {
      const exemplar = exemplars[i];
      if (exemplar !== undefined) tails.exemplar(i, exemplar);
    }
  }
  if (native !== undefined) tails.native(seriesCount, count, sum, native);
  return tails.finish() ? tails : undefined;
}

/** Fills `tails` for a counter's series with `exemplar`; `undefined` when there is none. */
function counterTails(
  tails: SeriesTails,
  exemplar: Exemplar | undefined,
): SeriesTails | undefined {
  if (exemplar === undefined || !tails.exemplars) return undefined;
  tails.start(1);
  tails.exemplar(0, exemplar);
  tails.finish();
  return tails;
}

/** The shortest run of shared bytes copied rather than written out (a copy takes 2–3 bytes). */
const MIN_COPY = 4;

/** How many bytes from `i` on (up to `limit`) `bytes` (from `start`) and `last` have alike. */
function sameRun(
  bytes: Uint8Array,
  start: number,
  last: Uint8Array,
  i: number,
  limit: number,
): number {
  let run = 0;
  while (i + run < limit && bytes[start + i + run] === last[i + run]) run++;
  return run;
}

/** Wire types of the fields written by hand. */
const LENGTH_DELIMITED = 2;
const FIXED64 = 1;

function writeLabel(out: ProtoWriter, name: string, value: string): void {
  const label = out.begin(TIMESERIES_LABELS);
  out.string(LABEL_NAME, name);
  out.string(LABEL_VALUE, value);
  out.end(label);
}

const NO_LABEL = new Uint8Array(0);

/**
 * A point's own label as the `Label` message (field `labels` of a TimeSeries) a series' labels
 * are written from; no bytes for an empty value, which is no label (see `SeriesWriter.point`).
 * Label sources keep these per distinct value (`LabelTextSource.labelBytesOf`).
 */
function encodeLabel(name: string, value: string): Uint8Array {
  if (value === "") return NO_LABEL;
  const writer = new ProtoWriter(name.length + value.length + 8);
  writeLabel(writer, name, value);
  const encoded = writer.view();
  const bytes = new LabelBytes(encoded.length);
  bytes.set(encoded);
  return bytes;
}

/**
 * Pre-encoded `Label` messages for the names and extra labels one request repeats (per-request
 * caches: nothing outlives the request, whatever values a custom collector invents).
 */
class LabelCache {
  readonly #writer = new ProtoWriter(64);
  readonly #bounds = new Map<readonly number[], Piece[]>();
  readonly #byText = new Map<string, Piece>();

  /** One `Label` message. */
  label(name: string, value: string): Piece {
    const writer = this.#writer;
    writer.reset();
    writeLabel(writer, name, value);
    return { bytes: writer.finish(), at: -1 };
  }

  /** `__name__` = `name`. */
  metricName(name: string): Piece {
    return this.label("__name__", name);
  }

  /** `le` labels of a histogram's bounds, shared by the points whose bounds array is shared. */
  bounds(upperBounds: readonly number[]): Piece[] {
    let labels = this.#bounds.get(upperBounds);
    if (labels === undefined) {
      labels = formatBounds(upperBounds).map((bound) => this.label("le", bound));
      this.#bounds.set(upperBounds, labels);
    }
    return labels;
  }

  /** A `quantile` label. */
  quantile(quantile: number): Piece {
    const text = formatFloat(quantile);
    let label = this.#byText.get(text);
    if (label === undefined) {
      label = this.label("quantile", text);
      this.#byText.set(text, label);
    }
    return label;
  }
}

/**
 * Encodes families (and metrics read from storage: see `gatherWriteItems`) as one remote-write
 * 1.0 `WriteRequest` (not compressed): a `TimeSeries` per sample series, each with one sample
 * at `timestampMs`, then one `MetricMetadata` per family. Throws a `TypeError` for a series
 * without `job` when `labels` has none.
 */
export function encodeWriteRequest(
  families: WriteItems,
  labels: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array<ArrayBuffer> {
  // Sized like the previous request (usually the same series again), so the buffer is not
  // grown and copied several times over.
  const series = new SeriesWriter(labels, timestampMs, lastRequestBytes + (lastRequestBytes >> 3));
  writeRequest(series, families, new SeriesTails(timestampMs, options));
  const request = series.view();
  lastRequestBytes = Math.min(request.length, MAX_SIZE_HINT_BYTES);
  // The buffer belongs to this request alone: a view, not a copy.
  return request;
}

/**
 * The same `WriteRequest` as {@linkcode encodeWriteRequest}, as one Snappy block, written
 * straight from the series' structure: the request's bytes are never laid out, and no search
 * for repeats runs over them (the encoder knows where each part appeared before).
 */
export function encodeCompressedWriteRequest(
  families: WriteItems,
  labels: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array<ArrayBuffer> {
  const series = new SeriesWriter(
    labels,
    timestampMs,
    lastCompressedBytes + (lastCompressedBytes >> 3),
    true,
  );
  const flat = new SeriesWriter(labels, timestampMs, lastFlatBytes + (lastFlatBytes >> 3));
  writeRequest(series, families, new SeriesTails(timestampMs, options), flat);
  flat.clear();
  lastFlatBytes = Math.min(flat.largestBatch, MAX_SIZE_HINT_BYTES);
  const block = series.finishCompressed();
  lastCompressedBytes = Math.min(block.length, MAX_SIZE_HINT_BYTES);
  return block;
}

/**
 * Writes the items' series, then their metadata. With `flat` (compressed mode), the families
 * whose points have one series each (counters, gauges, info) and whose labels do not come
 * pre-encoded from a metric go through `flat` and the Snappy search: copying from the previous
 * point's one series gains less there than the search finds (a label value's last digits recur
 * ten series back), and costs more. A metric's series are copied from where each label value
 * was last written (`SeriesWriter.#copySingle`), which needs no search.
 */
function writeRequest(
  series: SeriesWriter,
  items: WriteItems,
  tails: SeriesTails,
  flat?: SeriesWriter,
): void {
  const cache = new LabelCache();
  // Pieces remember where they were written, in one writer's positions: one cache per writer.
  const flatCache = flat === undefined ? undefined : new LabelCache();
  for (const item of items) {
    if (isReading(item)) {
      writeMetric(series, cache, item, tails);
    } else if (flat !== undefined && hasOneSeriesPerPoint(item) && !hasEncodedLabels(item)) {
      flat.clear();
      writeFamily(flat, flatCache!, item, tails);
      series.appendSearched(flat);
    } else {
      writeFamily(series, cache, item, tails);
    }
  }
  const metadata = new ProtoWriter();
  for (const item of items) {
    writeMetadata(metadata, isReading(item) ? familyWithoutPoints(item.metric) : item);
  }
  series.append(metadata.view());
}

/** What else than samples a request carries. */
export interface WriteOptions {
  /** Counters' and classic histogram buckets' exemplars (default true). */
  readonly exemplars?: boolean;
  /** Native histograms, each in a series of its own (default true). */
  readonly nativeHistograms?: boolean;
}

/**
 * What a request is written from: families (snapshots), and from a `Registry` the metrics
 * read straight from their storage (see `gatherWriteItems`).
 */
export type WriteItems = readonly (MetricFamily | MetricReading)[];

/**
 * A counter's, gauge's or histogram's series as they were when the request was gathered —
 * the moment `collect()` would have taken its snapshot: the label sets (which the metric
 * never changes in place) and a copy of the numbers, no object per series.
 */
export interface MetricReading {
  readonly metric: MetricStorage;
  readonly labels: LabelSets;
  /** The labels object of the first live series (-1: none), for the names and constant labels. */
  readonly first: number;
  readonly firstLabels: Labels | undefined;
  readonly numbers: Float64Array;
  /** A histogram's bucket counts (not cumulative), `upperBounds.length` per slot. */
  readonly counts: Uint32Array | Float64Array;
  /** An unlabelled counter's total, which lives outside the store. */
  readonly unlabelledTotal: number | undefined;
  /**
   * By slot, a counter's exemplar or a histogram's bucket exemplars (a copy), when the metric
   * has any.
   */
  readonly exemplars:
    | readonly (Exemplar | readonly (Exemplar | undefined)[] | undefined)[]
    | undefined;
  /** By slot, a native histogram's buckets, when the histogram is native. */
  readonly natives: readonly (NativeBuckets | undefined)[] | undefined;
}

function isReading(item: MetricFamily | MetricReading): item is MetricReading {
  return "metric" in item;
}

/** Reads `metric`'s series now (see `MetricReading`). */
function readMetric(metric: MetricStorage): MetricReading {
  const view = metric.read();
  const labels = view.labels;
  const slotCount = labels.slotCount;
  let first = 0;
  while (first < slotCount && !labels.isLive(first)) first++;
  const store = view.store;
  const layout = metric.layout;
  const gauge = layout.type === "gauge";
  return {
    metric,
    labels,
    first: first < slotCount ? first : -1,
    firstLabels: first < slotCount ? labels.labelsOf(first) : undefined,
    numbers: store.numbers.slice(0, slotCount * layout.numberStride),
    counts: layout.type === "histogram"
      ? store.counts.slice(0, slotCount * layout.upperBounds.length)
      : EMPTY_COUNTS,
    unlabelledTotal: layout.type === "counter" ? layout.unlabelledTotal() : undefined,
    exemplars: gauge ? undefined : readExemplars(store.sides[layout.exemplarSide], slotCount),
    natives: layout.type === "histogram" && layout.nativeSide !== undefined
      ? readNatives(store.sides[layout.nativeSide], labels, slotCount)
      : undefined,
  };
}

/**
 * The exemplars of a side array (a counter's: one per slot; a histogram's: one array per
 * slot, which observations change in place, so copied), as they are now.
 */
function readExemplars(
  side: readonly unknown[] | undefined,
  slotCount: number,
): (Exemplar | readonly (Exemplar | undefined)[] | undefined)[] | undefined {
  if (side === undefined) return undefined;
  const exemplars = new Array<Exemplar | (Exemplar | undefined)[] | undefined>(slotCount);
  for (let slot = 0; slot < slotCount && slot < side.length; slot++) {
    const held = side[slot] as Exemplar | (Exemplar | undefined)[] | undefined;
    exemplars[slot] = Array.isArray(held) ? held.slice() : held;
  }
  return exemplars;
}

/** The buckets of each live series' native state, as they are now. */
function readNatives(
  side: readonly unknown[] | undefined,
  labels: LabelSets,
  slotCount: number,
): (NativeBuckets | undefined)[] | undefined {
  if (side === undefined) return undefined;
  const natives = new Array<NativeBuckets | undefined>(slotCount);
  for (let slot = 0; slot < slotCount; slot++) {
    if (labels.isLive(slot)) natives[slot] = (side[slot] as NativeHistogram | undefined)?.buckets();
  }
  return natives;
}

const EMPTY_COUNTS = new Uint32Array(0);

/**
 * What a request for `registry` is written from, decided as the byte renderer decides it
 * (`gatherForBytes`: the same names filter, checks and name clashes as `collect()`): its
 * counters, gauges and histograms read from their storage when `collect()` would have
 * collected them, with no snapshot built, and the other collectors' families, names escaped
 * as remote write sends them. `undefined` for a registry with a prefix or default labels:
 * encode its `collect()` instead.
 */
export async function gatherWriteItems(registry: Registry): Promise<WriteItems | undefined> {
  const readings = new Map<MetricStorage, MetricReading>();
  let scoped = false;
  const items = await gatherForBytes(registry, {}, (item) => {
    if (item.defaults !== undefined || item.family.name !== item.storage.name) scoped = true;
    readings.set(item.storage, readMetric(item.storage));
  });
  if (scoped) return undefined;
  return items.map((item) =>
    isStoredMetric(item) ? readings.get(item.storage)! : escapeFamily(item, "underscores")
  );
}

/**
 * Writes a metric's series from its reading, in slot order, as `writeFamily` writes its
 * snapshot (which lists the live slots in the same order with the same numbers): each
 * series' labels come pre-encoded through the label source of the metric's labels objects,
 * read by slot.
 */
function writeMetric(
  series: SeriesWriter,
  cache: LabelCache,
  reading: MetricReading,
  tails: SeriesTails,
): void {
  const first = reading.first;
  if (first < 0) return;
  const snapshot = reading.labels;
  const slotCount = snapshot.slotCount;
  // Any series' labels give the names and the constant labels; the rest is read by slot.
  const labels = reading.firstLabels!;
  const source = labelSourceOf(labels);
  const metric = reading.metric;
  const name = metric.name;
  const numbers = reading.numbers;
  const layout = metric.layout;
  const exemplars = reading.exemplars;
  switch (layout.type) {
    case "counter":
    case "gauge": {
      const counter = layout.type === "counter";
      const sampleName = cache.metricName(counter ? name + "_total" : name);
      const unlabelled = reading.unlabelledTotal;
      const stride = layout.numberStride;
      const offset = counter ? layout.totalOffset : layout.valueOffset;
      for (let slot = first; slot < slotCount; slot++) {
        if (!snapshot.isLive(slot)) continue;
        const value = unlabelled ?? numbers[slot * stride + offset];
        const exemplar = exemplars?.[slot] as Exemplar | undefined;
        const seriesTails = exemplar === undefined ? undefined : counterTails(tails, exemplar);
        series.singleAt(labels, source, slot, name, sampleName, value, seriesTails, snapshot);
      }
      return;
    }
    case "histogram": {
      const pieces = histogramPieces(cache, name)(layout.upperBounds);
      const bucketCount = layout.upperBounds.length;
      const withSum = pieces.names.length > bucketCount + 1;
      const values = new Float64Array(pieces.names.length);
      const stride = layout.numberStride;
      const sumOffset = layout.sumOffset;
      const counts = reading.counts;
      const natives = reading.natives;
      const seriesCount = pieces.names.length;
      for (let slot = first; slot < slotCount; slot++) {
        if (!snapshot.isLive(slot)) continue;
        const base = slot * bucketCount;
        let count = 0;
        for (let i = 0; i < bucketCount; i++) values[i] = count += counts[base + i];
        values[bucketCount] = count;
        const sum = numbers[slot * stride + sumOffset];
        if (withSum) values[bucketCount + 1] = sum;
        const bucketExemplars = exemplars?.[slot] as BucketExemplars | undefined;
        const native = natives?.[slot];
        const pointTails = bucketExemplars === undefined && native === undefined
          ? undefined
          : histogramTails(tails, seriesCount, bucketExemplars, count, sum, native);
        series.pointSeriesAt(labels, source, slot, name, "le", pieces, values, pointTails);
      }
      return;
    }
  }
}

// The size of the last request encoded (and compressed), a capacity hint for the next one
// (capped).
let lastRequestBytes = 0;
let lastCompressedBytes = 0;
let lastFlatBytes = 0;
const MAX_SIZE_HINT_BYTES = 64 * 1024 * 1024;

/**
 * Whether the family's labels come pre-encoded from a metric's series (see `labelSourceOf`):
 * then compressed mode copies its series' parts from where they were written before
 * (`SeriesWriter.#copySingle`) instead of laying them out and searching them.
 */
function hasEncodedLabels(family: MetricFamily): boolean {
  const points = family.points as readonly { labels: Labels }[];
  return points.length > 0 && labelSourceOf(points[0].labels)?.labelBytesOf !== undefined;
}

function hasOneSeriesPerPoint(family: MetricFamily): boolean {
  const type = family.type;
  return type === "counter" || type === "gauge" || type === "unknown" || type === "info";
}

function writeFamily(
  series: SeriesWriter,
  cache: LabelCache,
  family: MetricFamily,
  tails: SeriesTails,
): void {
  const name = family.name;
  switch (family.type) {
    case "counter": {
      const sampleName = cache.metricName(name + "_total");
      for (const point of family.points) {
        const exemplar = point.exemplar;
        const pointTails = exemplar === undefined ? undefined : counterTails(tails, exemplar);
        series.single(point.labels, name, sampleName, point.value, pointTails);
      }
      return;
    }
    case "gauge":
    case "unknown": {
      const sampleName = cache.metricName(name);
      for (const point of family.points) series.single(point.labels, name, sampleName, point.value);
      return;
    }
    case "histogram": {
      const pieces = histogramPieces(cache, name);
      let values = new Float64Array(0);
      for (const point of family.points) {
        const pointPieces = pieces(point.upperBounds);
        const seriesCount = pointPieces.names.length;
        if (values.length < seriesCount) values = new Float64Array(seriesCount);
        const counts = point.bucketCounts;
        for (let i = 0; i < counts.length; i++) values[i] = counts[i];
        values[counts.length] = point.count;
        if (hasSum(point)) values[counts.length + 1] = point.sum;
        const labels = point.labels;
        const native = nativeBucketsOf(point);
        const pointTails = point.exemplars === undefined && native === undefined
          ? undefined
          : histogramTails(tails, seriesCount, point.exemplars, point.count, point.sum, native);
        series.pointSeriesAt(
          labels,
          labelSourceOf(labels),
          labelSlotOf(labels),
          name,
          "le",
          pointPieces,
          values,
          pointTails,
        );
      }
      return;
    }
    case "summary": {
      const quantileName = cache.metricName(name);
      const countName = cache.metricName(name + "_count");
      const sumName = cache.metricName(name + "_sum");
      for (const point of family.points) {
        series.point(point.labels, name, "quantile");
        for (const { quantile, value } of point.quantiles) {
          series.sampleWith(quantileName, cache.quantile(quantile), value);
        }
        series.sample(countName, point.count);
        series.sample(sumName, point.sum);
      }
      return;
    }
    case "info": {
      const sampleName = cache.metricName(name + "_info");
      for (const point of family.points) series.single(point.labels, name, sampleName, 1);
      return;
    }
    case "stateset": {
      const sampleName = cache.metricName(name);
      for (const point of family.points) {
        series.point(point.labels, name, name);
        for (const state of point.states) {
          series.sampleWith(sampleName, cache.label(name, state.name), state.enabled ? 1 : 0);
        }
      }
      return;
    }
  }
}

/**
 * The series of a histogram `name`'s points by their bounds: `_bucket` with each `le`, `_count`,
 * and `_sum` unless a bound is negative (and the series named `name` that carries a native
 * histogram). One object per bounds array (a metric's points share
 * theirs), so that a point is laid out like the one before it.
 */
function histogramPieces(
  cache: LabelCache,
  name: string,
): (upperBounds: readonly number[]) => PointPieces {
  const bucketName = cache.metricName(name + "_bucket");
  const countName = cache.metricName(name + "_count");
  const sumName = cache.metricName(name + "_sum");
  const nativeName = cache.metricName(name);
  const byBounds = new Map<readonly number[], PointPieces>();
  return (upperBounds) => {
    let pieces = byBounds.get(upperBounds);
    if (pieces === undefined) {
      const bounds = cache.bounds(upperBounds);
      const withSum = hasSum({ upperBounds } as HistogramPoint);
      pieces = {
        names: [...bounds.map(() => bucketName), countName, ...(withSum ? [sumName] : [])],
        extras: [...bounds, undefined, ...(withSum ? [undefined] : [])],
        nativeName,
      };
      byBounds.set(upperBounds, pieces);
    }
    return pieces;
  };
}

/** The family's metadata under the name a text-format scrape records it by. */
function writeMetadata(out: ProtoWriter, family: MetricFamily): void {
  let familyName = family.name;
  let type: number;
  switch (family.type) {
    case "counter":
      familyName += "_total";
      type = METADATA_TYPES.counter;
      break;
    case "info":
      familyName += "_info";
      type = METADATA_TYPES.gauge;
      break;
    case "stateset":
    case "gauge":
      type = METADATA_TYPES.gauge;
      break;
    default:
      type = METADATA_TYPES[family.type];
  }
  const metadata = out.begin(WRITE_REQUEST_METADATA);
  if (type !== 0) out.uint(METADATA_TYPE, type);
  out.string(METADATA_FAMILY_NAME, familyName);
  if (family.help !== "") out.string(METADATA_HELP, family.help);
  if (family.unit !== undefined && family.unit !== "") out.string(METADATA_UNIT, family.unit);
  out.end(metadata);
}

/** Builds the sorted extra labels of a request; exported for tests and benchmarks. */
export function remoteWriteLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  return extraLabels(labels, "remote write");
}
