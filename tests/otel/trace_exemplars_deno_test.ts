// traceExemplars under Deno's built-in OpenTelemetry (OTEL_DENO=true), in a subprocess: the
// scrape's exemplars carry the trace id of the `traceparent` each request came with.
import assert from "node:assert/strict";
import { run } from "../support/process.ts";

const fixture = new URL("../support/otel_deno_fixture.ts", import.meta.url).pathname;
const SAMPLED = "0af7651916cd43dd8448eb211c80319c";
const DENO = "4bf92f3577b34da6a3ce929d0e0e4736";
const UNSAMPLED = "5c0e4f0a2b1d4e6f8a9b0c1d2e3f4a5b";

Deno.test("Deno.serve with OTEL_DENO=true: the request's sampled trace id is the exemplar", async () => {
  // Where Deno's exporter sends its spans and metrics: accepted and dropped.
  await using sink = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      await request.arrayBuffer();
      return new Response(null, { status: 200 });
    },
  );
  const result = await run(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    fixture,
    `00-${SAMPLED}-b7ad6b7169203331-01`,
    `00-${DENO}-00f067aa0ba902b7-01`,
    `00-${UNSAMPLED}-b7ad6b7169203331-00`,
  ], {
    env: {
      OTEL_DENO: "true",
      // Deno samples every span unless told to follow the parent's decision.
      OTEL_TRACES_SAMPLER: "parentbased_always_on",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.addr.port}`,
      OTEL_METRIC_EXPORT_INTERVAL: "600000",
    },
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.split("\n");
  const exemplarOf = (start: string, route: string) => {
    const line = lines.find((line) =>
      line.startsWith(start) && line.includes(`route="${route}"`) && line.includes(" # ")
    );
    return line === undefined ? undefined : /trace_id="([0-9a-f]+)"/.exec(line)?.[1];
  };
  for (
    const name of ["http_requests_total", "http_request_duration_seconds_bucket", "work_total"]
  ) {
    assert.equal(exemplarOf(name, "/global"), SAMPLED, `${name} via the OTel API global`);
    assert.equal(exemplarOf(name, "/deno"), DENO, `${name} via Deno.telemetry`);
    assert.equal(exemplarOf(name, "/unsampled"), undefined, `${name} of an unsampled request`);
  }
  assert.match(result.stdout, /^http_requests_total\{[^}]*route="\/unsampled"[^}]*\} 1\.0$/m);
});
