// A Cloudflare Worker (run by workerd in tests/edge_test.ts) built on a `deno bundle` of mod.ts,
// which the test's workerd config embeds as the module "mod.js". Its fetch handler is the edge
// scenario's app (tests/support/edge_app.js): it counts every request and serves /metrics
// through metricsHandler. GET /deno-only reports what the Deno-only features throw here, and
// POST /remote-write?url=… writes the app's samples there once (job "edge_rw", instance "workerd").
import * as lib from "./mod.js";
import { createApp, tryDenoOnlyFeatures, writeRemotely } from "./edge_app.js";

/** Made on the first request: workerd runs no I/O or timers at a module's top level. */
let app;

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === "/deno-only") {
      return Response.json({ runtime: navigator.userAgent, denoOnly: tryDenoOnlyFeatures(lib) });
    }
    app ??= createApp(lib);
    const url = new URL(request.url);
    if (url.pathname === "/remote-write" && request.method === "POST") {
      const target = url.searchParams.get("url");
      return new Response(await writeRemotely(lib, app, target, "workerd"));
    }
    return await app.fetch(request);
  },
};
