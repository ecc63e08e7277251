// The merge rules, one by one, on hand-written snapshots; then the same rules reached from real
// metric objects and rendered as text, as a scrape would see them.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  type Exemplar,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  Registry,
  Summary,
} from "../../mod.ts";
import {
  type GaugeAggregation,
  type HistogramFamily,
  renderText,
} from "../../src/exposition/mod.ts";
import { mergeSnapshots, type WorkerSnapshot } from "../../src/workers/mod.ts";
import { decodeFamilies, encodeSnapshot } from "../../src/workers/codec.ts";
import { subtractBaseline } from "../../src/workers/merge.ts";

function worker(id: string, families: MetricFamily[], live = true): WorkerSnapshot {
  return { worker: id, live, families };
}

function counter(value: number, extra: Record<string, unknown> = {}): MetricFamily {
  return {
    type: "counter",
    name: "requests",
    help: "requests served",
    points: [{ labels: { path: "/" }, value, ...extra }],
  };
}

function gauge(
  aggregate: GaugeAggregation | undefined,
  value: number,
  updated?: number,
): MetricFamily {
  return {
    type: "gauge",
    name: "temperature",
    help: "degrees",
    ...(aggregate === undefined ? {} : { aggregate }),
    points: [{ labels: { room: "a" }, value, ...(updated === undefined ? {} : { updated }) }],
  };
}

function histogram(bounds: number[], counts: number[], sum: number): MetricFamily {
  return {
    type: "histogram",
    name: "latency_seconds",
    help: "latency",
    unit: "seconds",
    points: [{
      labels: {},
      upperBounds: bounds,
      bucketCounts: counts,
      count: counts.at(-1)!,
      sum,
    }],
  };
}

Deno.test("counters add up, dead workers included; created is the earliest, exemplar the latest", () => {
  const merged = mergeSnapshots([
    worker("a", [
      counter(3, { created: 200, exemplar: { labels: { id: "x" }, value: 1, timestamp: 5 } }),
    ]),
    worker("b", [
      counter(4, { created: 100, exemplar: { labels: { id: "y" }, value: 2, timestamp: 9 } }),
    ], false),
    worker("c", [counter(0.5)]),
  ]);
  assert.deepEqual(merged, [{
    type: "counter",
    name: "requests",
    help: "requests served",
    points: [{
      labels: { path: "/" },
      value: 7.5,
      created: 100,
      exemplar: { labels: { id: "y" }, value: 2, timestamp: 9 },
    }],
  }]);
});

Deno.test("series are matched by label set whatever the label order", () => {
  const a: MetricFamily = {
    type: "counter",
    name: "c",
    help: "",
    points: [{ labels: { x: "1", y: "2" }, value: 1 }, { labels: { x: "2", y: "1" }, value: 10 }],
  };
  const b: MetricFamily = {
    type: "counter",
    name: "c",
    help: "",
    points: [{ labels: { y: "2", x: "1" }, value: 2 }],
  };
  const [family] = mergeSnapshots([worker("a", [a]), worker("b", [b])]);
  assert.deepEqual(family.points, [
    { labels: { x: "1", y: "2" }, value: 3 },
    { labels: { x: "2", y: "1" }, value: 10 },
  ]);
});

Deno.test("histograms add up bucket by bucket; different bounds are a clear TypeError", () => {
  const [family] = mergeSnapshots([
    worker("a", [histogram([1, 2, Infinity], [1, 2, 3], 4)]),
    worker("b", [histogram([1, 2, Infinity], [0, 5, 6], 10)], false),
  ]);
  assert.deepEqual(family, {
    type: "histogram",
    name: "latency_seconds",
    help: "latency",
    unit: "seconds",
    points: [{
      labels: {},
      upperBounds: [1, 2, Infinity],
      bucketCounts: [1, 7, 9],
      count: 9,
      sum: 14,
    }],
  });
  assert.throws(
    () =>
      mergeSnapshots([
        worker("a", [histogram([1, 2, Infinity], [1, 2, 3], 4)]),
        worker("b", [histogram([1, 5, Infinity], [1, 2, 3], 4)]),
      ]),
    {
      name: "TypeError",
      message: 'histogram "latency_seconds" has buckets [1, 2, Infinity] in worker "a" but ' +
        '[1, 5, Infinity] in worker "b": every worker must use the same buckets to be merged',
    },
  );
});

