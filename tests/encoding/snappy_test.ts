// Snappy block compression: golden bytes for small inputs (derived from the format by hand),
// round trips through a strict decoder for random, repetitive and mixed data, and proof that
// matches are found (copies with 1- and 2-byte offsets), not only literals written.
import assert from "node:assert/strict";
import {
  maxCompressedLength,
  snappyCompress,
  snappyDecompress as decompressInSrc,
} from "../../src/encoding/snappy.ts";
import { snappyDecompress, snappyElements } from "../support/snappy.ts";

const ascii = (text: string) => new TextEncoder().encode(text);
const bytesOf = (...parts: (number | string)[]) =>
  Uint8Array.from(parts.flatMap((part) => typeof part === "number" ? [part] : [...ascii(part)]));

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
function randomBytes(length: number, seed = 42): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

function roundTrip(input: Uint8Array): Uint8Array {
  const compressed = snappyCompress(input);
  assert.ok(compressed.length <= maxCompressedLength(input.length));
  assert.deepEqual(snappyDecompress(compressed), input);
  return compressed;
}

Deno.test("snappy: empty and tiny inputs are one literal after the length", () => {
  assert.deepEqual(snappyCompress(new Uint8Array()), bytesOf(0x00));
  assert.deepEqual(snappyCompress(ascii("a")), bytesOf(0x01, 0x00, "a"));
  assert.deepEqual(snappyCompress(ascii("hello")), bytesOf(0x05, 0x10, "hello"));
});

Deno.test("snappy: golden bytes, a copy with a 1-byte offset", () => {
  // 26 bytes: "abcdefgh" literal (tag 7<<2), copy 8 bytes from 8 back (tag 0b000_100_01, offset
  // 8), "0123456789" literal (tag 9<<2).
  const input = ascii("abcdefghabcdefgh0123456789");
  assert.deepEqual(
    snappyCompress(input),
    bytesOf(26, 0x1c, "abcdefgh", 0x11, 0x08, 0x24, "0123456789"),
  );
});

Deno.test("snappy: golden bytes, a copy with a 2-byte offset", () => {
  // 35 bytes: "abcdefgh", then 24 bytes from 8 back (12+ bytes take the 2-byte-offset form:
  // tag (24-1)<<2 | 2, offset 8 little-endian), then "XYZ".
  const input = ascii("abcdefgh".repeat(4) + "XYZ");
  assert.deepEqual(
    snappyCompress(input),
    bytesOf(35, 0x1c, "abcdefgh", 0x5e, 0x08, 0x00, 0x08, "XYZ"),
  );
});

Deno.test("snappy: long literals use 1- and 2-byte length forms", () => {
  for (const length of [60, 61, 255, 256, 257, 1000, 65535, 65536, 65537]) {
    const input = randomBytes(length, length);
    const compressed = roundTrip(input);
    assert.ok(compressed.length <= length + 10, `${length} → ${compressed.length}`);
  }
  const block = snappyCompress(randomBytes(300, 7));
  // 300 bytes of noise: preamble 0xac 0x02, then tag 61<<2 and the length 299 in two bytes.
  assert.deepEqual([...block.subarray(0, 5)], [0xac, 0x02, 61 << 2, 299 & 0xff, 299 >> 8]);
});

