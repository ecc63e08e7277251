/**
 * Native (sparse, exponential) histograms: the state of one series and the pure functions that
 * encode, decode and merge its buckets, following the Prometheus native-histogram spec.
 *
 * Bucket `i` of schema `s` holds the observations `v` with `base^(i-1) < |v| <= base^i`, where
 * `base = 2^(2^-s)`; observations with `|v| <= zeroThreshold` go to the zero bucket, negative
 * ones to the negative buckets (by their absolute value). Only populated buckets are sent, as
 * spans (runs of consecutive indices) and deltas (each count minus the previous one).
 *
 * @module
 */

import type { BucketSpan, HistogramPoint } from "../model.ts";

/** The largest count a `Uint32Array` holds. */
const UINT32_MAX = 0xffff_ffff;
/** The finest and the coarsest schema the spec defines. */
export const MAX_SCHEMA = 8;
/** The coarsest schema the spec defines. */
export const MIN_SCHEMA = -4;
/** client_golang's default zero threshold, 2^-128. */
export const DEFAULT_ZERO_THRESHOLD = 2 ** -128;
/** client_golang's documented example and our default bucket limit. */
export const DEFAULT_MAX_BUCKETS = 160;
/** The default growth factor: schema 3 (factor 2^(1/8) ≈ 1.0905). */
export const DEFAULT_BUCKET_FACTOR = 1.1;
/**
 * The widest range of bucket indices one sign keeps in its dense window (16 KiB of counts at
 * most). A wider spread lowers the resolution as if `maxBuckets` had been passed, so a few wild
 * outliers cannot make a series' memory unbounded. (±Inf are counted apart and never widen it.)
 */
const WINDOW_LIMIT = 4096;

/** Options of a native histogram (`native` in `HistogramOptions`). */
export interface NativeHistogramOptions {
  /**
   * The largest growth factor from one bucket to the next (default 1.1): the finest schema whose
   * factor `2^(2^-schema)` does not exceed it is used (schema 3 for 1.1), between −4 and 8.
   */
  readonly bucketFactor?: number;
  /**
   * The most populated buckets (positive and negative) a series keeps (default 160; 0 means no
   * limit). Past it, the series is reset when `minResetDurationMs` has passed since its last
   * reset, else the zero bucket is widened when `maxZeroThreshold` allows it, else the
   * resolution is halved (schema − 1, merging bucket pairs), as client_golang does.
   */
  readonly maxBuckets?: number;
  /** Observations with an absolute value up to this go to the zero bucket (default 2^-128). */
  readonly zeroThreshold?: number;
  /** How far the zero bucket may be widened to stay within `maxBuckets` (default 0: never). */
  readonly maxZeroThreshold?: number;
  /** Reset the series past `maxBuckets` when at least this long since the last reset (default 0: never). */
  readonly minResetDurationMs?: number;
}

/** Validated native-histogram settings (what {@linkcode nativeSettings} returns). */
export interface NativeSettings {
  /** The schema picked from `bucketFactor`. */
  readonly schema: number;
  /** The initial zero threshold. */
  readonly zeroThreshold: number;
  /** The populated-bucket limit (0: none). */
  readonly maxBuckets: number;
  /** How far the zero bucket may be widened. */
  readonly maxZeroThreshold: number;
  /** The shortest time between two resets, in milliseconds (0: never reset). */
  readonly minResetDurationMs: number;
}

/**
 * The finest schema whose growth factor `2^(2^-schema)` does not exceed `bucketFactor`, clamped
 * to [−4, 8], as client_golang picks it.
 *
 * @example
 * ```ts
 * import { schemaForBucketFactor } from "@deno-prom/client/exposition";
 * schemaForBucketFactor(1.1); // 3
 * schemaForBucketFactor(2); // 0
 * ```
 */
export function schemaForBucketFactor(bucketFactor: number): number {
  if (!(bucketFactor > 1 && bucketFactor < Infinity)) {
    throw new RangeError(`native histogram bucketFactor must be above 1, got ${bucketFactor}`);
  }
  const floor = Math.floor(Math.log2(Math.log2(bucketFactor)));
  if (floor <= -MAX_SCHEMA) return MAX_SCHEMA;
  if (floor >= -MIN_SCHEMA) return MIN_SCHEMA;
  return 0 - floor;
}