Deno.test("histogram exemplars: the latest per bucket", () => {
  const withExemplar = (timestamp: number, bucket: number): MetricFamily => {
    const exemplars: (Exemplar | undefined)[] = [undefined, undefined, undefined];
    exemplars[bucket] = { labels: { t: String(timestamp) }, value: bucket, timestamp };
    const family = histogram([1, 2, Infinity], [1, 1, 1], 1) as HistogramFamily;
    return { ...family, points: [{ ...family.points[0], exemplars }] };
  };
  const [family] = mergeSnapshots([
    worker("a", [withExemplar(10, 0)]),
    worker("b", [withExemplar(20, 0)]),
    worker("c", [withExemplar(5, 2)]),
  ]) as HistogramFamily[];
  assert.deepEqual(family.points[0].exemplars?.map((exemplar) => exemplar?.timestamp), [
    20,
    undefined,
    5,
  ]);
});

Deno.test("summaries: count and sum add up, quantiles are left out", () => {
  const summary = (count: number, sum: number): MetricFamily => ({
    type: "summary",
    name: "size",
    help: "sizes",
    points: [{ labels: {}, count, sum, quantiles: [{ quantile: 0.5, value: sum / count }] }],
  });
  const [family] = mergeSnapshots([
    worker("a", [summary(2, 10)]),
    worker("b", [summary(3, 5)], false),
  ]);
  assert.deepEqual(family.points, [{ labels: {}, count: 5, sum: 15, quantiles: [] }]);
});

Deno.test("gauge modes over live and dead workers", () => {
  const snapshots = (mode: GaugeAggregation | undefined) => [
    worker("a", [gauge(mode, 5, 100)]),
    worker("b", [gauge(mode, 2, 300)]),
    worker("c", [gauge(mode, 9, 200)]),
    worker("dead", [gauge(mode, 100, 400)], false),
  ];
  const valuesOf = (mode: GaugeAggregation | undefined) =>
    mergeSnapshots(snapshots(mode)).flatMap((family) =>
      family.type === "gauge" ? family.points.map((point) => point.value) : []
    );
  assert.deepEqual(valuesOf("sum"), [116]);
  assert.deepEqual(valuesOf("livesum"), [16]);
  assert.deepEqual(valuesOf("min"), [2]);
  assert.deepEqual(valuesOf("livemin"), [2]);
  assert.deepEqual(valuesOf("max"), [100]);
  assert.deepEqual(valuesOf("livemax"), [9]);
  assert.deepEqual(valuesOf("mostrecent"), [100]);
  assert.deepEqual(valuesOf("livemostrecent"), [2]);
  assert.deepEqual(valuesOf("all"), [5, 2, 9, 100]);
  assert.deepEqual(valuesOf("liveall"), [5, 2, 9]);
  assert.deepEqual(valuesOf(undefined), [5, 2, 9, 100], "no mode means all");
});

Deno.test("gauge `all` adds the worker label; the family keeps its mode; `mostrecent` keeps the time", () => {
  const [all] = mergeSnapshots([
    worker("a", [gauge("liveall", 1)]),
    worker("b", [gauge("liveall", 2)]),
  ], {
    workerLabel: "pid",
  });
  assert.deepEqual(all, {
    type: "gauge",
    name: "temperature",
    help: "degrees",
    aggregate: "liveall",
    points: [
      { labels: { room: "a", pid: "a" }, value: 1 },
      { labels: { room: "a", pid: "b" }, value: 2 },
    ],
  });
  const [recent] = mergeSnapshots([
    worker("a", [gauge("mostrecent", 1, 20)]),
    worker("b", [gauge("mostrecent", 2)]),
  ]);
  assert.deepEqual(recent.points, [{ labels: { room: "a" }, value: 1, updated: 20 }]);
});

Deno.test("min and max skip NaN unless every value is NaN; sum keeps ±Inf", () => {
  const values = (mode: GaugeAggregation, ...numbers: number[]) =>
    mergeSnapshots(numbers.map((n, i) => worker(String(i), [gauge(mode, n)])))[0].points.map((
      point,
    ) => (point as { value: number }).value);
  assert.deepEqual(values("min", NaN, 3, 1), [1]);
  assert.deepEqual(values("max", 3, NaN, 1), [3]);
  assert.deepEqual(values("max", NaN, NaN), [NaN]);
  assert.deepEqual(values("sum", Infinity, 1), [Infinity]);
});

