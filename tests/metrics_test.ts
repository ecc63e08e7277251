// Metric behaviour: label children, registries, timers, wrappers and TC39 decorators.
import assert from "node:assert/strict";
import {
  Counter,
  type CounterPoint,
  defaultRegistry,
  exponentialBuckets,
  Gauge,
  Histogram,
  linearBuckets,
  Registry,
  renderText,
  Summary,
  type SummaryPoint,
} from "../mod.ts";
import { formatFloat } from "../src/format.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("labels({...}) and positional labels(...) return the same cached child", () => {
  const c = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["method", "route"],
    registry: null,
  });
  const byObject = c.labels({ route: "/", method: "GET" });
  assert.equal(c.labels("GET", "/"), byObject);
  assert.equal(c.labels({ method: "GET", route: "/" }), byObject);
  assert.notEqual(c.labels("GET", "/x"), byObject);
  // Numbers and booleans become strings: 200 and "200" are the same series.
  const h = new Histogram({ name: "h", help: "h", labelNames: ["code"], registry: null });
  assert.equal(h.labels({ code: 200 }), h.labels("200"));
  assert.deepEqual(h.labels(true).labels, { code: "true" });
});

Deno.test("label values may hold any character, including separators", async () => {
  const registry = new Registry();
  const c = new Counter({ name: "sep_total", help: "h", labelNames: ["a", "b"], registry });
  // With a joined-string key these two would collide; the lookup tree keeps them apart.
  c.labels("x,y", "z").inc(1);
  c.labels("x", "y,z").inc(2);
  c.labels("x\u0000y", "z").inc(3);
  assert.equal(c.labels("x,y", "z").value, 1);
  assert.equal(c.labels("x", "y,z").value, 2);
  assert.equal((await registry.collect())[0].points.length, 3);
});

Deno.test("remove() and clear() drop series; removed series start again from zero", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "g", help: "h", labelNames: ["q"], registry });
  g.labels("a").set(1);
  g.labels("b").set(2);
  g.remove("a");
  g.remove({ q: "missing" }); // no error for an absent series
  assert.equal(
    await registry.metrics(),
    '# HELP g h\n# TYPE g gauge\ng{q="b"} 2.0\n',
  );
  assert.equal(g.labels("a").value, 0);
  g.clear();
  assert.equal(await registry.metrics(), "# HELP g h\n# TYPE g gauge\n");
  const two = new Counter({ name: "two_total", help: "h", labelNames: ["x", "y"], registry });
  two.labels("1", "2").inc();
  two.labels("1", "3").inc();
  two.remove("1", "2");
  assert.equal(two.labels("1", "3").value, 1, "a sibling survives the removal");
  assert.equal(two.labels("1", "2").value, 0);
});

Deno.test("registry: registration order, unregister, clear, getMetric, null registry", async () => {
  const registry = new Registry();
  const b = new Gauge({ name: "b", help: "b", registry });
  const a = new Counter({ name: "a_total", help: "a", registry });
  assert.deepEqual((await registry.collect()).map((family) => family.name), ["b", "a"]);
  assert.equal(registry.getMetric("a_total"), a);
  assert.equal(registry.getMetric("a"), a);
  assert.equal(registry.getMetric("b"), b);
  assert.equal(registry.getMetric("nope"), undefined);
  registry.unregister(b);
  assert.deepEqual((await registry.collect()).map((family) => family.name), ["a"]);
  // The name is free again once unregistered.
  new Gauge({ name: "b", help: "again", registry });
  registry.clear();
  assert.equal(await registry.metrics(), "");
  const loose = new Counter({ name: "loose_total", help: "h", registry: null });
  assert.equal(defaultRegistry.getMetric("loose_total"), undefined);
  registry.register(loose);
  registry.register(loose); // registering the same collector twice is a no-op
  assert.equal(registry.collectors.length, 1);
});

