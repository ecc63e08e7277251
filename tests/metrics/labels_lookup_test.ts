// The lookup behind labels(...), incWith and observeWith: one small function per label count
// (one to five labels), the same answers in every form, extra or missing keys refused even for
// a series that exists, and the one- and two-label finds of the index against a Map.
import assert from "node:assert/strict";
import { Counter, Histogram } from "../../mod.ts";
import { SeriesIndex } from "../../src/metrics/series_index.ts";

const NAMES = ["a", "b", "c", "d", "e"];

function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

for (let width = 1; width <= 5; width++) {
  const labelNames = NAMES.slice(0, width);
  Deno.test(`labels with ${width} label(s): object and positional forms reach the same series`, () => {
    const counter = new Counter({ name: "c_total", help: "h", labelNames, registry: null });
    const random = randomGenerator(width);
    const expected = new Map<string, number>();
    for (let step = 0; step < 3000; step++) {
      const values = labelNames.map((_, k) => `v${k}_${Math.floor(random() * 6)}`);
      const key = values.join("|");
      const object = Object.fromEntries(labelNames.map((name, k) => [name, values[k]]));
      // Alternate the forms, keys in reverse order half the time.
      if (step % 3 === 0) counter.labels(values[0], ...values.slice(1)).inc();
      else if (step % 3 === 1) {
        counter.labels(step % 2 ? object : Object.fromEntries(Object.entries(object).reverse()))
          .inc();
      } else counter.incWith(object);
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    for (const [key, total] of expected) {
      const values = key.split("|");
      const object = Object.fromEntries(labelNames.map((name, k) => [name, values[k]]));
      assert.equal(counter.labels(object).value, total, key);
      assert.equal(counter.labels(values[0], ...values.slice(1)).value, total, key);
    }
  });

  Deno.test(`labels with ${width} label(s): an extra or missing key is refused for an existing series`, () => {
    const counter = new Counter({ name: "c_total", help: "h", labelNames, registry: null });
    const histogram = new Histogram({ name: "h", help: "h", labelNames, registry: null });
    const object: Record<string, string> = Object.fromEntries(labelNames.map((n) => [n, "x"]));
    counter.labels(object).inc();
    histogram.observeWith(object, 1);
    // Once more, so that the child is among the recent ones (the path of a hit).
    counter.labels(object).inc();
    const extra = { ...object, z: "1" };
    assert.throws(() => counter.labels(extra), /unknown z/);
    assert.throws(() => counter.incWith(extra), /unknown z/);
    assert.throws(() => histogram.observeWith(extra, 1), /unknown z/);
    const missing = { ...object };
    delete missing[labelNames[width - 1]];
    assert.throws(() => counter.labels(missing), /missing/);
    assert.throws(() => counter.incWith(missing), /missing/);
    assert.equal(counter.labels(object).value, 2);
    assert.equal(histogram.labels(object).snapshot().count, 1);
  });
}

Deno.test("labels: numbers and booleans find the series of their string", () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["code", "ok"],
    registry: null,
  });
  counter.labels({ code: 200, ok: true }).inc();
  counter.labels(200, true).inc();
  counter.incWith({ code: "200", ok: "true" });
  assert.equal(counter.labels("200", "true").value, 3);
});

Deno.test("labels: a removed series is not found through the recent children", () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["a", "b"],
    registry: null,
  });
  const old = counter.labels({ a: "1", b: "2" });
  old.inc(5);
  assert.equal(counter.labels({ a: "1", b: "2" }), old);
  counter.remove({ a: "1", b: "2" });
  const renewed = counter.labels({ a: "1", b: "2" });
  assert.notEqual(renewed, old);
  assert.equal(renewed.value, 0);
  counter.incWith({ a: "1", b: "2" }, 2);
  assert.equal(renewed.value, 2);
  assert.equal(old.value, 5);
});