Deno.test("live-only families vanish when no live worker has them", () => {
  const merged = mergeSnapshots([worker("dead", [gauge("livesum", 1), counter(2)], false)]);
  assert.deepEqual(merged.map((family) => family.name), ["requests"]);
});

Deno.test("info: distinct label sets of live workers; state sets: one series per live worker", () => {
  const info = (version: string): MetricFamily => ({
    type: "info",
    name: "build",
    help: "build",
    points: [{ labels: { version } }],
  });
  const state = (current: string): MetricFamily => ({
    type: "stateset",
    name: "phase",
    help: "phase",
    points: [{
      labels: {},
      states: ["up", "down"].map((name) => ({ name, enabled: name === current })),
    }],
  });
  const merged = mergeSnapshots([
    worker("a", [info("1.0"), state("up")]),
    worker("b", [info("1.0"), state("down")]),
    worker("c", [info("2.0"), state("up")]),
    worker("old", [info("0.9"), state("down")], false),
  ]);
  assert.deepEqual(merged[0].points, [{ labels: { version: "1.0" } }, {
    labels: { version: "2.0" },
  }]);
  assert.deepEqual(
    merged[1].points.map((
      point,
    ) => [point.labels, "states" in point ? point.states[0].enabled : 0]),
    [[{ worker: "a" }, true], [{ worker: "b" }, false], [{ worker: "c" }, true]],
  );
});

Deno.test("unknown-typed families are kept per worker, like gauges in `all` mode", () => {
  const unknown = (value: number): MetricFamily => ({
    type: "unknown",
    name: "thing",
    help: "",
    points: [{ labels: {}, value }],
  });
  const [family] = mergeSnapshots([worker("a", [unknown(1)]), worker("b", [unknown(2)], false)]);
  assert.deepEqual(family.points, [
    { labels: { worker: "a" }, value: 1 },
    { labels: { worker: "b" }, value: 2 },
  ]);
});

Deno.test("merged (retired) data is merged again without a second worker label", () => {
  const retired = mergeSnapshots([worker("gone", [gauge("all", 7), counter(5)], false)]);
  const merged = mergeSnapshots([
    worker("a", [gauge("all", 1), counter(1)]),
    { worker: "retired", live: false, merged: true, families: retired },
  ]);
  assert.deepEqual(merged[0].points, [
    { labels: { room: "a", worker: "a" }, value: 1 },
    { labels: { room: "a", worker: "gone" }, value: 7 },
  ]);
  assert.deepEqual(merged[1].points, [{ labels: { path: "/" }, value: 6 }]);
});

Deno.test("conflicts are clear TypeErrors: types, gauge modes, a taken worker label", () => {
  assert.throws(
    () =>
      mergeSnapshots([
        worker("a", [counter(1)]),
        worker("b", [{ ...gauge("sum", 1), name: "requests" }]),
      ]),
    {
      name: "TypeError",
      message: 'metric "requests" is a counter in worker "a" but a gauge in worker "b": ' +
        "every worker must define it the same way",
    },
  );
  assert.throws(
    () => mergeSnapshots([worker("a", [gauge("sum", 1)]), worker("b", [gauge("max", 1)])]),
    {
      name: "TypeError",
      message:
        'gauge "temperature" has aggregate mode "sum" in worker "a" but "max" in worker "b": ' +
        "every worker must use the same mode",
    },
  );
  assert.throws(() => mergeSnapshots([worker("a", [gauge("all", 1)])], { workerLabel: "room" }), {
    name: "TypeError",
    message: /metric "temperature" already has a label "room"/,
  });
  assert.throws(() => mergeSnapshots([], { workerLabel: "bad\nlabel" }), TypeError);
});

Deno.test("families come out in order of first appearance, metadata from the first worker", () => {
  const other: MetricFamily = { type: "counter", name: "other", help: "x", points: [] };
  const merged = mergeSnapshots([
    worker("a", [counter(1)]),
    worker("b", [other, { ...counter(1), help: "different help" }]),
  ]);
  assert.deepEqual(merged.map((family) => [family.name, family.help]), [
    ["requests", "requests served"],
    ["other", "x"],
  ]);
});

