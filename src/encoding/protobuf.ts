/**
 * A minimal protocol-buffers writer: just what the protobuf exposition format and remote write
 * need (varints, zigzag, doubles, strings, bytes, packed fields and nested messages). Nested
 * messages are written in place and their length is patched in afterwards, so a whole request is
 * one growable buffer with no intermediate copies per message.
 *
 * Numbers are JavaScript numbers: integers are exact up to 2^53, which covers every count,
 * timestamp and offset these formats carry.
 *
 * @module
 */

/** Wire type of varint fields (int32, int64, uint32, uint64, sint32, sint64, bool, enum). */
const VARINT = 0;
/** Wire type of 64-bit fields (double, fixed64, sfixed64). */
const FIXED64 = 1;
/** Wire type of length-delimited fields (string, bytes, messages, packed repeated fields). */
const LENGTH_DELIMITED = 2;

const TWO_POW_32 = 4294967296;

/** A growable byte buffer that writes protobuf fields. Reuse one with {@linkcode reset}. */
export class ProtoWriter {
  #bytes: Uint8Array<ArrayBuffer>;
  #view: DataView;
  #length = 0;
  readonly #encoder = new TextEncoder();

  constructor(initialCapacity = 1024) {
    this.#bytes = new Uint8Array(Math.max(16, initialCapacity));
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** How many bytes have been written. */
  get length(): number {
    return this.#length;
  }

  /** Forgets what was written, keeping the buffer. */
  reset(): void {
    this.#length = 0;
  }

  /** The whole internal buffer (the bytes written, then room), valid until the next write. */
  get buffer(): Uint8Array<ArrayBuffer> {
    return this.#bytes;
  }

  /** A `DataView` of {@linkcode buffer}, valid until the next write. */
  get dataView(): DataView {
    return this.#view;
  }

  /** Forgets the bytes written from `length` on. */
  truncate(length: number): void {
    this.#length = Math.min(length, this.#length);
  }

  /** The bytes written so far: a view of the internal buffer, valid until the next write. */
  view(): Uint8Array<ArrayBuffer> {
    return this.#bytes.subarray(0, this.#length);
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(0, this.#length);
  }

  #ensure(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#bytes.length) return;
    let capacity = this.#bytes.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  /** Writes a raw varint: a non-negative integer up to 2^64 (exact up to 2^53). */
  varint(value: number): void {
    this.#ensure(10);
    const bytes = this.#bytes;
    let at = this.#length;
    if (value < 0x80000000) {
      // The common case: 32-bit arithmetic.
      let v = value >>> 0;
      while (v > 0x7f) {
        bytes[at++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      bytes[at++] = v;
    } else {
      let v = value;
      while (v > 0x7f) {
        bytes[at++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      bytes[at++] = v;
    }
    this.#length = at;
  }

  /** Writes a field's tag. */
  tag(field: number, wireType: number): void {
    const tag = field * 8 + wireType;
    if (tag >= 0x80) return this.varint(tag);
    // Fields 1–15, the usual case: one byte.
    if (this.#length === this.#bytes.length) this.#ensure(1);
    this.#bytes[this.#length++] = tag;
  }

  /** A `uint32`/`uint64`/`bool`/`enum` field (non-negative integer). */
  uint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  /** An `int64` field: negative values take ten bytes (two's complement), as protobuf says. */
  int64(field: number, value: number): void {
    this.tag(field, VARINT);
    this.#signedVarint(value);
  }

  #signedVarint(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // Two's complement over 64 bits, written as ten varint bytes.
    const high = Math.floor(value / TWO_POW_32) >>> 0;
    const low = (value - Math.floor(value / TWO_POW_32) * TWO_POW_32) >>> 0;
    this.#ensure(10);
    const bytes = this.#bytes;
    let at = this.#length;
    let lo = low;
    let hi = high;
    for (let i = 0; i < 9; i++) {
      bytes[at++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    bytes[at++] = lo & 0x01;
    this.#length = at;
  }

  /** A `sint32`/`sint64` field (zigzag-encoded). */
  sint(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(zigzag(value));
  }

  /** A `double` field. */
  double(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.rawDouble(value);
  }

  /** Eight little-endian bytes of a double, with no tag (for packed doubles). */
  rawDouble(value: number): void {
    this.#ensure(8);
    this.#view.setFloat64(this.#length, value, true);
    this.#length += 8;
  }

  /** A `string` field (UTF-8). */
  string(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    // At most three bytes per UTF-16 unit, plus the length varint.
    const most = value.length * 3;
    this.#ensure(most + 5);
    if (most < 128) {
      const lengthAt = this.#length++;
      // ASCII (most names and label values) is written directly: faster than a native call.
      const bytes = this.#bytes;
      let at = this.#length;
      let i = 0;
      for (; i < value.length; i++) {
        const unit = value.charCodeAt(i);
        if (unit >= 0x80) break;
        bytes[at++] = unit;
      }
      if (i === value.length) {
        bytes[lengthAt] = i;
        this.#length = at;
        return;
      }
      const { written } = this.#encoder.encodeInto(
        value,
        this.#bytes.subarray(this.#length, this.#length + most),
      );
      this.#bytes[lengthAt] = written;
      this.#length += written;
      return;
    }
    const encoded = this.#encoder.encode(value);
    this.varint(encoded.length);
    this.raw(encoded);
  }

  /** A `bytes` field. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(value.length);
    this.raw(value);
  }

  /** Bytes `value[start, end)` as they are, with no tag or length. */
  raw(value: Uint8Array, start = 0, end = value.length): void {
    const length = end - start;
    this.#ensure(length);
    const bytes = this.#bytes;
    let at = this.#length;
    // Labels and fields are short: a loop beats making a subarray for `set`.
    if (length < 64) {
      for (let i = start; i < end; i++) bytes[at++] = value[i];
    } else {
      bytes.set(start === 0 && end === value.length ? value : value.subarray(start, end), at);
      at += length;
    }
    this.#length = at;
  }

  /**
   * Starts a length-delimited field (a nested message or a packed repeated field); write its
   * content, then call {@linkcode end} with the returned mark. With `field` < 0 no tag is
   * written: the message is only length-prefixed (the "delimited" framing of the exposition
   * format).
   */
  begin(field: number): number {
    if (field >= 0) this.tag(field, LENGTH_DELIMITED);
    this.#ensure(1);
    // One byte is reserved for the length; longer lengths move the content up in `end`.
    return this.#length++;
  }

  /** Ends what {@linkcode begin} started: writes its length in front of its content. */
  end(mark: number): void {
    const contentStart = mark + 1;
    const size = this.#length - contentStart;
    if (size < 128) {
      this.#bytes[mark] = size;
      return;
    }
    const extra = varintSize(size) - 1;
    this.#ensure(extra);
    this.#bytes.copyWithin(contentStart + extra, contentStart, this.#length);
    this.#length += extra;
    let at = mark;
    let v = size;
    while (v > 0x7f) {
      this.#bytes[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#bytes[at] = v;
  }

  /** A packed repeated `sint32`/`sint64` field; nothing is written for an empty list. */
  packedSint(field: number, values: ArrayLike<number>, count = values.length): void {
    if (count === 0) return;
    const mark = this.begin(field);
    for (let i = 0; i < count; i++) this.varint(zigzag(values[i]));
    this.end(mark);
  }

  /** A packed repeated `uint32`/`uint64` field; nothing is written for an empty list. */
  packedUint(field: number, values: ArrayLike<number>, count = values.length): void {
    if (count === 0) return;
    const mark = this.begin(field);
    for (let i = 0; i < count; i++) this.varint(values[i]);
    this.end(mark);
  }

  /** A packed repeated `double` field; nothing is written for an empty list. */
  packedDouble(field: number, values: ArrayLike<number>, count = values.length): void {
    if (count === 0) return;
    this.tag(field, LENGTH_DELIMITED);
    this.varint(count * 8);
    for (let i = 0; i < count; i++) this.rawDouble(values[i]);
  }
}

/** Zigzag encoding of a signed integer (exact for |value| < 2^52). */
export function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

/** How many bytes the varint of a non-negative integer takes. */
export function varintSize(value: number): number {
  let size = 1;
  let v = value;
  while (v >= 128) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}