/** Checks the `native` option of a histogram named `metricName` and fills in the defaults. */
export function nativeSettings(
  metricName: string,
  options: true | NativeHistogramOptions,
): NativeSettings {
  const given: NativeHistogramOptions = options === true ? {} : options;
  if (given === null || typeof given !== "object") {
    throw new TypeError(
      `native option of histogram "${metricName}" must be true or an options object`,
    );
  }
  const number = (value: number | undefined, fallback: number, what: string, integer = false) => {
    if (value === undefined) return fallback;
    if (typeof value !== "number" || !(value >= 0 && value < Infinity)) {
      throw new RangeError(
        `native ${what} of histogram "${metricName}" must be a finite number ≥ 0, got ${value}`,
      );
    }
    if (integer && !Number.isInteger(value)) {
      throw new RangeError(
        `native ${what} of histogram "${metricName}" must be an integer, got ${value}`,
      );
    }
    return value;
  };
  let schema: number;
  try {
    schema = schemaForBucketFactor(given.bucketFactor ?? DEFAULT_BUCKET_FACTOR);
  } catch (error) {
    throw new RangeError(`histogram "${metricName}": ${(error as Error).message}`);
  }
  const settings: NativeSettings = Object.freeze({
    schema,
    zeroThreshold: number(given.zeroThreshold, DEFAULT_ZERO_THRESHOLD, "zeroThreshold"),
    maxBuckets: number(given.maxBuckets, DEFAULT_MAX_BUCKETS, "maxBuckets", true),
    maxZeroThreshold: number(given.maxZeroThreshold, 0, "maxZeroThreshold"),
    minResetDurationMs: number(given.minResetDurationMs, 0, "minResetDurationMs"),
  });
  CHECKED_SETTINGS.add(settings);
  return settings;
}

/** Settings made by {@linkcode nativeSettings}: shared by every series of a metric as they are. */
const CHECKED_SETTINGS = new WeakSet<NativeSettings>();

// --- bucket indices from the float's bits -----------------------------------------------------

/** Per schema > 0, the `2^schema` fraction bounds `2^(j/2^schema − 1)`, j = 0…2^schema − 1. */
const FRACTION_BOUNDS: readonly Float64Array[] = Array.from({ length: MAX_SCHEMA + 1 }, (_, s) => {
  const n = 2 ** s;
  // j / n is exact, so a bound shared by two schemas is the same double in both.
  return Float64Array.from({ length: n }, (_, j) => 2 ** (j / n - 1));
});

/**
 * Instead of a binary search (a mispredicted branch per step), the top 10 mantissa bits pick a
 * cell of [0.5, 1); cells are narrower than any bucket up to schema 8, so at most one bound lies
 * in a cell and one comparison finishes the search. Per schema > 0: the first bound index at or
 * above each cell's start, and the bounds with a sentinel 1 at the end.
 */
const CELL_BITS = 10;
const CELLS: (Uint16Array | undefined)[] = [];
const BOUNDS_WITH_SENTINEL: (Float64Array | undefined)[] = [];

function cellsOf(schema: number): Uint16Array {
  let cells = CELLS[schema];
  if (cells === undefined) {
    const bounds = FRACTION_BOUNDS[schema];
    const sentinel = new Float64Array(bounds.length + 1);
    sentinel.set(bounds);
    sentinel[bounds.length] = 1;
    BOUNDS_WITH_SENTINEL[schema] = sentinel;
    cells = new Uint16Array(1 << CELL_BITS);
    let j = 0;
    for (let c = 0; c < cells.length; c++) {
      const start = 0.5 + c / (2 << CELL_BITS);
      while (j < bounds.length && bounds[j] < start) j++;
      cells[c] = j;
    }
    CELLS[schema] = cells;
  }
  return cells;
}

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
/** Which 32-bit word of a double holds its sign and exponent on this machine. */
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LOW = 1 - HIGH;

/**
 * The bucket index of a positive, finite `magnitude` in `schema`: from its binary exponent and
 * mantissa (`frexp`), with a search in the schema's fraction bounds for schema > 0. No logarithm.
 */
