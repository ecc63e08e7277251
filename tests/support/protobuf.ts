/**
 * A test-only protobuf decoder: reads any message into its raw fields, so tests can check what
 * the writer in `src/encoding/protobuf.ts` (and everything built on it) produced without a
 * schema compiler. Varints come back as bigint (exact over 64 bits), fixed64 as its 8 bytes,
 * length-delimited fields as their bytes (decode them again for nested messages).
 */

/** One decoded field. */
export type RawField =
  | { readonly field: number; readonly wireType: 0; readonly value: bigint }
  | { readonly field: number; readonly wireType: 1; readonly value: Uint8Array }
  | { readonly field: number; readonly wireType: 2; readonly value: Uint8Array }
  | { readonly field: number; readonly wireType: 5; readonly value: Uint8Array };

/** Reads a varint at `offset`; returns the value and the offset after it. */
export function readVarint(bytes: Uint8Array, offset: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let at = offset; at < bytes.length; at++) {
    const byte = bytes[at];
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, at + 1];
    shift += 7n;
    if (shift > 63n) throw new Error(`varint longer than 10 bytes at ${offset}`);
  }
  throw new Error(`truncated varint at ${offset}`);
}

/** Decodes one message into its fields, in order. Throws on malformed input. */
export function decodeMessage(bytes: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [key, afterKey] = readVarint(bytes, at);
    const field = Number(key >> 3n);
    const wireType = Number(key & 7n);
    at = afterKey;
    if (field === 0) throw new Error("field number 0");
    switch (wireType) {
      case 0: {
        const [value, next] = readVarint(bytes, at);
        fields.push({ field, wireType, value });
        at = next;
        break;
      }
      case 1:
        if (at + 8 > bytes.length) throw new Error("truncated fixed64");
        fields.push({ field, wireType, value: bytes.subarray(at, at + 8) });
        at += 8;
        break;
      case 2: {
        const [length, next] = readVarint(bytes, at);
        const end = next + Number(length);
        if (end > bytes.length) throw new Error("truncated length-delimited field");
        fields.push({ field, wireType, value: bytes.subarray(next, end) });
        at = end;
        break;
      }
      case 5:
        if (at + 4 > bytes.length) throw new Error("truncated fixed32");
        fields.push({ field, wireType, value: bytes.subarray(at, at + 4) });
        at += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }
  return fields;
}

/** Splits varint-length-delimited messages (the exposition format's framing). */
export function splitDelimited(bytes: Uint8Array): Uint8Array[] {
  const messages: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const [length, next] = readVarint(bytes, at);
    const end = next + Number(length);
    if (end > bytes.length) throw new Error("truncated delimited message");
    messages.push(bytes.subarray(next, end));
    at = end;
  }
  return messages;
}

/** Undoes zigzag encoding. */
export function unzigzag(value: bigint): bigint {
  return (value >> 1n) ^ -(value & 1n);
}

/** A little-endian double from a fixed64 field. */
export function toDouble(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
}

/** A UTF-8 string from a length-delimited field. */
export function toText(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

/** Every value of `field` in `fields`. */
export function all(fields: readonly RawField[], field: number): RawField["value"][] {
  return fields.filter((f) => f.field === field).map((f) => f.value);
}
