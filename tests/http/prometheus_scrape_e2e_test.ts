// End to end: a real Prometheus (Debian's 2.42) scrapes our server every second, and we check
// what it stored through its HTTP API — once with its own Accept header (OpenMetrics), once
// with the exporter forcing the text format 0.0.4.
import assert from "node:assert/strict";
import {
  collectDefaultMetrics,
  Histogram,
  metricsHandler,
  Registry,
  startHttpServer,
} from "../../mod.ts";
import { OPENMETRICS_CONTENT_TYPE } from "../../src/exposition/mod.ts";
import { missingTool } from "../support/process.ts";
import {
  PROMETHEUS_2_42_ACCEPT,
  type PrometheusServer,
  type PromSample,
  startPrometheus,
} from "../support/prometheus.ts";

const BUCKETS = [1, 2, 3, 10, 20, 50, 100];

/** A registry with runtime metrics and the guide's job_duration_seconds histogram. */
function buildRegistry() {
  const registry = new Registry();
  const defaults = collectDefaultMetrics({ registry });
  const duration = new Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    buckets: BUCKETS,
    registry,
  });
  return { registry, defaults, job: duration.labels({ job_name: "test_job" }) };
}

/** Observes each of `values`. */
function observeAll(job: { observe(value: number): void }, values: number[]) {
  for (const value of values) job.observe(value);
}

function singleValue(samples: PromSample[]): number | undefined {
  return samples.length === 1 ? Number(samples[0].value[1]) : undefined;
}

/** Waits until Prometheus holds exactly `le10` and `count` for the test job. */
async function expectHistogram(prometheus: PrometheusServer, le10: number, count: number) {
  await prometheus.waitForQuery(
    'job_duration_seconds_bucket{job_name="test_job",le="10.0"}',
    (samples) => singleValue(samples) === le10,
  );
  await prometheus.waitForQuery(
    'job_duration_seconds_count{job_name="test_job"}',
    (samples) => singleValue(samples) === count,
  );
  const inf = await prometheus.query('job_duration_seconds_bucket{job_name="test_job",le="+Inf"}');
  assert.equal(singleValue(inf), count, "+Inf bucket equals _count");
}

async function expectTargetHealthy(prometheus: PrometheusServer, address: string) {
  const targets = await prometheus.waitForTargetsUp();
  assert.equal(targets.length, 1);
  assert.equal(targets[0].labels.instance, address);
  assert.equal(targets[0].health, "up");
  assert.equal(targets[0].lastError, "");
  await prometheus.waitForQuery(`up{instance="${address}"}`, (s) => singleValue(s) === 1);
}

async function expectRuntimeMetrics(prometheus: PrometheusServer) {
  for (
    const query of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "process_start_time_seconds",
      "deno_memory_heap_used_bytes",
      "deno_memory_heap_total_bytes",
      "deno_memory_external_bytes",
      "deno_eventloop_lag_seconds",
    ]
  ) {
    const samples = await prometheus.waitForQuery(query, (s) => s.length === 1);
    assert.ok(Number.isFinite(Number(samples[0].value[1])), query);
  }
  const info = await prometheus.waitForQuery("deno_info", (s) => s.length === 1);
  assert.equal(info[0].metric.version, Deno.version.deno);
  assert.equal(info[0].metric.v8, Deno.version.v8);
  assert.equal(info[0].metric.typescript, Deno.version.typescript);
  assert.equal(info[0].value[1], "1");
}

Deno.test({
  name: "Prometheus with its default negotiation gets OpenMetrics and stores what we observed",
  ignore: missingTool("prometheus"),
  fn: async () => {
    const { registry, defaults, job } = buildRegistry();
    observeAll(job, [0.149, 2.5, 7, 15, 60]);
    // Mounted by hand in Deno.serve so the test sees each scrape's Accept and Content-Type.
    const handle = metricsHandler({ registry });
    const scrapes: { accept: string | null; contentType: string | null; status: number }[] = [];
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const response = await handle(request);
        scrapes.push({
          accept: request.headers.get("accept"),
          contentType: response.headers.get("content-type"),
          status: response.status,
        });
        return response;
      },
    );
    const address = `127.0.0.1:${server.addr.port}`;
    let prometheus: PrometheusServer | undefined;
    try {
      prometheus = await startPrometheus({ scrapeTargets: [address] });
      await expectTargetHealthy(prometheus, address);
      await expectHistogram(prometheus, 3, 5);

      observeAll(job, [9.99, 10, 10.01]);
      await expectHistogram(prometheus, 5, 8);
      await expectRuntimeMetrics(prometheus);

      // Only the OpenMetrics parser stores `_created` series: proof of the format ingested.
      await prometheus.waitForQuery(
        'job_duration_seconds_created{job_name="test_job"}',
        (s) => s.length === 1,
      );

      assert.ok(scrapes.length >= 2, `${scrapes.length} scrapes`);
      for (const scrape of scrapes) {
        assert.equal(scrape.accept, PROMETHEUS_2_42_ACCEPT);
        assert.equal(scrape.contentType, OPENMETRICS_CONTENT_TYPE);
        assert.equal(scrape.status, 200);
      }
    } finally {
      await prometheus?.stop();
      await server.shutdown();
      defaults.stop();
    }
  },
});

Deno.test({
  name: "Prometheus ingests the text format 0.0.4 when the server forces it",
  ignore: missingTool("prometheus"),
  fn: async () => {
    const { registry, defaults, job } = buildRegistry();
    observeAll(job, [0.5, 1, 11, 99, 150]);
    const server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry, format: "text" });
    const address = `127.0.0.1:${server.port}`;
    let prometheus: PrometheusServer | undefined;
    try {
      prometheus = await startPrometheus({ scrapeTargets: [address] });
      await expectTargetHealthy(prometheus, address);
      await expectHistogram(prometheus, 2, 5);
      observeAll(job, [3]);
      await expectHistogram(prometheus, 3, 6);
      await expectRuntimeMetrics(prometheus);

      // The 0.0.4 text format has no `_created` series, so Prometheus must hold none.
      assert.deepEqual(await prometheus.query("job_duration_seconds_created"), []);
      const direct = await fetch(server.url, { headers: { accept: PROMETHEUS_2_42_ACCEPT } });
      assert.equal(direct.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      await direct.body?.cancel();
    } finally {
      await prometheus?.stop();
      await server.shutdown();
      defaults.stop();
    }
  },
});
