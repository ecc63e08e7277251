/**
 * The one overflow series of a received metric past its series cap: what the series that got
 * no series of their own recorded, added up, so that totals over all series stay right (as the
 * overflow of OpenTelemetry SDKs and of this library's own metrics does). Senders send
 * cumulative values, so each overflowed series' last values are kept (by key, at most
 * `maxKeys` of them) and only their increases are added; a value that went down is a reset and
 * counts whole. A gauge's overflow holds the last value set into it.
 *
 * @module
 */

import type { Labels } from "../model.ts";
import { decodeBuckets, encodeBuckets } from "../metrics/native_histogram.ts";

/** The series types of the receiver's store. */
export type OverflowKind = "counter" | "gauge" | "histogram" | "native" | "summary";

/** Sparse buckets: index → count. */
type Buckets = Map<number, number>;

/** What one overflowed series sent last. */
interface LastValues {
  /** When it was sent (`time_unix_nano`): an older point, or a retried delta, is ignored. */
  readonly time: number;
  readonly value: number;
  readonly count: number;
  readonly sum: number;
  readonly cumulative?: readonly number[];
  readonly schema?: number;
  readonly positive?: Buckets;
  readonly negative?: Buckets;
  readonly zeroCount?: number;
}

/** A snapshot point of the store (the shape `translate.ts` gives for each type). */
// deno-lint-ignore no-explicit-any
type PointValues = any;

/** The overflow series of one metric. */
export class OverflowSeries {
  readonly #kind: OverflowKind;
  readonly #labels: Labels;
  readonly #maxKeys: number;
  readonly #last = new Map<string, LastValues>();
  #keyCharacters = 0;
  #value = 0;
  #count = 0;
  #sum = 0;
  #bounds: readonly number[] | undefined;
  #buckets: number[] = [];
  #schema: number | undefined;
  #zeroThreshold = 0;
  #zeroCount = 0;
  #positive: Buckets = new Map();
  #negative: Buckets = new Map();
  #point: PointValues;

  constructor(kind: OverflowKind, labels: Labels, maxKeys: number) {
    this.#kind = kind;
    this.#labels = labels;
    this.#maxKeys = maxKeys;
    this.#point = { labels };
  }

  /** The point to expose. */
  get point(): PointValues {
    return this.#point;
  }

  /** Whether the last values of the series `key` are kept here. */
  follows(key: string): boolean {
    return this.#last.has(key);
  }

  /** Characters of the keys of the series followed (counted in the store's label budget). */
  get keyCharacters(): number {
    return this.#keyCharacters;
  }

  /**
   * Adds the point of the series `key` (its values as the store translated them); returns why
   * it is refused, if it is.
   */
  add(key: string, values: PointValues, time: number, delta: boolean): string | undefined {
    if (this.#kind === "gauge") {
      this.#point = { labels: this.#labels, value: values.value };
      return undefined;
    }
    const previous = this.#last.get(key);
    if (previous === undefined && this.#last.size >= this.#maxKeys) {
      return `the overflow series follows ${this.#maxKeys} series already`;
    }
    // As for a series of its own: older points and retried deltas change nothing.
    if (previous !== undefined && (delta ? time <= previous.time : time < previous.time)) {
      return undefined;
    }
    // A delta is an increase already: it is added whole.
    const reason = this.#addIncrease(values, delta ? undefined : previous);
    if (reason !== undefined) return reason;
    if (previous === undefined) this.#keyCharacters += key.length;
    this.#last.set(key, lastValuesOf(this.#kind, values, time));
    return undefined;
  }

