// Run by tests/otel/trace_exemplars_deno_test.ts with OTEL_DENO=true: serves an app wrapped in
// instrumentHandler({ traceExemplars: true }) on a free port, sends it requests carrying known
// `traceparent` headers, then prints its registry in the OpenMetrics format and exits.
import { Counter, instrumentHandler, Registry } from "../../mod.ts";

const registry = new Registry();
const work = new Counter({
  name: "work",
  help: "work done inside the handler",
  labelNames: ["route"],
  registry,
  traceExemplars: true,
});
const app = async (request: Request): Promise<Response> => {
  const route = new URL(request.url).pathname;
  await new Promise((resolve) => setTimeout(resolve, 1)); // the span survives an await
  work.labels(route).inc();
  return new Response("ok");
};
const handler = instrumentHandler(app, {
  registry,
  routes: ["/global", "/deno", "/unsampled"],
  traceExemplars: true,
});
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
const base = `http://127.0.0.1:${server.addr.port}`;
const send = async (path: string, traceparent: string) =>
  await (await fetch(base + path, { headers: { traceparent } })).text();

const [sampled, deno, unsampled] = Deno.args;
await send("/global", sampled);
await send("/unsampled", unsampled);
// With no context manager registered globally (what `@opentelemetry/api`'s `disable()` leaves),
// Deno.telemetry itself is read.
const api = (globalThis as Record<symbol, { context?: unknown }>)[
  Symbol.for("opentelemetry.js.api.1")
];
delete api.context;
await send("/deno", deno);
await server.shutdown();
console.log(await registry.metrics({ format: "openmetrics" }));
