// Memory of the series lifecycle: the default cap bounds a metric fed a million distinct label
// values, and series that expire give their memory back. Measured in a child process with a
// forced GC.
import assert from "node:assert/strict";
import { HEAP_USAGE, runMeasuringScript } from "../support/process.ts";

const MOD_URL = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);
const EXPIRY_URL = JSON.stringify(
  new URL("../../src/metrics/series_expiry.ts", import.meta.url).href,
);
const MB = 1024 * 1024;

Deno.test("under the default cap, 1M distinct label values grow the heap by less than 15 MB", async () => {
  const result = await runMeasuringScript(`
    import { Counter } from ${MOD_URL};
    ${HEAP_USAGE}
    const before = usage();
    const counter = new Counter({
      name: "by_session_total", help: "h", labelNames: ["session"], registry: null,
      onError: () => {},
    });
    for (let i = 0; i < 1_000_000; i++) counter.labels("session-" + i).inc();
    const after = usage();
    const points = counter.collect()[0].points;
    console.log(JSON.stringify({
      grown: after - before,
      series: points.length,
      total: points.reduce((sum, point) => sum + point.value, 0),
    }));
  `);
  assert.equal(result.series, 10_001);
  assert.equal(result.total, 1_000_000);
  assert.ok(result.grown < 15 * MB, `grew ${result.grown} bytes`);
});

Deno.test("200k series that expire give their memory back (within 10 MB of the start)", async () => {
  const result = await runMeasuringScript(`
    import { Counter, Gauge, Histogram } from ${MOD_URL};
    import { useExpiryClock } from ${EXPIRY_URL};
    ${HEAP_USAGE}
    let now = 0;
    useExpiryClock(() => now);
    const options = {
      help: "h", labelNames: ["id"], registry: null, maxSeries: Infinity, expireAfterMs: 1000,
    };
    const counter = new Counter({ name: "c_total", ...options });
    const gauge = new Gauge({ name: "g", ...options });
    const histogram = new Histogram({ name: "h", ...options });
    const held = counter.labels("held");
    held.inc();
    const metrics = [counter, gauge, histogram];
    for (const metric of metrics) metric.collect();
    const before = usage();
    for (let i = 0; i < 200_000; i++) {
      const id = String(i);
      counter.labels(id).inc();
      gauge.labels(id).set(i);
      histogram.labels(id).observe(i);
    }
    const peak = usage();
    // Two sweeps: the first sees the series, the second, past expireAfterMs, expires them.
    now += 500;
    for (const metric of metrics) metric.collect();
    now += 1500;
    for (const metric of metrics) metric.collect();
    // A child holds the storage of its last use until its next one (see src/metrics/handle.ts):
    // this update brings its series back and lets go of the storage of the 200k series.
    held.inc();
    const after = usage();
    console.log(JSON.stringify({
      peak: peak - before,
      retained: after - before,
      left: metrics.map((metric) => metric.collect()[0].points.length),
    }));
  `);
  assert.ok(result.peak > 20 * MB, `the series took ${result.peak} bytes at their peak`);
  assert.ok(result.retained < 10 * MB, `retained ${result.retained} bytes after expiry`);
  assert.deepEqual(result.left, [1, 0, 0]);
});
