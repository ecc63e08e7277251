/**
 * Writing exposition text straight into bytes: a chain of fixed-size chunks, each handed on
 * (to a response stream, to gzip) as soon as it is full, so that no body-sized string and no
 * second body-sized copy is ever made.
 *
 * @module
 */

import { formatFloat } from "./format.ts";

/** Bytes per chunk: large enough that a chunk costs one write to the socket. */
export const CHUNK_SIZE = 64 * 1024;
/** Chunk buffers kept for reuse at most (1 MiB): a bound, whatever the scrapes do. */
const MAX_POOLED = 16;
/** Free chunk buffers, handed back by consumers that are done with their bytes. */
const pool: ArrayBuffer[] = [];

/**
 * Hands chunks back for reuse once nothing reads them any more (their bytes were copied or
 * compressed). Chunks given to a `Response` are never handed back: the runtime owns them.
 */
export function releaseChunks(chunks: readonly Uint8Array[]): void {
  for (const chunk of chunks) {
    const buffer = chunk.buffer;
    if (buffer.byteLength === CHUNK_SIZE && pool.length < MAX_POOLED) {
      pool.push(buffer as ArrayBuffer);
    }
  }
}

/** A chunk buffer of at least `size` bytes, from the pool when it is of the usual size. */
function newChunk(size: number): Uint8Array<ArrayBuffer> {
  if (size <= CHUNK_SIZE) {
    const pooled = pool.pop();
    return new Uint8Array(pooled ?? new ArrayBuffer(CHUNK_SIZE));
  }
  return new Uint8Array(size);
}

/** Bytes a number's text takes at most (`-1.2345678901234567e-308`: 24) and some. */
export const NUMBER_BYTES = 32;
/** The largest whole number whose text (`N.0`) is kept encoded. */
const SMALL_INTEGERS = 4096;
/** `0.0`, `1.0`, …, `4095.0` encoded one after the other, with where each starts. */
let smallIntegerBytes: Uint8Array | undefined;
let smallIntegerStarts: Uint32Array | undefined;

function encodeSmallIntegers(): void {
  const starts = new Uint32Array(SMALL_INTEGERS + 1);
  let text = "";
  for (let i = 0; i < SMALL_INTEGERS; i++) {
    starts[i] = text.length;
    text += formatFloat(i);
  }
  starts[SMALL_INTEGERS] = text.length;
  smallIntegerBytes = new TextEncoder().encode(text);
  smallIntegerStarts = starts;
}

const encoder = new TextEncoder();

/**
 * Writes text into chunks of `CHUNK_SIZE` bytes. Every write first makes room for its worst
 * case (three bytes per UTF-16 unit), so the loops that copy characters check no bounds.
 */
export class ChunkWriter {
  /** The chunk being written. */
  buffer: Uint8Array<ArrayBuffer>;
  /** Where the next byte goes in `buffer`. */
  position = 0;
  /** Chunks filled and not yet taken. */
  readonly #finished: Uint8Array<ArrayBuffer>[] = [];
  /** Bytes in the finished chunks. */
  #finishedBytes = 0;

  constructor() {
    this.buffer = newChunk(CHUNK_SIZE);
  }

  /** Bytes waiting in finished chunks (not counting the chunk being written). */
  get finishedBytes(): number {
    return this.#finishedBytes;
  }

  /** Makes room for `bytes` more bytes in `buffer`, finishing the chunk when it is too full. */
  room(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    this.#finish();
    if (bytes > this.buffer.length) this.buffer = newChunk(bytes);
  }

