/**
 * Snappy block compression (the raw "block" format that Prometheus remote write uses, not the
 * framed stream format): the uncompressed length as a varint, then literals and back-references
 * ("copies") with 1-, 2- or (beyond 64 KiB) 4-byte offsets.
 *
 * The matcher hashes 4-byte sequences into a table of recent positions, the classic Snappy
 * approach, in one pass over the whole input: a candidate further back than a 2-byte offset
 * reaches (64 KiB) is simply not used. Incompressible stretches are skipped over ever faster, so
 * random data costs little time and grows by at most 1/6 + a few bytes.
 *
 * @module
 */

const HASH_BITS = 14;
const HASH_SHIFT = 32 - HASH_BITS;
const HASH_MULTIPLIER = 0x1e35a7bd;
/** The furthest back a copy with a 2-byte offset reaches. */
const MAX_OFFSET = 0xffff;
/** Inputs shorter than this are written as one literal: too short to find a match in. */
const MIN_MATCH_INPUT = 16;

const TAG_LITERAL = 0;
const TAG_COPY_1 = 1;
const TAG_COPY_2 = 2;
const TAG_COPY_4 = 3;

// One table for every call (positions, absolute): compression is synchronous, so no two calls
// share it at once.
const table = new Int32Array(1 << HASH_BITS);

/** The largest output {@linkcode snappyCompress} can produce for `length` input bytes. */
export function maxCompressedLength(length: number): number {
  return 32 + length + Math.floor(length / 6);
}

/**
 * Compresses `input` into one Snappy block. The result decodes with any Snappy implementation
 * (Go's `snappy.Decode`, which Prometheus uses, included).
 */
export function snappyCompress(input: Uint8Array): Uint8Array<ArrayBuffer> {
  const output = new Output(input.length);
  output.o = writeVarint(output.bytes, 0, input.length);
  if (input.length < MIN_MATCH_INPUT) {
    if (input.length > 0) writeLiteral(input, 0, input.length, output);
  } else {
    compress(input, output);
  }
  // A block far smaller than its buffer is copied out: whoever keeps it keeps no spare room.
  const { bytes } = output;
  return output.o * 2 < bytes.length ? bytes.slice(0, output.o) : bytes.subarray(0, output.o);
}

/**
 * The compressed bytes, grown as needed: sized for a well-compressible input at first (a
 * zero-filled buffer of the worst case would cost more than compressing repetitive data).
 */
class Output {
  bytes: Uint8Array<ArrayBuffer>;
  o = 0;

  constructor(inputLength: number) {
    this.bytes = new Uint8Array(
      Math.min(maxCompressedLength(inputLength), 4096 + Math.floor(inputLength / 4)),
    );
  }

  /** Makes room for `extra` more bytes. */
  ensure(extra: number): void {
    if (this.o + extra <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.o + extra));
    grown.set(this.bytes.subarray(0, this.o));
    this.bytes = grown;
  }
}

function compress(input: Uint8Array, output: Output): void {
  table.fill(0);
  // DataView reads four bytes in one step (V8 compiles it to one load), far faster than
  // assembling them from four array reads.
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const end = input.length;
  // The last position a 4-byte hash can be read at.
  const hashLimit = end - 4;
  let literalStart = 0;
  let ip = 1;
  while (ip <= hashLimit) {
    const word = view.getInt32(ip, true);
    const slot = Math.imul(word, HASH_MULTIPLIER) >>> HASH_SHIFT;
    const candidate = table[slot];
    table[slot] = ip;
    if (
      candidate >= ip || ip - candidate > MAX_OFFSET || view.getInt32(candidate, true) !== word
    ) {
      // No match: step further the longer the current literal run, so incompressible input
      // is crossed quickly (every 32 misses add one to the step).
      ip += 1 + ((ip - literalStart) >> 5);
      continue;
    }
    if (ip > literalStart) writeLiteral(input, literalStart, ip, output);
    // Extend eight bytes at a time, then four, then byte by byte. Eight bytes are compared as
    // float64s: equal numbers have equal bytes except for 0 and -0 (the sign byte then decides),
    // and NaNs, never equal, only end the fast steps.
    const most = end - ip;
    let length = 4;
    while (length + 8 <= most) {
      const a = view.getFloat64(candidate + length, true);
      if (a !== view.getFloat64(ip + length, true)) break;
      if (a === 0 && input[candidate + length + 7] !== input[ip + length + 7]) break;
      length += 8;
    }
    while (
      length + 4 <= most &&
      view.getInt32(candidate + length, true) === view.getInt32(ip + length, true)
    ) {
      length += 4;
    }
    while (length < most && input[candidate + length] === input[ip + length]) length++;
    output.ensure(3 * Math.ceil(length / 60) + 3);
    output.o = writeCopy(ip - candidate, length, output.bytes, output.o);
    ip += length;
    literalStart = ip;
    // Remember the position just before the next search, so runs chain into each other.
    if (ip - 1 <= hashLimit) {
      table[Math.imul(view.getInt32(ip - 1, true), HASH_MULTIPLIER) >>> HASH_SHIFT] = ip - 1;
    }
  }
  if (literalStart < end) writeLiteral(input, literalStart, end, output);
}

