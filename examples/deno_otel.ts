// Deno's built-in OpenTelemetry metrics (request durations, active requests, body sizes, V8 heap
// and GC) and this library's metrics on one /metrics, with trace exemplars: Deno exports its
// metrics over OTLP to this program's own server, which serves them beside ours. The recipe of
// docs/opentelemetry.md.
//
//   OTEL_DENO=true OTEL_SERVICE_NAME=shop \
//   OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://127.0.0.1:9464/v1/metrics \
//   OTEL_METRIC_EXPORT_INTERVAL=10000 \
//   deno run --allow-net --allow-env examples/deno_otel.ts [--port 9464] [--app-port 8000]
//   curl localhost:8000/orders; curl localhost:9464/metrics
//
// With --self-test N it sends itself N requests (the last with a known `traceparent`), waits
// for Deno's next export, prints the lines of both request counts and the exemplar, and exits.
//
// Permissions: --allow-net, and --allow-env for Deno's OTEL_* variables.
import { parseArgs } from "node:util";
import { Counter, instrumentHandler, startHttpServer } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "9464" },
    "app-port": { type: "string", default: "8000" },
    "self-test": { type: "string" },
  },
});

// Our metrics go to the default registry; so do the series Deno sends over OTLP.
const orders = new Counter({
  name: "orders_placed_total",
  help: "orders placed",
  traceExemplars: true,
});

/** The application, written as if no metrics existed. */
function app(request: Request): Response {
  const { pathname } = new URL(request.url);
  if (pathname === "/orders") {
    orders.inc();
    return Response.json({ ok: true }, { status: 201 });
  }
  return new Response("not found", { status: 404 });
}

// /metrics for Prometheus, and /v1/metrics for Deno's OTLP exporter (a write endpoint: give it
// `auth` when others can reach the port).
const server = startHttpServer({ port: Number(values.port), hostname: "127.0.0.1", otlp: true });
const appServer = Deno.serve(
  { port: Number(values["app-port"]), hostname: "127.0.0.1", onListen() {} },
  instrumentHandler(app, { routes: ["/orders"], traceExemplars: true }),
);
console.log(`app on http://127.0.0.1:${appServer.addr.port}, metrics on ${server.url}`);

if (values["self-test"] !== undefined) {
  const base = `http://127.0.0.1:${appServer.addr.port}`;
  const count = Number(values["self-test"]);
  for (let i = 1; i <= count; i++) {
    const headers: Record<string, string> = i === count
      ? { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" }
      : {};
    await (await fetch(`${base}/orders`, { headers })).text();
  }
  // Deno exports every OTEL_METRIC_EXPORT_INTERVAL ms: wait until its count has arrived.
  const wanted = new RegExp(
    `^http_server_request_duration_seconds_count\\{[^}]*status_code="201"[^}]*\\} ${count}(\\.0)?$`,
    "m",
  );
  let text = "";
  for (let attempt = 0; attempt < 300 && !wanted.test(text); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    text = await (await fetch(server.url, {
      headers: { accept: "application/openmetrics-text; version=1.0.0" },
    })).text();
  }
  for (const line of text.split("\n")) {
    const deno = line.startsWith("http_server_request_duration_seconds_count") &&
      line.includes('status_code="201"');
    const ours = line.startsWith("orders_placed_total");
    if (deno || ours) {
      console.log(
        line.replace(/^([^{ ]+)(\{[^}]*\})/, (_, name, labels) => name + simplified(labels)),
      );
    }
  }
  await appServer.shutdown();
  await server.shutdown();
}

/** Only the labels worth showing in the example's output. */
function simplified(labels: string): string {
  const kept = labels.slice(1, -1).split(",").filter((label) =>
    /^(http_response_status_code|service_name)=/.test(label)
  );
  return kept.length === 0 ? "" : `{${kept.join(",")}}`;
}
