// Run by tests/otel/otlp_e2e_test.ts with OTEL_DENO=true and OTEL_EXPORTER_OTLP_ENDPOINT at this
// program's own server: `startHttpServer({ otlp: true })` on the port given as the first
// argument serves /metrics and receives Deno's OTLP metrics at /v1/metrics; the app, on a free
// port printed as `app <port>`, is wrapped in instrumentHandler({ traceExemplars: true }) and
// answers 201 so that its requests are told apart from scrapes in Deno's own metrics.
import { instrumentHandler, Registry, startHttpServer } from "../../mod.ts";

const registry = new Registry();
const server = startHttpServer({
  port: Number(Deno.args[0]),
  hostname: "127.0.0.1",
  registry,
  otlp: true,
});
const app = instrumentHandler(() => new Response("created", { status: 201 }), {
  registry,
  routes: ["/orders"],
  traceExemplars: true,
});
const appServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app);
console.log(`app ${appServer.addr.port}`);
Deno.addSignalListener("SIGTERM", async () => {
  await appServer.shutdown();
  await server.shutdown();
  Deno.exit(0);
});
