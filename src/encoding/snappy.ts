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
 * {@linkcode SnappyBlockWriter} writes a block element by element for an encoder that knows its
 * repeats (remote write), so the data need not be laid out and searched at all.
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
  return output.bytes.subarray(0, output.o);
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

/** Room kept before a block's elements for its preamble (a varint of up to 2^35). */
const PREAMBLE_ROOM = 5;

/**
 * Writes one Snappy block element by element, for an encoder that knows where its repeats are
 * and emits them as copies without searching (see remote write). Literal bytes are gathered
 * until the next copy; a copy that continues the previous one (same offset) extends it. The
 * caller guarantees that every copy's source bytes, `offset` back in the uncompressed data,
 * equal the bytes the copy stands for, and gives the uncompressed length at the end.
 */
export class SnappyBlockWriter {
  readonly #output: Output;
  #literal = new Uint8Array(256);
  #literalLength = 0;
  #copyOffset = 0;
  #copyLength = 0;

  /** `expectedLength`: a guess of the compressed size (the buffer grows as needed). */
  constructor(expectedLength: number) {
    this.#output = new Output(0);
    this.#output.bytes = new Uint8Array(Math.max(1024, expectedLength));
    this.#output.o = PREAMBLE_ROOM;
  }

  /** The offset of the copy being extended, or 0 when the last element is not a copy. */
  get copyOffset(): number {
    return this.#copyLength > 0 ? this.#copyOffset : 0;
  }

  /** One literal byte. */
  byte(value: number): void {
    if (this.#copyLength > 0) this.#flushCopy();
    if (this.#literalLength === this.#literal.length) this.#growLiteral(1);
    this.#literal[this.#literalLength++] = value;
  }

  /** Literal bytes `bytes[start, end)`. */
  bytes(bytes: Uint8Array, start: number, end: number): void {
    if (this.#copyLength > 0) this.#flushCopy();
    const length = end - start;
    if (this.#literalLength + length > this.#literal.length) this.#growLiteral(length);
    const literal = this.#literal;
    let at = this.#literalLength;
    for (let i = start; i < end; i++) literal[at++] = bytes[i];
    this.#literalLength = at;
  }

  /**
   * `input` compressed on its own (copies only within it, found by the same search as
   * {@linkcode snappyCompress}), for data whose repeats the caller does not know.
   */
  compressed(input: Uint8Array): void {
    if (this.#literalLength > 0) this.#flushLiteral();
    if (this.#copyLength > 0) this.#flushCopy();
    if (input.length < MIN_MATCH_INPUT) {
      if (input.length > 0) writeLiteral(input, 0, input.length, this.#output);
    } else {
      compress(input, this.#output);
    }
  }

  /** `length` bytes equal to those `offset` bytes back (offset >= 1). */
  copy(offset: number, length: number): void {
    // At most one of a literal and a copy is pending.
    if (this.#copyLength > 0) {
      if (offset === this.#copyOffset) {
        this.#copyLength += length;
        return;
      }
      this.#flushCopy();
    } else if (this.#literalLength > 0) {
      this.#flushLiteral();
    }
    this.#copyOffset = offset;
    this.#copyLength = length;
  }

  /**
   * `copy(offset, length)` when the caller knows that the next element is no copy at `offset`
   * (nothing joins it): written at once, with no pending state. The same bytes as `copy`.
   */
  copyLast(offset: number, length: number): void {
    let total = length;
    if (this.#copyLength > 0) {
      if (offset === this.#copyOffset) {
        total += this.#copyLength;
        this.#copyLength = 0;
      } else {
        this.#flushCopy();
      }
    } else if (this.#literalLength > 0) {
      this.#flushLiteral();
    }
    this.#writeCopy(offset, total);
  }

  /**
   * `bytes(bytes, start, end)` when the caller knows that the next element is a copy (no
   * literal bytes join these): written at once. The same bytes as `bytes`.
   */
  bytesLast(bytes: Uint8Array, start: number, end: number): void {
    if (this.#copyLength > 0) this.#flushCopy();
    const length = end - start;
    const output = this.#output;
    if (this.#literalLength > 0 || length > 60 || output.o + 61 > output.bytes.length) {
      this.bytes(bytes, start, end);
      this.#flushLiteral();
      return;
    }
    const out = output.bytes;
    let o = output.o;
    out[o++] = ((length - 1) << 2) | TAG_LITERAL;
    for (let i = start; i < end; i++) out[o++] = bytes[i];
    output.o = o;
  }

  /** The block, for `uncompressedLength` bytes of data in all. */
  finish(uncompressedLength: number): Uint8Array<ArrayBuffer> {
    if (this.#literalLength > 0) this.#flushLiteral();
    if (this.#copyLength > 0) this.#flushCopy();
    const preamble = new Uint8Array(PREAMBLE_ROOM);
    const size = writeVarint(preamble, 0, uncompressedLength);
    const bytes = this.#output.bytes;
    const start = PREAMBLE_ROOM - size;
    bytes.set(preamble.subarray(0, size), start);
    return bytes.subarray(start, this.#output.o);
  }

  #growLiteral(extra: number): void {
    const grown = new Uint8Array(Math.max(this.#literal.length * 2, this.#literalLength + extra));
    grown.set(this.#literal.subarray(0, this.#literalLength));
    this.#literal = grown;
  }

  #flushLiteral(): void {
    const length = this.#literalLength;
    this.#literalLength = 0;
    const output = this.#output;
    // The usual short literal (a value's bytes that changed), written here: no call, one
    // check for room.
    if (length <= 60 && output.o + 61 <= output.bytes.length) {
      const out = output.bytes;
      const literal = this.#literal;
      let o = output.o;
      out[o++] = ((length - 1) << 2) | TAG_LITERAL;
      for (let i = 0; i < length; i++) out[o++] = literal[i];
      output.o = o;
      return;
    }
    writeLiteral(this.#literal, 0, length, output);
  }

  #flushCopy(): void {
    const total = this.#copyLength;
    this.#copyLength = 0;
    this.#writeCopy(this.#copyOffset, total);
  }

  #writeCopy(offset: number, total: number): void {
    const output = this.#output;
    // The usual copy (up to 128 bytes within 64 KiB) in one or two elements, written here; the
    // same bytes as `writeCopy`.
    if (total <= 128 && offset <= MAX_OFFSET && output.o + 6 <= output.bytes.length) {
      const out = output.bytes;
      let o = output.o;
      let length = total;
      if (length > 64) {
        // As `writeCopy`: 64 bytes first when at least 4 remain, else 60.
        const first = length >= 68 ? 64 : 60;
        out[o] = ((first - 1) << 2) | TAG_COPY_2;
        out[o + 1] = offset & 0xff;
        out[o + 2] = offset >>> 8;
        o += 3;
        length -= first;
      }
      if (length >= 4 && length < 12 && offset < 2048) {
        out[o] = ((offset >>> 8) << 5) | ((length - 4) << 2) | TAG_COPY_1;
        out[o + 1] = offset & 0xff;
        output.o = o + 2;
      } else {
        out[o] = ((length - 1) << 2) | TAG_COPY_2;
        out[o + 1] = offset & 0xff;
        out[o + 2] = offset >>> 8;
        output.o = o + 3;
      }
      return;
    }
    output.ensure(5 * Math.ceil(total / 60) + 5);
    output.o = writeCopy(offset, total, output.bytes, output.o);
  }
}