function writeVarint(out: Uint8Array, o: number, value: number): number {
  let v = value;
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/** A literal of `input[start, end)` (1 byte to 4 GiB): its length, then the bytes. */
function writeLiteral(input: Uint8Array, start: number, end: number, output: Output): void {
  const n = end - start - 1;
  output.ensure(n + 6);
  const out = output.bytes;
  let o = output.o;
  if (n < 60) {
    out[o++] = (n << 2) | TAG_LITERAL;
  } else if (n < 0x100) {
    out[o++] = (60 << 2) | TAG_LITERAL;
    out[o++] = n;
  } else if (n < 0x10000) {
    out[o++] = (61 << 2) | TAG_LITERAL;
    out[o++] = n & 0xff;
    out[o++] = n >>> 8;
  } else if (n < 0x1000000) {
    out[o++] = (62 << 2) | TAG_LITERAL;
    out[o++] = n & 0xff;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n >>> 16;
  } else {
    out[o++] = (63 << 2) | TAG_LITERAL;
    out[o++] = n & 0xff;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = (n >>> 16) & 0xff;
    out[o++] = n >>> 24;
  }
  // Short literals (most, in repetitive data) are copied byte by byte: no view, no native call.
  if (n < 32) {
    for (let i = start; i < end; i++) out[o++] = input[i];
  } else {
    out.set(input.subarray(start, end), o);
    o += end - start;
  }
  output.o = o;
}

/**
 * A back-reference of `length` bytes starting `offset` bytes back: copies with a 2-byte offset
 * (at most 64 bytes each) for long or distant matches, the two-byte copy with an 11-bit offset
 * for 4..11 bytes within 2 KiB, and copies with a 4-byte offset beyond 64 KiB. At most
 * `3 * ceil(length / 60) + 3` bytes (5 per 64 beyond 64 KiB).
 */
function writeCopy(offset: number, length: number, out: Uint8Array, o: number): number {
  let remaining = length;
  if (offset > MAX_OFFSET) {
    while (remaining > 0) {
      const chunk = remaining > 64 ? 64 : remaining;
      out[o++] = ((chunk - 1) << 2) | TAG_COPY_4;
      out[o++] = offset & 0xff;
      out[o++] = (offset >>> 8) & 0xff;
      out[o++] = (offset >>> 16) & 0xff;
      out[o++] = offset >>> 24;
      remaining -= chunk;
    }
    return o;
  }
  while (remaining >= 68) {
    o = writeCopy2(offset, 64, out, o);
    remaining -= 64;
  }
  // 65..67 bytes: 60 now leaves 5..7, long enough for any form.
  if (remaining > 64) {
    o = writeCopy2(offset, 60, out, o);
    remaining -= 60;
  }
  if (remaining >= 12 || remaining < 4 || offset >= 2048) {
    return writeCopy2(offset, remaining, out, o);
  }
  out[o++] = ((offset >>> 8) << 5) | ((remaining - 4) << 2) | TAG_COPY_1;
  out[o++] = offset & 0xff;
  return o;
}

function writeCopy2(offset: number, length: number, out: Uint8Array, o: number): number {
  out[o++] = ((length - 1) << 2) | TAG_COPY_2;
  out[o++] = offset & 0xff;
  out[o++] = offset >>> 8;
  return o;
}

/**
 * Decompresses a Snappy block (a `RemoteWriter` reads back the labels of series it sent).
 * Throws a `RangeError` on a malformed block instead of reading or writing out of bounds.
 */
export function snappyDecompress(block: Uint8Array): Uint8Array<ArrayBuffer> {
  let at = 0;
  let length = 0;
  for (let shift = 1, byte = 0x80; byte >= 0x80; shift *= 128) {
    byte = block[at++] ?? 0;
    length += (byte & 0x7f) * shift;
  }
  // A copy of 64 bytes takes 3: no block grows more than 22-fold.
  if (length > 22 * block.length) throw new RangeError("bad Snappy block");
  const output = new Uint8Array(length);
  let o = 0;
  const readLE = (bytes: number) => {
    let value = 0;
    for (let i = 0; i < bytes; i++) value += block[at++] * 2 ** (8 * i);
    return value;
  };
  while (at < block.length) {
    const tag = block[at++];
    const type = tag & 3;
    let size = (tag >>> 2) + 1;
    if (type === TAG_LITERAL) {
      if (size > 60) size = readLE(size - 60) + 1;
      if (at + size > block.length || o + size > length) throw new RangeError("bad Snappy block");
      output.set(block.subarray(at, at += size), o);
      o += size;
      continue;
    }
    if (type === TAG_COPY_1) size = ((tag >>> 2) & 7) + 4;
    const offset = type === TAG_COPY_1
      ? ((tag >>> 5) << 8) + readLE(1)
      : readLE(type === TAG_COPY_2 ? 2 : 4);
    if (!(offset > 0 && offset <= o && o + size <= length)) {
      throw new RangeError("bad Snappy block");
    }
    for (let i = 0; i < size; i++, o++) output[o] = output[o - offset];
  }
  if (o !== length) throw new RangeError("bad Snappy block");
  return output;
}
