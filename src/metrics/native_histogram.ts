/**
 * Native (sparse, exponential) histograms: the options, and the state of one series (a dense
 * window of counts per sign), following the Prometheus native-histogram spec. The bucket index
 * math is in `native_buckets.ts`, the spans-and-deltas form in `native_spans.ts`.
 *
 * Bucket `i` of schema `s` holds the observations `v` with `base^(i-1) < |v| <= base^i`, where
 * `base = 2^(2^-s)`; observations with `|v| <= zeroThreshold` go to the zero bucket, negative
 * ones to the negative buckets (by their absolute value). Only populated buckets are sent, as
 * spans (runs of consecutive indices) and deltas (each count minus the previous one).
 *
 * @module
 */

import {
  bucketIndex,
  bucketUpperBound,
  coarserIndex,
  infinityIndex,
  MAX_SCHEMA,
  MIN_SCHEMA,
} from "./native_buckets.ts";
import type { NativeBuckets } from "./native_spans.ts";
import type { BucketSpan } from "../model.ts";

export { bucketIndex, bucketUpperBound, MAX_SCHEMA, MIN_SCHEMA } from "./native_buckets.ts";
export {
  decodeBuckets,
  encodeBuckets,
  mergeNativeBuckets,
  mergeNativeParts,
  type NativeBuckets,
  nativeBucketsOf,
} from "./native_spans.ts";

/** The largest count a `Uint32Array` holds. */
const UINT32_MAX = 0xffff_ffff;
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

  /**
   * The spans and deltas of the populated buckets (±Inf included at `schema`'s index), read
   * straight from the window in one pass: the same as `encodeBuckets(this.populated(schema))`
   * without the intermediate arrays, as `buckets()` runs for every series on each scrape or write.
   */
  encode(schema: number): { spans: BucketSpan[]; deltas: number[] } {
    const spans: BucketSpan[] = [];
    const deltas: number[] = [];
    const window = this.counts;
    const offset = this.offset;
    // The open span (pushed when the next one starts or at the end), and where it ends.
    let spanOffset = 0;
    let spanLength = 0;
    let nextIndex = 0;
    let previousCount = 0;
    let i = 0;
    // Until the first populated bucket: it opens the first span, whatever its offset.
    for (; i < window.length; i++) {
      const count = window[i];
      if (count !== 0) {
        spanOffset = offset + i;
        spanLength = 1;
        deltas.push(count);
        previousCount = count;
        nextIndex = offset + i + 1;
        i++;
        break;
      }
    }
    for (; i < window.length; i++) {
      const count = window[i];
      if (count === 0) continue;
      const index = offset + i;
      const gap = index - nextIndex;
      if (gap > 2) {
        spans.push({ offset: spanOffset, length: spanLength });
        spanOffset = gap;
        spanLength = 0;
      } else if (gap > 0) {
        // One or two empty buckets inside the span cost less than a new span.
        deltas.push(0 - previousCount);
        if (gap === 2) deltas.push(0);
        spanLength += gap;
        previousCount = 0;
      }
      spanLength++;
      deltas.push(count - previousCount);
      previousCount = count;
      nextIndex = index + 1;
    }
    const infinite = this.infinite;
    if (infinite !== 0) {
      const index = infinityIndex(schema);
      const gap = index - nextIndex;
      if (spanLength === 0 || gap > 2) {
        if (spanLength !== 0) spans.push({ offset: spanOffset, length: spanLength });
        spanOffset = gap;
        spanLength = 0;
      } else if (gap > 0) {
        deltas.push(0 - previousCount);
        if (gap === 2) deltas.push(0);
        spanLength += gap;
        previousCount = 0;
      }
      spanLength++;
      deltas.push(infinite - previousCount);
    }
    if (spanLength !== 0) spans.push({ offset: spanOffset, length: spanLength });
    return { spans, deltas };
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
    const positive = this.#positive.encode(this.#schema);
    const negative = this.#negative.encode(this.#schema);
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
