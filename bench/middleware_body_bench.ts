/**
 * What timing a response body costs, per response, when the handler answered with a string (the
 * usual JSON answer). Decides how `instrumentHandler()` tells an in-memory body from a stream:
 *
 * - "recognised in memory": the wrapper as shipped on Deno, which reads Deno's private inner
 *   response to see the body is a string, records at once and passes the response through;
 * - "always wrapped (pull wrapper)": the wrapper told it cannot recognise bodies
 *   (`setDenoBodyFields(null)`, what other runtimes get), so it reads `response.body` and passes
 *   it through its `ReadableStream` pull wrapper, recording when the body ends;
 * - "always wrapped (TransformStream)": the same with `body.pipeThrough(new TransformStream())`
 *   and a `flush` that records, the other public-API way to see a body end;
 * - "response.body only": the cost of asking for the stream of an in-memory body at all, which
 *   any public-API-only detection pays before wrapping.
 *
 * Each case includes draining the body through a reader, as a server does with a stream (an
 * in-memory body is written by Deno.serve directly, which the first case leaves out: it is the
 * server's work with or without the wrapper). The fastest of 30 batches of 5 000 responses per
 * case, the cases taking turns.
 *
 * Run: `deno run --allow-all bench/middleware_body_bench.ts`
 *
 * @module
 */

import { instrumentHandler, Registry } from "../mod.ts";
import { setDenoBodyFields } from "../src/http/middleware.ts";

const REQUEST = new Request("http://localhost/todos");
const BODY = '{"ok":true}';
const app = (_request: Request): Response =>
  new Response(BODY, { headers: { "content-type": "application/json" } });

/** Reads a stream to its end, as a server writing it out would. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (body === null) return;
  const reader = body.getReader();
  while (!(await reader.read()).done) { /* next chunk */ }
}

/** The `TransformStream` alternative to the pull wrapper: counts bytes, records in `flush`. */
function transformWrapped(response: Response, done: (bytes: number) => void): Response {
  let bytes = 0;
  const body = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush() {
        done(bytes);
      },
    }),
  );
  return new Response(body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

async function main(): Promise<void> {
  const recognising = instrumentHandler(app, { routes: ["/todos"], registry: new Registry() });
  const wrappingAll = instrumentHandler(app, { routes: ["/todos"], registry: new Registry() });
  let recorded = 0;
  const record = (bytes: number) => recorded += bytes;
  const cases: [string, () => Promise<void> | void][] = [
    ["bare handler, body not read (Deno.serve writes it)", () => {
      app(REQUEST);
    }],
    ["recognised in memory (private field; as shipped on Deno)", () => {
      recognising(REQUEST);
    }],
    ["bare handler + response.body drained", async () => {
      await drain(app(REQUEST).body);
    }],
    ["always wrapped: pull wrapper (as shipped elsewhere), drained", async () => {
      setDenoBodyFields(null);
      const response = wrappingAll(REQUEST) as Response;
      setDenoBodyFields(undefined);
      await drain(response.body);
    }],
    ["always wrapped: TransformStream, drained", async () => {
      await drain(transformWrapped(app(REQUEST), record).body);
    }],
  ];
  const best = cases.map(() => Infinity);
  const calls = 5_000;
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < cases.length; i++) {
      const run = cases[i][1];
      const started = performance.now();
      for (let n = 0; n < calls; n++) await run();
      best[i] = Math.min(best[i], ((performance.now() - started) * 1e6) / calls);
    }
  }
  console.log("| case | ns per response |\n|---|---|");
  cases.forEach(([name], i) => console.log(`| ${name} | ${best[i].toFixed(0)} |`));
  if (recorded < 0) console.log(recorded);
  await throughDenoServe();
}

/**
 * The same choice end to end: a real `Deno.serve` on loopback answering a string, bare, with
 * in-memory bodies recognised, and with every body wrapped; a client in this process sends
 * requests one after another (keep-alive). The fastest of 10 batches of 1 000 requests per case,
 * the cases taking turns; the client's own cost is in every case alike.
 */
async function throughDenoServe(): Promise<void> {
  const recognising = instrumentHandler(app, { routes: ["/todos"], registry: new Registry() });
  const wrapping = instrumentHandler(app, { routes: ["/todos"], registry: new Registry() });
  const handlers: [string, (request: Request) => Response | Promise<Response>][] = [
    ["bare handler", app],
    ["recognised in memory (as shipped on Deno)", recognising],
    ["always wrapped (pull wrapper)", (request) => {
      setDenoBodyFields(null);
      try {
        return wrapping(request);
      } finally {
        setDenoBodyFields(undefined);
      }
    }],
  ];
  const servers = handlers.map(([, handler]) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler)
  );
  try {
    const urls = servers.map((server) => `http://127.0.0.1:${server.addr.port}/todos`);
    const best = handlers.map(() => Infinity);
    const calls = 1_000;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < urls.length; i++) {
        const started = performance.now();
        for (let n = 0; n < calls; n++) await (await fetch(urls[i])).arrayBuffer();
        best[i] = Math.min(best[i], ((performance.now() - started) * 1e6) / calls);
      }
    }
    console.log("\n| through Deno.serve + fetch | ns per request |\n|---|---|");
    handlers.forEach(([name], i) => console.log(`| ${name} | ${best[i].toFixed(0)} |`));
  } finally {
    await Promise.all(servers.map((server) => server.shutdown()));
  }
}

if (import.meta.main) await main();
