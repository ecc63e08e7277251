// A local HTTP server for the push tests, standing in for a Pushgateway or a remote-write
// receiver: records every request (raw bytes and text), answers with what the test says, and can
// hang until it is closed, so nothing leaks past a test.

/** One request as the server saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Headers;
  /** The body as sent (not decompressed). */
  bytes: Uint8Array;
  /** The body as UTF-8 text. */
  body: string;
  /** `performance.now()` when it arrived. */
  at: number;
}

/** How the server answers a request. */
export type ServerAnswer = (request: Request) => Response | Promise<Response>;

/** Starts the server on a free loopback port; `url` is its origin plus `path`. */
export function fakeServer(
  initial: ServerAnswer = () => new Response(null, { status: 200 }),
  path = "",
) {
  const requests: RecordedRequest[] = [];
  let answer = initial;
  let inFlight = 0;
  let maxInFlight = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const bytes = new Uint8Array(await req.arrayBuffer());
      requests.push({
        method: req.method,
        path: new URL(req.url).pathname,
        headers: req.headers,
        bytes,
        body: new TextDecoder().decode(bytes),
        at: performance.now(),
      });
      return await answer(req);
    } finally {
      inFlight--;
    }
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}${path}`,
    port: server.addr.port,
    requests,
    /** The most requests that were in flight at once. */
    get maxInFlight() {
      return maxInFlight;
    },
    /** Replaces the answer. */
    answer(next: ServerAnswer) {
      answer = next;
    },
    /** An answer that waits until the server closes, then fails. */
    hang: (): Promise<Response> => released.then(() => new Response("late", { status: 504 })),
    async close() {
      release();
      await server.shutdown();
    },
  };
}