export function bucketIndex(magnitude: number, schema: number): number {
  scratch[0] = magnitude;
  let high = scratchWords[HIGH];
  let biased = high >>> 20;
  let shift = 0;
  if (biased === 0) {
    // Subnormal: scale into the normal range first.
    scratch[0] = magnitude * 18446744073709551616; // 2^64
    high = scratchWords[HIGH];
    biased = high >>> 20;
    shift = 64;
  }
  // magnitude = fraction × 2^exponent with fraction in [0.5, 1).
  const exponent = biased - 1022 - shift;
  if (schema > 0) {
    scratchWords[HIGH] = (high & 0x000fffff) | 0x3fe00000;
    const fraction = scratch[0];
    // The first bound ≥ fraction: the cell's first bound, or the next one.
    const cells = CELLS[schema] ?? cellsOf(schema);
    let first = cells[(high >>> (20 - CELL_BITS)) & ((1 << CELL_BITS) - 1)];
    if (BOUNDS_WITH_SENTINEL[schema]![first] < fraction) first++;
    return first + (exponent - 1) * (1 << schema);
  }
  // A power of two is the upper bound of its bucket.
  const key = (high & 0x000fffff) === 0 && scratchWords[LOW] === 0 ? exponent - 1 : exponent;
  // ceil(key / 2^-schema), also for negative keys.
  return 0 - ((0 - key) >> -schema);
}

/** The index ±Inf take in `schema`: one past the bucket of the largest double. */
function infinityIndex(schema: number): number {
  return schema > 0 ? 1024 * 2 ** schema + 1 : (1024 >> -schema) + 1;
}

/** The upper bound of bucket `index` in `schema`: `2^(index × 2^-schema)`. */
export function bucketUpperBound(index: number, schema: number): number {
  if (schema > 0) {
    const n = 2 ** schema;
    const fractionIndex = ((index % n) + n) % n;
    const exponent = (index - fractionIndex) / n + 1;
    return FRACTION_BOUNDS[schema][fractionIndex] * 2 ** exponent;
  }
  return 2 ** (index * 2 ** -schema);
}

/** A bucket index in a schema `by` steps coarser: `ceil(index / 2^by)`. */
function coarserIndex(index: number, by: number): number {
  return by === 0 ? index : 0 - Math.floor((0 - index) / 2 ** by);
}

// --- one sign's buckets: a dense window of counts ---------------------------------------------

/** The buckets of one sign: counts of consecutive indices from `offset`, plus ±Inf apart. */
class BucketWindow {
  offset = 0;
  counts: Uint32Array | Float64Array = EMPTY;
  /** Observations of ±Inf (kept apart so they never stretch the window). */
  infinite = 0;

  /** Adds `increment` to bucket `index`; returns whether the bucket was empty. */
  add(index: number, increment: number): boolean {
    let at = index - this.offset;
    if (at < 0 || at >= this.counts.length) at = this.#grow(index);
    const counts = this.counts;
    const before = counts[at];
    const after = before + increment;
    if (after <= UINT32_MAX || counts instanceof Float64Array) counts[at] = after;
    else {
      this.counts = Float64Array.from(counts);
      this.counts[at] = after;
    }
    return before === 0;
  }

  /** Makes room for `index` (which must fit within {@linkcode WINDOW_LIMIT}); returns its position. */
  #grow(index: number): number {
    const old = this.counts;
    if (old.length === 0) {
      this.offset = index - 4;
      this.counts = new Uint32Array(16);
      return 4;
    }
    const end = this.offset + old.length;
    // Room for a quarter more in the direction of growth, to amortize copies.
    const slack = Math.max(8, old.length >> 2);
    const low = index < this.offset ? index - slack : this.offset;
    const high = index >= end ? index + 1 + slack : end;
    const grown = old instanceof Uint32Array
      ? new Uint32Array(high - low)
      : new Float64Array(high - low);
    grown.set(old, this.offset - low);
    this.offset = low;
    this.counts = grown;
    return index - low;
  }

  /** Whether adding `index` keeps the window within its limit. */
  fits(index: number): boolean {
    const counts = this.counts;
    if (counts.length === 0) return true;
    const low = Math.min(index, this.firstIndex());
    const high = Math.max(index, this.lastIndex());
    return high - low < WINDOW_LIMIT;
  }

  /** The lowest populated index (`Infinity` when none). */
  firstIndex(): number {
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) if (counts[i] !== 0) return this.offset + i;
    return Infinity;
  }

  /** The highest populated index (`-Infinity` when none). */
  lastIndex(): number {
    const counts = this.counts;
    for (let i = counts.length - 1; i >= 0; i--) if (counts[i] !== 0) return this.offset + i;
    return -Infinity;
  }

  /** Populated buckets as (index, count) pairs in index order, ±Inf included at `schema`'s index. */
  populated(schema: number): { indices: number[]; counts: number[] } {
    const indices: number[] = [];
    const counts: number[] = [];
    const window = this.counts;
    for (let i = 0; i < window.length; i++) {
      if (window[i] !== 0) {
        indices.push(this.offset + i);
        counts.push(window[i]);
      }
    }
    if (this.infinite !== 0) {
      indices.push(infinityIndex(schema));
      counts.push(this.infinite);
    }
    return { indices, counts };
  }

  clear(): void {
    this.offset = 0;
    this.counts = EMPTY;
    this.infinite = 0;
  }
}

