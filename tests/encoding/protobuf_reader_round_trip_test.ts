import assert from "node:assert/strict";
import { ProtoWriter } from "../../src/encoding/protobuf.ts";
import {
  ProtoDecodeError,
  ProtoReader,
  WIRE_LENGTH_DELIMITED,
} from "../../src/encoding/protobuf_reader.ts";

Deno.test("protobuf reader: what the writer writes reads back, nested and packed", () => {
  const w = new ProtoWriter();
  w.uint(1, 2 ** 40 + 5);
  w.int64(2, -3);
  w.sint(3, -1234567);
  w.double(4, -0.125);
  w.string(5, "héllo");
  const nested = w.begin(6);
  w.uint(1, 7);
  w.packedUint(2, [1, 300, 70000]);
  w.end(nested);
  w.packedDouble(7, [1.5, -2]);
  const r = new ProtoReader(w.finish());
  const seen: unknown[] = [];
  while (r.next()) {
    switch (r.field) {
      case 1:
        seen.push(r.varint());
        break;
      case 2:
        seen.push(r.int64());
        break;
      case 3:
        seen.push(r.sint());
        break;
      case 4:
        seen.push(r.double());
        break;
      case 5:
        seen.push(r.string());
        break;
      case 6: {
        r.expect(WIRE_LENGTH_DELIMITED);
        const inner = r.message();
        const values: number[] = [];
        while (inner.next()) {
          if (inner.field === 1) seen.push(inner.varint());
          else inner.repeated(values, (x) => x.varint(), 10);
        }
        seen.push(values);
        break;
      }
      case 7: {
        const values: number[] = [];
        r.repeated(values, (x) => x.double(), 10);
        seen.push(values);
        break;
      }
    }
  }
  assert.deepEqual(seen, [2 ** 40 + 5, -3, -1234567, -0.125, "héllo", 7, [1, 300, 70000], [
    1.5,
    -2,
  ]]);
});

Deno.test("protobuf reader: truncated and malformed input throws ProtoDecodeError, never reads past the end", () => {
  const w = new ProtoWriter();
  w.string(1, "abcdef");
  w.double(2, 1);
  const bytes = w.finish();
  for (let cut = 1; cut < bytes.length; cut++) {
    const r = new ProtoReader(bytes.subarray(0, cut));
    assert.throws(() => {
      while (r.next()) r.skip();
    }, ProtoDecodeError);
  }
  // Wire type 3 (a group), an over-long varint, field number 0.
  for (const bad of [[0x0b], [0x08, ...new Array(11).fill(0xff)], [0x00, 0x01]]) {
    assert.throws(() => {
      const r = new ProtoReader(new Uint8Array(bad));
      while (r.next()) r.skip();
    }, ProtoDecodeError);
  }
  // A repeated field past its limit.
  const many = new ProtoWriter();
  many.packedUint(1, [1, 2, 3]);
  const r = new ProtoReader(many.finish());
  r.next();
  assert.throws(() => r.repeated([], (x) => x.varint(), 2), ProtoDecodeError);
});
