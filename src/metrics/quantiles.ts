/**
 * Sliding-window quantile estimation for summaries, in bounded memory.
 *
 * Each window slot is a log-bucketed sketch (DDSketch): a value v > 0 lands in bucket
 * ceil(log_γ v) with γ = (1 + α) / (1 − α), and a bucket reports 2γ^i / (γ + 1). Every value in
 * a bucket is then within a relative error α of what the bucket reports, so an estimated quantile
 * is within relative error α of the true value of that rank. Negative values mirror this; values
 * closer to zero than 1e-9 count as zero.
 *
 * Buckets are counts in a dense array covering the span of indices observed, so `observe` is
 * one logarithm and one array increment. A sketch keeps at most {@linkcode bucketLimit} buckets
 * per sign, enough for the values of a window to span nine decades (say 1 µs to 1000 s) with the
 * bound intact; past that the lowest buckets collapse into one, as DDSketch does, which only
 * coarsens the smallest values. An accuracy so fine that nine decades would need more than
 * 65 536 buckets is refused by {@linkcode checkQuantileWindow}, as is an absurd `ageBuckets`.
 *
 * @module
 */

/** Values closer to zero than this are counted as zero. */
const ZERO_THRESHOLD = 1e-9;
/** The ratio between the largest and smallest value a window keeps at full accuracy. */
const KEPT_SPAN = 1e9;
/** The most buckets a sketch may keep per sign: 512 KiB of counts. */
const MAX_BUCKETS = 65_536;
/** The finest relative accuracy accepted: nine decades in at most {@linkcode MAX_BUCKETS}. */
export const MIN_RELATIVE_ACCURACY = 2e-4;
/** The most slots a window may rotate through. */
export const MAX_AGE_BUCKETS = 1000;

const EMPTY = new Float64Array(0);

/** Options of a {@linkcode QuantileWindow}. */
export interface QuantileWindowOptions {
  /** How long an observation counts, in seconds. */
  readonly maxAgeSeconds: number;
  /** How many slots the window rotates through (observations expire a slot at a time). */
  readonly ageBuckets: number;
  /** Relative accuracy α of the estimates, in [{@linkcode MIN_RELATIVE_ACCURACY}, 0.5]. */
  readonly relativeAccuracy: number;
  /**
   * Bucket limit per sign and slot, which bounds memory; raised to what the accuracy needs to
   * keep nine decades (see {@linkcode bucketLimit}).
   */
  readonly maxBuckets: number;
}

/** γ of a relative accuracy α: the ratio between the bounds of a bucket. */
function gammaOf(relativeAccuracy: number): number {
  return (1 + relativeAccuracy) / (1 - relativeAccuracy);
}

/**
 * The buckets a sketch keeps per sign: enough for nine decades at the given accuracy, and at
 * least `requested`.
 */
export function bucketLimit(relativeAccuracy: number, requested: number): number {
  const needed = Math.ceil(Math.log(KEPT_SPAN) / Math.log(gammaOf(relativeAccuracy))) + 1;
  return Math.min(MAX_BUCKETS, Math.max(needed, requested));
}

/**
 * Throws a `RangeError` naming the summary when the window cannot keep its promise: an accuracy
 * outside [{@linkcode MIN_RELATIVE_ACCURACY}, 0.5] (finer ones would need unbounded memory, and
 * below ~1e-16 γ rounds to 1), or more than {@linkcode MAX_AGE_BUCKETS} slots.
 */
export function checkQuantileWindow(metricName: string, options: QuantileWindowOptions): void {
  const { relativeAccuracy, ageBuckets } = options;
  if (!(relativeAccuracy >= MIN_RELATIVE_ACCURACY && relativeAccuracy <= 0.5)) {
    throw new RangeError(
      `relativeAccuracy of summary "${metricName}" must be in [${MIN_RELATIVE_ACCURACY}, 0.5]: ` +
        `a finer accuracy would need more than ${MAX_BUCKETS} buckets to keep nine decades`,
    );
  }
  if (!(Number.isInteger(ageBuckets) && ageBuckets >= 1 && ageBuckets <= MAX_AGE_BUCKETS)) {
    throw new RangeError(
      `ageBuckets of summary "${metricName}" must be an integer in [1, ${MAX_AGE_BUCKETS}]`,
    );
  }
}

