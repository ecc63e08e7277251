// End to end with a real Prometheus 2.42 started with --web.enable-remote-write-receiver: what
// remoteWrite and the RemoteWriter send is stored exactly — every series, every label, every
// value — as read back through the HTTP API (/api/v1/query?query=…&time=…).
import assert from "node:assert/strict";
import {
  Counter,
  DEFAULT_BUCKETS,
  Enum,
  Gauge,
  Histogram,
  Info,
  Registry,
  remoteWrite,
  RemoteWriteError,
  RemoteWriter,
  Summary,
} from "../../mod.ts";
import { missingTool } from "../support/process.ts";
import { type PrometheusServer, startPrometheus } from "../support/prometheus.ts";

const ignore = missingTool("prometheus");

async function withPrometheus(body: (prometheus: PrometheusServer) => Promise<void>) {
  const prometheus = await startPrometheus({
    scrapeTargets: [],
    extraArgs: ["--web.enable-remote-write-receiver"],
  });
  try {
    await body(prometheus);
  } finally {
    await prometheus.stop();
  }
}

/** Every series matching `selector` at `timeSeconds`, as sorted `name{labels} value` lines. */
async function seriesAt(
  prometheus: PrometheusServer,
  selector: string,
  timeSeconds: number,
): Promise<string[]> {
  const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(selector)}&time=${
    timeSeconds.toFixed(3)
  }`;
  const response = await fetch(url);
  const body = await response.json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return (body.data.result as { metric: Record<string, string>; value: [number, string] }[])
    .map(({ metric, value }) => {
      const { __name__: name, ...labels } = metric;
      const text = Object.keys(labels).sort().map((key) => `${key}="${labels[key]}"`).join(",");
      return `${name}{${text}} ${value[1]}`;
    })
    .sort();
}

function instrumented() {
  const registry = new Registry();
  const requests = new Counter({
    name: "rw_requests",
    help: "requests",
    labelNames: ["method", "path"],
    registry,
  });
  requests.labels({ method: "GET", path: '/a b"c' }).inc(42);
  requests.labels({ method: "POST", path: "/ü" }).inc(0.5);
  const temperature = new Gauge({ name: "rw_temperature_celsius", help: "t", registry });
  temperature.set(-3.25);
  const latency = new Histogram({
    name: "rw_latency_seconds",
    help: "latency",
    labelNames: ["route"],
    buckets: [0.1, 0.5, 2.5],
    registry,
  });
  for (const value of [0.05, 0.3, 0.3, 1, 7]) latency.labels({ route: "/x" }).observe(value);
  const sizes = new Summary({
    name: "rw_size_bytes",
    help: "sizes",
    percentiles: [0.5, 0.9],
    registry,
  });
  for (let i = 1; i <= 10; i++) sizes.observe(i * 100);
  new Info({ name: "rw_build", help: "build", registry }).info({ version: "2.0.1" });
  new Enum({ name: "rw_phase", help: "phase", states: ["idle", "busy"], registry }).state("busy");
  return { registry, requests };
}

Deno.test({
  name: "e2e remote write: counters, gauges, histograms, summaries, info and enums land exactly",
  ignore,
  fn: () =>
    withPrometheus(async (prometheus) => {
      const { registry } = instrumented();
      await remoteWrite(`${prometheus.url}/api/v1/write`, {
        registry,
        labels: { job: "e2e_rw", instance: "fn-1" },
      });
      const at = Date.now() / 1000;
      const labels = 'instance="fn-1",job="e2e_rw"';
      // The summary's quantiles are estimates; compare them against what the registry reports.
      const text = await registry.metrics();
      const quantile = (q: string) =>
        Number(text.match(new RegExp(`^rw_size_bytes\\{quantile="${q}"\\} (\\S+)$`, "m"))![1]);
      assert.deepEqual(
        await seriesAt(prometheus, '{job="e2e_rw"}', at),
        [
          `rw_build_info{${labels},version="2.0.1"} 1`,
          `rw_latency_seconds_bucket{${labels},le="+Inf",route="/x"} 5`,
          `rw_latency_seconds_bucket{${labels},le="0.1",route="/x"} 1`,
          `rw_latency_seconds_bucket{${labels},le="0.5",route="/x"} 3`,
          `rw_latency_seconds_bucket{${labels},le="2.5",route="/x"} 4`,
          `rw_latency_seconds_count{${labels},route="/x"} 5`,
          `rw_latency_seconds_sum{${labels},route="/x"} 8.65`,
          `rw_phase{${labels},rw_phase="busy"} 1`,
          `rw_phase{${labels},rw_phase="idle"} 0`,
          `rw_requests_total{${labels},method="GET",path="/a b"c"} 42`,
          `rw_requests_total{${labels},method="POST",path="/ü"} 0.5`,
          `rw_size_bytes_count{${labels}} 10`,
          `rw_size_bytes_sum{${labels}} 5500`,
          `rw_size_bytes{${labels},quantile="0.5"} ${quantile("0.5")}`,
          `rw_size_bytes{${labels},quantile="0.9"} ${quantile("0.9")}`,
          `rw_temperature_celsius{${labels}} -3.25`,
        ].sort(),
      );
    }),
});