  #addIncrease(values: PointValues, previous: LastValues | undefined): string | undefined {
    switch (this.#kind) {
      case "counter": {
        const value: number = values.value;
        this.#value += previous === undefined || value < previous.value
          ? value
          : value - previous.value;
        this.#point = { labels: this.#labels, value: this.#value };
        return undefined;
      }
      case "summary": {
        const reset = previous === undefined || values.count < previous.count ||
          values.sum < previous.sum;
        this.#count += reset ? values.count : values.count - previous.count;
        this.#sum += reset ? values.sum : values.sum - previous.sum;
        this.#point = { labels: this.#labels, count: this.#count, sum: this.#sum, quantiles: [] };
        return undefined;
      }
      case "histogram":
        return this.#addClassic(values, previous);
      case "native":
        this.#addNative(values, previous);
        return undefined;
    }
    return undefined;
  }

  #addClassic(values: PointValues, previous: LastValues | undefined): string | undefined {
    const bounds: readonly number[] = values.upperBounds;
    if (this.#bounds === undefined) {
      this.#bounds = bounds;
      this.#buckets = new Array(bounds.length).fill(0);
    } else if (
      bounds.length !== this.#bounds.length || bounds.some((b, i) => b !== this.#bounds![i])
    ) {
      return "its buckets differ from those of the overflow series";
    }
    const counts: readonly number[] = values.bucketCounts;
    const last = previous?.cumulative;
    // Whatever a sender sends, the overflow's buckets must stay cumulative and its `_sum` (a
    // counter when no bucket is below zero) must not go down: an increase that is not itself
    // a cumulative histogram, or a smaller sum, counts as a reset.
    const reset = last === undefined || values.count < previous!.count ||
      counts.some((count, i) =>
        count < last[i] || (i > 0 && count - last[i] < counts[i - 1] - last[i - 1])
      ) ||
      (bounds[0] >= 0 && !(values.sum >= previous!.sum));
    for (let i = 0; i < counts.length; i++) {
      this.#buckets[i] += reset ? counts[i] : counts[i] - last[i];
    }
    this.#count += reset ? values.count : values.count - previous!.count;
    this.#sum += reset ? values.sum : values.sum - previous!.sum;
    this.#point = {
      labels: this.#labels,
      upperBounds: this.#bounds,
      bucketCounts: [...this.#buckets],
      count: this.#count,
      sum: this.#sum,
    };
    return undefined;
  }

  #addNative(values: PointValues, previous: LastValues | undefined): void {
    let schema: number = values.schema;
    let positive = bucketsOf(values.positiveSpans, values.positiveDeltas);
    let negative = bucketsOf(values.negativeSpans, values.negativeDeltas);
    let zeroCount: number = values.zeroCount;
    let count: number = values.count;
    let sum: number = values.sum;
    // A smaller sum is a reset too: the overflow's `_sum` must not go down.
    if (previous !== undefined && values.count >= previous.count && values.sum >= previous.sum) {
      // The increase since the last point, at the coarser of the two schemas.
      const common = Math.min(schema, previous.schema!);
      const now = [downscale(positive, schema - common), downscale(negative, schema - common)];
      const before = [
        downscale(previous.positive!, previous.schema! - common),
        downscale(previous.negative!, previous.schema! - common),
      ];
      const increases = [difference(now[0], before[0]), difference(now[1], before[1])];
      const zeroIncrease = zeroCount - previous.zeroCount!;
      if (increases[0] !== undefined && increases[1] !== undefined && zeroIncrease >= 0) {
        [positive, negative] = increases as [Buckets, Buckets];
        schema = common;
        zeroCount = zeroIncrease;
        count = values.count - previous.count;
        sum = values.sum - previous.sum;
      }
    }
    // Added at the coarser of the overflow's schema and the increase's.
    const target = Math.min(this.#schema ?? schema, schema);
    if (this.#schema !== undefined && target < this.#schema) {
      this.#positive = downscale(this.#positive, this.#schema - target);
      this.#negative = downscale(this.#negative, this.#schema - target);
    }
    this.#schema = target;
    addInto(this.#positive, downscale(positive, schema - target));
    addInto(this.#negative, downscale(negative, schema - target));
    this.#zeroCount += zeroCount;
    this.#zeroThreshold = Math.max(this.#zeroThreshold, values.zeroThreshold);
    this.#count += count;
    this.#sum += sum;
    const encodedPositive = encodeBuckets(sorted(this.#positive));
    const encodedNegative = encodeBuckets(sorted(this.#negative));
    this.#point = {
      labels: this.#labels,
      upperBounds: [Infinity],
      bucketCounts: [this.#count],
      count: this.#count,
      sum: this.#sum,
      schema: this.#schema,
      zeroThreshold: this.#zeroThreshold,
      zeroCount: this.#zeroCount,
      positiveSpans: encodedPositive.spans,
      positiveDeltas: encodedPositive.deltas,
      negativeSpans: encodedNegative.spans,
      negativeDeltas: encodedNegative.deltas,
    };
  }
}

function lastValuesOf(kind: OverflowKind, values: PointValues, time: number): LastValues {
  switch (kind) {
    case "histogram":
      return {
        time,
        value: 0,
        count: values.count,
        sum: values.sum,
        cumulative: values.bucketCounts,
      };
    case "native":
      return {
        time,
        value: 0,
        count: values.count,
        sum: values.sum,
        schema: values.schema,
        zeroCount: values.zeroCount,
        positive: bucketsOf(values.positiveSpans, values.positiveDeltas),
        negative: bucketsOf(values.negativeSpans, values.negativeDeltas),
      };
    case "summary":
      return { time, value: 0, count: values.count, sum: values.sum };
    default:
      return { time, value: values.value, count: 0, sum: 0 };
  }
}

function bucketsOf(
  spans: readonly { offset: number; length: number }[],
  deltas: readonly number[],
): Buckets {
  const { indices, counts } = decodeBuckets(spans, deltas);
  const buckets: Buckets = new Map();
  for (let i = 0; i < indices.length; i++) buckets.set(indices[i], counts[i]);
  return buckets;
}

/**
 * The buckets at a schema `steps` coarser: bucket `i` (upper bound `base^i`) falls into
 * `ceil(i / 2^steps)`.
 */
function downscale(buckets: Buckets, steps: number): Buckets {
  if (steps <= 0) return buckets;
  const coarser: Buckets = new Map();
  const width = 2 ** steps;
  for (const [index, count] of buckets) {
    const into = Math.ceil(index / width);
    coarser.set(into, (coarser.get(into) ?? 0) + count);
  }
  return coarser;
}

/** `now − before` per bucket, or `undefined` when a bucket went down (a reset). */
function difference(now: Buckets, before: Buckets): Buckets | undefined {
  const result: Buckets = new Map();
  for (const [index, count] of now) {
    const increase = count - (before.get(index) ?? 0);
    if (increase < 0) return undefined;
    if (increase > 0) result.set(index, increase);
  }
  for (const index of before.keys()) if (!now.has(index)) return undefined;
  return result;
}

function addInto(into: Buckets, buckets: Buckets): void {
  for (const [index, count] of buckets) into.set(index, (into.get(index) ?? 0) + count);
}

function sorted(buckets: Buckets): { indices: number[]; counts: number[] } {
  const indices = [...buckets.keys()].sort((a, b) => a - b);
  return { indices, counts: indices.map((index) => buckets.get(index)!) };
}