Deno.test("metrics join defaultRegistry when no registry is given", async () => {
  const c = new Counter({ name: "default_registry_probe_total", help: "h" });
  try {
    c.inc();
    assert.match(await defaultRegistry.metrics(), /^default_registry_probe_total 1\.0$/m);
  } finally {
    defaultRegistry.unregister(c);
  }
});

Deno.test("registry awaits async collectors and filters by name", async () => {
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "h", registry });
  new Histogram({ name: "lat", help: "h", buckets: [1], registry });
  registry.register({
    collect: async () => {
      await sleep(1);
      return [{
        type: "gauge",
        name: "async_value",
        help: "h",
        points: [{ labels: {}, value: 7 }],
      }];
    },
  });
  assert.match(await registry.metrics(), /^async_value 7\.0$/m);
  const byName = async (names: string[]) =>
    (await registry.collect({ names })).map((family) => family.name);
  assert.deepEqual(await byName(["jobs_total"]), ["jobs"]);
  assert.deepEqual(await byName(["lat_bucket", "async_value"]), ["lat", "async_value"]);
  assert.deepEqual(await byName(["nothing"]), []);
});

Deno.test("a collector that throws makes collect() reject; the next collect works", async () => {
  const registry = new Registry();
  let fail = true;
  registry.register({
    collect: () => {
      if (fail) throw new Error("backend down");
      return [];
    },
  });
  await assert.rejects(registry.metrics(), /backend down/);
  fail = false;
  assert.equal(await registry.metrics(), "");
});

Deno.test("histogram timer, wrapper and startTimer observe monotonic seconds", async () => {
  const h = new Histogram({ name: "h", help: "h", labelNames: ["job_name"], registry: null });
  const child = h.labels("job");
  const end = child.startTimer();
  await sleep(20);
  const seconds = end();
  assert.ok(seconds >= 0.015 && seconds < 1, `${seconds}`);
  const timedAsync = child.time(async (x: number) => {
    await sleep(20);
    return x * 2;
  });
  assert.equal(await timedAsync(21), 42);
  const timedSync = child.time((x: number) => x + 1);
  assert.equal(timedSync(1), 2);
  const failing = child.time(async () => {
    await sleep(5);
    throw new Error("boom");
  });
  await assert.rejects(failing(), /boom/);
  const { count, sum } = child.snapshot();
  assert.equal(count, 4, "startTimer, async, sync and failed call each observed once");
  assert.ok(sum >= 0.035, `${sum}`);
  assert.throws(() => h.time(() => 1), /has labels \(job_name\): call labels\(\.\.\.\) first/);
});

Deno.test("gauge trackInProgress counts calls in flight, also on throw and rejection", async () => {
  const g = new Gauge({ name: "in_progress", help: "h", registry: null });
  let seenInside = -1;
  const job = g.trackInProgress(async () => {
    seenInside = g.value;
    await sleep(10);
  });
  const both = Promise.all([job(), job()]);
  assert.equal(g.value, 2);
  await both;
  assert.equal(seenInside, 2);
  assert.equal(g.value, 0);
  const throwing = g.trackInProgress(() => {
    throw new Error("sync failure");
  });
  assert.throws(throwing, /sync failure/);
  const rejecting = g.trackInProgress(() => Promise.reject(new Error("async failure")));
  await assert.rejects(rejecting(), /async failure/);
  assert.equal(g.value, 0);
  const timed = g.time(() => sleep(10));
  await timed();
  assert.ok(g.value >= 0.005 && g.value < 1);
});

Deno.test("counter countExceptions counts throws and rejections, optionally of one class", async () => {
  const c = new Counter({ name: "failures_total", help: "h", registry: null });
  const sync = c.countExceptions((fail: boolean) => {
    if (fail) throw new Error("x");
    return "fine";
  });
  assert.equal(sync(false), "fine");
  assert.throws(() => sync(true), /x/);
  const onlyTypeErrors = c.countExceptions(async (error: Error) => {
    await sleep(1);
    throw error;
  }, { only: TypeError });
  await assert.rejects(onlyTypeErrors(new TypeError("counted")));
  await assert.rejects(onlyTypeErrors(new RangeError("not counted")));
  assert.equal(c.value, 2);
});