Deno.test("real metrics of three registries merge into the text a single process would show", async () => {
  const registries = [new Registry(), new Registry(), new Registry()];
  const snapshots: WorkerSnapshot[] = [];
  for (const [i, registry] of registries.entries()) {
    const requests = new Counter({
      name: "requests_total",
      help: "requests",
      labelNames: ["path"],
      registry,
    });
    const latency = new Histogram({
      name: "latency_seconds",
      help: "latency",
      buckets: [0.5, 1],
      registry,
    });
    const sizes = new Summary({ name: "size_bytes", help: "sizes", percentiles: [0.5], registry });
    const inFlight = new Gauge({
      name: "in_flight",
      help: "in flight",
      aggregate: "livesum",
      registry,
    });
    const build = new Info({ name: "build", help: "build", registry });
    const phase = new Enum({ name: "phase", help: "phase", states: ["idle", "busy"], registry });
    requests.labels({ path: "/" }).inc(i + 1);
    latency.observe(0.25 * (i + 1));
    latency.observe(2);
    sizes.observe(10 * (i + 1));
    inFlight.set(i);
    build.info({ version: "1.0" });
    phase.state(i === 0 ? "busy" : "idle");
    snapshots.push(worker(`w${i}`, await registry.collect({}), i !== 2));
  }
  const text = renderText(mergeSnapshots(snapshots)).replace(/^.*_created.*\n/gm, "");
  assert.equal(
    text,
    [
      "# HELP requests_total requests",
      "# TYPE requests_total counter",
      'requests_total{path="/"} 6.0',
      "# HELP latency_seconds latency",
      "# TYPE latency_seconds histogram",
      'latency_seconds_bucket{le="0.5"} 2.0',
      'latency_seconds_bucket{le="1.0"} 3.0',
      'latency_seconds_bucket{le="+Inf"} 6.0',
      "latency_seconds_count 6.0",
      "latency_seconds_sum 7.5",
      "# HELP size_bytes sizes",
      "# TYPE size_bytes summary",
      "size_bytes_count 3.0",
      "size_bytes_sum 60.0",
      "# HELP in_flight in flight",
      "# TYPE in_flight gauge",
      "in_flight 1.0",
      "# HELP build_info build",
      "# TYPE build_info gauge",
      'build_info{version="1.0"} 1.0',
      "# HELP phase phase",
      "# TYPE phase gauge",
      'phase{phase="idle",worker="w0"} 0.0',
      'phase{phase="busy",worker="w0"} 1.0',
      'phase{phase="idle",worker="w1"} 1.0',
      'phase{phase="busy",worker="w1"} 0.0',
      "",
    ].join("\n"),
  );
});

Deno.test("a gauge's aggregate option: validated, carried into the snapshot, timestamps only for mostrecent", async () => {
  assert.throws(
    () =>
      new Gauge({ name: "g", help: "h", aggregate: "average" as GaugeAggregation, registry: null }),
    {
      name: "TypeError",
      message: 'invalid aggregate "average" for gauge "g": expected one of sum, min, max, ' +
        "mostrecent, all, livesum, livemin, livemax, livemostrecent, liveall",
    },
  );
  const plain = new Gauge({ name: "plain", help: "h", registry: null });
  plain.set(1);
  assert.deepEqual(plain.collect(), [{
    type: "gauge",
    name: "plain",
    help: "h",
    unit: undefined,
    points: [{ labels: {}, value: 1 }],
  }]);
  const summed = new Gauge({ name: "summed", help: "h", aggregate: "sum", registry: null });
  summed.set(2);
  assert.deepEqual(summed.collect()[0], {
    type: "gauge",
    name: "summed",
    help: "h",
    unit: undefined,
    aggregate: "sum",
    points: [{ labels: {}, value: 2 }],
  });
  const recent = new Gauge({
    name: "recent",
    help: "h",
    aggregate: "livemostrecent",
    labelNames: ["k"],
    registry: null,
  });
  const child = recent.labels("x");
  assert.equal(child.updated, undefined, "never changed yet");
  const before = Date.now() / 1000;
  child.inc();
  const after = Date.now() / 1000;
  const point = recent.collect()[0].points[0] as { value: number; updated?: number };
  assert.equal(point.value, 1);
  assert.ok(point.updated! >= before && point.updated! <= after, String(point.updated));
  // The exposition never shows the time.
  const registry = new Registry();
  registry.register(recent);
  assert.equal(
    await registry.metrics(),
    '# HELP recent h\n# TYPE recent gauge\nrecent{k="x"} 1.0\n',
  );
});

