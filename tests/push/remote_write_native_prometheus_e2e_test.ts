// End to end with a real Prometheus 2.42: remote write carries native histograms (stored as
// native histograms, queried with histogram_count/histogram_sum/histogram_quantile) and
// exemplars (read back through /api/v1/query_exemplars), with the feature flags that store
// them; without the native-histograms flag Prometheus refuses a request that carries one.
import assert from "node:assert/strict";
import { Counter, Histogram, Registry, remoteWrite, RemoteWriteError } from "../../mod.ts";
import { missingTool } from "../support/process.ts";
import { type PrometheusServer, startPrometheus } from "../support/prometheus.ts";

const ignore = missingTool("prometheus");

async function withPrometheus(
  flags: string[],
  body: (prometheus: PrometheusServer) => Promise<void>,
) {
  const prometheus = await startPrometheus({
    scrapeTargets: [],
    extraArgs: ["--web.enable-remote-write-receiver", ...flags],
  });
  try {
    await body(prometheus);
  } finally {
    await prometheus.stop();
  }
}

const FEATURES = "--enable-feature=native-histograms,exemplar-storage";

/** The one value of an instant query at `timeSeconds`. */
async function valueAt(prometheus: PrometheusServer, query: string, timeSeconds: number) {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}&time=${
    timeSeconds.toFixed(3)
  }`;
  const body = await (await fetch(url)).json();
  assert.equal(body.status, "success", JSON.stringify(body));
  const result = body.data.result as { value: [number, string] }[];
  assert.equal(result.length, 1, `${query}: ${JSON.stringify(result)}`);
  return Number(result[0].value[1]);
}

/** `/api/v1/query_exemplars` for `query` around now. */
async function exemplarsOf(prometheus: PrometheusServer, query: string) {
  const now = Date.now() / 1000;
  const url = `${prometheus.url}/api/v1/query_exemplars?query=${encodeURIComponent(query)}&start=${
    now - 600
  }&end=${now + 60}`;
  const body = await (await fetch(url)).json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data as {
    seriesLabels: Record<string, string>;
    exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
  }[];
}

/** 100 positive observations 1…100, five negative ones −1…−5 and five zeros. */
function nativeRegistry() {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "rwn_latency_seconds",
    help: "latency",
    labelNames: ["route"],
    native: true,
    registry,
  });
  const child = histogram.labels("/x");
  for (let i = 1; i <= 100; i++) child.observe(i);
  for (let i = 1; i <= 5; i++) child.observe(-i);
  for (let i = 0; i < 5; i++) child.observe(0);
  return registry;
}

Deno.test({
  name: "e2e remote write native: a native histogram lands as one; count and sum exact",
  ignore,
  fn: () =>
    withPrometheus([FEATURES], async (prometheus) => {
      const registry = nativeRegistry();
      await remoteWrite(`${prometheus.url}/api/v1/write`, {
        registry,
        labels: { job: "e2e_rwn", instance: "fn-1" },
      });
      const at = Date.now() / 1000;
      const selector = 'rwn_latency_seconds{job="e2e_rwn",route="/x"}';
      assert.equal(await valueAt(prometheus, `histogram_count(${selector})`, at), 110);
      assert.equal(await valueAt(prometheus, `histogram_sum(${selector})`, at), 5050 - 15);
      // The 99th of 110 observations (−5…−1, five zeros, 1…100) is 89; schema 3 buckets are
      // 9% wide.
      const p90 = await valueAt(prometheus, `histogram_quantile(0.9, ${selector})`, at);
      assert.ok(Math.abs(p90 - 89) / 89 < 0.1, `p90 ${p90}`);
      // Rank 1.1 falls in the bucket of the second lowest observation, −4: negative buckets
      // arrive as negative.
      const p01 = await valueAt(prometheus, `histogram_quantile(0.01, ${selector})`, at);
      assert.ok(Math.abs(p01 + 4) / 4 < 0.1, `p01 ${p01}`);
      // The classic series are sent as before (native alone: the +Inf bucket, count, sum).
      assert.equal(await valueAt(prometheus, selector.replace("{", "_count{"), at), 110);
      assert.equal(await valueAt(prometheus, selector.replace("{", "_sum{"), at), 5035);
    }),
});

Deno.test({
  name: "e2e remote write native: a counter's and a bucket's exemplars read back",
  ignore,
  fn: () =>
    withPrometheus([FEATURES], async (prometheus) => {
      const registry = new Registry();
      const counter = new Counter({ name: "rwn_jobs", help: "jobs", registry });
      counter.inc(3, { trace_id: "abc123" });
      const latency = new Histogram({
        name: "rwn_classic_seconds",
        help: "classic",
        buckets: [0.1, 0.5],
        registry,
      });
      latency.observe(0.3, { trace_id: "def456" });
      await remoteWrite(`${prometheus.url}/api/v1/write`, {
        registry,
        labels: { job: "e2e_rwx" },
      });
      const counterExemplar = (await registry.collect())[0].points[0] as {
        exemplar: { timestamp: number };
      };
      assert.deepEqual(await exemplarsOf(prometheus, "rwn_jobs_total"), [{
        seriesLabels: { __name__: "rwn_jobs_total", job: "e2e_rwx" },
        exemplars: [{
          labels: { trace_id: "abc123" },
          value: "3",
          timestamp: Math.round(counterExemplar.exemplar.timestamp * 1000) / 1000,
        }],
      }]);
      const buckets = await exemplarsOf(prometheus, "rwn_classic_seconds_bucket");
      assert.equal(buckets.length, 1);
      assert.deepEqual(buckets[0].seriesLabels, {
        __name__: "rwn_classic_seconds_bucket",
        job: "e2e_rwx",
        le: "0.5",
      });
      assert.deepEqual(buckets[0].exemplars.map((e) => [e.labels, e.value]), [
        [{ trace_id: "def456" }, "0.3"],
      ]);
    }),
});

Deno.test({
  name:
    "e2e remote write native: without the flags, a native histogram is refused; nativeHistograms: false sends the rest",
  ignore,
  fn: () =>
    withPrometheus([], async (prometheus) => {
      const registry = nativeRegistry();
      new Counter({ name: "rwn_plain", help: "p", registry }).inc(2, { trace_id: "x" });
      const url = `${prometheus.url}/api/v1/write`;
      const refused = await remoteWrite(url, { registry, labels: { job: "e2e_off" } })
        .then(() => undefined, (error) => error);
      assert.ok(refused instanceof RemoteWriteError, `expected RemoteWriteError, got ${refused}`);
      assert.equal(refused.status, 500);
      assert.match(refused.gatewayMessage ?? "", /native histograms are disabled/);
      // Without them (exemplars are ignored without exemplar storage), everything else lands.
      await remoteWrite(url, { registry, labels: { job: "e2e_off" }, nativeHistograms: false });
      const at = Date.now() / 1000;
      assert.equal(await valueAt(prometheus, 'rwn_plain_total{job="e2e_off"}', at), 2);
      assert.equal(await valueAt(prometheus, 'rwn_latency_seconds_count{job="e2e_off"}', at), 110);
    }),
});