Deno.test("TC39 method decorators: @h.time(), @c.countExceptions(), @g.trackInProgress()", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "job_duration_seconds",
    help: "d",
    labelNames: ["job_name"],
    registry,
  });
  const c = new Counter({ name: "job_failures_total", help: "f", registry });
  const g = new Gauge({ name: "jobs_in_progress", help: "p", registry });

  // TC39 syntax takes `@a.b()` as is; a longer chain goes through a const (or parentheses,
  // which deno fmt would strip).
  const timeTestJob = h.labels("test_job").time();

  class Job {
    runs = 0;
    @timeTestJob
    @c.countExceptions({ only: Error })
    @g.trackInProgress()
    async run(fail: boolean): Promise<number> {
      this.runs++; // `this` is the instance: decorators keep the receiver
      assert.equal(g.value, 1);
      await sleep(5);
      if (fail) throw new Error("job failed");
      return this.runs;
    }
  }
  const job = new Job();
  assert.equal(await job.run(false), 1);
  await assert.rejects(job.run(true), /job failed/);
  assert.equal(job.run.name, "run");
  assert.equal(c.value, 1);
  assert.equal(g.value, 0);
  assert.equal(h.labels("test_job").snapshot().count, 2);
});

Deno.test("summary timer and child accessors", async () => {
  const s = new Summary({ name: "s", help: "h", registry: null });
  await s.time(() => sleep(5))();
  s.startTimer()();
  const point = s.collect()[0].points[0] as SummaryPoint;
  assert.equal(point.count, 2);
  assert.ok(point.sum > 0.004);
});

Deno.test("bucket helpers", () => {
  assert.deepEqual(linearBuckets(1, 2, 3), [1, 3, 5]);
  assert.deepEqual(exponentialBuckets(1, 2, 4), [1, 2, 4, 8]);
  assert.deepEqual(exponentialBuckets(0.001, 10, 3), [0.001, 0.01, 0.1]);
});

Deno.test("formatFloat matches Python's repr with Go's exponent switch", () => {
  const table: [number, string][] = [
    [0, "0.0"],
    [-0, "-0.0"],
    [1, "1.0"],
    [2, "2.0"],
    [-3, "-3.0"],
    [0.149, "0.149"],
    [0.005, "0.005"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1e-7, "1e-07"],
    [1.5e-7, "1.5e-07"],
    [123.456, "123.456"],
    [999999, "999999.0"],
    [1e6, "1e+06"],
    [1234567.5, "1.2345675e+06"],
    [1e10, "1e+10"],
    [12345678901.25, "1.234567890125e+10"],
    [1e16, "1e+16"],
    [1e21, "1e+21"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [5e-324, "5e-324"],
    [-1234567.5, "-1234567.5"],
    [-1e15, "-1000000000000000.0"],
    [-1e16, "-1e+16"],
    [-0.00001, "-1e-05"],
    [0.1 + 0.2, "0.30000000000000004"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
    [NaN, "NaN"],
  ];
  for (const [value, expected] of table) assert.equal(formatFloat(value), expected, `${value}`);
});

Deno.test("clear() on an unlabelled metric keeps its series; an empty exemplar is ignored", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "kept", help: "h", registry });
  g.set(5);
  g.clear();
  assert.equal(g.value, 5);
  const c = new Counter({ name: "ex_total", help: "h", registry });
  c.inc(1, { trace_id: "first" });
  c.inc(1, {});
  const point = c.collect()[0].points[0] as CounterPoint;
  assert.deepEqual(point.exemplar?.labels, { trace_id: "first" });
  const h = new Histogram({ name: "ex_h", help: "h", buckets: [1], registry });
  h.observe(0.5, {});
  assert.doesNotMatch(await registry.metrics({ format: "openmetrics" }), /ex_h_bucket.* # /);
});

