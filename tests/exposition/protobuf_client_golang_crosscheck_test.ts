/**
 * Cross-check against client_golang: the same families (counters with exemplars, gauges, info
 * and state sets as untyped, summaries, classic, native and classic + native histograms, a
 * native histogram past its bucket limit) are built with client_golang's own metric types by
 * `tests/support/go/expfmt_crosscheck/main.go` and encoded by `expfmt` in the delimited protobuf
 * format; ours must be the same bytes. This checks the bucketing of observations (schema, index,
 * zero bucket, resolution drops) as well as the encoding.
 *
 * Debian's client_golang 1.14 / client_model 0.3 know no created timestamps, so those are left
 * out of our side for the comparison (they are checked by the decoder tests). Exemplar
 * timestamps are set to one fixed time on both sides.
 */

import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  Registry,
  Summary,
} from "../../mod.ts";
import { renderProtobuf } from "../../src/exposition/mod.ts";
import { which } from "../support/process.ts";
import { splitDelimited } from "../support/protobuf.ts";
import { seededRandom as random } from "../support/random.ts";

const GOPATH = "/usr/share/gocode";
const CLIENT_GOLANG = `${GOPATH}/src/github.com/prometheus/client_golang/prometheus`;
const EXEMPLAR_TIME = 1700000000.5;

function goMissing(): boolean {
  if (which("go") === undefined) {
    console.warn("[skip] protobuf cross-check: `go` is not on PATH (apt-get install golang-go)");
    return true;
  }
  try {
    Deno.statSync(CLIENT_GOLANG);
  } catch {
    console.warn(
      `[skip] protobuf cross-check: client_golang is not in ${GOPATH} ` +
        "(apt-get install golang-github-prometheus-client-golang-dev)",
    );
    return true;
  }
  return false;
}

