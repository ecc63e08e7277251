// A Cloudflare Worker (run by workerd in tests/http/edge_runtimes_test.ts) built on a `deno bundle` of mod.ts,
// which the test's workerd config embeds as the module "mod.js". Its fetch handler is the edge
// scenario's app (tests/support/edge_app.js): it counts every request and serves /metrics
// through metricsHandler. GET /deno-only reports what the Deno-only features throw here, and
// POST /remote-write?url=… writes the app's samples there once (job "edge_rw", instance "workerd");
// POST /remote-writer?url=… does what docs/edge.md tells Workers to do: a RemoteWriter's flush()
// handed to ctx.waitUntil after the response (instance "workerd_writer").
import * as lib from "./mod.js";
import { createApp, tryDenoOnlyFeatures, writeRemotely } from "./edge_app.js";

/** Made on the first request: workerd runs no I/O or timers at a module's top level. */
let app;
let writer;

export default {
  async fetch(request, _env, ctx) {
    if (new URL(request.url).pathname === "/deno-only") {
      return Response.json({ runtime: navigator.userAgent, denoOnly: tryDenoOnlyFeatures(lib) });
    }
    app ??= createApp(lib);
    const url = new URL(request.url);
    if (url.pathname === "/remote-write" && request.method === "POST") {
      const target = url.searchParams.get("url");
      return new Response(await writeRemotely(lib, app, target, "workerd"));
    }
    if (url.pathname === "/remote-writer" && request.method === "POST") {
      writer ??= new lib.RemoteWriter({
        url: url.searchParams.get("url"),
        registry: app.registry,
        labels: { job: "edge_rw", instance: "workerd_writer" },
        intervalMs: 60_000,
        timeoutMs: 10_000,
      });
      ctx.waitUntil(writer.flush());
      return new Response("queued");
    }
    return await app.fetch(request);
  },
};