Deno.test("summary quantiles never leave the observed range", () => {
  const s = new Summary({ name: "one", help: "h", percentiles: [0, 0.5, 1], registry: null });
  s.observe(0.5);
  const quantileValues = () =>
    (s.collect()[0].points[0] as SummaryPoint).quantiles.map((q) => q.value);
  assert.deepEqual(quantileValues(), [0.5, 0.5, 0.5]);
  s.observe(-3);
  s.observe(1e6);
  const values = quantileValues();
  assert.equal(values[0], -3);
  assert.equal(values[2], 1e6);
  assert.ok(Math.abs(values[1] - 0.5) <= 0.005);
});

Deno.test("a removed series still held by the caller counts apart from the metric", async () => {
  const registry = new Registry();
  const h = new Histogram({ name: "held", help: "h", labelNames: ["k"], buckets: [1], registry });
  const held = h.labels("a");
  held.observe(0.5);
  h.remove("a");
  held.observe(2); // the caller's reference keeps working...
  assert.equal(held.snapshot().count, 2);
  const fresh = h.labels("b"); // ...and a new series starts from zero
  assert.equal(fresh.snapshot().count, 0);
  fresh.observe(0.1);
  assert.equal(
    (await registry.metrics()).split("\n").filter((line) => line.startsWith("held_")).join("\n"),
    `held_bucket{k="b",le="1.0"} 1.0
held_bucket{k="b",le="+Inf"} 1.0
held_count{k="b"} 1.0
held_sum{k="b"} 0.1`,
  );
  assert.equal(held.snapshot().count, 2, "the metric's new series did not touch the held one");
});

Deno.test("series store: counts move to doubles past 2^32 - 1, and stay doubles when compacted", async () => {
  const { SeriesStore, UINT32_MAX } = await import("../src/metrics/series_store.ts");
  const layout = { numberStride: 1, countStride: 2, sideCount: 1 };
  const store = new SeriesStore("m", layout, 1, (slot) => ({ slot: String(slot) }));
  store.ensureSlot(0);
  store.ensureSlot(1); // grows past the initial capacity
  assert.ok(store.numbers.length >= 2 && store.counts.length >= 4);
  store.counts[2] = UINT32_MAX;
  store.countPastUint32(2);
  assert.ok(store.counts instanceof Float64Array);
  assert.equal(store.counts[2], 2 ** 32);
  store.numbers[1] = 7;
  store.side(0)[0] = "removed's";
  store.side(0)[1] = "kept's";
  const next = store.compact(Int32Array.of(-1, 0), 1, () => ({ gone: "yes" }));
  assert.equal(store.current, false);
  assert.equal(next.current, true);
  assert.ok(next.counts instanceof Float64Array);
  assert.deepEqual([next.numbers[0], next.counts[0], next.sides[0]?.[0]], [7, 2 ** 32, "kept's"]);
  const removed = store.detach(0);
  assert.notEqual(removed, next, "a removed series gets a store of its own");
  assert.deepEqual(removed.labelsOf(0), { gone: "yes" });
  assert.equal(removed.sides[0]?.[0], "removed's");
});

