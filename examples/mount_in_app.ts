// Mounting the metrics handler in an app you already have: a plain `Deno.serve` app with a few
// routes that counts its own requests by route and status, and serves /metrics itself (no
// second port). The same `metricsHandler(...)` works in Hono (`app.get("/metrics", (c) =>
// handler(c.req.raw))`), Oak or Fresh, since it is just `(Request) => Promise<Response>`.
//
//   deno run --allow-net examples/mount_in_app.ts            # listens on :8080
//   deno run --allow-net examples/mount_in_app.ts --port 0   # any free port
//   curl localhost:8080/hello; curl localhost:8080/metrics
import { parseArgs } from "node:util";
import { Counter, Histogram, metricsHandler, Registry } from "../mod.ts";

const { port } =
  parseArgs({ args: Deno.args, options: { port: { type: "string", default: "8080" } } })
    .values;

const registry = new Registry();
const requests = new Counter({
  name: "http_requests_total",
  help: "requests answered, by route and status",
  labelNames: ["route", "status"],
  registry,
});
const latency = new Histogram({
  name: "http_request_duration_seconds",
  help: "time to answer, by route",
  labelNames: ["route"],
  registry,
});
const serveMetrics = metricsHandler({ registry });

/** The app's own routes. Unknown paths share one `route` label so series stay bounded. */
function route(request: Request): { route: string; response: Response } {
  const { pathname } = new URL(request.url);
  if (pathname === "/") return { route: "/", response: new Response("home\n") };
  if (pathname === "/hello") return { route: "/hello", response: new Response("hello\n") };
  return { route: "other", response: new Response("not found\n", { status: 404 }) };
}

Deno.serve({
  port: Number(port),
  onListen: ({ port }) => console.log(`app on http://localhost:${port}/, metrics at /metrics`),
}, async (request) => {
  if (new URL(request.url).pathname === "/metrics") return await serveMetrics(request);
  const started = performance.now();
  const { route: routeName, response } = route(request);
  latency.labels(routeName).observe((performance.now() - started) / 1000);
  requests.labels(routeName, response.status).inc();
  return response;
});