const EMPTY = new Uint32Array(0);

// --- the state of one series -----------------------------------------------------------------

/**
 * The native-histogram state of one series: schema, zero bucket, sparse positive and negative
 * bucket counts by index, count and sum. `observe` allocates nothing once a bucket's
 * neighbourhood exists (each sign's counts are one dense window of indices, grown by a quarter).
 *
 * @example
 * ```ts
 * import { NativeHistogram } from "@deno-prom/client/exposition";
 * const h = new NativeHistogram({ bucketFactor: 1.1 });
 * h.observe(0.25);
 * h.observe(-3);
 * h.observe(0);
 * const { schema, positiveSpans, positiveDeltas, zeroCount } = h.buckets();
 * // schema 3; one positive bucket (index -16, the one whose upper bound is 0.25); zeroCount 1
 * ```
 */
export class NativeHistogram {
  /** The settings it was made with (the schema and zero threshold may change past `maxBuckets`). */
  readonly settings: NativeSettings;
  #schema: number;
  #zeroThreshold: number;
  #zeroCount = 0;
  #count = 0;
  #sum = 0;
  readonly #positive = new BucketWindow();
  readonly #negative = new BucketWindow();
  /** Populated buckets of both signs (±Inf included), to compare with `maxBuckets`. */
  #populated = 0;
  #lastReset: number;

  /** A new, empty state; `options` as `Histogram`'s `native` option takes them. */
  constructor(options: true | NativeHistogramOptions | NativeSettings = true) {
    this.settings = CHECKED_SETTINGS.has(options as NativeSettings)
      ? options as NativeSettings
      : nativeSettings("(native)", options);
    this.#schema = this.settings.schema;
    this.#zeroThreshold = this.settings.zeroThreshold;
    this.#lastReset = this.settings.minResetDurationMs > 0 ? Date.now() : 0;
  }

  /** The current schema (lower than the configured one after a resolution drop). */
  get schema(): number {
    return this.#schema;
  }

  /** The current zero threshold (wider than the configured one after widening). */
  get zeroThreshold(): number {
    return this.#zeroThreshold;
  }

  /** Observations with `|v| <= zeroThreshold`. */
  get zeroCount(): number {
    return this.#zeroCount;
  }

  /** Every observation, NaN included. */
  get count(): number {
    return this.#count;
  }

  /** The sum of observations. */
  get sum(): number {
    return this.#sum;
  }

  /** How many buckets (positive and negative, not the zero bucket) are populated. */
  get populatedBuckets(): number {
    return this.#populated;
  }

