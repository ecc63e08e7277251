/**
 * The sparse form of native-histogram buckets that the wire formats carry: spans (runs of
 * consecutive indices) and deltas (each count minus the previous one), and the pure functions
 * that encode, decode and merge them (merging lowers the finer schema to the coarser one).
 *
 * @module
 */

import type { BucketSpan, HistogramPoint } from "../model.ts";
import { bucketUpperBound, coarserIndex, MAX_SCHEMA, MIN_SCHEMA } from "./native_buckets.ts";

/** The native part of a histogram point (see `HistogramPoint`). */
export interface NativeBuckets {
  /** The schema, −4…8. */
  readonly schema: number;
  /** The zero bucket's half-width. */
  readonly zeroThreshold: number;
  /** Observations in the zero bucket. */
  readonly zeroCount: number;
  /** Runs of positive bucket indices. */
  readonly positiveSpans: readonly BucketSpan[];
  /** Positive bucket counts, each as the difference to the previous one. */
  readonly positiveDeltas: readonly number[];
  /** Runs of negative bucket indices (by absolute value). */
  readonly negativeSpans: readonly BucketSpan[];
  /** Negative bucket counts, each as the difference to the previous one. */
  readonly negativeDeltas: readonly number[];
}

/**
 * Spans and deltas of populated buckets given in index order. Gaps of one or two empty buckets
 * are written as zero counts inside a span (cheaper than a new span), as client_golang does.
 */
export function encodeBuckets(
  buckets: { readonly indices: readonly number[]; readonly counts: readonly number[] },
): { spans: BucketSpan[]; deltas: number[] } {
  const { indices, counts } = buckets;
  const spans: { offset: number; length: number }[] = [];
  const deltas: number[] = [];
  let previousCount = 0;
  let nextIndex = 0;
  for (let n = 0; n < indices.length; n++) {
    const index = indices[n];
    const gap = index - nextIndex;
    if (n === 0 || gap > 2) {
      spans.push({ offset: gap, length: 0 });
    } else {
      for (let j = 0; j < gap; j++) {
        spans[spans.length - 1].length++;
        deltas.push(0 - previousCount);
        previousCount = 0;
      }
    }
    spans[spans.length - 1].length++;
    deltas.push(counts[n] - previousCount);
    previousCount = counts[n];
    nextIndex = index + 1;
  }
  return { spans, deltas };
}

/**
 * The populated buckets that spans and deltas describe, in index order (zero counts skipped).
 * Throws a `TypeError` when they do not fit together or a count would be negative.
 */
export function decodeBuckets(
  spans: readonly BucketSpan[],
  deltas: readonly number[],
  what = "native histogram",
): { indices: number[]; counts: number[] } {
  if (!Array.isArray(spans) || !Array.isArray(deltas)) {
    throw new TypeError(`${what}: spans and deltas must be arrays`);
  }
  const indices: number[] = [];
  const counts: number[] = [];
  let at = 0;
  let index = 0;
  let count = 0;
  for (let s = 0; s < spans.length; s++) {
    const span = spans[s];
    if (
      span === null || typeof span !== "object" || !Number.isInteger(span.offset) ||
      !Number.isInteger(span.length) || span.length < 0 || (s > 0 && span.offset < 0)
    ) {
      throw new TypeError(`${what}: malformed bucket span ${JSON.stringify(span)}`);
    }
    index += span.offset;
    for (let j = 0; j < span.length; j++, index++, at++) {
      const delta = deltas[at];
      if (!Number.isInteger(delta)) {
        throw new TypeError(`${what}: ${deltas.length} deltas for longer spans`);
      }
      count += delta;
      if (count < 0) throw new TypeError(`${what}: a bucket count below zero`);
      if (count > 0) {
        indices.push(index);
        counts.push(count);
      }
    }
  }
  if (at !== deltas.length) {
    throw new TypeError(`${what}: ${deltas.length} deltas for spans of ${at} buckets`);
  }
  return { indices, counts };
}

/** The native fields of a histogram point, or `undefined` when it has none. */
export function nativeBucketsOf(point: HistogramPoint): NativeBuckets | undefined {
  if (point.schema === undefined) return undefined;
  return {
    schema: point.schema,
    zeroThreshold: point.zeroThreshold ?? 0,
    zeroCount: point.zeroCount ?? 0,
    positiveSpans: point.positiveSpans ?? [],
    positiveDeltas: point.positiveDeltas ?? [],
    negativeSpans: point.negativeSpans ?? [],
    negativeDeltas: point.negativeDeltas ?? [],
  };
}

/** One sign's buckets of one histogram, as (index, count) pairs, while merging. */
interface SignBuckets {
  indices: number[];
  counts: number[];
}

