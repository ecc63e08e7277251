// The storage read interface (src/metrics/storage_read.ts, label_sets.ts): what every reader of
// built-in storage walks, and the layer rule that storage imports none of its readers.
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram } from "../../mod.ts";
import { storageOf } from "../../src/metrics/storage_read.ts";

Deno.test("storage read: a reader walks live slots, label values by id and numbers by layout", () => {
  const counter = new Counter({
    name: "jobs",
    help: "h",
    labelNames: ["queue", "state"],
    constLabels: { zone: "z1" },
    registry: null,
  });
  counter.labels("fast", "ok").inc(2);
  counter.labels('sl"ow', "ok").inc(5);
  counter.labels("fast", "failed").inc(1);
  counter.remove("fast", "ok");
  const storage = storageOf(counter)!;
  assert.equal(storage.name, "jobs");
  const layout = storage.layout;
  assert.equal(layout.type, "counter");
  if (layout.type !== "counter") return;
  const { labels, store } = storage.read();
  const seen: string[] = [];
  for (let slot = 0; slot < labels.slotCount; slot++) {
    if (!labels.isLive(slot)) continue;
    const values = [0, 1].map((position) =>
      labels.valuesByPosition[position][labels.seriesIds[slot * labels.width + position]]
    );
    const total = store.numbers[slot * layout.numberStride + layout.totalOffset];
    seen.push(`${values.join(",")}=${total}`);
  }
  // Creation order, the removed series left out; values as given (storage escapes nothing).
  assert.deepEqual(seen, ['sl"ow,ok=5', "fast,failed=1"]);
  assert.deepEqual(labels.shape.labelNames, ["queue", "state"]);
  assert.deepEqual(labels.shape.constLabels, { zone: "z1" });
  assert.deepEqual(labels.shape.sorted.map((label) => label.name), ["queue", "state", "zone"]);
  // A read is a moment: series made after it are not in it.
  counter.labels("new", "ok").inc();
  assert.equal(labels.slotCount, 3);
  assert.equal(storage.read().labels.slotCount, 4);
});

Deno.test("storage read: gauges and histograms expose their layouts; other types none", () => {
  const gauge = new Gauge({ name: "temp", help: "h", registry: null });
  gauge.set(21.5);
  const gaugeStorage = storageOf(gauge)!;
  const gaugeLayout = gaugeStorage.layout;
  assert.equal(gaugeLayout.type, "gauge");
  if (gaugeLayout.type === "gauge") {
    const { store } = gaugeStorage.read();
    assert.equal(store.numbers[gaugeLayout.valueOffset], 21.5);
  }
  const histogram = new Histogram({ name: "size", help: "h", buckets: [1, 10], registry: null });
  histogram.observe(5);
  const layout = storageOf(histogram)!.layout;
  assert.equal(layout.type, "histogram");
  if (layout.type === "histogram") assert.deepEqual(layout.upperBounds, [1, 10, Infinity]);
  assert.equal(storageOf({ collect: () => [] }), undefined);
});

Deno.test("layers: src/metrics/ imports nothing from exposition/, push/, http/ or workers/", async () => {
  const directory = new URL("../../src/metrics/", import.meta.url);
  const offending: string[] = [];
  for await (const entry of Deno.readDir(directory)) {
    if (!entry.name.endsWith(".ts")) continue;
    const source = await Deno.readTextFile(new URL(entry.name, directory));
    for (const match of source.matchAll(/from\s+"([^"]+)"/g)) {
      if (/^\.\.\/(exposition|push|http|workers)\//.test(match[1])) {
        offending.push(`${entry.name}: ${match[1]}`);
      }
    }
  }
  assert.deepEqual(offending, []);
});
