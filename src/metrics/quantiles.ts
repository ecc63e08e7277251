/**
 * Sliding-window quantile estimation for summaries, in bounded memory.
 *
 * Each window slot is a log-bucketed sketch: a value v > 0 lands in bucket ceil(log_γ v) with
 * γ = (1 + α) / (1 − α), and a bucket reports 2γ^i / (γ + 1). Every value in a bucket is then
 * within a relative error α of what the bucket reports, so an estimated quantile is within
 * relative error α of the true value of that rank. Negative values mirror this; values closer
 * to zero than 1e-9 count as zero. A sketch keeps at most `maxBuckets` buckets per sign: past
 * that the two lowest merge, which only coarsens the smallest values (with α = 1% the limit is
 * reached only when values span more than 17 decades).
 *
 * @module
 */

/** Values closer to zero than this are counted as zero. */
const ZERO_THRESHOLD = 1e-9;

/** One log-bucketed sketch (a window slot). */
class LogSketch {
  readonly positive = new Map<number, number>();
  readonly negative = new Map<number, number>();
  zeroCount = 0;
  count = 0;
  // The extremes are kept exactly, so estimates never leave the observed range (a window
  // holding one value reports that value).
  min = Infinity;
  max = -Infinity;

  constructor(readonly logGamma: number, readonly maxBuckets: number) {}

  add(value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (value > ZERO_THRESHOLD) this.#addTo(this.positive, value);
    else if (value < -ZERO_THRESHOLD) this.#addTo(this.negative, -value);
    else this.zeroCount++;
  }

  #addTo(buckets: Map<number, number>, magnitude: number): void {
    const index = Math.ceil(Math.log(magnitude) / this.logGamma);
    buckets.set(index, (buckets.get(index) ?? 0) + 1);
    if (buckets.size > this.maxBuckets) collapseLowest(buckets);
  }

  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.zeroCount = 0;
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }
}

function collapseLowest(buckets: Map<number, number>): void {
  const [lowest, secondLowest] = [...buckets.keys()].sort((a, b) => a - b);
  buckets.set(secondLowest, buckets.get(secondLowest)! + buckets.get(lowest)!);
  buckets.delete(lowest);
}

/** Options of a {@linkcode QuantileWindow}. */
export interface QuantileWindowOptions {
  /** How long an observation counts, in seconds. */
  readonly maxAgeSeconds: number;
  /** How many slots the window rotates through (observations expire a slot at a time). */
  readonly ageBuckets: number;
  /** Relative accuracy α of the estimates, in (0, 1). */
  readonly relativeAccuracy: number;
  /** Bucket limit per sign and slot, which bounds memory. */
  readonly maxBuckets: number;
}

/**
 * Quantiles over the last `maxAgeSeconds`: observations go into the current slot; slots older
 * than the window are cleared as time moves on; a query merges the live slots.
 */
export class QuantileWindow {
  readonly #slots: LogSketch[];
  readonly #slotSeconds: number;
  readonly #gamma: number;
  #current = 0;
  #currentEnds: number;
  readonly #now: () => number;

  constructor(options: QuantileWindowOptions, now: () => number = () => performance.now() / 1000) {
    const gamma = (1 + options.relativeAccuracy) / (1 - options.relativeAccuracy);
    this.#gamma = gamma;
    this.#slots = Array.from(
      { length: options.ageBuckets },
      () => new LogSketch(Math.log(gamma), options.maxBuckets),
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
    const merged = new Map<number, number>();
    const mergedNegative = new Map<number, number>();
    let zeroCount = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const slot of this.#slots) {
      min = Math.min(min, slot.min);
      max = Math.max(max, slot.max);
      for (const [index, n] of slot.positive) merged.set(index, (merged.get(index) ?? 0) + n);
      for (const [index, n] of slot.negative) {
        mergedNegative.set(index, (mergedNegative.get(index) ?? 0) + n);
      }
      zeroCount += slot.zeroCount;
      count += slot.count;
    }
    if (count === 0) return quantiles.map(() => NaN);
    // Ascending order of value: most negative first, then zeros, then positives.
    const ordered: [value: number, n: number][] = [];
    for (const index of [...mergedNegative.keys()].sort((a, b) => b - a)) {
      ordered.push([-this.#bucketValue(index), mergedNegative.get(index)!]);
    }
    if (zeroCount > 0) ordered.push([0, zeroCount]);
    for (const index of [...merged.keys()].sort((a, b) => a - b)) {
      ordered.push([this.#bucketValue(index), merged.get(index)!]);
    }
    return quantiles.map((quantile) => {
      // The extremes are known exactly; only the inner ranks need estimating.
      if (quantile === 0) return min;
      if (quantile === 1) return max;
      const rank = quantile * (count - 1);
      let seen = 0;
      for (const [value, n] of ordered) {
        seen += n;
        if (seen > rank) return Math.min(max, Math.max(min, value));
      }
      return max;
    });
  }

  /** Clears every slot. */
  reset(): void {
    for (const slot of this.#slots) slot.clear();
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
