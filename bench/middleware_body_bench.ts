/**
 * What the response body costs `instrumentHandler()`, per response, when the handler answers
 * with a string (the usual JSON answer):
 *
 * - "default": the wrapper records when the handler returns and passes the response back
 *   untouched (its `Content-Length` kept);
 * - "bodySizes, counted": with `bodySizes: true`, a body without `Content-Length` passes through
 *   the wrapper's counting stream, drained through a reader as a server does with a stream;
 * - "bodySizes, Content-Length declared": the handler declares its length, so the response goes
 *   back untouched and the header is the size;
 * - "TransformStream": the other public-API way to see a body end, for comparison.
 *
 * The fastest of 30 batches of 5 000 responses per case, the cases taking turns; then the same
 * end to end through `Deno.serve` and `fetch` on loopback.
 *
 * Run: `deno run --allow-all bench/middleware_body_bench.ts`
 *
 * @module
 */

import { instrumentHandler, Registry } from "../mod.ts";

const REQUEST = new Request("http://localhost/todos");
const BODY = '{"ok":true}';
const app = (_request: Request): Response =>
  new Response(BODY, { headers: { "content-type": "application/json" } });
const declaringApp = (_request: Request): Response =>
  new Response(BODY, {
    headers: { "content-type": "application/json", "content-length": String(BODY.length) },
  });

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
  const plain = instrumentHandler(app, { routes: ["/todos"], registry: new Registry() });
  const counting = instrumentHandler(app, {
    routes: ["/todos"],
    registry: new Registry(),
    bodySizes: true,
  });
  const declared = instrumentHandler(declaringApp, {
    routes: ["/todos"],
    registry: new Registry(),
    bodySizes: true,
  });
  let recorded = 0;
  const record = (bytes: number) => recorded += bytes;
  const cases: [string, () => Promise<void> | void][] = [
    ["bare handler, body not read (Deno.serve writes it)", () => {
      app(REQUEST);
    }],
    ["default: recorded at return, response untouched", () => {
      plain(REQUEST);
    }],
    ["bodySizes, Content-Length declared: untouched", () => {
      declared(REQUEST);
    }],
    ["bare handler + response.body drained", async () => {
      await drain(app(REQUEST).body);
    }],
    ["bodySizes, counted: counting stream, drained", async () => {
      await drain((counting(REQUEST) as Response).body);
    }],
    ["TransformStream, drained", async () => {
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
 * The same end to end: a real `Deno.serve` on loopback answering a string, bare, through the
 * wrapper, and through the wrapper counting body sizes; a client in this process sends
 * requests one after another (keep-alive). The fastest of 10 batches of 1 000 requests per case,
 * the cases taking turns; the client's own cost is in every case alike.
 */
async function throughDenoServe(): Promise<void> {
  const handlers: [string, (request: Request) => Response | Promise<Response>][] = [
    ["bare handler", app],
    ["default (response untouched)", instrumentHandler(app, { registry: new Registry() })],
    [
      "bodySizes, counted (counting stream)",
      instrumentHandler(app, { registry: new Registry(), bodySizes: true }),
    ],
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
