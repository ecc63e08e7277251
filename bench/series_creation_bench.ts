/**
 * The cost of creating a series, which idle expiry makes recurring: a long-lived metric whose
 * series come and go, against a long-lived lean store of the same data (the joined label
 * values as a `Map` key, the value in a typed-array slot). `deno bench` prints the ratio.
 *
 * What one measured call does, on either side: make 10,000 series (two labels: eight methods
 * and 10,000 ids) and add one to each. Before it, outside the measured part
 * (`b.start()`/`b.end()`), the store is emptied: `clear()` of the metric, a cleared `Map` and
 * a new small array for the lean store, so that each side grows its storage again as it would
 * from empty.
 *
 * The label values have the same texts each time, as after an expiry (the label sets that
 * come back are mostly known ones), but are new strings each time, made outside the measured
 * part, as values parsed from requests are: neither side finds their hash already computed,
 * and a long-lived store that keeps them keeps young strings (the lean store's joined keys are
 * new strings anyway). Known texts are not a cheaper case for the metric: emptying it forgets
 * the values no series uses any more, so each value is a new entry of its label's dictionary
 * again, as a never-seen value would be.
 *
 * `deno bench` runs the cases one after another and reports means, which a loaded machine and
 * garbage collection pauses move a lot (one case may run while another process is busy, and a
 * pause lands in whichever case is running). So the module also prints ratios measured its own
 * way: the cases interleaved round by round in one process, CPU time of the measured parts
 * only (not wall time), the median and the minimum of 15 rounds.
 *
 * Run: `deno bench --allow-all bench/series_creation_bench.ts`
 *
 * @module
 */

import process from "node:process";
import { Counter } from "../mod.ts";

/** Series created per measured call. */
const SERIES = 10_000;
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
/**
 * The id values, made anew (the same texts, new strings) before each measured call, outside
 * it: label values arrive as new strings (parsed from a request, say), which neither side has
 * hashed yet and which are young when a long-lived store keeps them.
 */
let ids: string[] = [];
function newIds(): void {
  ids = Array.from({ length: SERIES }, (_, i) => `/users/${i}`);
}

/** The lean store: the joined label values as a `Map` key, the value in a typed-array slot. */
class LeanStore {
  readonly slots = new Map<string, number>();
  values = new Float64Array(8);

  /** Empties it, back to the size it starts with. */
  clear(): void {
    this.slots.clear();
    this.values = new Float64Array(8);
  }

  /** Adds `amount` to the series of these label values, making it on first use. */
  inc(method: string, id: string, amount: number): void {
    const key = method + "\u0000" + id;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(key, slot);
      if (slot >= this.values.length) {
        const grown = new Float64Array(this.values.length * 2);
        grown.set(this.values);
        this.values = grown;
      }
    }
    this.values[slot] += amount;
  }
}

const lean = new LeanStore();

/** One long-lived counter per case, so that each call site sees one metric. */
function longLived(name: string): Counter {
  return new Counter({
    name,
    help: "h",
    labelNames: ["method", "id"],
    registry: null,
    maxSeries: Infinity,
  });
}
const positional = longLived("positional_total");
const byObject = longLived("by_object_total");
const childFree = longLived("child_free_total");

/** A case: `empty` before the measured `fill` (each a loop of its own, seeing one case). */
interface Case {
  readonly empty: () => void;
  readonly fill: () => void;
}

const CASES: Record<string, Case> = {
  "lean store": {
    empty: () => {
      lean.clear();
      newIds();
    },
    fill: () => {
      for (let i = 0; i < SERIES; i++) lean.inc(METHODS[i & 7], ids[i], 1);
    },
  },
  "labels(method, id).inc()": {
    empty: () => {
      positional.clear();
      newIds();
    },
    fill: () => {
      for (let i = 0; i < SERIES; i++) positional.labels(METHODS[i & 7], ids[i]).inc();
    },
  },
  "labels({ method, id }).inc()": {
    empty: () => {
      byObject.clear();
      newIds();
    },
    fill: () => {
      for (let i = 0; i < SERIES; i++) {
        byObject.labels({ method: METHODS[i & 7], id: ids[i] }).inc();
      }
    },
  },
  "incWith({ method, id })": {
    empty: () => {
      childFree.clear();
      newIds();
    },
    fill: () => {
      for (let i = 0; i < SERIES; i++) childFree.incWith({ method: METHODS[i & 7], id: ids[i] });
    },
  },
};

const BENCH_NAMES: Record<string, string> = {
  "lean store": "lean store: Map of joined keys, values in a Float64Array",
  "labels(method, id).inc()": "ours: counter.labels(method, id).inc()",
  "labels({ method, id }).inc()": "ours: counter.labels({ method, id }).inc()",
  "incWith({ method, id })": "ours: counter.incWith({ method, id })",
};

for (const [name, { empty, fill }] of Object.entries(CASES)) {
  Deno.bench(BENCH_NAMES[name], {
    group: "create 10k series on a long-lived store",
    baseline: name === "lean store",
  }, (b) => {
    empty();
    b.start();
    fill();
    b.end();
  });
}

/**
 * The interleaved measurement (see the module documentation): nanoseconds per series made,
 * median and minimum of the rounds, and their ratios to the lean store's.
 */
function interleaved(): string {
  const rounds = 15;
  const runs = 6;
  const samples: Record<string, number[]> = {};
  for (const { empty, fill } of Object.values(CASES)) {
    for (let warm = 0; warm < 20; warm++) {
      empty();
      fill();
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, { empty, fill }] of Object.entries(CASES)) {
      // Unmeasured runs first, so that the garbage of the case before is mostly collected
      // outside the measured ones.
      for (let k = 0; k < 2; k++) {
        empty();
        fill();
      }
      let microseconds = 0;
      for (let k = 0; k < runs; k++) {
        empty();
        const start = process.cpuUsage();
        fill();
        const used = process.cpuUsage(start);
        microseconds += used.user + used.system;
      }
      (samples[name] ??= []).push((microseconds * 1000) / (runs * SERIES));
    }
  }
  const sorted = Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [name, values.sort((a, b) => a - b)]),
  );
  const leanSamples = sorted["lean store"];
  const leanMedian = leanSamples[rounds >> 1];
  return Object.entries(sorted).map(([name, values]) => {
    const median = values[rounds >> 1];
    return `${name} ${median.toFixed(0)} ns (${(median / leanMedian).toFixed(2)}×), min ${
      values[0].toFixed(0)
    } ns (${(values[0] / leanSamples[0]).toFixed(2)}×)`;
  }).join("; ");
}

console.log(`interleaved, CPU time per series made: ${interleaved()}`);
