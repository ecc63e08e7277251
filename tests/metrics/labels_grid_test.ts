// The quick ways of labels(...): the grid of ids that finds the series of a one- or two-label
// metric while it is no larger than the hash table would be, and its switches to the hash
// table and back; answers compared with a Map at every step.
import assert from "node:assert/strict";
import { Counter } from "../../mod.ts";
import { SeriesIndex } from "../../src/metrics/series_index.ts";

/** Looks `values` up as `labels(...)` does (string values), or -1. */
function find(index: SeriesIndex, values: readonly string[]): number {
  return values.length === 1 ? index.slotOfOne(values[0]) : index.slotOfTwo(values[0], values[1]);
}

/** Checks every expected label set, and that the absent ones among `absent` are not found. */
function checkAll(index: SeriesIndex, expected: Map<string, number>, absent: string[][]): void {
  for (const [key, slot] of expected) {
    const values = key.split("|");
    assert.equal(find(index, values), slot, `lookup of ${key}`);
    assert.equal(index.findValues(values), slot);
  }
  // (With one label, some of the candidates given exist: those are checked above.)
  const missing = absent.filter((values) => !expected.has(values.join("|")));
  assert.ok(missing.length > 0 || absent.length === 0);
  for (const values of missing) assert.equal(find(index, values), -1, `${values} is absent`);
}

for (const width of [1, 2]) {
  Deno.test(`labels grid (${width} label(s)): dense series use it, sparse ones the hash table, with the same answers`, () => {
    const index = new SeriesIndex(width === 1 ? ["a"] : ["a", "b"]);
    const expected = new Map<string, number>();
    const add = (values: string[]) => expected.set(values.join("|"), index.add(values));
    const valuesOf = (i: number, j: number) => width === 1 ? [`v${i}`] : [`m${i}`, `r${j}`];

    // Dense: every combination of 8 × 8 values (8 values with one label).
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < (width === 1 ? 1 : 8); j++) add(valuesOf(i, j));
    }
    assert.equal(index.usesGrid, true, "dense series are found in the grid");
    checkAll(index, expected, [valuesOf(8, 0), valuesOf(1000, 1000)]);

    if (width === 2) {
      // 56 more routes for one method: a grid of 8 × 64 cells, twice the hash table's 256.
      for (let j = 8; j < 64; j++) add(valuesOf(0, j));
      assert.equal(index.usesGrid, false, "a grid larger than the hash table is not used");
      checkAll(index, expected, [valuesOf(1, 9), valuesOf(0, 64)]);
    }

    // Sparse: each new value used once, on the diagonal; the grid would outgrow the table.
    for (let i = 8; i < 400; i++) add(valuesOf(i, i));
    assert.equal(
      index.usesGrid,
      width === 1,
      "with two labels, sparse series go to the hash table",
    );
    checkAll(index, expected, [valuesOf(3, 9), valuesOf(400, 400)]);

    // Removing the sparse ones and compacting makes the series dense again.
    for (const [key, slot] of [...expected]) {
      if (slot >= (width === 1 ? 8 : 64) || (width === 2 && key.startsWith("m0|"))) {
        index.remove(slot);
        index.remove(slot); // a second remove changes nothing
        expected.delete(key);
      }
    }
    checkAll(index, expected, [valuesOf(9, 9), valuesOf(200, 200)]);
    assert.ok(index.needsCompaction());
    const { forwarding } = index.compact();
    for (const [key, slot] of expected) expected.set(key, forwarding[slot]);
    assert.equal(index.usesGrid, true, "compacted dense series are found in the grid again");
    checkAll(index, expected, [valuesOf(9, 9), valuesOf(200, 200)]);

    // A removed series is gone from the grid; the same labels make a new series.
    const [firstKey, firstSlot] = [...expected][0];
    index.remove(firstSlot);
    assert.equal(find(index, firstKey.split("|")), -1);
    expected.set(firstKey, index.add(firstKey.split("|")));
    index.remove(firstSlot); // the old series again: the new one, in the same cell, stays
    checkAll(index, expected, []);

    index.removeAll();
    checkAll(index, new Map(), [...expected.keys()].map((key) => key.split("|")));
  });
}

Deno.test("labels grid: the quick lookups find strings only; labels(...) turns numbers and booleans into strings", () => {
  const index = new SeriesIndex(["code", "ok"]);
  const slot = index.add(["200", "true"]);
  assert.equal(index.slotOfTwo("200", "true"), slot);
  assert.equal(index.slotOfTwo(200, true), -1, "the quick lookup leaves numbers to its caller");
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["code", "ok"],
    registry: null,
  });
  const child = counter.labels({ code: "200", ok: "true" });
  assert.equal(counter.labels({ code: 200, ok: true }), child, "a recent child, found by number");
  assert.equal(counter.labels(200, true), child);
  counter.incWith({ code: 200, ok: true }, 2);
  assert.equal(child.value, 2);
});

Deno.test("labels: wrong labels of a series that does not exist are refused and create nothing", () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["a", "b"],
    registry: null,
  });
  counter.labels("1", "2").inc();
  assert.throws(() => counter.labels({ a: "new", b: "x", z: "1" }), /unknown z/);
  assert.throws(() => counter.incWith({ a: "new", b: "x", z: "1" }), /unknown z/);
  assert.throws(() => counter.labels({ a: "new" }), /missing b/);
  assert.throws(() => counter.labels("new"), /got 1 value/);
  assert.throws(() => counter.labels("new", "x", "y"), /got 3 values/);
  assert.throws(() => counter.labels({ a: "1", b: "2" }, "x"), /extra positional values/);
  // @ts-expect-error: no labels at all
  assert.throws(() => counter.labels(), /got 1 value/);
  assert.equal(counter.collect()[0].points.length, 1, "no series was made");
});