Deno.test("snapshot JSON keeps Infinity and NaN, and label values that look like them", () => {
  const families: MetricFamily[] = [
    histogram([1, Infinity], [1, 2], NaN),
    {
      type: "gauge",
      name: "g",
      help: "",
      points: [{ labels: { v: "Infinity", w: "NaN" }, value: -Infinity, updated: 5 }],
    },
    {
      type: "summary",
      name: "s",
      help: "",
      points: [{ labels: {}, count: 1, sum: Infinity, quantiles: [{ quantile: 0.5, value: NaN }] }],
    },
  ];
  const decoded = decodeFamilies(JSON.parse(encodeSnapshot(families)), "test");
  assert.deepEqual(decoded, families);
});

Deno.test("malformed snapshots are refused with the source and the problem", () => {
  const decode = (value: unknown) => () => decodeFamilies(value, 'worker "x"');
  assert.throws(decode({}), {
    name: "TypeError",
    message: 'worker "x": families must be an array',
  });
  assert.throws(decode([{ name: "a", type: "bogus", help: "", points: [] }]), {
    message: 'worker "x": family "a" has an unknown type "bogus"',
  });
  assert.throws(
    decode([{ name: "a", type: "counter", help: "", points: [{ labels: {}, value: "7" }] }]),
    { message: 'worker "x": family "a" has a value that is not a number' },
  );
  assert.throws(
    decode([{
      name: "h",
      type: "histogram",
      help: "",
      points: [{ labels: {}, upperBounds: [1], bucketCounts: [1], count: 1, sum: 1 }],
    }]),
    { message: 'worker "x": family "h" has a histogram point whose buckets do not end at +Inf' },
  );
  assert.throws(
    decode([{ name: "a", type: "gauge", help: "", points: [{ labels: { k: 1 }, value: 1 }] }]),
    { message: 'worker "x": family "a" has a point with a non-string label' },
  );
});

Deno.test("a worker's increments since a baseline: sums lose it, other values stay as they are", () => {
  const at = (jobs: number, bucket: number, count: number, workers: number, up: number) => [
    {
      type: "counter" as const,
      name: "jobs",
      help: "jobs",
      points: [{ labels: { path: "/" }, value: jobs }, { labels: { path: "/new" }, value: 2 }],
    },
    {
      type: "histogram" as const,
      name: "latency",
      help: "latency",
      points: [{
        labels: {},
        upperBounds: [1, Infinity],
        bucketCounts: [bucket, count],
        count,
        sum: count * 0.5,
      }],
    },
    {
      type: "gauge" as const,
      name: "workers",
      help: "workers",
      aggregate: "sum" as const,
      points: [{ labels: {}, value: workers }],
    },
    {
      type: "gauge" as const,
      name: "up",
      help: "up",
      aggregate: "livesum" as const,
      points: [{ labels: {}, value: up }],
    },
  ];
  const baseline: MetricFamily[] = at(5, 1, 2, 1, 1);
  baseline[0] = { ...baseline[0], points: baseline[0].points.slice(0, 1) } as MetricFamily;
  assert.deepEqual(subtractBaseline(at(8, 3, 5, 1, 1), baseline), [
    {
      type: "counter",
      name: "jobs",
      help: "jobs",
      points: [{ labels: { path: "/" }, value: 3 }, { labels: { path: "/new" }, value: 2 }],
    },
    {
      type: "histogram",
      name: "latency",
      help: "latency",
      points: [{
        labels: {},
        upperBounds: [1, Infinity],
        bucketCounts: [2, 3],
        count: 3,
        sum: 1.5,
      }],
    },
    {
      type: "gauge",
      name: "workers",
      help: "workers",
      aggregate: "sum",
      points: [{ labels: {}, value: 0 }],
    },
    {
      type: "gauge",
      name: "up",
      help: "up",
      aggregate: "livesum",
      points: [{ labels: {}, value: 1 }],
    },
  ]);
  // A count below its baseline (never from the same process) adds nothing rather than subtract.
  assert.equal(
    (subtractBaseline(at(1, 1, 2, 1, 1), baseline)[0].points[0] as { value: number }).value,
    0,
  );
});

Deno.test("merged (retired) data never replaces a worker's own series", () => {
  const seen = (value: number, labels: Record<string, string>) => ({
    type: "gauge" as const,
    name: "seen",
    help: "seen",
    points: [{ labels, value }],
  });
  const merged = mergeSnapshots([
    { worker: "a", live: true, families: [seen(2, {})] },
    { worker: "retired", live: false, merged: true, families: [seen(1, { worker: "a" })] },
  ]);
  assert.deepEqual(merged[0].points, [{ labels: { worker: "a" }, value: 2 }]);
});
