// End to end with real senders and a real Prometheus 2.42 (native histograms and exemplar
// storage on): (a) a Deno program with OTEL_DENO=true sends its built-in metrics to its own
// `startHttpServer({ otlp: true })`; (b) the OpenTelemetry JS SDK sends a counter and an
// exponential histogram, which Prometheus stores as a native histogram.
import assert from "node:assert/strict";
import { Registry, startHttpServer } from "../../mod.ts";
import { freePort, missingTool, startProcess, waitFor } from "../support/process.ts";
import { type PrometheusServer, startPrometheus } from "../support/prometheus.ts";

const ignore = missingTool("prometheus");
const FEATURES = "--enable-feature=exemplar-storage,native-histograms";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

async function exemplarsOf(prometheus: PrometheusServer, query: string) {
  const now = Date.now() / 1000;
  const url = `${prometheus.url}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${
    now - 600
  }&end=${now + 60}`;
  const body = await (await fetch(url)).json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data as { exemplars: { labels: Record<string, string> }[] }[];
}

const valueOf = (result: { value: [number, string] }[]) => result[0]?.value[1];

Deno.test({
  name: "e2e OTLP: Deno's built-in metrics reach Prometheus through our /metrics, exact; " +
    "our exemplar carries the request's trace id",
  ignore,
  async fn() {
    const port = freePort();
    const app = startProcess(Deno.execPath(), [
      "run",
      "--allow-net",
      "--allow-env",
      new URL("../support/otlp_deno_app.ts", import.meta.url).pathname,
      String(port),
    ], {
      env: {
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "orders",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_METRIC_EXPORT_INTERVAL: "500",
        // Follow the incoming traceparent's sampling decision.
        OTEL_TRACES_SAMPLER: "parentbased_always_on",
      },
    });
    let prometheus: PrometheusServer | undefined;
    try {
      let appPort = 0;
      await waitFor(() => {
        const match = /app (\d+)/.exec(app.output());
        if (match !== null) appPort = Number(match[1]);
        return appPort !== 0;
      }, { what: `the app to listen (${app.output()})` });
      prometheus = await startPrometheus({
        scrapeTargets: [`127.0.0.1:${port}`],
        extraArgs: [FEATURES],
      });
      await prometheus.waitForTargetsUp();
      for (let i = 0; i < 6; i++) {
        await (await fetch(`http://127.0.0.1:${appPort}/orders`)).text();
      }
      await (await fetch(`http://127.0.0.1:${appPort}/orders`, {
        headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
      })).text();
      // Deno's own count of the app's requests (status 201: scrapes and OTLP posts get 200).
      const count = await prometheus.waitForQuery(
        'sum(http_server_request_duration_seconds_count{http_response_status_code="201",' +
          'service_name="orders"})',
        (result) => valueOf(result) === "7",
        60_000,
      );
      assert.equal(valueOf(count), "7");
      // Ours, with exemplars, beside Deno's on the same /metrics.
      const ours = await prometheus.query('sum(http_requests_total{route="/orders"})');
      assert.equal(valueOf(ours), "7");
      let traceIds: string[] = [];
      await waitFor(async () => {
        const series = await exemplarsOf(prometheus!, "http_request_duration_seconds_bucket");
        traceIds = series.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
        return traceIds.includes(TRACE_ID);
      }, { what: "the exemplar with the known trace id", timeoutMs: 30_000 });
      assert.ok(traceIds.includes(TRACE_ID));
    } finally {
      await prometheus?.stop();
      await app.stop();
    }
  },
});

Deno.test({
  name: "e2e OTLP: the OpenTelemetry JS SDK's exponential histogram is a native histogram " +
    "in Prometheus with the right count, sum and quantiles",
  ignore,
  async fn() {
    const registry = new Registry();
    await using server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry, otlp: true });
    const sender = startProcess(Deno.execPath(), [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      new URL("../support/otlp_sdk_sender.ts", import.meta.url).pathname,
      `http://127.0.0.1:${server.port}/v1/metrics`,
    ]);
    let prometheus: PrometheusServer | undefined;
    try {
      const status = await sender.status;
      assert.equal(status.code, 0, sender.output());
      prometheus = await startPrometheus({
        scrapeTargets: [`127.0.0.1:${server.port}`],
        extraArgs: [FEATURES],
      });
      const selector = 'sdk_latency_seconds{route="/x",otel_scope_name="sdk-test"}';
      const count = await prometheus.waitForQuery(
        `histogram_count(${selector})`,
        (result) => valueOf(result) === "100",
        60_000,
      );
      assert.equal(valueOf(count), "100");
      assert.equal(valueOf(await prometheus.query(`histogram_sum(${selector})`)), "5050");
      // The schema the SDK's scale became; each estimate must lie in the bucket that holds the
      // true quantile (an index off by one would put it in the neighbouring bucket).
      const family = (await registry.collect()).find((f) => f.name === "sdk.latency_seconds");
      const schema = (family?.points[0] as { schema?: number } | undefined)?.schema;
      assert.ok(schema !== undefined && schema >= 3, `schema ${schema}`);
      const base = 2 ** (2 ** -schema);
      for (const [q, expected] of [[0.5, 50], [0.9, 90], [0.99, 99]]) {
        const estimate = Number(
          valueOf(await prometheus.query(`histogram_quantile(${q}, ${selector})`)),
        );
        const index = Math.ceil(Math.log(expected) / Math.log(base));
        const [lower, upper] = [base ** (index - 1), base ** index];
        assert.ok(estimate > lower && estimate <= upper * (1 + 1e-9), `q${q}: ${estimate}`);
      }
      assert.equal(
        valueOf(await prometheus.query('sdk_orders_total{route="/x"}')),
        "42",
      );
    } finally {
      await prometheus?.stop();
      await sender.stop();
    }
  },
});

Deno.test("e2e OTLP: Deno's exporter with OTEL_EXPORTER_OTLP_PROTOCOL=http/json and the metrics-only endpoint", async () => {
  const port = freePort();
  const app = startProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-env",
    new URL("../support/otlp_deno_app.ts", import.meta.url).pathname,
    String(port),
  ], {
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "300",
    },
  });
  try {
    let appPort = 0;
    await waitFor(() => {
      appPort = Number(/app (\d+)/.exec(app.output())?.[1] ?? 0);
      return appPort !== 0;
    }, { what: `the app to listen (${app.output()})` });
    for (let i = 0; i < 3; i++) await (await fetch(`http://127.0.0.1:${appPort}/orders`)).text();
    let text = "";
    await waitFor(async () => {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^http_server_request_duration_seconds_count\{[^}]*status_code="201"[^}]*\} 3\.0$/m
        .test(text);
    }, { what: "Deno's count of 3 requests on /metrics" });
    // Deno's GC histogram, which JavaScript cannot measure, is there too.
    assert.match(text, /^# TYPE v8js_gc_duration_S histogram$/m);
  } finally {
    await app.stop();
  }
});
