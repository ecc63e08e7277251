// A Cloudflare Worker that counts its requests and serves /metrics, run locally by workerd
// (Cloudflare's runtime) with config.capnp beside it. A scrape reaches one isolate; that is the
// whole picture for a single workerd process, not for Cloudflare's fleet (see docs/edge.md).
//
//   deno bundle --platform browser -o examples/workerd/worker.js examples/workerd/worker.ts
//   workerd serve examples/workerd/config.capnp      (then curl 127.0.0.1:8787/metrics)
import { Counter, metricsHandler, Registry } from "@deno-prom/client";

interface Metrics {
  readonly requests: Counter;
  readonly serve: (request: Request) => Promise<Response>;
}

let metrics: Metrics | undefined;

/** Made on the first request: at a Worker's top level the clock reads 0, so `_created` would too. */
function setUp(): Metrics {
  const registry = new Registry();
  const requests = new Counter({
    name: "worker_requests_total",
    help: "requests served, by route",
    labelNames: ["route"],
    registry,
  });
  return { requests, serve: metricsHandler({ registry }) };
}

export default {
  fetch(request: Request): Response | Promise<Response> {
    metrics ??= setUp();
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return metrics.serve(request);
    // A fixed set of routes, never the raw path: a scanner cannot multiply the series.
    metrics.requests.labels({ route: path === "/" ? "/" : "other" }).inc();
    return new Response(path === "/" ? "hello\n" : "not found\n", {
      status: path === "/" ? 200 : 404,
    });
  },
};