/**
 * Bucket counts of one sign: `counts[i]` holds bucket `offset + i`; the buckets in use are
 * `low..high`. At most `limit` buckets are kept: a value below that span goes into the lowest
 * bucket kept, and a value above it first folds the lowest buckets together.
 */
class BucketStore {
  counts: Float64Array = EMPTY;
  offset = 0;
  low = 0;
  high = -1;

  constructor(readonly limit: number) {}

  get empty(): boolean {
    return this.high < this.low;
  }

  add(index: number): void {
    if (this.empty) {
      this.low = this.high = index;
      this.#cover(index, index);
    } else if (index < this.low) {
      if (this.high - index >= this.limit) index = this.high - this.limit + 1;
      if (index < this.low) {
        this.#cover(index, this.high);
        this.low = index;
      }
    } else if (index > this.high) {
      if (index - this.low >= this.limit) this.#collapseBelow(index - this.limit + 1);
      this.#cover(this.low, index);
      this.high = index;
    }
    this.counts[index - this.offset]++;
  }

  /** Folds every bucket below `newLow` into bucket `newLow`. */
  #collapseBelow(newLow: number): void {
    let folded = 0;
    const stop = Math.min(newLow - 1, this.high);
    for (let i = this.low; i <= stop; i++) {
      folded += this.counts[i - this.offset];
      this.counts[i - this.offset] = 0;
    }
    this.low = newLow;
    if (this.high < newLow) this.high = newLow;
    this.#cover(this.low, this.high);
    this.counts[newLow - this.offset] += folded;
  }

  /** Makes `counts` cover buckets `from..to` (a span of at most `limit`), keeping the counts. */
  #cover(from: number, to: number): void {
    const length = this.counts.length;
    if (from >= this.offset && to < this.offset + length) return;
    const size = Math.min(this.limit, Math.max(to - from + 1 + 64, 2 * length));
    const offset = from < this.offset ? to - size + 1 : from;
    const counts = new Float64Array(size);
    if (!this.empty && length > 0) {
      const keepFrom = Math.max(this.low, offset, this.offset);
      const keepTo = Math.min(this.high, offset + size - 1, this.offset + length - 1);
      if (keepTo >= keepFrom) {
        counts.set(
          this.counts.subarray(keepFrom - this.offset, keepTo - this.offset + 1),
          keepFrom - offset,
        );
      }
    }
    this.counts = counts;
    this.offset = offset;
  }

  clear(): void {
    if (!this.empty) this.counts.fill(0, this.low - this.offset, this.high - this.offset + 1);
    this.low = 0;
    this.high = -1;
  }
}

/** One log-bucketed sketch (a window slot). */
class LogSketch {
  readonly positive: BucketStore;
  readonly negative: BucketStore;
  zeroCount = 0;
  count = 0;
  // The extremes are kept exactly, so estimates never leave the observed range (a window
  // holding one value reports that value).
  min = Infinity;
  max = -Infinity;

  /** Infinities are counted apart, so that one never coarsens the buckets of finite values. */
  positiveInfinity = 0;
  negativeInfinity = 0;

  constructor(readonly logGamma: number, limit: number) {
    this.positive = new BucketStore(limit);
    this.negative = new BucketStore(limit);
  }

  add(value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value > ZERO_THRESHOLD) {
      if (value === Infinity) this.positiveInfinity++;
      else this.positive.add(Math.ceil(Math.log(value) / this.logGamma));
    } else if (value < -ZERO_THRESHOLD) {
      if (value === -Infinity) this.negativeInfinity++;
      else this.negative.add(Math.ceil(Math.log(-value) / this.logGamma));
    } else {
      this.zeroCount++;
    }
  }

  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.zeroCount = 0;
    this.positiveInfinity = 0;
    this.negativeInfinity = 0;
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

/**
 * The buckets of several stores added up, as counts from bucket `offset` upwards (the lowest
 * collapsed so that at most `limit` remain, as each store does).
 */
function mergeStores(stores: readonly BucketStore[], limit: number): {
  counts: Float64Array;
  offset: number;
} {
  let low = Infinity;
  let high = -Infinity;
  for (const store of stores) {
    if (store.empty) continue;
    low = Math.min(low, store.low);
    high = Math.max(high, store.high);
  }
  if (high < low) return { counts: EMPTY, offset: 0 };
  const offset = Math.max(low, high - limit + 1);
  const counts = new Float64Array(high - offset + 1);
  for (const store of stores) {
    for (let i = store.low; i <= store.high; i++) {
      counts[Math.max(i, offset) - offset] += store.counts[i - store.offset];
    }
  }
  return { counts, offset };
}

