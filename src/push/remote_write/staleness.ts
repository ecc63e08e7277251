/**
 * Staleness markers of a `RemoteWriter`: which series of its previous write are gone, and the
 * labels they were sent with.
 *
 * @module
 */

import { snappyDecompress } from "../../encoding/snappy.ts";
import type { SeriesMemory } from "./batching.ts";

/**
 * The series of this write and of the previous one: per series a 53-bit hash of its labels (two
 * label sets with equal hashes, a chance of about 2^-53 per pair, would only miss a marker), its
 * request, and where its labels are in it, read back from the request sent only for the series
 * that ended. A marker is sent once, with the next write, whether or not that write succeeds.
 */
export class SentSeries implements SeriesMemory {
  /** Per series of this write: hash, request, labels start and end. */
  #seen = new Float64Array(0);
  #count = 0;
  #previous = { seen: new Float64Array(0), count: 0, bodies: [] as readonly Uint8Array[] };

  /** Starts a write, forgetting the series of one whose encoding threw. */
  begin(): void {
    this.#count = 0;
  }

  see(bytes: DataView, from: number, to: number, request: number): void {
    if (4 * this.#count === this.#seen.length) {
      const bigger = new Float64Array(Math.max(4096, 2 * this.#seen.length));
      bigger.set(this.#seen);
      this.#seen = bigger;
    }
    const at = 4 * this.#count++;
    this.#seen[at] = labelHash(bytes, from, to);
    this.#seen[at + 1] = request;
    this.#seen[at + 2] = from;
    this.#seen[at + 3] = to;
  }

  ended(): Uint8Array[] {
    const seen = this.#seen;
    // Open addressing over this write's hashes: index + 1, 0 when free.
    const mask = 2 ** Math.ceil(Math.log2(this.#count * 2 + 2)) - 1;
    const table = new Int32Array(mask + 1);
    const slotOf = (hash: number) => {
      let slot = hash & mask;
      while (table[slot] !== 0 && seen[4 * (table[slot] - 1)] !== hash) slot = (slot + 1) & mask;
      return slot;
    };
    for (let i = 0; i < this.#count; i++) table[slotOf(seen[4 * i])] = i + 1;
    const previous = this.#previous;
    // Asked once: a failure here costs one write's markers, never every later write.
    this.#previous = { ...previous, count: 0 };
    const requests: Uint8Array[] = [];
    const ended: Uint8Array[] = [];
    for (let at = 0; at < 4 * previous.count; at += 4) {
      if (table[slotOf(previous.seen[at])] !== 0) continue;
      const request = previous.seen[at + 1];
      requests[request] ??= snappyDecompress(previous.bodies[request]);
      ended.push(requests[request].slice(previous.seen[at + 2], previous.seen[at + 3]));
    }
    return ended;
  }

  sent(bodies: readonly Uint8Array[]): void {
    // The arrays of the two writes take turns.
    const spare = this.#previous.seen;
    this.#previous = { seen: this.#seen, count: this.#count, bodies };
    this.#seen = spare;
  }
}

/** Two 32-bit multiplicative hashes of `bytes[from, to)`, four bytes at a time, as 53 bits. */
function labelHash(bytes: DataView, from: number, to: number): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  let k = from;
  for (; k + 4 <= to; k += 4) {
    const word = bytes.getInt32(k, true);
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul((b ^ word) + (b >>> 13), 0x5bd1e995);
  }
  for (; k < to; k++) {
    a = Math.imul(a ^ bytes.getUint8(k), 0x01000193);
    b = Math.imul((b ^ bytes.getUint8(k)) + (b >>> 13), 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ (to - from);
  return (a >>> 0) * 0x200000 + (b >>> 11);
}
