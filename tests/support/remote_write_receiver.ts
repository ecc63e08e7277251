// Helpers of the remote-write tests: a decoder of WriteRequest (by prompb's field numbers) and a
// local receiver stand-in that records what it was sent.
import { fakeServer, type ServerAnswer } from "./push.ts";
import {
  all,
  decodeMessage,
  type RawField,
  readVarint,
  toDouble,
  toText,
  unzigzag,
} from "./protobuf.ts";
import { snappyDecompress } from "./snappy.ts";

// --- decoding what was sent -----------------------------------------------------------------

interface DecodedSeries {
  /** Label pairs in the order they were sent. */
  labels: [string, string][];
  samples: { value: number; timestamp: number }[];
  exemplars: DecodedExemplar[];
  histograms: DecodedHistogram[];
}

/** An `Exemplar` (prompb): labels in sent order, value, timestamp in ms. */
export interface DecodedExemplar {
  labels: [string, string][];
  value: number;
  timestamp: number;
}

/**
 * A `Histogram` (prompb types.proto, Prometheus 2.40 on), every field read by its number and
 * checked for its wire type; `fields` lists the field numbers in sent order.
 */
export interface DecodedHistogram {
  fields: number[];
  countInt: number | undefined;
  sum: number;
  schema: number;
  zeroThreshold: number;
  zeroCountInt: number | undefined;
  negativeSpans: { offset: number; length: number }[];
  negativeDeltas: number[];
  positiveSpans: { offset: number; length: number }[];
  positiveDeltas: number[];
  resetHint: number;
  timestamp: number;
}

interface DecodedMetadata {
  type: number;
  name: string;
  help: string;
  unit: string;
}

export interface DecodedWriteRequest {
  series: DecodedSeries[];
  metadata: DecodedMetadata[];
}

/** Decodes a `WriteRequest` by the field numbers of prompb (types.proto, remote.proto). */
export function decodeWriteRequest(bytes: Uint8Array): DecodedWriteRequest {
  const request = decodeMessage(bytes);
  const series = all(request, 1).map((raw) => {
    const fields = decodeMessage(raw as Uint8Array);
    const unknown = fields.find((field) => field.field > 4);
    if (unknown !== undefined) throw new Error(`unknown TimeSeries field ${unknown.field}`);
    return {
      labels: all(fields, 1).map(decodeLabel),
      samples: all(fields, 2).map((sample) => {
        const parts = decodeMessage(sample as Uint8Array);
        return {
          value: toDouble(all(parts, 1)[0] as Uint8Array),
          timestamp: Number(BigInt.asIntN(64, all(parts, 2)[0] as bigint)),
        };
      }),
      exemplars: all(fields, 3).map((exemplar) => {
        const parts = decodeMessage(exemplar as Uint8Array);
        return {
          labels: all(parts, 1).map(decodeLabel),
          value: parts.some((part) => part.field === 2)
            ? toDouble(all(parts, 2)[0] as Uint8Array)
            : 0,
          timestamp: Number(BigInt.asIntN(64, (all(parts, 3)[0] ?? 0n) as bigint)),
        };
      }),
      histograms: all(fields, 4).map((histogram) => decodeHistogram(histogram as Uint8Array)),
    };
  });
  const metadata = all(request, 3).map((raw) => {
    const fields = decodeMessage(raw as Uint8Array);
    const text = (field: number) => {
      const value = all(fields, field)[0];
      return value === undefined ? "" : toText(value as Uint8Array);
    };
    return {
      type: Number(all(fields, 1)[0] ?? 0n),
      name: text(2),
      help: text(4),
      unit: text(5),
    };
  });
  return { series, metadata };
}

function decodeLabel(label: RawField["value"]): [string, string] {
  const pair = decodeMessage(label as Uint8Array);
  return [toText(all(pair, 1)[0] as Uint8Array), toText(all(pair, 2)[0] as Uint8Array)];
}

