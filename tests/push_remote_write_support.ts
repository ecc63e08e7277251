// Helpers of the remote-write tests: a decoder of WriteRequest (by prompb's field numbers) and a
// local receiver stand-in that records what it was sent.
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

interface Received {
  method: string;
  path: string;
  headers: Headers;
  body: Uint8Array;
}

type Answer = (request: Request) => Response | Promise<Response>;

/** A remote-write receiver stand-in recording each request, answering with `answer`. */
export function fakeReceiver(initial: Answer = () => new Response(null, { status: 204 })) {
  const requests: Received[] = [];
  let answer = initial;
  let inFlight = 0;
  let maxInFlight = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const url = new URL(req.url);
      requests.push({
        method: req.method,
        path: url.pathname,
        headers: req.headers,
        body: new Uint8Array(await req.arrayBuffer()),
      });
      return await answer(req);
    } finally {
      inFlight--;
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/api/v1/write`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    answer(next: Answer) {
      answer = next;
    },
    /** What request `i` carried, decoded. */
    decoded(i = requests.length - 1): DecodedWriteRequest {
      return decodeWriteRequest(snappyDecompress(requests[i].body));
    },
    hang: (): Promise<Response> => released.then(() => new Response("late", { status: 504 })),
    async close() {
      release();
      await server.shutdown();
    },
  };
}