  #finish(): void {
    if (this.position > 0) {
      this.#finished.push(this.buffer.subarray(0, this.position));
      this.#finishedBytes += this.position;
      this.buffer = newChunk(CHUNK_SIZE);
      this.position = 0;
    }
  }

  /** Takes the finished chunks (and, with `all`, the one being written). */
  take(all: boolean): Uint8Array<ArrayBuffer>[] {
    if (all) this.#finish();
    const chunks = this.#finished.splice(0);
    this.#finishedBytes = 0;
    return chunks;
  }

  /** Writes `text` as UTF-8 (lone surrogates as U+FFFD, as `TextEncoder` does). */
  text(text: string): void {
    this.room(text.length * 3);
    this.put(text);
  }

  /**
   * `text` without making room: the caller made room for it (three bytes per UTF-16 unit)
   * with one `room()` for several writes.
   */
  put(text: string): void {
    const length = text.length;
    const buffer = this.buffer;
    let position = this.position;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) {
        position += encoder.encodeInto(text.slice(i), buffer.subarray(position)).written;
        break;
      }
      buffer[position++] = code;
    }
    this.position = position;
  }

  /**
   * Writes `text` (long and flat: many lines joined) as UTF-8 with the native encoder, filling
   * the chunk being written and going on in the next ones.
   */
  encode(text: string): void {
    let rest = text;
    for (;;) {
      const { read, written } = encoder.encodeInto(rest, this.buffer.subarray(this.position));
      this.position += written;
      if (read === rest.length) return;
      rest = rest.slice(read);
      // Room for at least one character (4 bytes) in the next chunk.
      this.room(this.buffer.length - this.position + 4);
    }
  }

  /** Writes `bytes` (text encoded once, written many times). */
  bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.putBytes(bytes);
  }

  /** `bytes` without making room (see `put`): text encoded once, written many times. */
  putBytes(bytes: Uint8Array): void {
    const length = bytes.length;
    const buffer = this.buffer;
    let position = this.position;
    for (let i = 0; i < length; i++) buffer[position++] = bytes[i];
    this.position = position;
  }

  /** Writes one ASCII byte. */
  byte(code: number): void {
    this.room(1);
    this.buffer[this.position++] = code;
  }

  /**
   * Writes a sample value as `formatFloat` does: small whole numbers from encoded bytes, other
   * whole numbers below a million digit by digit (`123456.0`, as `formatFloat` writes them),
   * the rest through `formatFloat`.
   */
  number(value: number): void {
    this.room(NUMBER_BYTES);
    this.putNumber(value);
  }

  /** `number` without making room: the caller made room for `NUMBER_BYTES` with others. */
  putNumber(value: number): void {
    if (!(value >= 0 && value < 1e6 && Math.floor(value) === value && 1 / value > 0)) {
      this.put(formatFloat(value));
      return;
    }
    const buffer = this.buffer;
    if (value >= SMALL_INTEGERS) {
      const digits = value < 10_000 ? 4 : value < 100_000 ? 5 : 6;
      let position = this.position + digits;
      this.position = position + 2;
      buffer[position] = 0x2e; // .
      buffer[position + 1] = 0x30; // 0
      for (let rest = value; rest > 0; rest = Math.floor(rest / 10)) {
        buffer[--position] = 0x30 + rest % 10;
      }
      return;
    }
    if (smallIntegerBytes === undefined) encodeSmallIntegers();
    const start = smallIntegerStarts![value];
    const end = smallIntegerStarts![value + 1];
    let position = this.position;
    for (let i = start; i < end; i++) buffer[position++] = smallIntegerBytes![i];
    this.position = position;
  }

  /** Writes one ASCII byte without making room (see `put`). */
  putByte(code: number): void {
    this.buffer[this.position++] = code;
  }

  /**
   * Writes again the bytes `start..end` of `source` (a chunk this writer wrote: the current one
   * or a finished one, whose bytes never change), such as a series' label text.
   */
  repeat(source: Uint8Array, start: number, end: number): void {
    this.room(end - start);
    const buffer = this.buffer;
    if (source === buffer) {
      buffer.copyWithin(this.position, start, end);
      this.position += end - start;
      return;
    }
    let position = this.position;
    for (let i = start; i < end; i++) buffer[position++] = source[i];
    this.position = position;
  }
}

/** The chunks as one array of bytes (one copy); the chunks go back to the pool. */
export function joinChunks(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const joined = concatChunks(chunks);
  releaseChunks(chunks);
  return joined;
}

/** The chunks as one array of bytes (one copy); the chunks stay as they are. */
export function concatChunks(chunks: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