  /**
   * Records one observation. NaN counts in `count` and `sum` but in no bucket (as in
   * client_golang); ±Inf go to the bucket past the largest double. Returns `true` when the
   * series was reset to stay within `maxBuckets` (it then holds only this observation).
   */
  observe(value: number): boolean {
    this.#count++;
    this.#sum += value;
    if (value !== value) return false;
    const threshold = this.#zeroThreshold;
    let window: BucketWindow;
    let magnitude: number;
    if (value > threshold) {
      window = this.#positive;
      magnitude = value;
    } else if (value < -threshold) {
      window = this.#negative;
      magnitude = -value;
    } else {
      this.#zeroCount++;
      return false;
    }
    if (magnitude === Infinity) {
      if (window.infinite++ === 0) this.#populated++;
    } else {
      let index = bucketIndex(magnitude, this.#schema);
      const at = index - window.offset;
      const counts = window.counts;
      // The common case inline: the bucket is inside the window and its count fits.
      if (at >= 0 && at < counts.length && counts[at] !== 0 && counts[at] < UINT32_MAX) {
        counts[at]++;
        return false;
      }
      if ((at < 0 || at >= counts.length) && !window.fits(index)) {
        // Too wide a spread for one window: lower the resolution until it fits.
        while (this.#schema > MIN_SCHEMA && !window.fits(index)) {
          this.#reduceSchema(1);
          index = bucketIndex(magnitude, this.#schema);
        }
      }
      if (window.add(index, 1)) this.#populated++;
    }
    const maxBuckets = this.settings.maxBuckets;
    if (maxBuckets > 0 && this.#populated > maxBuckets) return this.#limitBuckets(value);
    return false;
  }

  /** client_golang's order: reset if allowed, else widen the zero bucket, else halve resolution. */
  #limitBuckets(value: number): boolean {
    const { minResetDurationMs } = this.settings;
    if (minResetDurationMs > 0) {
      const now = Date.now();
      if (now - this.#lastReset >= minResetDurationMs) {
        this.reset();
        this.#lastReset = now;
        this.observe(value);
        return true;
      }
    }
    if (this.#widenZeroBucket()) return false;
    if (this.#schema > MIN_SCHEMA) this.#reduceSchema(1);
    return false;
  }

  /** Moves the buckets closest to zero into the zero bucket, if `maxZeroThreshold` allows. */
  #widenZeroBucket(): boolean {
    const { maxZeroThreshold } = this.settings;
    if (this.#zeroThreshold >= maxZeroThreshold) return false;
    const smallest = Math.min(this.#positive.firstIndex(), this.#negative.firstIndex());
    if (smallest === Infinity) return false;
    const threshold = bucketUpperBound(smallest, this.#schema);
    if (threshold > maxZeroThreshold) return false;
    for (const window of [this.#positive, this.#negative]) {
      const at = smallest - window.offset;
      if (at >= 0 && at < window.counts.length && window.counts[at] !== 0) {
        this.#zeroCount += window.counts[at];
        window.counts[at] = 0;
        this.#populated--;
      }
    }
    this.#zeroThreshold = threshold;
    return true;
  }

  /** Lowers the schema by `by`, merging each 2^by neighbouring buckets into one. */
  #reduceSchema(by: number): void {
    const schema = Math.max(MIN_SCHEMA, this.#schema - by);
    const steps = this.#schema - schema;
    if (steps === 0) return;
    this.#populated = 0;
    for (const window of [this.#positive, this.#negative]) {
      const { indices, counts } = window.populated(this.#schema);
      const infinite = window.infinite;
      window.clear();
      window.infinite = infinite;
      if (infinite !== 0) this.#populated++;
      for (let i = 0; i < indices.length - (infinite !== 0 ? 1 : 0); i++) {
        if (window.add(coarserIndex(indices[i], steps), counts[i])) this.#populated++;
      }
    }
    this.#schema = schema;
  }

  /** Empties the series (count, sum, buckets) and restores the configured schema and threshold. */
  reset(): void {
    this.#count = 0;
    this.#sum = 0;
    this.#zeroCount = 0;
    this.#positive.clear();
    this.#negative.clear();
    this.#populated = 0;
    this.#schema = this.settings.schema;
    this.#zeroThreshold = this.settings.zeroThreshold;
  }

  /** The buckets as the wire formats carry them: schema, zero bucket, spans and deltas. */
  buckets(): NativeBuckets {
    const positive = encodeBuckets(this.#positive.populated(this.#schema));
    const negative = encodeBuckets(this.#negative.populated(this.#schema));
    return {
      schema: this.#schema,
      zeroThreshold: this.#zeroThreshold,
      zeroCount: this.#zeroCount,
      positiveSpans: positive.spans,
      positiveDeltas: positive.deltas,
      negativeSpans: negative.spans,
      negativeDeltas: negative.deltas,
    };
  }

  /** Bytes of counts held by the two windows (for memory accounting in tests and docs). */
  get windowBytes(): number {
    return this.#positive.counts.byteLength + this.#negative.counts.byteLength;
  }
}

// --- spans and deltas ------------------------------------------------------------------------

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
