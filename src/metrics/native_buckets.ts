/**
 * Native-histogram bucket indices: which bucket of a schema a value falls in, read from the
 * bits of the float (no logarithm), and the upper bound of a bucket. Bucket `i` of schema `s`
 * holds the observations `v` with `base^(i-1) < |v| <= base^i`, where `base = 2^(2^-s)`.
 *
 * @module
 */

/** The finest and the coarsest schema the spec defines. */
export const MAX_SCHEMA = 8;
/** The coarsest schema the spec defines. */
export const MIN_SCHEMA = -4;

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
export function infinityIndex(schema: number): number {
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
export function coarserIndex(index: number, by: number): number {
  return by === 0 ? index : 0 - Math.floor((0 - index) / 2 ** by);
}