Deno.test({
  name:
    "e2e remote write: the RemoteWriter's writes follow the counter; stop() writes the last value",
  ignore,
  fn: () =>
    withPrometheus(async (prometheus) => {
      const { registry, requests } = instrumented();
      const writer = new RemoteWriter({
        url: `${prometheus.url}/api/v1/write`,
        registry,
        labels: { job: "e2e_writer" },
        intervalMs: 600_000,
      });
      const selector = 'rw_requests_total{job="e2e_writer",method="GET"}';
      assert.equal(await writer.flush(), true);
      assert.deepEqual(await seriesAt(prometheus, selector, Date.now() / 1000), [
        'rw_requests_total{job="e2e_writer",method="GET",path="/a b"c"} 42',
      ]);
      writer.start();
      requests.labels({ method: "GET", path: '/a b"c' }).inc(8);
      await writer.stop();
      assert.equal(writer.consecutiveFailures, 0);
      assert.deepEqual(await seriesAt(prometheus, selector, Date.now() / 1000), [
        'rw_requests_total{job="e2e_writer",method="GET",path="/a b"c"} 50',
      ]);
    }),
});

Deno.test({
  name: "e2e remote write: samples Prometheus refuses come back as a non-retryable 400",
  ignore,
  fn: () =>
    withPrometheus(async (prometheus) => {
      const registry = new Registry();
      new Gauge({ name: "rw_late", help: "late", registry }).set(1);
      const url = `${prometheus.url}/api/v1/write`;
      await remoteWrite(url, { registry, labels: { job: "late" } });
      // A day-old sample falls outside the head's window: Prometheus refuses it.
      const dayAgo = Date.now() - 86_400_000;
      const realNow = Date.now;
      Date.now = () => dayAgo;
      let old: unknown;
      try {
        old = await remoteWrite(url, { registry, labels: { job: "late" } })
          .then(() => undefined, (e) => e);
      } finally {
        Date.now = realNow;
      }
      assert.ok(old instanceof RemoteWriteError, `expected RemoteWriteError, got ${old}`);
      assert.equal(old.status, 400);
      assert.equal(old.retryable, false);
      assert.match(old.gatewayMessage ?? "", /out of (bounds|order)/);
    }),
});

Deno.test({
  name: "e2e remote write: 500 histogram series land exactly",
  ignore,
  fn: () =>
    withPrometheus(async (prometheus) => {
      const registry = new Registry();
      const histogram = new Histogram({
        name: "rw_big_seconds",
        help: "many series",
        labelNames: ["method", "route"],
        registry,
      });
      // Route values change length (9 → 10 → 100): points laid out alike and not.
      for (let i = 0; i < 500; i++) {
        const child = histogram.labels(`m${Math.floor(i / 100)}`, `/route/${i}`);
        for (let k = 0; k < 5; k++) child.observe(((i * 31 + k * 7919) % 12_000) / 1000);
      }
      await remoteWrite(`${prometheus.url}/api/v1/write`, {
        registry,
        labels: { job: "e2e_big", instance: "fn-1" },
      });
      const at = Date.now() / 1000;
      // What the text exposition says, with the added labels, as `seriesAt` lists it.
      const expected = (await registry.metrics()).split("\n")
        .filter((line) => line.startsWith("rw_big_seconds_") && !line.includes("_created"))
        .map((line) => {
          const [, name, labels, value] = line.match(/^(\w+)\{(.*)\} (\S+)$/)!;
          const all = [...labels.split(","), 'instance="fn-1"', 'job="e2e_big"'].sort();
          return `${name}{${all.join(",")}} ${value === "+Inf" ? "+Inf" : Number(value)}`;
        })
        .sort();
      assert.equal(expected.length, 500 * (DEFAULT_BUCKETS.length + 3));
      assert.deepEqual(await seriesAt(prometheus, '{job="e2e_big"}', at), expected);
    }),
});
