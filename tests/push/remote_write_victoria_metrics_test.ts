// Remote write end to end against a second real receiver, VictoriaMetrics (Debian 1.79): 25,000
// series of counters, gauges and classic histograms, in several requests, read back exactly
// through `/api/v1/export`.
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry, remoteWrite, RemoteWriter } from "../../mod.ts";
import { missingTool, waitFor } from "../support/process.ts";
import { startVictoriaMetrics } from "../support/victoria_metrics.ts";

const COUNTERS = 10_000;
const GAUGES = 10_000;
// Each histogram series is 5 series: two bounds, +Inf, _count and _sum.
const HISTOGRAMS = 1_000;

function fill(registry: Registry, round: number) {
  const counter = new Counter({ name: "rw_jobs", help: "jobs", labelNames: ["id"], registry });
  const gauge = new Gauge({ name: "rw_level", help: "level", labelNames: ["id"], registry });
  const histogram = new Histogram({
    name: "rw_seconds",
    help: "durations",
    labelNames: ["id"],
    buckets: [0.5, 2],
    registry,
  });
  for (let i = 0; i < COUNTERS; i++) counter.labels(String(i)).inc(i * round);
  for (let i = 0; i < GAUGES; i++) gauge.labels(String(i)).set(i / 4 - 1000 * round);
  for (let i = 0; i < HISTOGRAMS; i++) {
    const child = histogram.labels(String(i));
    for (let k = 0; k < i % 7; k++) child.observe(0.25 * k);
  }
}

/** What each series must hold: `name{id}` → value. */
function expected(round: number): Map<string, number> {
  const values = new Map<string, number>();
  for (let i = 0; i < COUNTERS; i++) values.set(`rw_jobs_total{${i}}`, i * round);
  for (let i = 0; i < GAUGES; i++) values.set(`rw_level{${i}}`, i / 4 - 1000 * round);
  for (let i = 0; i < HISTOGRAMS; i++) {
    const observed = Array.from({ length: i % 7 }, (_, k) => 0.25 * k);
    values.set(`rw_seconds_bucket{${i},0.5}`, observed.filter((v) => v <= 0.5).length);
    values.set(`rw_seconds_bucket{${i},2.0}`, observed.filter((v) => v <= 2).length);
    values.set(`rw_seconds_bucket{${i},+Inf}`, observed.length);
    values.set(`rw_seconds_count{${i}}`, observed.length);
    values.set(`rw_seconds_sum{${i}}`, observed.reduce((sum, v) => sum + v, 0));
  }
  return values;
}

Deno.test({
  name:
    "remote write e2e (VictoriaMetrics): 25,000 series of counters, gauges and histograms, exact",
  ignore: missingTool("victoria-metrics"),
  async fn() {
    const vm = await startVictoriaMetrics();
    try {
      const registry = new Registry();
      fill(registry, 1);
      const before = Date.now();
      await remoteWrite(vm.writeUrl, {
        registry,
        labels: { job: "e2e", instance: "deno" },
        maxSeriesPerRequest: 2_000,
      });
      const series = await vm.exportWhen(
        '{__name__=~"rw_.*",job="e2e"}',
        (series) => series.length >= 25_000,
        60_000,
      );
      const want = expected(1);
      assert.equal(want.size, 25_000);
      assert.equal(series.length, 25_000);
      const got = new Map<string, number>();
      for (const { metric, values, timestamps } of series) {
        assert.equal(metric.instance, "deno");
        assert.equal(values.length, 1, JSON.stringify(metric));
        assert.ok(timestamps[0] >= before - 1 && timestamps[0] <= Date.now());
        const le = metric.le === undefined ? "" : `,${metric.le}`;
        got.set(`${metric.__name__}{${metric.id}${le}}`, values[0]);
      }
      for (const [key, value] of want) assert.equal(got.get(key), value, key);
    } finally {
      await vm.stop();
    }
  },
});

Deno.test({
  name: "remote write e2e (VictoriaMetrics): a RemoteWriter's writes and a staleness marker",
  ignore: missingTool("victoria-metrics"),
  async fn() {
    const vm = await startVictoriaMetrics();
    const registry = new Registry();
    const gauge = new Gauge({ name: "rw_temp", help: "t", labelNames: ["room"], registry });
    gauge.labels("a").set(20.5);
    gauge.labels("b").set(-3);
    const writer = new RemoteWriter({ url: vm.writeUrl, registry, labels: { job: "e2e" } });
    try {
      assert.equal(await writer.flush(), true);
      gauge.labels("a").set(21.25);
      gauge.remove("b");
      assert.equal(await writer.flush(), true);
      const series = await vm.exportWhen(
        '{__name__="rw_temp"}',
        (series) => series.length === 2 && series.every((s) => s.values.length === 2),
      );
      const byRoom = new Map(series.map((s) => [s.metric.room, s.values]));
      assert.deepEqual(byRoom.get("a"), [20.5, 21.25]);
      // The second value of `b` is the staleness marker, which /api/v1/export shows as NaN.
      const b = byRoom.get("b")!;
      assert.equal(b.length, 2);
      assert.equal(b[0], -3);
      // (JSON has no NaN: the export shows it as null.)
      assert.equal(b[1], null);
      // And a query sees `b` gone at once, not 5 minutes later.
      // (Once the query sees the second write: its time can lag the write by a moment.)
      let now: string[][] = [];
      await waitFor(async () => {
        now = (await vm.query("rw_temp")).map((s) => [s.metric.room, s.value[1]]);
        return now.some(([room, value]) => room === "a" && value === "21.25");
      }, { what: "the second write in a query" });
      assert.deepEqual(now, [["a", "21.25"]]);
    } finally {
      await writer.stop();
      await vm.stop();
    }
  },
});