/**
 * Quantiles over the last `maxAgeSeconds`: observations go into the current slot; slots older
 * than the window are cleared as time moves on; a query merges the live slots.
 */
export class QuantileWindow {
  readonly #slots: LogSketch[];
  readonly #slotSeconds: number;
  readonly #gamma: number;
  readonly #limit: number;
  #current = 0;
  #currentEnds: number;
  readonly #now: () => number;

  constructor(options: QuantileWindowOptions, now: () => number = () => performance.now() / 1000) {
    checkQuantileWindow("", options);
    const gamma = gammaOf(options.relativeAccuracy);
    this.#gamma = gamma;
    this.#limit = bucketLimit(options.relativeAccuracy, options.maxBuckets);
    this.#slots = Array.from(
      { length: options.ageBuckets },
      () => new LogSketch(Math.log(gamma), this.#limit),
    );
    this.#slotSeconds = options.maxAgeSeconds / options.ageBuckets;
    this.#now = now;
    this.#currentEnds = now() + this.#slotSeconds;
  }

  /** Adds one observation to the current slot. */
  observe(value: number): void {
    this.#rotate();
    this.#slots[this.#current].add(value);
  }

  /** Estimates each quantile over the window; NaN for all when the window is empty. */
  quantiles(quantiles: readonly number[]): number[] {
    this.#rotate();
    let zeroCount = 0;
    let negativeInfinity = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const slot of this.#slots) {
      min = Math.min(min, slot.min);
      max = Math.max(max, slot.max);
      zeroCount += slot.zeroCount;
      negativeInfinity += slot.negativeInfinity;
      count += slot.count;
    }
    if (count === 0) return quantiles.map(() => NaN);
    const positive = mergeStores(this.#slots.map((slot) => slot.positive), this.#limit);
    const negative = mergeStores(this.#slots.map((slot) => slot.negative), this.#limit);
    return quantiles.map((quantile) => {
      // The extremes are known exactly; only the inner ranks need estimating.
      if (quantile === 0) return min;
      if (quantile === 1) return max;
      const rank = quantile * (count - 1);
      let seen = negativeInfinity;
      if (seen > rank) return -Infinity;
      // Ascending order of value: most negative first, then zeros, then positives (and the
      // positive infinities, which are what remains).
      for (let i = negative.counts.length - 1; i >= 0; i--) {
        seen += negative.counts[i];
        if (seen > rank) return this.#clamp(-this.#bucketValue(negative.offset + i), min, max);
      }
      seen += zeroCount;
      if (seen > rank) return this.#clamp(0, min, max);
      for (let i = 0; i < positive.counts.length; i++) {
        seen += positive.counts[i];
        if (seen > rank) return this.#clamp(this.#bucketValue(positive.offset + i), min, max);
      }
      return max;
    });
  }

  /** Clears every slot. */
  reset(): void {
    for (const slot of this.#slots) slot.clear();
  }

  #clamp(value: number, min: number, max: number): number {
    return Math.min(max, Math.max(min, value));
  }

  #bucketValue(index: number): number {
    return (2 * integerPower(this.#gamma, index)) / (this.#gamma + 1);
  }

  #rotate(): void {
    const now = this.#now();
    if (now < this.#currentEnds) return;
    // Advance one slot per elapsed slot length, clearing each slot we move into; after a
    // full window of silence every slot is cleared once and we stop.
    const elapsedSlots = Math.floor((now - this.#currentEnds) / this.#slotSeconds) + 1;
    const steps = Math.min(elapsedSlots, this.#slots.length);
    for (let i = 0; i < steps; i++) {
      this.#current = (this.#current + 1) % this.#slots.length;
      this.#slots[this.#current].clear();
    }
    this.#currentEnds += elapsedSlots * this.#slotSeconds;
  }
}

/**
 * `base ** exponent` for an integer exponent, by repeated squaring: only multiplications (and one
 * division), which IEEE 754 rounds alike everywhere, so V8 and JavaScriptCore (Bun) agree to the
 * last bit; their `**` differ in the last digits, which would make quantiles differ by runtime.
 */
function integerPower(base: number, exponent: number): number {
  let result = 1;
  let factor = exponent < 0 ? 1 / base : base;
  for (let n = Math.abs(exponent); n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) result *= factor;
    factor *= factor;
  }
  return result;
}
