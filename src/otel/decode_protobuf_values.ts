/**
 * The attribute values and exemplars of OTLP protobuf messages (`common/v1/common.proto`
 * `KeyValue`/`AnyValue`, `metrics/v1` `Exemplar`), read for `decode_protobuf.ts`: values become
 * the strings labels hold, nesting is bounded.
 *
 * @module
 */

import {
  ProtoDecodeError,
  type ProtoReader,
  WIRE_FIXED64,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
} from "../encoding/protobuf_reader.ts";
import {
  type DecodeLimits,
  hex,
  MAX_VALUE_DEPTH,
  type OtlpExemplar,
  stringifyValue,
} from "./otlp_types.ts";

/** An `Exemplar`: its filtered attributes within the limits, value, time and ids. */
export function readExemplar(reader: ProtoReader, limits: DecodeLimits): OtlpExemplar | undefined {
  const attributes: [string, string][] = [];
  let timeUnixNano = 0;
  let value = 0;
  let traceId = "";
  let spanId = "";
  while (reader.next()) {
    switch (reader.field) {
      case 7: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const pair = keyValue(reader.message(), limits, 0);
        if (pair !== undefined && attributes.length < limits.maxAttributes) attributes.push(pair);
        break;
      }
      case 2:
        reader.expect(WIRE_FIXED64);
        timeUnixNano = reader.fixed64();
        break;
      case 3:
        reader.expect(WIRE_FIXED64);
        value = reader.double();
        break;
      case 6:
        reader.expect(WIRE_FIXED64);
        value = reader.sfixed64();
        break;
      case 4:
        reader.expect(WIRE_LENGTH_DELIMITED);
        spanId = hex(reader.bytes().subarray(0, 8));
        break;
      case 5:
        reader.expect(WIRE_LENGTH_DELIMITED);
        traceId = hex(reader.bytes().subarray(0, 16));
        break;
      default:
        reader.skip();
    }
  }
  return { attributes, timeUnixNano, value, traceId, spanId };
}

/** A `KeyValue` as key and string value; `undefined` when a string is past the limit. */
export function keyValue(
  reader: ProtoReader,
  limits: DecodeLimits,
  depth: number,
): [string, string] | undefined {
  let key = "";
  let value: unknown = "";
  while (reader.next()) {
    if (reader.field === 1) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      key = reader.string();
    } else if (reader.field === 2) {
      reader.expect(WIRE_LENGTH_DELIMITED);
      value = anyValue(reader.message(), depth + 1);
    } else reader.skip();
  }
  const text = stringifyValue(value);
  if (key === "" || key.length > limits.maxStringLength || text.length > limits.maxStringLength) {
    return undefined;
  }
  return [key, text];
}

/** An `AnyValue` as a JSON-like value; nesting past {@linkcode MAX_VALUE_DEPTH} is refused. */
function anyValue(reader: ProtoReader, depth: number): unknown {
  if (depth > MAX_VALUE_DEPTH) {
    throw new ProtoDecodeError(`attribute values nested deeper than ${MAX_VALUE_DEPTH}`);
  }
  let value: unknown = "";
  while (reader.next()) {
    switch (reader.field) {
      case 1:
        reader.expect(WIRE_LENGTH_DELIMITED);
        value = reader.string();
        break;
      case 2:
        reader.expect(WIRE_VARINT);
        value = reader.bool();
        break;
      case 3:
        reader.expect(WIRE_VARINT);
        value = reader.int64();
        break;
      case 4:
        reader.expect(WIRE_FIXED64);
        value = reader.double();
        break;
      case 5: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const list = reader.message();
        const values: unknown[] = [];
        while (list.next()) {
          if (list.field === 1) {
            list.expect(WIRE_LENGTH_DELIMITED);
            values.push(anyValue(list.message(), depth + 1));
          } else list.skip();
        }
        value = values;
        break;
      }
      case 6: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        const list = reader.message();
        const entries: Record<string, unknown> = {};
        while (list.next()) {
          if (list.field === 1) {
            list.expect(WIRE_LENGTH_DELIMITED);
            const entry = list.message();
            let key = "";
            let inner: unknown = "";
            while (entry.next()) {
              if (entry.field === 1) {
                entry.expect(WIRE_LENGTH_DELIMITED);
                key = entry.string();
              } else if (entry.field === 2) {
                entry.expect(WIRE_LENGTH_DELIMITED);
                inner = anyValue(entry.message(), depth + 1);
              } else entry.skip();
            }
            entries[key] = inner;
          } else list.skip();
        }
        value = entries;
        break;
      }
      case 7: {
        reader.expect(WIRE_LENGTH_DELIMITED);
        // Bytes values are written as base64, as the attribute spec's JSON mapping does.
        value = btoa(String.fromCharCode(...reader.bytes().subarray(0, 4096)));
        break;
      }
      default:
        reader.skip();
    }
  }
  return value;
}
