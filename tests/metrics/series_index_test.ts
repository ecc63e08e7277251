import assert from "node:assert/strict";
import { SeriesIndex } from "../../src/metrics/series_index.ts";
import { formatLabels, formatLabelsSplit } from "../../src/exposition/format.ts";

/** A small deterministic generator, so that a failure repeats. */
function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

Deno.test("series index: adds, finds and removes like a Map, through growth and compaction", () => {
  const random = randomGenerator(42);
  const index = new SeriesIndex(["method", "route", "code"]);
  // label set key → slot, kept next to the index as the expected answer
  const expected = new Map<string, number>();
  const valuesOf = (key: string) => key.split("|");
  let compactions = 0;
  for (let step = 0; step < 20_000; step++) {
    const key = [
      "m" + Math.floor(random() * 5),
      "/r/" + Math.floor(random() * 60),
      String(200 + Math.floor(random() * 4)),
    ].join("|");
    const slot = index.findValues(valuesOf(key));
    assert.equal(slot, expected.get(key) ?? -1, `lookup of ${key} at step ${step}`);
    if (slot < 0) {
      expected.set(key, index.add(valuesOf(key)));
    } else if (random() < 0.45) {
      index.remove(slot);
      expected.delete(key);
      if (index.needsCompaction()) {
        const { forwarding, slotCount } = index.compact();
        compactions++;
        for (const [liveKey, oldSlot] of expected) expected.set(liveKey, forwarding[oldSlot]);
        assert.equal(slotCount, expected.size);
      }
    }
  }
  assert.ok(compactions > 0, "the run went through compaction");
  const live = index.liveSlots();
  assert.equal(live.length, expected.size);
  for (const [key, slot] of expected) {
    const [method, route, code] = valuesOf(key);
    assert.deepEqual(index.labelsOf(slot), { method, route, code });
  }
});

Deno.test("series index: labels carry their sorted, escaped text; removed labels survive compaction", () => {
  const index = new SeriesIndex(["zone", "app"]);
  const first = index.add(['eu "west"', "a\\b"]);
  const second = index.add(["us", "line\nbreak"]);
  const labels = index.labelsOf(first);
  assert.deepEqual(labels, { zone: 'eu "west"', app: "a\\b" });
  assert.deepEqual(Object.keys(labels), ["zone", "app"], "no hidden key shows");
  assert.equal(formatLabels(labels), '{app="a\\\\b",zone="eu \\"west\\""}');
  assert.equal(formatLabels({ ...labels }), '{app="a\\\\b",zone="eu \\"west\\""}');
  index.remove(first);
  index.remove(first); // already removed: left alone
  assert.equal(index.findValues(["us", "line\nbreak"]), second);
  const { forwarding, labelsOfRemoved } = index.compact();
  assert.deepEqual([...forwarding], [-1, 0]);
  assert.equal(second, 1);
  assert.deepEqual(labelsOfRemoved(0), { zone: 'eu "west"', app: "a\\b" });
  assert.equal(index.findValues(['eu "west"', "a\\b"]), -1);
  assert.equal(index.idOf(0, 'eu "west"'), -1, "values no series uses are forgotten");
  assert.equal(formatLabels(index.labelsOf(0)), '{app="line\\nbreak",zone="us"}');
});

Deno.test("series index: label text split around an extra label, wherever it sorts", () => {
  const index = new SeriesIndex(["zone", "app"]);
  const labels = index.labelsOf(index.add(['eu "west"', "a\\b"]));
  const around = (extraName: string) => {
    const { before, after } = formatLabelsSplit(labels, extraName);
    return before + "X" + after;
  };
  assert.equal(around("le"), '{app="a\\\\b",le="X",zone="eu \\"west\\""}');
  assert.equal(around("a"), '{a="X",app="a\\\\b",zone="eu \\"west\\""}');
  assert.equal(around("zz"), '{app="a\\\\b",zone="eu \\"west\\"",zz="X"}');
  assert.equal(
    around("app"),
    '{app="X",zone="eu \\"west\\""}',
    "a label of the same name is replaced",
  );
  const unlabelled = new SeriesIndex([]);
  const none = unlabelled.labelsOf(unlabelled.add([]));
  assert.equal(formatLabels(none), "");
  assert.deepEqual(formatLabelsSplit(none, "le"), { before: '{le="', after: '"}' });
});

Deno.test("series index: a label with more than 65,536 values widens the ids; creation numbers identify series", () => {
  const index = new SeriesIndex(["user", "kind"]);
  const count = 70_000;
  for (let i = 0; i < count; i++) index.add([`u${i}`, i % 2 === 0 ? "a" : "b"]);
  for (const i of [0, 1, 65_535, 65_536, 65_537, count - 1]) {
    const slot = index.findValues([`u${i}`, i % 2 === 0 ? "a" : "b"]);
    assert.equal(slot, i, `u${i}`);
    assert.deepEqual(index.labelsOf(slot), { user: `u${i}`, kind: i % 2 === 0 ? "a" : "b" });
    assert.equal(index.slotOfSeq(index.seqOf(slot)), slot);
  }
  const seqOfLast = index.seqOf(count - 1);
  const seqOfFirst = index.seqOf(0);
  for (let i = 0; i < count - 10; i++) index.remove(i);
  assert.equal(index.slotOfSeq(seqOfFirst), -1, "a removed series is not found");
  assert.ok(index.needsCompaction());
  index.compact(); // ten left: back to two-byte ids
  assert.equal(index.slotOfSeq(seqOfLast), 9, "the last series moved to slot 9");
  assert.equal(index.slotOfSeq(seqOfFirst), -1);
  assert.equal(index.findValues([`u${count - 1}`, "b"]), 9);
  assert.deepEqual(index.labelsOf(9), { user: `u${count - 1}`, kind: "b" });
  assert.equal(index.add([`u${count}`, "a"]), 10);
  assert.equal(index.findValues([`u${count}`, "a"]), 10);
});
