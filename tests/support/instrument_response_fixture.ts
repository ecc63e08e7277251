// Run by tests/http/instrument_handler_response_test.ts under Deno and under Bun: serves one app
// through instrumentHandler() (without and with `bodySizes`) on the runtime's own server, fetches
// each kind of response, and prints one JSON line of what the client saw and what was recorded.
import { instrumentHandler, Registry } from "../../mod.ts";

declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (request: Request) => Response | Promise<Response>;
  }): { port: number; stop(force?: boolean): void };
} | undefined;

let release: () => void = () => {};
const app = (request: Request): Response => {
  switch (new URL(request.url).pathname) {
    case "/text":
      return new Response("hello");
    case "/json":
      return Response.json({ ok: true });
    case "/declared":
      return new Response(new Blob(["abc"]).stream(), { headers: { "content-length": "3" } });
    default: {
      // A stream that stays open until the test has looked at the metrics.
      const released = new Promise<void>((resolve) => release = resolve);
      return new Response(
        new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("first,"));
            await released;
            controller.enqueue(new TextEncoder().encode("last"));
            controller.close();
          },
        }),
      );
    }
  }
};

/** Serves `handler` on a free loopback port of this runtime's server. */
function serve(handler: (request: Request) => Response | Promise<Response>) {
  if (typeof Bun !== "undefined") {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: handler });
    return {
      url: `http://127.0.0.1:${server.port}`,
      stop: () => Promise.resolve(server.stop(true)),
    };
  }
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

const result: Record<string, unknown> = {};
for (const bodySizes of [false, true]) {
  const registry = new Registry();
  const server = serve(instrumentHandler(app, {
    registry,
    routes: ["/text", "/json", "/declared", "/stream"],
    bodySizes,
  }));
  const sample = (name: string, route: string) =>
    registry.getSampleValue(name, { method: "GET", route, status: "200" });
  const seen: Record<string, unknown> = {};
  try {
    for (const path of ["/text", "/json", "/declared"]) {
      const response = await fetch(server.url + path);
      seen[path] = {
        contentLength: response.headers.get("content-length"),
        body: await response.text(),
        size: bodySizes ? await sample("http_response_size_bytes_sum", path) : undefined,
      };
    }
    const response = await fetch(server.url + "/stream");
    const reader = response.body!.getReader();
    await reader.read();
    // The body is still open: what is recorded now is what the handler's return recorded.
    const whileOpen = {
      requests: await sample("http_requests_total", "/stream"),
      inFlight: await registry.getSampleValue("http_requests_in_flight"),
      sizes: bodySizes ? await sample("http_response_size_bytes_count", "/stream") : undefined,
    };
    release();
    while (!(await reader.read()).done) { /* drain */ }
    for (let i = 0; i < 100; i++) {
      if (!bodySizes || await sample("http_response_size_bytes_count", "/stream") === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    seen["/stream"] = {
      whileOpen,
      ended: {
        requests: await sample("http_requests_total", "/stream"),
        size: bodySizes ? await sample("http_response_size_bytes_sum", "/stream") : undefined,
      },
    };
  } finally {
    await server.stop();
  }
  result[bodySizes ? "bodySizes" : "default"] = seen;
}
console.log(JSON.stringify(result));
