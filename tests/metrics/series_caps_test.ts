// Caps on a metric's series: past `maxSeries`, new label sets go to one overflow series.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Registry,
  SeriesOverflowError,
  Summary,
} from "../../mod.ts";

Deno.test("past maxSeries a new label set is recorded into one overflow series", async () => {
  const registry = new Registry({ onError: () => {} });
  const counter = new Counter({
    name: "logins_total",
    help: "logins",
    labelNames: ["user"],
    constLabels: { app: "shop" },
    maxSeries: 2,
    registry,
  });
  counter.labels("ann").inc();
  counter.labels({ user: "bob" }).inc(2);
  counter.labels("cid").inc(3);
  counter.incWith({ user: "dan" }, 4);
  counter.labels("ann").inc();
  assert.equal(
    await registry.metrics(),
    [
      "# HELP logins_total logins",
      "# TYPE logins_total counter",
      'logins_total{app="shop",user="ann"} 2.0',
      'logins_total{app="shop",user="bob"} 2.0',
      'logins_total{app="shop",otel_metric_overflow="true"} 7.0',
      "",
    ].join("\n"),
  );
  const points = counter.collect()[0].points;
  assert.deepEqual(points.map((point) => point.labels), [
    { user: "ann", app: "shop" },
    { user: "bob", app: "shop" },
    { app: "shop", "otel.metric.overflow": "true" },
  ]);
  // The total over every series is what was recorded.
  assert.equal(points.reduce((sum, point) => sum + point.value, 0), 11);
});

Deno.test("the overflow label is escaped per the negotiated scheme", async () => {
  const registry = new Registry({ maxSeriesPerMetric: 1, onError: () => {} });
  const gauge = new Gauge({ name: "depth", help: "h", labelNames: ["queue"], registry });
  gauge.labels("a").set(1);
  gauge.labels("b").set(5);
  gauge.labels("c").set(7);
  const text = await registry.metrics({ format: "openmetrics", escaping: "allow-utf-8" });
  assert.match(text, /^depth\{"otel.metric.overflow"="true"\} 7(\.0)?$/m);
  // A gauge's overflow series holds the last value set into it.
  assert.match(await registry.metrics(), /^depth\{otel_metric_overflow="true"\} 7.0$/m);
});

Deno.test("the first overflow is reported once, to onError or as one console.warn", () => {
  const seen: SeriesOverflowError[] = [];
  const registry = new Registry({ maxSeriesPerMetric: 1, onError: (error) => seen.push(error) });
  const counter = new Counter({ name: "a_total", help: "h", labelNames: ["k"], registry });
  for (const k of ["1", "2", "3", "4"]) counter.labels(k).inc();
  assert.equal(seen.length, 1);
  assert.ok(seen[0] instanceof SeriesOverflowError);
  assert.equal(seen[0].metricName, "a");
  assert.equal(seen[0].maxSeries, 1);
  assert.match(seen[0].message, /"a".*1 series/);
  const warnings: unknown[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
  try {
    const own: SeriesOverflowError[] = [];
    const viaOwn = new Gauge({
      name: "g",
      help: "h",
      labelNames: ["k"],
      maxSeries: 1,
      registry,
      onError: (error) => own.push(error),
    });
    viaOwn.labels("1").set(1);
    viaOwn.labels("2").set(1);
    assert.equal(own.length, 1);
    const quiet = new Gauge({
      name: "q",
      help: "h",
      labelNames: ["k"],
      maxSeries: 1,
      registry: null,
    });
    for (const k of ["1", "2", "3"]) quiet.labels(k).set(1);
  } finally {
    console.warn = warn;
  }
  assert.equal(warnings.length, 1);
  assert.match(String(warnings[0]), /metric "q" reached its cap of 1 series/);
});

Deno.test("the default cap is 10 000 series, also with registry: null; Infinity turns it off", () => {
  const quiet = { onError: () => {} };
  const capped = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["k"],
    registry: null,
    ...quiet,
  });
  const free = new Counter({
    name: "d_total",
    help: "h",
    labelNames: ["k"],
    registry: null,
    maxSeries: Infinity,
  });
  for (let i = 0; i < 10_005; i++) {
    capped.labels(String(i)).inc();
    free.labels(String(i)).inc();
  }
  assert.equal(capped.collect()[0].points.length, 10_001);
  assert.equal(free.collect()[0].points.length, 10_005);
  const registry = new Registry({ maxSeriesPerMetric: 3 });
  const own = new Counter({
    name: "e_total",
    help: "h",
    labelNames: ["k"],
    maxSeries: 5,
    registry,
    ...quiet,
  });
  for (let i = 0; i < 9; i++) own.labels(String(i)).inc();
  assert.equal(own.collect()[0].points.length, 6);
  assert.throws(() => new Registry({ maxSeriesPerMetric: 0 }), RangeError);
  assert.throws(
    () => new Counter({ name: "f", help: "h", labelNames: ["k"], maxSeries: 1.5, registry: null }),
    /maxSeries of metric "f"/,
  );
});

