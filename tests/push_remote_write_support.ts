// Helpers of the remote-write tests: a decoder of WriteRequest (by prompb's field numbers) and a
// local receiver stand-in that records what it was sent.
import { fakeServer, type ServerAnswer } from "./push_support.ts";
import { all, decodeMessage, toDouble, toText } from "./support/protobuf.ts";
import { snappyDecompress } from "./support/snappy.ts";

// --- decoding what was sent -----------------------------------------------------------------

interface DecodedSeries {
  /** Label pairs in the order they were sent. */
  labels: [string, string][];
  samples: { value: number; timestamp: number }[];
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
    return {
      labels: all(fields, 1).map((label) => {
        const pair = decodeMessage(label as Uint8Array);
        return [toText(all(pair, 1)[0] as Uint8Array), toText(all(pair, 2)[0] as Uint8Array)] as [
          string,
          string,
        ];
      }),
      samples: all(fields, 2).map((sample) => {
        const parts = decodeMessage(sample as Uint8Array);
        return {
          value: toDouble(all(parts, 1)[0] as Uint8Array),
          timestamp: Number(BigInt.asIntN(64, all(parts, 2)[0] as bigint)),
        };
      }),
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
