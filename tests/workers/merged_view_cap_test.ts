// The merged view of several workers is capped like a metric: past maxSeriesPerMetric, label
// sets go to the overflow series, totals intact, the choice deterministic and stable.
import assert from "node:assert/strict";
import type { CounterFamily, GaugeFamily } from "../../src/exposition/mod.ts";
import { MergedSeriesChoice, mergeSnapshots } from "../../src/workers/mod.ts";

const counter = (values: Record<string, number>, extra: Record<string, string> = {}) => ({
  type: "counter" as const,
  name: "requests",
  help: "h",
  points: Object.entries(values).map(([path, value]) => ({
    labels: { path, app: "shop", ...extra },
    value,
  })),
});

Deno.test("the merged view keeps maxSeriesPerMetric label sets; the others go to the overflow", () => {
  const merged = mergeSnapshots([
    { worker: "a", live: true, families: [counter({ "/a": 1, "/c": 2, "/e": 3 })] },
    { worker: "b", live: true, families: [counter({ "/b": 10, "/d": 20, "/a": 100 })] },
  ], { maxSeriesPerMetric: 2 });
  const points = (merged[0] as CounterFamily).points;
  assert.deepEqual(points.map((point) => [point.labels, point.value]), [
    [{ path: "/a", app: "shop" }, 101],
    [{ app: "shop", "otel.metric.overflow": "true" }, 25],
    [{ path: "/b", app: "shop" }, 10],
  ]);
});

Deno.test("a worker's own overflow series and the merged one are one series", () => {
  const overflow = { labels: { app: "shop", "otel.metric.overflow": "true" }, value: 7 };
  const withOverflow = {
    ...counter({ "/x": 1 }),
    points: [...counter({ "/x": 1 }).points, overflow],
  };
  const merged = mergeSnapshots([
    { worker: "a", live: true, families: [withOverflow] },
    { worker: "b", live: true, families: [counter({ "/y": 2, "/z": 4 })] },
  ], { maxSeriesPerMetric: 2 });
  const points = (merged[0] as CounterFamily).points;
  assert.equal(points.length, 3);
  assert.equal(points.find((point) => point.labels["otel.metric.overflow"])?.value, 11);
  assert.equal(points.reduce((sum, point) => sum + point.value, 0), 14);
});

Deno.test("with a MergedSeriesChoice, the label sets kept stay kept from merge to merge", () => {
  const choice = new MergedSeriesChoice();
  const options = { maxSeriesPerMetric: 2, mergedSeries: choice };
  const first = mergeSnapshots([
    { worker: "a", live: true, families: [counter({ "/m": 1, "/n": 1 })] },
  ], options);
  assert.deepEqual((first[0] as CounterFamily).points.map((point) => point.labels.path), [
    "/m",
    "/n",
  ]);
  // "/a" sorts first, but "/m" and "/n" were kept before: "/a" goes to the overflow.
  const second = mergeSnapshots([
    { worker: "a", live: true, families: [counter({ "/a": 5, "/m": 2, "/n": 2 })] },
  ], options);
  assert.deepEqual(
    (second[0] as CounterFamily).points.map((point) => point.labels.path ?? "overflow"),
    ["overflow", "/m", "/n"],
  );
  // Without the choice the order decides, the same at every call.
  const plain = mergeSnapshots([
    { worker: "a", live: true, families: [counter({ "/a": 5, "/m": 2, "/n": 2 })] },
  ], { maxSeriesPerMetric: 2 });
  assert.deepEqual(
    (plain[0] as CounterFamily).points.map((point) => point.labels.path ?? "overflow"),
    ["/a", "/m", "overflow"],
  );
});

Deno.test("gauges fold by their aggregate mode; the default cap is 10 000", () => {
  const gauge = (values: Record<string, number>): GaugeFamily => ({
    type: "gauge",
    name: "depth",
    help: "h",
    aggregate: "sum",
    points: Object.entries(values).map(([queue, value]) => ({ labels: { queue }, value })),
  });
  const merged = mergeSnapshots([
    { worker: "a", live: true, families: [gauge({ q1: 1, q2: 2, q3: 3 })] },
    { worker: "b", live: true, families: [gauge({ q3: 30 })] },
  ], { maxSeriesPerMetric: 1 });
  assert.deepEqual((merged[0] as GaugeFamily).points.map((point) => point.value), [1, 35]);
  const many: Record<string, number> = {};
  for (let i = 0; i < 10_005; i++) many["/" + i] = 1;
  const big = mergeSnapshots([{ worker: "a", live: true, families: [counter(many)] }]);
  assert.equal((big[0] as CounterFamily).points.length, 10_001);
});

Deno.test("a series expired in one worker keeps its last values while another has it", () => {
  const mergedSeries = new MergedSeriesChoice();
  const merge = (a: Record<string, number>, b: Record<string, number>) =>
    (mergeSnapshots([
      { worker: "a", live: true, families: [counter(a)] },
      { worker: "b", live: true, families: [counter(b)] },
    ], { mergedSeries })[0] as CounterFamily).points.map((
      point,
    ) => [point.labels.path, point.value]);
  assert.deepEqual(merge({ "/x": 5, "/y": 1 }, { "/x": 2 }), [["/x", 7], ["/y", 1]]);
  // "/x" expired in worker a: the merged counter does not go back.
  assert.deepEqual(merge({ "/y": 2 }, { "/x": 3 }), [["/y", 2], ["/x", 8]]);
  // Expired in every worker: gone from the merged view.
  assert.deepEqual(merge({ "/y": 2 }, {}), [["/y", 2]]);
  assert.deepEqual(merge({ "/y": 2 }, { "/x": 1 }), [["/y", 2], ["/x", 1]]);
});
