/**
 * Staleness markers of a `RemoteWriter`: which series of its previous write are gone, and the
 * labels they were sent with.
 *
 * @module
 */

import { snappyDecompress } from "../../encoding/snappy.ts";
import type { SeriesMemory } from "./batching.ts";

/**
 * The series of this write and of the previous one, to find those that ended: a 53-bit hash of
 * each one's labels (two label sets with equal hashes, a chance of about 2^-53 per pair, would
 * only miss a marker), and where its labels are in the requests sent, read back only for the
 * series that ended. A marker is sent once, with the next write, whether or not that write
 * succeeds.
 */
export class SentSeries implements SeriesMemory {
  #current = new SeenSeries();
  #previous = new SeenSeries();
  #bodies: readonly Uint8Array[] = [];
  #table = new Int32Array(0);
  #view = new DataView(new ArrayBuffer(0));

  see(bytes: Uint8Array<ArrayBuffer>, from: number, to: number, request: number): void {
    if (this.#view.buffer !== bytes.buffer) this.#view = new DataView(bytes.buffer);
    this.#current.add(labelHash(bytes, this.#view, from, to), request, from, to);
  }

  ended(): Uint8Array[] {
    const { hashes, count } = this.#current;
    // Open addressing over this write's hashes: index + 1, 0 when free.
    const size = 2 ** Math.ceil(Math.log2(count * 2 + 2));
    const table = this.#table.length === size ? this.#table.fill(0) : new Int32Array(size);
    this.#table = table;
    for (let i = 0; i < count; i++) {
      let slot = hashes[i] & (size - 1);
      while (table[slot] !== 0) slot = (slot + 1) & (size - 1);
      table[slot] = i + 1;
    }
    const previous = this.#previous;
    const requests: Uint8Array[] = [];
    const ended: Uint8Array[] = [];
    for (let j = 0; j < previous.count; j++) {
      const hash = previous.hashes[j];
      let slot = hash & (size - 1);
      while (table[slot] !== 0 && hashes[table[slot] - 1] !== hash) slot = (slot + 1) & (size - 1);
      if (table[slot] !== 0) continue;
      const [request, from, to] = previous.places.subarray(3 * j, 3 * j + 3);
      requests[request] ??= snappyDecompress(this.#bodies[request]);
      ended.push(requests[request].slice(from, to));
    }
    return ended;
  }

  sent(bodies: readonly Uint8Array[]): void {
    this.#bodies = bodies;
    [this.#previous, this.#current] = [this.#current, this.#previous];
    this.#current.count = 0;
  }
}

/** The hash of each series' labels seen in a write, and where they are in its requests. */
class SeenSeries {
  hashes = new Float64Array(1024);
  /** Per series: its request, and where its labels start and end in the request. */
  places = new Int32Array(3 * 1024);
  count = 0;

  add(hash: number, request: number, from: number, to: number): void {
    if (this.count === this.hashes.length) {
      this.hashes = grown(this.hashes, this.count);
      this.places = grown(this.places, 3 * this.count);
    }
    const at = 3 * this.count;
    this.places[at] = request;
    this.places[at + 1] = from;
    this.places[at + 2] = to;
    this.hashes[this.count++] = hash;
  }
}

function grown<T extends Float64Array | Int32Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (size: number) => T)(array.length * 2);
  bigger.set(array.subarray(0, length));
  return bigger;
}

/** Two 32-bit multiplicative hashes of `bytes[from, to)`, four bytes at a time, as 53 bits. */
function labelHash(bytes: Uint8Array, view: DataView, from: number, to: number): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  let k = from;
  for (; k + 4 <= to; k += 4) {
    const word = view.getInt32(k, true);
    a = Math.imul(a ^ word, 0x01000193);
    b = Math.imul((b ^ word) + (b >>> 13), 0x5bd1e995);
  }
  for (; k < to; k++) {
    a = Math.imul(a ^ bytes[k], 0x01000193);
    b = Math.imul((b ^ bytes[k]) + (b >>> 13), 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b) ^ (to - from);
  return (a >>> 0) * 0x200000 + (b >>> 11);
}