Deno.test("labels: past the quick lookup, a new child is made once, also right after clear() and compaction", () => {
  // Everything past the quick lookup (new series, values turned into strings, a series not
  // among the recent children) is one call that makes and remembers the child: the child
  // handed back must be the one remembered, also when that call replaced the recent children
  // (the first child of a table, the first after clear() or compaction).
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["code", "ok"],
    registry: null,
  });
  const first = counter.labels({ code: 200, ok: true });
  first.inc();
  assert.equal(counter.labels("200", "true"), first);
  assert.equal(counter.labels(200, true), first);
  counter.incWith({ code: 200, ok: true }, 2);
  assert.equal(first.value, 3);
  for (let round = 0; round < 3; round++) {
    counter.clear();
    const made = counter.labels(404, false);
    assert.notEqual(made, first);
    made.inc(round + 1);
    assert.equal(counter.labels({ code: "404", ok: "false" }), made);
    assert.equal(counter.labels({ code: "404", ok: "false" }).value, round + 1);
  }
  // Compaction (enough removals) replaces the recent children too.
  for (let i = 0; i < 100; i++) counter.labels(i, true).inc();
  for (let i = 0; i < 100; i++) counter.remove(i, true);
  const afterCompaction = counter.labels(7, false);
  afterCompaction.inc(4);
  assert.equal(counter.labels("7", "false").value, 4);
  assert.deepEqual(afterCompaction.labels, { code: "7", ok: "false" });
  // Wrong labels past the quick lookup still throw and create nothing.
  assert.throws(() => counter.labels({ code: 1, ok: true, extra: "x" }), TypeError);
  assert.throws(() => counter.incWith({ code: 1 }), TypeError);
  assert.throws(() => counter.labels(1), TypeError);
});

for (const width of [1, 2]) {
  Deno.test(`series index: find${width === 1 ? "One" : "Two"} answers like a Map through removal and compaction`, () => {
    const random = randomGenerator(7 + width);
    const index = new SeriesIndex(NAMES.slice(0, width));
    const expected = new Map<string, number>();
    const find = (ids: number[]) =>
      width === 1 ? index.findOne(ids[0]) : index.findTwo(ids[0], ids[1]);
    for (let step = 0; step < 20_000; step++) {
      const values = Array.from({ length: width }, () => String(Math.floor(random() * 90)));
      const key = values.join("|");
      const ids = values.map((value, position) => index.idOf(position, value));
      const slot = ids.some((id) => id < 0) ? -1 : find(ids);
      assert.equal(slot, expected.get(key) ?? -1, `lookup of ${key} at step ${step}`);
      assert.equal(slot, index.findValues(values));
      if (slot < 0) {
        expected.set(key, index.add(values));
      } else if (random() < 0.4) {
        index.remove(slot);
        expected.delete(key);
        if (index.needsCompaction()) {
          const { forwarding } = index.compact();
          for (const [k, old] of expected) expected.set(k, forwarding[old]);
        }
      }
    }
  });
}

Deno.test("labels: a new series is made once from its values turned into strings, and wrong labels are refused", () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["a", "b"],
    registry: null,
  });
  // New values, given as numbers and booleans, in each form: one series per label set.
  counter.labels(1, true).inc();
  counter.labels({ a: 1, b: "true" }).inc();
  counter.incWith({ a: "1", b: true });
  counter.labels(2, "x").inc();
  counter.labels("2", "x").inc();
  // A value with a lone surrogate finds the series of its well-formed spelling, also when the
  // other value is new at its position and when both are.
  counter.labels("\ufffd", "y").inc();
  counter.labels("\ud800", "y").inc();
  counter.labels({ a: "\udbff", b: "y" }).inc();
  counter.incWith({ a: "\udfff", b: "y" });
  counter.labels("z\ud800", "w\udc00").inc();
  counter.labels("z\ufffd", "w\ufffd").inc();
  assert.deepEqual(
    counter.collect()[0].points.map((point) => [point.labels.a, point.labels.b, point.value]),
    [["1", "true", 3], ["2", "x", 2], ["\ufffd", "y", 4], ["z\ufffd", "w\ufffd", 2]],
  );
  // Wrong labels are refused before a series is made: a missing, inherited or extra key, a
  // value of another type, a wrong count.
  const inherited = Object.assign(Object.create({ a: "new" }), { b: "new" });
  for (
    const wrong of [
      () => counter.labels({ a: "new" } as never),
      () => counter.labels(inherited),
      () => counter.labels({ a: "new", b: "new", c: "new" } as never),
      () => counter.labels({ a: "new", b: null } as never),
      () => counter.incWith({ a: "new", b: {} } as never),
      () => counter.labels("new" as never),
      () => counter.labels("new", "new", "new" as never),
    ]
  ) assert.throws(wrong, TypeError);
  assert.equal(counter.collect()[0].points.length, 4);
});