Deno.test("snappy: repetitive data shrinks through copies of both offset sizes", () => {
  const runs = new Uint8Array(200_000).fill(7);
  const compressed = roundTrip(runs);
  assert.ok(compressed.length < 200_000 / 20, `${compressed.length} bytes`);

  const line = ascii('http_requests_total{method="GET",path="/api/users",status="200"} 1027\n');
  const text = new Uint8Array(line.length * 2000);
  for (let i = 0; i < 2000; i++) text.set(line, i * line.length);
  const textCompressed = roundTrip(text);
  assert.ok(textCompressed.length * 10 < text.length, `${textCompressed.length} of ${text.length}`);

  // A pattern repeating within 2 KiB gives short-offset copies; one 3000 bytes back, long ones.
  const near = roundTrip(ascii("0123456789abcdef".repeat(8) + "xy"));
  assert.ok(snappyElements(near).some((e) => e.kind === "copy2" && e.offset === 16));
  // Text of 3000 bytes, 100 bytes of noise, then the same text: a copy from 3100 back.
  let lines = "";
  for (let i = 0; lines.length < 3000; i++) lines += `series_${i}{shard="${(i * 7919) % 10007}"}\n`;
  const region = ascii(lines.slice(0, 3000));
  const far = new Uint8Array(6100);
  far.set(region, 0);
  far.set(randomBytes(100, 2), 3000);
  far.set(region, 3100);
  const farElements = snappyElements(roundTrip(far));
  assert.ok(farElements.some((e) => e.kind === "copy2" && e.offset === 3100), "far copy");
  const mixed = roundTrip(ascii("abcdefgh-abcdefgh+abcdefgh"));
  assert.ok(snappyElements(mixed).some((e) => e.kind === "copy1"), "near copy");
});

Deno.test("snappy: random, mixed and block-crossing inputs round-trip exactly", () => {
  for (const length of [15, 16, 17, 100, 4096, 65535, 65536, 65537, 200_003]) {
    roundTrip(randomBytes(length, length + 1));
  }
  // Random data with repeats scattered in: every block boundary and both copy forms.
  for (let seed = 1; seed <= 20; seed++) {
    const noise = randomBytes(150_000, seed);
    const input = new Uint8Array(noise);
    for (let at = 100; at + 600 < input.length; at += 777 + seed) {
      const from = (noise[at] * 37 + at) % at;
      const length = 1 + (noise[at + 1] % 300);
      input.copyWithin(at, from, from + length);
    }
    roundTrip(input);
  }
  // Random data does not grow beyond the format's bound.
  const noise = randomBytes(1_000_000, 3);
  assert.ok(snappyCompress(noise).length <= maxCompressedLength(noise.length));
});

Deno.test("snappy: matches extended eight bytes at a time stop at 0 against -0 and at NaNs", () => {
  // The same 12-byte start, then eight bytes that are equal as float64 numbers but not as bytes
  // (+0 and -0), or NaNs with equal bytes (equal bytes must still be found equal).
  const start = ascii("series_head:");
  const plusZero = [0, 0, 0, 0, 0, 0, 0, 0x00];
  const minusZero = [0, 0, 0, 0, 0, 0, 0, 0x80];
  const nan = [1, 0, 0, 0, 0, 0, 0xf8, 0x7f];
  for (const [first, second] of [[plusZero, minusZero], [minusZero, plusZero], [nan, nan]]) {
    const input = bytesOf(...start, ...first, "tail", ...start, ...second, "tail", ...start);
    const compressed = roundTrip(input);
    if (first === nan) {
      // The second record is one copy of the first (plus the start of the third).
      assert.ok(snappyElements(compressed).some((e) => e.kind !== "literal" && e.length >= 24));
    }
  }
});

Deno.test("snappy: the library's own decompressor reads back what it compressed, and refuses bad blocks", () => {
  const inputs = [
    new Uint8Array(0),
    ascii("short"),
    randomBytes(5_000),
    ascii("abcdefgh".repeat(20_000)),
    Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251 < 120 ? 65 : i & 0xff),
  ];
  for (const input of inputs) assert.deepEqual(decompressInSrc(snappyCompress(input)), input);
  const block = snappyCompress(ascii("abcdefgh".repeat(100)));
  for (
    const bad of [
      block.subarray(0, block.length - 1), // truncated
      Uint8Array.of(10, 0x01, 0x00), // a copy before any byte
      Uint8Array.of(2, 0x08, 65, 66, 67), // more bytes than the preamble says
      Uint8Array.of(9, 0x0c, 65, 66, 67, 68, 0x15, 0x04), // a copy past the declared length
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x7f), // a huge declared length, nothing after
    ]
  ) {
    assert.throws(() => decompressInSrc(bad), RangeError);
  }
});