/** Builds the Go program in a temp dir (GOPATH mode, offline) and returns its path. */
async function buildCrosscheck(dir: string): Promise<string> {
  const source = new URL("../support/go/expfmt_crosscheck/main.go", import.meta.url);
  await Deno.copyFile(source, `${dir}/main.go`);
  const out = await new Deno.Command("go", {
    args: ["build", "-o", "crosscheck", "main.go"],
    cwd: dir,
    env: { GOPATH, GO111MODULE: "off", GOFLAGS: "", GOCACHE: `${dir}/cache`, HOME: dir },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(`go build failed:\n${new TextDecoder().decode(out.stderr)}`);
  return `${dir}/crosscheck`;
}

async function goBytes(binary: string, spec: unknown): Promise<Uint8Array> {
  const child = new Deno.Command(binary, { stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(spec)));
  await writer.close();
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(`crosscheck failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return out.stdout;
}

/** Log-normal latencies around `median` seconds. */
function latencies(count: number, median: number, sigma: number, seed: number): number[] {
  const next = random(seed);
  return Array.from({ length: count }, () => {
    const u = Math.max(next(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    return median * Math.exp(sigma * z);
  });
}

/** Our families as client_model 0.3 can carry them: no created timestamps, fixed exemplar times. */
function comparable(families: readonly MetricFamily[]): MetricFamily[] {
  const fixExemplar = <E extends { timestamp?: number } | undefined>(e: E): E =>
    e === undefined ? e : { ...e, timestamp: EXEMPLAR_TIME };
  return families.map((family) => ({
    ...family,
    points: family.points.map((point) => {
      const copy: Record<string, unknown> = { ...point };
      delete copy.created;
      if ("exemplar" in point) copy.exemplar = fixExemplar(point.exemplar);
      if ("exemplars" in point && point.exemplars !== undefined) {
        copy.exemplars = point.exemplars.map(fixExemplar);
      }
      return copy;
    }),
  })) as unknown as MetricFamily[];
}

const wire = (value: number) => (Number.isFinite(value) ? value : value > 0 ? "+Inf" : "-Inf");

Deno.test({
  name: "protobuf cross-check: every type encodes to client_golang's exact bytes",
  ignore: goMissing(),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "crosscheck-" });
    try {
      const binary = await buildCrosscheck(dir);
      const registry = new Registry();
      const spec: { families: unknown[]; exemplarTime: number } = {
        families: [],
        exemplarTime: EXEMPLAR_TIME,
      };
      // Families in name order and series in label order: client_golang's Gather sorts them.

      const requests = new Counter({
        name: "a_requests_total",
        help: "requests served",
        labelNames: ["code", "method"],
        registry,
      });
      requests.labels("200", "get").inc(1);
      requests.labels("200", "get").inc(2.5, { trace_id: "abc" });
      requests.labels("500", "post").inc(3);
      spec.families.push({
        kind: "counter",
        name: "a_requests_total",
        help: "requests served",
        labelNames: ["code", "method"],
        series: [
          { labelValues: ["200", "get"], values: [1, 2.5], exemplars: { 1: { trace_id: "abc" } } },
          { labelValues: ["500", "post"], values: [3] },
        ],
      });

      const temperature = new Gauge({
        name: "b_temperature_celsius",
        help: "room temperature",
        labelNames: ["room"],
        registry,
      });
      temperature.labels("hall").set(-3.25);
      temperature.labels("kitchen").set(21);
      spec.families.push({
        kind: "gauge",
        name: "b_temperature_celsius",
        help: "room temperature",
        labelNames: ["room"],
        series: [
          { labelValues: ["hall"], values: [-3.25] },
          { labelValues: ["kitchen"], values: [21] },
        ],
      });

      new Info({ name: "c_build", help: "build information", registry })
        .info({ version: "1.2.3", commit: "abc" });
      spec.families.push({
        kind: "untyped",
        name: "c_build_info",
        help: "build information",
        labelNames: ["commit", "version"],
        series: [{ labelValues: ["abc", "1.2.3"], values: [1] }],
      });

      const jobs = new Histogram({
        name: "d_job_seconds",
        help: "duration of job",
        labelNames: ["job"],
        buckets: [0.1, 1, 10],
        registry,
      });
      const jobValues = [0.05, 0.5, 0.7, 5, 100];
      for (const v of jobValues) {
        jobs.labels("backup").observe(v, v === 0.7 ? { trace_id: "b1" } : undefined);
      }
      jobs.labels("backup").observe(250, { trace_id: "inf" });
      spec.families.push({
        kind: "histogram",
        name: "d_job_seconds",
        help: "duration of job",
        labelNames: ["job"],
        buckets: [0.1, 1, 10],
        series: [{
          labelValues: ["backup"],
          values: [...jobValues, 250],
          exemplars: { 2: { trace_id: "b1" }, 5: { trace_id: "inf" } },
        }],
      });

      // Native only, factor 1.1 (schema 3): a latency distribution, negatives, zero, +Inf and
      // an exemplar (carried on the +Inf bucket, as client_golang 1.14 does).
      const latencyValues = [
        ...latencies(2000, 0.05, 1, 1),
        -0.5,
        -0.5,
        -2,
        0,
        1e-40,
        Infinity,
        1,
        0.5,
        2,
      ];
      const latency = new Histogram({
        name: "e_latency_seconds",
        help: "request latency",
        native: { maxBuckets: 0 },
        registry,
      });
      latencyValues.forEach((v, i) => latency.observe(v, i === 7 ? { trace_id: "n1" } : undefined));
      spec.families.push({
        kind: "histogram",
        name: "e_latency_seconds",
        help: "request latency",
        labelNames: [],
        native: { factor: 1.1 },
        series: [{
          labelValues: [],
          values: latencyValues.map(wire),
          exemplars: { 7: { trace_id: "n1" } },
        }],
      });

      // Classic and native together (factor 2: schema 0), two series.
      const mixed = new Histogram({
        name: "f_mixed_seconds",
        help: "classic and native",
        labelNames: ["route"],
        buckets: [0.5, 1],
        native: { bucketFactor: 2, maxBuckets: 0 },
        registry,
      });
      const mixedA = latencies(300, 0.4, 0.8, 2);
      // -Inf (not in the histogram above: +Inf + -Inf makes a NaN sum whose sign bit differs).
      const mixedB = [...latencies(300, 2, 0.5, 3), -Infinity];
      for (const v of mixedA) mixed.labels("/a").observe(v);
      for (const v of mixedB) mixed.labels("/b").observe(v);
      spec.families.push({
        kind: "histogram",
        name: "f_mixed_seconds",
        help: "classic and native",
        labelNames: ["route"],
        buckets: [0.5, 1],
        native: { factor: 2 },
        series: [{ labelValues: ["/a"], values: mixedA }, {
          labelValues: ["/b"],
          values: mixedB.map(wire),
        }],
      });

      // Factor 1.01 (schema 7) with at most 20 buckets: the resolution drops, as in client_golang.
      const limitedValues = latencies(500, 1, 2, 4);
      const limited = new Histogram({
        name: "g_limited_seconds",
        help: "past its bucket limit",
        native: { bucketFactor: 1.01, maxBuckets: 20 },
        registry,
      });
      for (const v of limitedValues) limited.observe(v);
      spec.families.push({
        kind: "histogram",
        name: "g_limited_seconds",
        help: "past its bucket limit",
        labelNames: [],
        native: { factor: 1.01, maxBuckets: 20 },
        series: [{ labelValues: [], values: limitedValues }],
      });

      const queue = new Summary({ name: "h_queue_size", help: "queue size", registry });
      for (const v of [3, 1, 4, 1, 5]) queue.observe(v);
      spec.families.push({
        kind: "summary",
        name: "h_queue_size",
        help: "queue size",
        labelNames: [],
        series: [{ labelValues: [], values: [3, 1, 4, 1, 5] }],
      });

      new Enum({ name: "i_state", help: "state", states: ["running", "stopped"], registry })
        .state("stopped");
      spec.families.push({
        kind: "untyped",
        name: "i_state",
        help: "state",
        labelNames: ["i_state"],
        series: [{ labelValues: ["running"], values: [0] }, {
          labelValues: ["stopped"],
          values: [1],
        }],
      });

      const ours = renderProtobuf(comparable(await registry.collect()));
      const theirs = await goBytes(binary, spec);
      const hex = (bytes: Uint8Array) =>
        Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
      // Family by family first, for a readable failure.
      const ourFamilies = splitDelimited(ours).map(hex);
      const theirFamilies = splitDelimited(theirs).map(hex);
      assert.equal(ourFamilies.length, theirFamilies.length);
      ourFamilies.forEach((family, i) => assert.equal(family, theirFamilies[i], `family ${i}`));
      assert.equal(hex(ours), hex(theirs));
      // The limited histogram really dropped its resolution (else the test proves less).
      const limitedPoint = (await registry.collect()).find((f) => f.name === "g_limited_seconds")!
        .points[0] as { schema?: number };
      assert.ok(limitedPoint.schema! < 7, `schema ${limitedPoint.schema} should be below 7`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
