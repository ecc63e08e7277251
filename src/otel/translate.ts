/**
 * OTLP data points to snapshot points (`src/model.ts`), one pure function per point type, by
 * the OpenTelemetry "Prometheus and OpenMetrics compatibility" spec: explicit-bucket histograms
 * as classic histograms, exponential histograms as native ones (scales above 8 merged down to
 * 8, below −4 refused), summaries as summaries, exemplars as `trace_id`/`span_id` exemplars.
 * Each function returns the point's values, or a string saying why the point is refused: what
 * it returns always passes the exposition checks (`exposition/validate.ts`), so one bad point
 * never costs its whole family at a scrape.
 *
 * @module
 */

import type { Exemplar, Labels } from "../model.ts";
import { encodeBuckets, type NativeBuckets } from "../metrics/native_histogram.ts";
import { escapedNameClash, EXEMPLAR_MAX_CHARACTERS, isWellFormed } from "../validation.ts";
import type {
  OtlpExemplar,
  OtlpExponentialPoint,
  OtlpHistogramPoint,
  OtlpSummaryPoint,
} from "./otlp_types.ts";

/** The finest native schema Prometheus accepts. */
const MAX_SCHEMA = 8;
/** The coarsest native schema Prometheus accepts. */
const MIN_SCHEMA = -4;
/** The zero threshold the spec gives a native histogram whose OTLP point has none. */
export const UNSET_ZERO_THRESHOLD = 1e-128;

const NANOS_PER_SECOND = 1e9;

/** Nanoseconds since the epoch as seconds (`undefined` for 0, OTLP's "unset"). */
export function secondsOf(nanos: number): number | undefined {
  return nanos > 0 ? nanos / NANOS_PER_SECOND : undefined;
}

/**
 * An OTLP exemplar as an OpenMetrics one: `trace_id` and `span_id` first, then as many filtered
 * attributes as fit in OpenMetrics' 128 characters (the others are left out).
 */
export function exemplarOf(exemplar: OtlpExemplar): Exemplar {
  const labels: Record<string, string> = {};
  let characters = 0;
  const add = (name: string, value: string): void => {
    const size = [...name].length + [...value].length;
    if (characters + size > EXEMPLAR_MAX_CHARACTERS) return;
    labels[name] = value;
    characters += size;
  };
  if (exemplar.traceId !== "") add("trace_id", exemplar.traceId);
  if (exemplar.spanId !== "") add("span_id", exemplar.spanId);
  for (const [key, value] of exemplar.attributes) {
    // Names a scraper could not read, or that would repeat one already given, are left out.
    if (key.startsWith("__") || !isWellFormed(key) || !isWellFormed(value)) continue;
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(key)) continue;
    if (key === "" || Object.hasOwn(labels, key)) continue;
    // Nor one that some scraper's escaping would write like a name already given.
    if (escapedNameClash([...Object.keys(labels), key]) !== undefined) continue;
    add(key, value);
  }
  const timestamp = secondsOf(exemplar.timeUnixNano);
  const value = exemplar.value;
  return timestamp === undefined ? { labels, value } : { labels, value, timestamp };
}

/** The exemplar taken for a counter: the latest of the point's. */
export function counterExemplar(exemplars: readonly OtlpExemplar[]): Exemplar | undefined {
  let latest: OtlpExemplar | undefined;
  for (const exemplar of exemplars) {
    if (!Number.isFinite(exemplar.value)) continue;
    if (latest === undefined || exemplar.timeUnixNano >= latest.timeUnixNano) latest = exemplar;
  }
  return latest === undefined ? undefined : exemplarOf(latest);
}

/** The classic histogram part of a point: bounds ending in +Inf, cumulative counts. */
export interface ClassicValues {
  readonly upperBounds: readonly number[];
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sum: number;
  readonly exemplars?: readonly (Exemplar | undefined)[];
}

/** An explicit-bucket histogram point as a classic histogram, or why it is refused. */
export function classicOf(point: OtlpHistogramPoint): ClassicValues | string {
  const bounds = point.explicitBounds;
  const counts = point.bucketCounts;
  for (let i = 0; i < bounds.length; i++) {
    if (!Number.isFinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
      return "explicit bounds are not finite and increasing";
    }
  }
  if (counts.length !== 0 && counts.length !== bounds.length + 1) {
    return `${counts.length} bucket counts for ${bounds.length} bounds (want bounds + 1)`;
  }
  for (const count of counts) {
    if (!(count >= 0) || !Number.isInteger(count)) return `bucket count ${count} is not a count`;
  }
  const upperBounds = [...bounds, Infinity];
  const cumulative: number[] = [];
  let running = 0;
  for (let i = 0; i < upperBounds.length; i++) {
    running += counts.length === 0 ? 0 : counts[i];
    cumulative.push(running);
  }
  if (counts.length === 0) cumulative[cumulative.length - 1] = point.count;
  if (cumulative[cumulative.length - 1] !== point.count) {
    return `count ${point.count} differs from the sum of bucket counts ${running}`;
  }
  if (!Number.isSafeInteger(point.count) || point.count < 0) {
    return `count ${point.count} is not exact, or negative`;
  }
  let sum = point.sum;
  if (upperBounds[0] >= 0) {
    // `_sum` is a counter when nothing can be below zero: it must be there and not negative.
    if (sum === undefined || !(sum >= 0)) return "no sum, or a negative or NaN sum";
  } else {
    sum ??= NaN;
  }
  const exemplars = bucketExemplars(point.exemplars, upperBounds);
  return exemplars === undefined
    ? { upperBounds, bucketCounts: cumulative, count: point.count, sum }
    : { upperBounds, bucketCounts: cumulative, count: point.count, sum, exemplars };
}

