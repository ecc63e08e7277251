import assert from "node:assert/strict";
import { ProtoWriter, varintSize, zigzag } from "../../src/encoding/protobuf.ts";
import {
  decodeMessage,
  readVarint,
  splitDelimited,
  toDouble,
  toText,
  unzigzag,
} from "../support/protobuf.ts";

Deno.test("protobuf writer: varints match the spec's examples", () => {
  const w = new ProtoWriter(16);
  w.varint(1);
  w.varint(150);
  w.varint(300);
  assert.deepEqual([...w.view()], [0x01, 0x96, 0x01, 0xac, 0x02]);
  w.reset();
  w.uint(1, 150);
  assert.deepEqual([...w.view()], [0x08, 0x96, 0x01]);
});

Deno.test("protobuf writer: large and negative integers round-trip exactly", () => {
  const values = [0, 127, 128, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 1_700_000_000_123];
  for (const value of values) {
    const w = new ProtoWriter(4);
    w.varint(value);
    assert.equal(w.length, varintSize(value));
    assert.deepEqual(readVarint(w.view(), 0), [BigInt(value), w.length]);
  }
  for (const value of [-1, -2, -150, -(2 ** 40) - 7, -(2 ** 53) + 1]) {
    const w = new ProtoWriter(4);
    w.int64(3, value);
    const [field] = decodeMessage(w.view());
    assert.equal(w.length, 11, "negative int64 takes a tag and ten bytes");
    assert.equal(BigInt.asIntN(64, field.value as bigint), BigInt(value));
  }
  for (const value of [0, -1, 1, -64, 64, -(2 ** 40), 2 ** 45 + 3]) {
    const w = new ProtoWriter();
    w.sint(1, value);
    assert.equal(zigzag(value) >= 0, true);
    assert.equal(unzigzag(decodeMessage(w.view())[0].value as bigint), BigInt(value));
  }
});

Deno.test("protobuf writer: strings, doubles and nested messages longer than 127 bytes", () => {
  const w = new ProtoWriter(8);
  const outer = w.begin(-1);
  w.string(1, "héllo ✓");
  w.double(2, -0.25);
  const inner = w.begin(3);
  const long = "x".repeat(300) + "é".repeat(100);
  w.string(1, long);
  w.packedSint(2, [1, -1, 5, -300]);
  w.packedDouble(3, [1.5, Infinity]);
  w.end(inner);
  w.end(outer);
  const [message] = splitDelimited(w.finish());
  const fields = decodeMessage(message);
  assert.equal(toText(fields[0].value as Uint8Array), "héllo ✓");
  assert.equal(toDouble(fields[1].value as Uint8Array), -0.25);
  const nested = decodeMessage(fields[2].value as Uint8Array);
  assert.equal(toText(nested[0].value as Uint8Array), long);
  const packed = nested[1].value as Uint8Array;
  const deltas: bigint[] = [];
  for (let at = 0; at < packed.length;) {
    const [v, next] = readVarint(packed, at);
    deltas.push(unzigzag(v));
    at = next;
  }
  assert.deepEqual(deltas, [1n, -1n, 5n, -300n]);
  const doubles = nested[2].value as Uint8Array;
  assert.equal(toDouble(doubles.subarray(0, 8)), 1.5);
  assert.equal(toDouble(doubles.subarray(8, 16)), Infinity);
});

Deno.test("protobuf writer: empty packed fields are left out", () => {
  const w = new ProtoWriter();
  w.packedSint(1, []);
  w.packedUint(2, []);
  w.packedDouble(3, []);
  assert.equal(w.length, 0);
});
