/**
 * Snappy block compression (the raw "block" format that Prometheus remote write uses, not the
 * framed stream format): the uncompressed length as a varint, then literals and back-references
 * ("copies") with 1- or 2-byte offsets.
 *
 * The matcher hashes every 4-byte sequence into a table of recent positions, the classic Snappy
 * approach: input is cut into independent 64 KiB blocks so that every offset fits two bytes and
 * the table holds 16-bit positions. Incompressible stretches are skipped over ever faster, so
 * random data costs little time and grows by at most 1/6 + a few bytes.
 *
 * @module
 */

/** Input is matched in blocks of this size, so offsets and table entries fit 16 bits. */
const BLOCK_SIZE = 1 << 16;
const HASH_BITS = 14;
const HASH_SHIFT = 32 - HASH_BITS;
const HASH_MULTIPLIER = 0x1e35a7bd;
/** Blocks shorter than this are written as one literal: too short to find a match in. */
const MIN_MATCH_BLOCK = 16;

const TAG_LITERAL = 0;
const TAG_COPY_1 = 1;
const TAG_COPY_2 = 2;

// One table for every call: compression is synchronous, so no two calls share it at once.
const table = new Uint16Array(1 << HASH_BITS);

/** The largest output {@linkcode snappyCompress} can produce for `length` input bytes. */
export function maxCompressedLength(length: number): number {
  return 32 + length + Math.floor(length / 6);
}

/**
 * Compresses `input` into one Snappy block. The result decodes with any Snappy implementation
 * (Go's `snappy.Decode`, which Prometheus uses, included).
 */
export function snappyCompress(input: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(maxCompressedLength(input.length));
  let o = writeVarint(out, 0, input.length);
  for (let blockStart = 0; blockStart < input.length; blockStart += BLOCK_SIZE) {
    const blockEnd = Math.min(blockStart + BLOCK_SIZE, input.length);
    o = blockEnd - blockStart < MIN_MATCH_BLOCK
      ? writeLiteral(input, blockStart, blockEnd, out, o)
      : compressBlock(input, blockStart, blockEnd, out, o);
  }
  return out.slice(0, o);
}

function compressBlock(
  input: Uint8Array,
  blockStart: number,
  blockEnd: number,
  out: Uint8Array,
  o: number,
): number {
  table.fill(0);
  // DataView reads four bytes in one step (V8 compiles it to one load), far faster than
  // assembling them from four array reads.
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  // The last position a 4-byte hash can be read at.
  const hashLimit = blockEnd - 4;
  let literalStart = blockStart;
  let ip = blockStart + 1;
  while (ip <= hashLimit) {
    const word = view.getInt32(ip, true);
    const slot = Math.imul(word, HASH_MULTIPLIER) >>> HASH_SHIFT;
    const candidate = blockStart + table[slot];
    table[slot] = ip - blockStart;
    if (candidate >= ip || view.getInt32(candidate, true) !== word) {
      // No match: step further the longer the current literal run, so incompressible input
      // is crossed quickly (every 32 misses add one to the step).
      ip += 1 + ((ip - literalStart) >> 5);
      continue;
    }
    if (ip > literalStart) o = writeLiteral(input, literalStart, ip, out, o);
    // Extend four bytes at a time, then byte by byte.
    const most = blockEnd - ip;
    let length = 4;
    while (
      length + 4 <= most &&
      view.getInt32(candidate + length, true) === view.getInt32(ip + length, true)
    ) {
      length += 4;
    }
    while (length < most && input[candidate + length] === input[ip + length]) length++;
    o = writeCopy(ip - candidate, length, out, o);
    ip += length;
    literalStart = ip;
    // Remember the position just before the next search, so runs chain into each other.
    if (ip - 1 <= hashLimit) {
      table[Math.imul(view.getInt32(ip - 1, true), HASH_MULTIPLIER) >>> HASH_SHIFT] = ip - 1 -
        blockStart;
    }
  }
  if (literalStart < blockEnd) o = writeLiteral(input, literalStart, blockEnd, out, o);
  return o;
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

/** A literal of `input[start, end)`: its length (1..65536 within a block) then the bytes. */
function writeLiteral(
  input: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  o: number,
): number {
  const n = end - start - 1;
  if (n < 60) {
    out[o++] = (n << 2) | TAG_LITERAL;
  } else if (n < 0x100) {
    out[o++] = (60 << 2) | TAG_LITERAL;
    out[o++] = n;
  } else if (n < 0x10000) {
    out[o++] = (61 << 2) | TAG_LITERAL;
    out[o++] = n & 0xff;
    out[o++] = n >>> 8;
  } else {
    out[o++] = (62 << 2) | TAG_LITERAL;
    out[o++] = n & 0xff;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n >>> 16;
  }
  out.set(input.subarray(start, end), o);
  return o + end - start;
}

/**
 * A back-reference of `length` bytes starting `offset` bytes back (offset < 65536): copies with
 * a 2-byte offset (at most 64 bytes each) for long or distant matches, and the two-byte copy
 * with an 11-bit offset for 4..11 bytes within 2 KiB.
 */
function writeCopy(offset: number, length: number, out: Uint8Array, o: number): number {
  let remaining = length;
  while (remaining >= 68) {
    o = writeCopy2(offset, 64, out, o);
    remaining -= 64;
  }
  // 65..67 bytes: 60 now leaves 5..7, long enough for any form.
  if (remaining > 64) {
    o = writeCopy2(offset, 60, out, o);
    remaining -= 60;
  }
  if (remaining >= 12 || offset >= 2048) return writeCopy2(offset, remaining, out, o);
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
