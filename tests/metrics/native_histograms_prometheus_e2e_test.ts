// End to end: Prometheus 2.42 with `--enable-feature=native-histograms` asks for the protobuf
// format first, scrapes native histograms from a `Deno.serve` target and from the guide's demo
// (`--native`), and answers histogram_count / histogram_sum / histogram_quantile over them.
import assert from "node:assert/strict";
import { Histogram, metricsHandler, Registry } from "../../mod.ts";
import { PROTOBUF_CONTENT_TYPE } from "../../src/exposition/mod.ts";
import { freePort, missingTool, waitFor } from "../support/process.ts";
import { type PromSample, startPrometheus } from "../support/prometheus.ts";

const NATIVE_FLAG = "--enable-feature=native-histograms";

function singleValue(samples: PromSample[]): number | undefined {
  return samples.length === 1 ? Number(samples[0].value[1]) : undefined;
}

/** A known distribution: log-uniform from 10 ms to 10 s, N evenly spaced quantiles of it. */
const N = 10_000;
const VALUES = Array.from({ length: N }, (_, i) => 0.01 * 1000 ** ((i + 0.5) / N));
/** Its true q-quantile. */
const truth = (q: number) => 0.01 * 1000 ** q;

Deno.test({
  name:
    "e2e: Prometheus scrapes native histograms over protobuf; count, sum exact, quantiles within 5%",
  ignore: missingTool("prometheus"),
  async fn() {
    const registry = new Registry();
    const latency = new Histogram({
      name: "rpc_duration_seconds",
      help: "rpc latency",
      labelNames: ["service"],
      native: true,
      registry,
    });
    const child = latency.labels("api");
    // Shuffled, so the order of observations is not the order of buckets.
    for (let i = 0; i < N; i++) child.observe(VALUES[(i * 7919) % N]);
    const expectedSum = (await registry.collect())[0].points[0] as { sum: number };

    const contentTypes: (string | null)[] = [];
    const accepts: (string | null)[] = [];
    const handle = metricsHandler({ registry });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (request) => {
        accepts.push(request.headers.get("accept"));
        const response = await handle(request);
        contentTypes.push(response.headers.get("content-type"));
        return response;
      },
    );
    const address = `127.0.0.1:${server.addr.port}`;
    const prometheus = await startPrometheus({
      scrapeTargets: [address],
      extraArgs: [NATIVE_FLAG],
    });
    try {
      await prometheus.waitForTargetsUp(30_000);
      const selector = 'rpc_duration_seconds{service="api"}';
      await prometheus.waitForQuery(
        `histogram_count(${selector})`,
        (samples) => singleValue(samples) === N,
        30_000,
      );
      assert.equal(
        singleValue(await prometheus.query(`histogram_sum(${selector})`)),
        expectedSum.sum,
      );
      for (const q of [0.5, 0.9]) {
        const estimate = singleValue(
          await prometheus.query(`histogram_quantile(${q}, ${selector})`),
        )!;
        const error = Math.abs(estimate - truth(q)) / truth(q);
        console.log(
          `histogram_quantile(${q}) = ${estimate}, truth ${truth(q)}, off by ${
            (error * 100).toFixed(2)
          }%`,
        );
        assert.ok(error <= 0.05, `quantile ${q}: ${estimate} vs ${truth(q)}`);
      }
      // Prometheus asked for protobuf first and got it.
      assert.match(
        accepts[0] ?? "",
        /^application\/vnd\.google\.protobuf;proto=io\.prometheus\.client\.MetricFamily;encoding=delimited/,
      );
      assert.equal(contentTypes[0], PROTOBUF_CONTENT_TYPE);
      // No classic series: a native-only histogram is one native series in Prometheus.
      assert.deepEqual(await prometheus.query('rpc_duration_seconds_bucket{service="api"}'), []);
    } finally {
      await prometheus.stop();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "e2e: the guide's demo with --native shows its quantile in Prometheus",
  ignore: missingTool("prometheus"),
  async fn() {
    const port = freePort();
    const runs = 8;
    const demo = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        new URL("../../examples/demo.ts", import.meta.url).pathname,
        "--native",
        "--runs",
        String(runs),
        "--max-sleep",
        "0.3",
        "--port",
        String(port),
        "--linger",
        "120",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output: string[] = [];
    const reading = demo.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void output.push(chunk) }),
    );
    const prometheus = await startPrometheus({
      scrapeTargets: [`127.0.0.1:${port}`],
      extraArgs: [NATIVE_FLAG],
    });
    try {
      await waitFor(() => output.join("").includes("serving for"), {
        timeoutMs: 30_000,
        intervalMs: 50,
        what: "the demo's runs",
      });
      const selector = 'job_duration_seconds{job_name="test_job"}';
      await prometheus.waitForQuery(
        `histogram_count(${selector})`,
        (samples) => singleValue(samples) === runs,
        30_000,
      );
      const slept = [...output.join("").matchAll(/job ran ([0-9.]+) s/g)].map((m) => Number(m[1]));
      assert.equal(slept.length, runs);
      const median = singleValue(await prometheus.query(`histogram_quantile(0.5, ${selector})`))!;
      console.log(
        `demo --native: histogram_quantile(0.5) = ${median} s; runs slept ${slept.join(", ")} s`,
      );
      // The timed runs last at least their sleep (and a little more): the median lies within them.
      assert.ok(
        median >= Math.min(...slept) * 0.9 && median <= Math.max(...slept) * 1.1 + 0.05,
        `median ${median}`,
      );
    } finally {
      await prometheus.stop();
      demo.kill("SIGTERM");
      await demo.status;
      await reading.catch(() => {});
      await demo.stderr.cancel().catch(() => {});
    }
  },
});
