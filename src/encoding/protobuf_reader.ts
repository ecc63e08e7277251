/**
 * A minimal protocol-buffers reader for untrusted bytes (the OTLP receiver's request bodies):
 * every read checks the bounds first and a malformed message throws a
 * {@linkcode ProtoDecodeError}, never reads past the end or loops forever. Nested messages are
 * read through {@linkcode ProtoReader.message}, which returns a reader limited to the message.
 *
 * Integers are JavaScript numbers: exact up to 2^53, which covers every count and nanosecond
 * timestamp OTLP carries in practice (a larger one loses its lowest bits, it is never wrong in
 * sign or magnitude).
 *
 * @module
 */

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
/** 64-bit fields: double, fixed64, sfixed64. */
export const WIRE_FIXED64 = 1;
/** Length-delimited fields: strings, bytes, messages, packed repeated fields. */
export const WIRE_LENGTH_DELIMITED = 2;
/** 32-bit fields: float, fixed32, sfixed32. */
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 4294967296;

/** Bytes that are not a valid protobuf message (truncated, a bad wire type, a bad length). */
export class ProtoDecodeError extends Error {
  /** Makes the error with a message saying what was wrong and where. */
  constructor(message: string) {
    super(message);
    this.name = "ProtoDecodeError";
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Reads fields from `bytes[start, end)`. */
export class ProtoReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #at: number;
  readonly #end: number;
  /** The field number of the last tag read by {@linkcode next}. */
  field = 0;
  /** The wire type of the last tag read by {@linkcode next}. */
  wireType = 0;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length, view?: DataView) {
    this.#bytes = bytes;
    // Nested readers share their parent's view (one per message would cost more than reading it).
    this.#view = view ?? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#at = start;
    this.#end = end;
  }

  /** Reads the next tag into `field`/`wireType`; `false` at the end of the message. */
  next(): boolean {
    if (this.#at >= this.#end) return false;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wireType = tag % 8;
    if (this.field === 0) throw new ProtoDecodeError(`field number 0 at byte ${this.#at}`);
    return true;
  }

  /** A varint as a non-negative number (up to 2^64, exact up to 2^53). */
  varint(): number {
    let result = 0;
    let multiplier = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#at >= this.#end) throw new ProtoDecodeError("truncated varint");
      const byte = this.#bytes[this.#at++];
      result += (byte & 0x7f) * multiplier;
      if (byte < 0x80) return result;
      multiplier *= 128;
    }
    throw new ProtoDecodeError("varint longer than ten bytes");
  }

  /** An `int32`/`int64` varint: negative values are ten-byte two's complement. */
  int64(): number {
    const start = this.#at;
    const value = this.varint();
    if (value < 2 ** 63) return value;
    // Negative: a double cannot hold 2^64 − n exactly, so the bytes are read again as a BigInt.
    let exact = 0n;
    for (let i = this.#at - 1; i >= start; i--) {
      exact = (exact << 7n) | BigInt(this.#bytes[i] & 0x7f);
    }
    return Number(BigInt.asIntN(64, exact));
  }

  /** A zigzag-encoded `sint32`/`sint64`. */
  sint(): number {
    const value = this.varint();
    // Zigzag: even values are non-negative, odd ones negative.
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** A `bool`. */
  bool(): boolean {
    return this.varint() !== 0;
  }

  #need(size: number): void {
    if (this.#end - this.#at < size) throw new ProtoDecodeError(`truncated field of ${size} bytes`);
  }

  /** A `double`. */
  double(): number {
    this.#need(8);
    const value = this.#view.getFloat64(this.#at, true);
    this.#at += 8;
    return value;
  }

  /** A `fixed64` as a non-negative number. */
  fixed64(): number {
    this.#need(8);
    const low = this.#view.getUint32(this.#at, true);
    const high = this.#view.getUint32(this.#at + 4, true);
    this.#at += 8;
    return high * TWO_POW_32 + low;
  }

  /** An `sfixed64`. */
  sfixed64(): number {
    this.#need(8);
    const low = this.#view.getUint32(this.#at, true);
    const high = this.#view.getInt32(this.#at + 4, true);
    this.#at += 8;
    return high * TWO_POW_32 + low;
  }

  /** The length of a length-delimited field, checked against what is left. */
  #length(): number {
    const length = this.varint();
    if (length > this.#end - this.#at) {
      throw new ProtoDecodeError(`length ${length} runs past the end of its message`);
    }
    return length;
  }

  /** A `bytes` field: a view of the input, not a copy. */
  bytes(): Uint8Array {
    const length = this.#length();
    const view = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return view;
  }

  /** A `string` field (invalid UTF-8 becomes U+FFFD, as protobuf runtimes in JS do). */
  string(): string {
    return decoder.decode(this.bytes());
  }

  /** A nested message: a reader over its bytes. */
  message(): ProtoReader {
    const length = this.#length();
    const reader = new ProtoReader(this.#bytes, this.#at, this.#at + length, this.#view);
    this.#at += length;
    return reader;
  }

  /**
   * The values of a repeated numeric field, packed or not: `read` reads one value with this
   * reader; packed ones are read until the end of their run. Values are appended to `into`.
   */
  repeated(into: number[], read: (reader: ProtoReader) => number, max: number): void {
    if (this.wireType === WIRE_LENGTH_DELIMITED) {
      const packed = this.message();
      while (packed.#at < packed.#end) {
        if (into.length >= max) throw new ProtoDecodeError(`more than ${max} repeated values`);
        into.push(read(packed));
      }
      return;
    }
    if (into.length >= max) throw new ProtoDecodeError(`more than ${max} repeated values`);
    into.push(read(this));
  }

  /** Skips the value of the last tag read. */
  skip(): void {
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.#need(8);
        this.#at += 8;
        return;
      case WIRE_LENGTH_DELIMITED:
        this.#at += this.#length();
        return;
      case WIRE_FIXED32:
        this.#need(4);
        this.#at += 4;
        return;
      default:
        // Groups (3, 4) are deprecated and absent from OTLP: refusing them keeps skipping flat.
        throw new ProtoDecodeError(`unsupported wire type ${this.wireType}`);
    }
  }

  /** Throws unless the last tag has wire type `expected` (a field sent with the wrong type). */
  expect(expected: number): void {
    if (this.wireType !== expected) {
      throw new ProtoDecodeError(
        `field ${this.field} has wire type ${this.wireType}, expected ${expected}`,
      );
    }
  }
}