/** Sums (index, count) pairs by index (at `steps` coarser), in index order. */
function sumByIndex(lists: readonly SignBuckets[], steps: readonly number[]): SignBuckets {
  const sums = new Map<number, number>();
  lists.forEach((list, n) => {
    for (let i = 0; i < list.indices.length; i++) {
      const index = coarserIndex(list.indices[i], steps[n]);
      sums.set(index, (sums.get(index) ?? 0) + list.counts[i]);
    }
  });
  const indices = [...sums.keys()].sort((a, b) => a - b);
  return { indices, counts: indices.map((index) => sums.get(index)!) };
}

/** Moves into the zero bucket every bucket that starts below `threshold`; returns the threshold, raised to the upper bound of a populated bucket it falls inside. */
function absorbBelow(
  buckets: SignBuckets,
  schema: number,
  threshold: number,
): { absorbed: number; threshold: number } {
  let absorbed = 0;
  while (buckets.indices.length > 0) {
    const index = buckets.indices[0];
    if (bucketUpperBound(index - 1, schema) >= threshold) break;
    absorbed += buckets.counts[0];
    threshold = Math.max(threshold, bucketUpperBound(index, schema));
    buckets.indices.shift();
    buckets.counts.shift();
  }
  return { absorbed, threshold };
}

/**
 * Merges two native histograms' buckets: both are brought to the coarser schema (each bucket
 * of the finer one lands in the coarser bucket containing it), to the wider zero bucket (buckets
 * below it join the zero count, and a populated bucket the threshold falls inside widens it to
 * that bucket's upper bound, as Prometheus does), and their counts add up.
 *
 * @example
 * ```ts
 * import { mergeNativeBuckets, NativeHistogram } from "@deno-prom/client/exposition";
 * const fine = new NativeHistogram({ bucketFactor: 1.1 }); // schema 3
 * const coarse = new NativeHistogram({ bucketFactor: 2 }); // schema 0
 * fine.observe(3);
 * coarse.observe(3);
 * const merged = mergeNativeBuckets(fine.buckets(), coarse.buckets());
 * // merged.schema === 0; one bucket (index 2, upper bound 4) counting 2
 * ```
 */
export function mergeNativeBuckets(a: NativeBuckets, b: NativeBuckets): NativeBuckets {
  for (const side of [a, b]) {
    if (
      !Number.isInteger(side.schema) || side.schema < MIN_SCHEMA || side.schema > MAX_SCHEMA ||
      !(side.zeroThreshold >= 0) || !(side.zeroCount >= 0)
    ) {
      throw new TypeError(
        `native histogram with schema ${side.schema}, zero threshold ${side.zeroThreshold} ` +
          `and zero count ${side.zeroCount} cannot be merged`,
      );
    }
  }
  const schema = Math.min(a.schema, b.schema);
  const steps = [a.schema - schema, b.schema - schema];
  const positive = sumByIndex([
    decodeBuckets(a.positiveSpans, a.positiveDeltas),
    decodeBuckets(b.positiveSpans, b.positiveDeltas),
  ], steps);
  const negative = sumByIndex([
    decodeBuckets(a.negativeSpans, a.negativeDeltas),
    decodeBuckets(b.negativeSpans, b.negativeDeltas),
  ], steps);
  let zeroCount = a.zeroCount + b.zeroCount;
  let zeroThreshold = Math.max(a.zeroThreshold, b.zeroThreshold);
  if (a.zeroThreshold !== b.zeroThreshold) {
    // Widening may fall inside a populated bucket of the other sign: repeat until stable.
    for (;;) {
      const before = zeroThreshold;
      for (const sign of [positive, negative]) {
        const { absorbed, threshold } = absorbBelow(sign, schema, zeroThreshold);
        zeroCount += absorbed;
        zeroThreshold = threshold;
      }
      if (zeroThreshold === before) break;
    }
  }
  const positiveWire = encodeBuckets(positive);
  const negativeWire = encodeBuckets(negative);
  return {
    schema,
    zeroThreshold,
    zeroCount,
    positiveSpans: positiveWire.spans,
    positiveDeltas: positiveWire.deltas,
    negativeSpans: negativeWire.spans,
    negativeDeltas: negativeWire.deltas,
  };
}

/**
 * Merges the native parts of two points of histogram `metricName` (see
 * {@linkcode mergeNativeBuckets}); `undefined` when neither has one. A point with native buckets
 * and one without cannot be merged: that is a `TypeError` naming the metric.
 */
export function mergeNativeParts(
  a: NativeBuckets | undefined,
  b: NativeBuckets | undefined,
  metricName: string,
): NativeBuckets | undefined {
  if (a === undefined && b === undefined) return undefined;
  if (a === undefined || b === undefined) {
    throw new TypeError(
      `histogram "${metricName}" is native in one worker and classic only in another: ` +
        `every worker must turn native buckets on to be merged`,
    );
  }
  try {
    return mergeNativeBuckets(a, b);
  } catch (error) {
    throw new TypeError(`histogram "${metricName}": ${(error as Error).message}`);
  }
}