Deno.test("histogram totals over all series equal what was observed; le still applies", async () => {
  const registry = new Registry({ maxSeriesPerMetric: 1, onError: () => {} });
  const histogram = new Histogram({
    name: "h",
    help: "h",
    labelNames: ["k"],
    buckets: [1],
    registry,
  });
  histogram.labels("a").observe(0.5);
  histogram.labels("b").observe(2);
  histogram.labels("c").observe(0.25);
  const text = await registry.metrics();
  assert.match(text, /^h_bucket\{le="1.0",otel_metric_overflow="true"\} 1.0$/m);
  assert.match(text, /^h_count\{otel_metric_overflow="true"\} 2.0$/m);
  assert.match(text, /^h_sum\{otel_metric_overflow="true"\} 2.25$/m);
  const summary = new Summary({ name: "s", help: "h", labelNames: ["k"], registry, maxSeries: 1 });
  summary.labels("a").observe(1);
  summary.labels("b").observe(2);
  assert.match(await registry.metrics(), /^s_count\{otel_metric_overflow="true"\} 1.0$/m);
  const state = new Enum({
    name: "st",
    help: "h",
    labelNames: ["k"],
    states: ["up", "down"],
    registry,
  });
  state.labels("a").state("up");
  state.labels("b").state("down");
  assert.match(await registry.metrics(), /^st\{otel_metric_overflow="true",st="down"\} 1.0$/m);
});

Deno.test("remove() of an overflowed label set is a no-op; the overflow series stays until clear()", () => {
  const counter = new Counter({
    name: "r_total",
    help: "h",
    labelNames: ["k"],
    maxSeries: 1,
    registry: null,
    onError: () => {},
  });
  counter.labels("a").inc();
  counter.labels("b").inc(5);
  counter.remove("b");
  counter.remove("a");
  let points = counter.collect()[0].points;
  assert.deepEqual(points.map((point) => [point.labels["otel.metric.overflow"], point.value]), [
    ["true", 5],
  ]);
  // With room again, a new label set gets its own series; the overflow series stays.
  counter.labels("c").inc(2);
  points = counter.collect()[0].points;
  assert.deepEqual(points.map((point) => point.value), [5, 2]);
  counter.clear();
  assert.equal(counter.collect()[0].points.length, 0);
  counter.labels("d").inc();
  assert.deepEqual(counter.collect()[0].points.map((point) => point.labels), [{ k: "d" }]);
});

Deno.test("the overflow label cannot be declared", () => {
  assert.throws(
    () =>
      new Counter({ name: "x", help: "h", labelNames: ["otel.metric.overflow"], registry: null }),
    /reserved for the overflow series/,
  );
  assert.throws(
    () =>
      new Counter({
        name: "y",
        help: "h",
        constLabels: { "otel.metric.overflow": "true" },
        registry: null,
      }),
    /reserved/,
  );
});

Deno.test("a held child of the overflow series follows it through compaction", () => {
  const counter = new Counter({
    name: "m_total",
    help: "h",
    labelNames: ["k"],
    maxSeries: 40,
    registry: null,
    onError: () => {},
  });
  for (let i = 0; i < 40; i++) counter.labels(String(i)).inc();
  const overflowChild = counter.labels("x");
  overflowChild.inc(10);
  for (let i = 0; i < 30; i++) counter.remove(String(i)); // compacts
  overflowChild.inc(1);
  counter.labels("y").inc(1); // room again: its own series
  const points = counter.collect()[0].points;
  const overflow = points.find((point) => point.labels["otel.metric.overflow"] === "true");
  assert.equal(overflow?.value, 11);
  assert.deepEqual(overflowChild.labels, { "otel.metric.overflow": "true" });
  assert.equal(points.length, 12);
});
