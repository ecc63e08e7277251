// Idle expiry: what leaves, what stays, how held children behave, and that the sweep runs on
// every read path and without any scrape.
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "../../mod.ts";
import { renderProtobuf } from "../../src/exposition/mod.ts";
import { useExpiryClock } from "../../src/metrics/series_expiry.ts";

/** Runs `body` with the sweeps' clock under the test's control. */
function withClock(body: (advance: (ms: number) => void) => void | Promise<void>) {
  return async () => {
    let now = 1_000_000;
    useExpiryClock(() => now);
    try {
      await body((ms) => now += ms);
    } finally {
      useExpiryClock(undefined);
    }
  };
}

Deno.test(
  "a scrape in any format expires idle series before it reads, without collect()",
  withClock(async (advance) => {
    const registry = new Registry({ expireAfterMs: 100 });
    const counter = new Counter({ name: "c_total", help: "h", labelNames: ["k"], registry });
    const histogram = new Histogram({ name: "h", help: "h", labelNames: ["k"], registry });
    counter.labels("idle").inc();
    histogram.labels("idle").observe(1);
    const busy = counter.labels("busy");
    busy.inc();
    assert.match(await registry.metrics(), /c_total\{k="idle"\}/); // first seen
    advance(60);
    busy.inc();
    await registry.metrics({ format: "openmetrics" });
    advance(60);
    busy.inc();
    const text = await registry.metrics();
    assert.doesNotMatch(text, /k="idle"/);
    assert.match(text, /c_total\{k="busy"\} 3/);
    const openMetrics = await registry.metrics({ format: "openmetrics" });
    assert.doesNotMatch(openMetrics, /k="idle"/);
    const protobuf = renderProtobuf(await registry.collect());
    assert.ok(!new TextDecoder().decode(protobuf).includes("idle"));
  }),
);

Deno.test(
  "a held child brings its expired series back from zero with a new _created; remove() detaches",
  withClock((advance) => {
    const counter = new Counter({
      name: "c_total",
      help: "h",
      labelNames: ["k"],
      registry: null,
      expireAfterMs: 100,
    });
    const held = counter.labels("a");
    held.inc(5);
    const created = held.created;
    counter.collect();
    advance(200);
    assert.deepEqual(counter.collect()[0].points, []);
    held.inc(2);
    const [point] = counter.collect()[0].points;
    assert.equal(point.value, 2);
    assert.ok(point.created! >= created);
    // The same label values reach the same series again.
    counter.labels("a").inc();
    assert.equal(counter.collect()[0].points[0].value, 3);
    // remove() is unchanged: a held child of a removed series counts apart, not shown.
    counter.remove("a");
    held.inc(10);
    assert.deepEqual(counter.collect()[0].points, []);
  }),
);

Deno.test(
  "gauges: any set keeps a series alive, a value function never expires; inc(0) is no update",
  withClock((advance) => {
    const gauge = new Gauge({
      name: "g",
      help: "h",
      labelNames: ["k"],
      registry: null,
      expireAfterMs: 100,
    });
    const counter = new Counter({
      name: "c_total",
      help: "h",
      labelNames: ["k"],
      registry: null,
      expireAfterMs: 100,
    });
    gauge.labels("same").set(1);
    gauge.labels("function").setFunction(() => 7);
    counter.labels("zero").inc();
    const sweep = () => [gauge.collect()[0].points, counter.collect()[0].points];
    sweep();
    for (let i = 0; i < 5; i++) {
      advance(60);
      gauge.labels("same").set(1);
      counter.labels("zero").inc(0);
      sweep();
    }
    const [gauges, counters] = sweep();
    assert.deepEqual(gauges.map((point) => point.labels.k), ["same", "function"]);
    assert.deepEqual(counters, []);
  }),
);

Deno.test("without any scrape, an unref'd timer expires idle series", async () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["k"],
    registry: null,
    expireAfterMs: 20,
  });
  const held = counter.labels("a");
  held.inc();
  const created = held.created;
  // Reading `created` of an expired series brings it back with a new creation time: poll it
  // (nothing else reads the metric) until the timer's sweeps expired it.
  const deadline = Date.now() + 10_000;
  while (held.created === created && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.notEqual(held.created, created);
});

Deno.test("expireAfterMs is checked", () => {
  assert.throws(() => new Registry({ expireAfterMs: 0 }), RangeError);
  assert.throws(
    () =>
      new Counter({ name: "x", help: "h", labelNames: ["k"], registry: null, expireAfterMs: -1 }),
    /expireAfterMs of metric "x"/,
  );
});