/** Decodes a prompb `Histogram`, refusing fields it does not know or of the wrong wire type. */
export function decodeHistogram(bytes: Uint8Array): DecodedHistogram {
  const decoded: DecodedHistogram = {
    fields: [],
    countInt: undefined,
    sum: 0,
    schema: 0,
    zeroThreshold: 0,
    zeroCountInt: undefined,
    negativeSpans: [],
    negativeDeltas: [],
    positiveSpans: [],
    positiveDeltas: [],
    resetHint: 0,
    timestamp: 0,
  };
  const wireTypes: Record<number, number> = {
    1: 0,
    3: 1,
    4: 0,
    5: 1,
    6: 0,
    8: 2,
    9: 2,
    11: 2,
    12: 2,
    14: 0,
    15: 0,
  };
  for (const field of decodeMessage(bytes)) {
    if (wireTypes[field.field] !== field.wireType) {
      throw new Error(`Histogram field ${field.field} with wire type ${field.wireType}`);
    }
    decoded.fields.push(field.field);
    const value = field.value;
    switch (field.field) {
      case 1:
        decoded.countInt = Number(value as bigint);
        break;
      case 3:
        decoded.sum = toDouble(value as Uint8Array);
        break;
      case 4:
        decoded.schema = Number(unzigzag(value as bigint));
        break;
      case 5:
        decoded.zeroThreshold = toDouble(value as Uint8Array);
        break;
      case 6:
        decoded.zeroCountInt = Number(value as bigint);
        break;
      case 8:
        decoded.negativeSpans.push(decodeSpan(value as Uint8Array));
        break;
      case 9:
        decoded.negativeDeltas.push(...packedSints(value as Uint8Array));
        break;
      case 11:
        decoded.positiveSpans.push(decodeSpan(value as Uint8Array));
        break;
      case 12:
        decoded.positiveDeltas.push(...packedSints(value as Uint8Array));
        break;
      case 14:
        decoded.resetHint = Number(value as bigint);
        break;
      case 15:
        decoded.timestamp = Number(BigInt.asIntN(64, value as bigint));
        break;
    }
  }
  return decoded;
}

/** A `BucketSpan`: offset (sint32, field 1), length (uint32, field 2). */
function decodeSpan(bytes: Uint8Array): { offset: number; length: number } {
  const span = { offset: 0, length: 0 };
  for (const field of decodeMessage(bytes)) {
    if (field.wireType !== 0 || field.field > 2) throw new Error(`BucketSpan field ${field.field}`);
    if (field.field === 1) span.offset = Number(unzigzag(field.value));
    else span.length = Number(field.value);
  }
  return span;
}

function packedSints(bytes: Uint8Array): number[] {
  const values: number[] = [];
  for (let at = 0; at < bytes.length;) {
    const [value, next] = readVarint(bytes, at);
    values.push(Number(unzigzag(value)));
    at = next;
  }
  return values;
}

/** `name{a="1",b="2"} value` per series, labels in sent order (after `__name__`'s value). */
export function seriesLines(request: DecodedWriteRequest): string[] {
  return request.series.map(({ labels, samples }) => {
    const name = labels.find(([n]) => n === "__name__")?.[1];
    const rest = labels.map(([n, v]) => n === "__name__" ? "" : `${n}="${v}"`).filter((x) => x);
    return `${name}{${rest.join(",")}} ${samples.map((s) => s.value).join(",")}`;
  });
}

/** A remote-write receiver stand-in (answering 204 unless told otherwise) that decodes. */
export function fakeReceiver(initial: ServerAnswer = () => new Response(null, { status: 204 })) {
  const server = fakeServer(initial, "/api/v1/write");
  return Object.assign(server, {
    /** What request `i` carried, decoded. */
    decoded(i = server.requests.length - 1): DecodedWriteRequest {
      return decodeWriteRequest(snappyDecompress(server.requests[i].bytes));
    },
  });
}