/** Per bucket, the largest exemplar that falls in it, as the spec asks of pull endpoints. */
function bucketExemplars(
  exemplars: readonly OtlpExemplar[],
  upperBounds: readonly number[],
): (Exemplar | undefined)[] | undefined {
  if (exemplars.length === 0) return undefined;
  const chosen: (OtlpExemplar | undefined)[] = new Array(upperBounds.length).fill(undefined);
  for (const exemplar of exemplars) {
    const value = exemplar.value;
    if (value !== value) continue;
    let index = 0;
    while (value > upperBounds[index]) index++;
    const current = chosen[index];
    if (current === undefined || value > current.value) chosen[index] = exemplar;
  }
  return chosen.map((exemplar) => exemplar === undefined ? undefined : exemplarOf(exemplar));
}

/** The native histogram part of a point (with its one classic `+Inf` bucket). */
export interface NativeValues extends ClassicValues, NativeBuckets {}

/**
 * An exponential histogram point as a native histogram, or why it is refused. OTLP indexes a
 * bucket by its lower bound (`(base^i, base^(i+1)]`), Prometheus by its upper one, hence the
 * `+ 1`; a scale above 8 is merged down to 8 (`2^(scale − 8)` buckets become one).
 */
export function nativeOf(point: OtlpExponentialPoint): NativeValues | string {
  if (!Number.isInteger(point.scale) || point.scale < MIN_SCHEMA) {
    return `scale ${point.scale} is below ${MIN_SCHEMA}, the coarsest native histogram schema`;
  }
  const shift = point.scale > MAX_SCHEMA ? point.scale - MAX_SCHEMA : 0;
  const schema = point.scale - shift;
  const positive = sparse(point.positive.offset, point.positive.bucketCounts, shift);
  const negative = sparse(point.negative.offset, point.negative.bucketCounts, shift);
  if (typeof positive === "string") return positive;
  if (typeof negative === "string") return negative;
  const inBuckets = positive.total + negative.total + point.zeroCount;
  if (
    !Number.isSafeInteger(point.count) || !Number.isSafeInteger(point.zeroCount) ||
    point.zeroCount < 0
  ) {
    return "count or zero count is not exact, or negative";
  }
  if (point.count < inBuckets) {
    return `count ${point.count} is less than the ${inBuckets} observations in the buckets`;
  }
  const sum = point.sum;
  // Exposed as `_sum` in the text formats, where it must be a counter.
  if (sum === undefined || !(sum >= 0)) return "no sum, or a negative or NaN sum";
  const zeroThreshold = point.zeroThreshold > 0 && Number.isFinite(point.zeroThreshold)
    ? point.zeroThreshold
    : UNSET_ZERO_THRESHOLD;
  const exemplar = counterExemplar(point.exemplars);
  const encodedPositive = encodeBuckets(positive);
  const encodedNegative = encodeBuckets(negative);
  return {
    upperBounds: [Infinity],
    bucketCounts: [point.count],
    count: point.count,
    sum,
    ...(exemplar === undefined ? {} : { exemplars: [exemplar] }),
    schema,
    zeroThreshold,
    zeroCount: point.zeroCount,
    positiveSpans: encodedPositive.spans,
    positiveDeltas: encodedPositive.deltas,
    negativeSpans: encodedNegative.spans,
    negativeDeltas: encodedNegative.deltas,
  };
}

/** Dense OTLP buckets as populated Prometheus indices, merged `2^shift` to one. */
function sparse(
  offset: number,
  counts: readonly number[],
  shift: number,
): { indices: number[]; counts: number[]; total: number } | string {
  if (!Number.isInteger(offset)) return `bucket offset ${offset} is not an integer`;
  const indices: number[] = [];
  const merged: number[] = [];
  let total = 0;
  const width = 2 ** shift;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i];
    if (count === 0) continue;
    if (!Number.isSafeInteger(count) || count < 0) return `bucket count ${count} is not exact`;
    total += count;
    const index = Math.floor((offset + i) / width) + 1;
    if (indices.length > 0 && indices[indices.length - 1] === index) {
      merged[merged.length - 1] += count;
    } else {
      indices.push(index);
      merged.push(count);
    }
  }
  return { indices, counts: merged, total };
}

/** A summary point's values, or why it is refused. */
export function summaryOf(
  point: OtlpSummaryPoint,
): { count: number; sum: number; quantiles: { quantile: number; value: number }[] } | string {
  if (!Number.isSafeInteger(point.count) || point.count < 0) return `count ${point.count}`;
  if (!(point.sum >= 0)) return "the sum is negative or NaN";
  const quantiles: { quantile: number; value: number }[] = [];
  const seen = new Set<number>();
  for (const { quantile, value } of point.quantiles) {
    if (!(quantile >= 0 && quantile <= 1)) return `quantile ${quantile} is not in [0, 1]`;
    if (seen.has(quantile)) return `quantile ${quantile} is given twice`;
    if (value < 0) return `the value of quantile ${quantile} is negative`;
    seen.add(quantile);
    quantiles.push({ quantile, value });
  }
  quantiles.sort((a, b) => a.quantile - b.quantile);
  return { count: point.count, sum: point.sum, quantiles };
}

/**
 * The key of one series: its label pairs sorted by name, each length-prefixed so that no name
 * or value can pass for another split.
 */
export function seriesKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let key = "";
  for (const name of names) {
    const value = labels[name];
    key += name.length + ":" + name + value.length + ":" + value;
  }
  return key;
}