Deno.test("removing most series compacts them: held children follow, removed ones keep counting apart", async () => {
  const registry = new Registry();
  const c = new Counter({ name: "churn", help: "h", labelNames: ["id"], registry });
  const held = Array.from({ length: 100 }, (_, i) => c.labels(String(i)));
  held.forEach((child, i) => child.inc(i));
  for (let i = 0; i < 100; i++) if (i % 10 !== 0) c.remove(String(i)); // compacts on the way
  held[30].inc(1000); // live: lands in the metric
  held[31].inc(1000); // removed: counts apart
  assert.equal(held[31].value, 1031);
  assert.deepEqual(held[31].labels, { id: "31" });
  assert.equal(c.labels("31").value, 0, "a new series with a removed one's labels starts at 0");
  const lines = (await registry.metrics()).split("\n").filter((line) => line.startsWith("churn_"));
  assert.deepEqual(lines, [
    'churn_total{id="0"} 0.0',
    'churn_total{id="10"} 10.0',
    'churn_total{id="20"} 20.0',
    'churn_total{id="30"} 1030.0',
    'churn_total{id="40"} 40.0',
    'churn_total{id="50"} 50.0',
    'churn_total{id="60"} 60.0',
    'churn_total{id="70"} 70.0',
    'churn_total{id="80"} 80.0',
    'churn_total{id="90"} 90.0',
    'churn_total{id="31"} 0.0',
  ]);
  assert.equal(c.labels("30"), c.labels({ id: "30" }));
  c.clear();
  held[30].inc();
  assert.equal(held[30].value, 1031, "cleared: the held child keeps its count apart");
  assert.equal((await registry.metrics()).includes("churn_total{"), false);
});

Deno.test("a snapshot keeps its labels after the metric compacts or reuses its slots", () => {
  const h = new Histogram({
    name: "snap",
    help: "h",
    labelNames: ["id"],
    buckets: [1],
    registry: null,
  });
  for (let i = 0; i < 40; i++) h.labels(`series-${i}`).observe(i);
  const families = h.collect();
  const before = renderText(families);
  for (let i = 0; i < 40; i++) if (i !== 7) h.remove(`series-${i}`); // compacts on the way
  for (let i = 0; i < 40; i++) h.labels(`other-${i}`); // new series in the freed slots
  assert.equal(renderText(families), before);
  assert.match(before, /snap_bucket\{id="series-39",le="1.0"\} 0.0/);
  assert.deepEqual(families[0].points[39].labels, { id: "series-39" });
});

Deno.test("compaction keeps live series' exemplars and bucket counts with them", async () => {
  const registry = new Registry();
  const c = new Counter({ name: "ex_churn", help: "h", labelNames: ["id"], registry });
  const h = new Histogram({
    name: "h_churn",
    help: "h",
    labelNames: ["id"],
    buckets: [1],
    registry,
  });
  for (let i = 0; i < 40; i++) {
    c.labels(String(i)).inc(1, { trace_id: `t${i}` });
    h.labels(String(i)).observe(i < 20 ? 0.5 : 2);
  }
  for (let i = 0; i < 39; i++) {
    c.remove(String(i)); // compacts on the way
    h.remove(String(i));
  }
  const text = await registry.metrics({ format: "openmetrics" });
  assert.match(text, /ex_churn_total\{id="39"\} 1\.0 # \{trace_id="t39"\} 1\.0 [0-9.]+\n/);
  assert.match(
    text,
    /h_churn_bucket\{id="39",le="1\.0"\} 0\.0\nh_churn_bucket\{id="39",le="\+Inf"\} 1\.0\n/,
  );
  assert.deepEqual(new Set(text.match(/\{id="\d+"/g)), new Set(['{id="39"']), "one series left");
});

Deno.test("a gauge compacting its series keeps the live children and their values", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "g_churn", help: "h", labelNames: ["id"], registry });
  const held = Array.from({ length: 40 }, (_, i) => g.labels(String(i)));
  held.forEach((child, i) => child.set(i));
  for (let i = 0; i < 38; i++) g.remove(String(i)); // compacts on the way
  held[39].inc(100); // a live child still counts in the metric...
  held[0].set(-1); // ...a removed one, apart
  assert.deepEqual(g.labels("39").labels, held[39].labels, "labels() reaches the held series");
  assert.deepEqual(
    (await registry.metrics()).split("\n").filter((line) => line.startsWith("g_churn{")),
    ['g_churn{id="38"} 38.0', 'g_churn{id="39"} 139.0'],
  );
  assert.equal(held[0].value, -1);
});
