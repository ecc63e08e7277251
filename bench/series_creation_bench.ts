/**
 * The cost of creating a series (which idle expiry makes recurring): `labels(...).inc()` with
 * label values never seen before, against a lean store of the same data (the joined label
 * values as a `Map` key, the value in a typed-array slot). `deno bench` prints the ratio.
 *
 * `deno bench` runs the cases one after another and reports means, which a loaded machine and
 * garbage collection pauses move a lot (one case may run while another process is busy, and a
 * pause lands in whichever case is running). So the module also prints ratios measured its own
 * way: the cases interleaved round by round in one process, CPU time per round (not wall
 * time), the median and the minimum of 15 rounds. (A forced full collection between rounds is
 * no fairer: it makes V8 drop the optimised code of the creation path, which then runs slower
 * until compiled again.)
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
/** Distinct values, made once so that no case pays for building strings. */
const IDS = Array.from({ length: SERIES }, (_, i) => `/users/${i}`);

/** The lean store: the joined label values as a `Map` key, the value in a typed-array slot. */
function leanStore(): void {
  const slots = new Map<string, number>();
  let values = new Float64Array(8);
  for (let i = 0; i < SERIES; i++) {
    const key = METHODS[i & 7] + "\u0000" + IDS[i];
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = slots.size;
      slots.set(key, slot);
      if (slot >= values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
    }
    values[slot] += 1;
  }
}

function newCounter(): Counter {
  return new Counter({ name: "c_total", help: "h", labelNames: ["method", "id"], registry: null });
}

/**
 * A metric that lives on while its series come and go (as with idle expiry): the series of the
 * round before removed by `clear()` (its cost counted), then made again.
 */
const longLived = new Counter({
  name: "long_lived_total",
  help: "h",
  labelNames: ["method", "id"],
  registry: null,
});

// Each case a loop of its own, so that each call site sees one case.
const CASES: Record<string, () => void> = {
  "lean store": leanStore,
  "labels(method, id).inc()": () => {
    const counter = newCounter();
    for (let i = 0; i < SERIES; i++) counter.labels(METHODS[i & 7], IDS[i]).inc();
  },
  "labels({ method, id }).inc()": () => {
    const counter = newCounter();
    for (let i = 0; i < SERIES; i++) counter.labels({ method: METHODS[i & 7], id: IDS[i] }).inc();
  },
  "long-lived counter: clear(), labels(method, id).inc()": () => {
    longLived.clear();
    for (let i = 0; i < SERIES; i++) longLived.labels(METHODS[i & 7], IDS[i]).inc();
  },
  "incWith({ method, id })": () => {
    const counter = newCounter();
    for (let i = 0; i < SERIES; i++) counter.incWith({ method: METHODS[i & 7], id: IDS[i] });
  },
};

Deno.bench("lean store: Map of joined keys, values in a Float64Array", {
  group: "create 10k series",
  baseline: true,
}, leanStore);

Deno.bench("ours: counter.labels(method, id).inc()", { group: "create 10k series" }, () => {
  CASES["labels(method, id).inc()"]();
});

Deno.bench("ours: counter.labels({ method, id }).inc()", { group: "create 10k series" }, () => {
  CASES["labels({ method, id }).inc()"]();
});

Deno.bench("ours: counter.incWith({ method, id })", { group: "create 10k series" }, () => {
  CASES["incWith({ method, id })"]();
});

Deno.bench(
  "ours: long-lived counter, clear() then labels(method, id).inc()",
  { group: "create 10k series" },
  () => {
    CASES["long-lived counter: clear(), labels(method, id).inc()"]();
  },
);

/**
 * The interleaved measurement (see the module documentation): nanoseconds per series made,
 * median and minimum of the rounds, and their ratios to the lean store's.
 */
function interleaved(): string {
  const rounds = 15;
  const runs = 6;
  const samples: Record<string, number[]> = {};
  for (const run of Object.values(CASES)) for (let warm = 0; warm < 20; warm++) run();
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(CASES)) {
      // Unmeasured runs first, so that the garbage of the case before is mostly collected
      // outside the measured ones.
      for (let k = 0; k < 2; k++) run();
      const start = process.cpuUsage();
      for (let k = 0; k < runs; k++) run();
      const used = process.cpuUsage(start);
      (samples[name] ??= []).push(((used.user + used.system) * 1000) / (runs * SERIES));
    }
  }
  const sorted = Object.fromEntries(
    Object.entries(samples).map(([name, values]) => [name, values.sort((a, b) => a - b)]),
  );
  const lean = sorted["lean store"];
  const leanMedian = lean[rounds >> 1];
  return Object.entries(sorted).map(([name, values]) => {
    const median = values[rounds >> 1];
    return `${name} ${median.toFixed(0)} ns (${(median / leanMedian).toFixed(2)}×), min ${
      values[0].toFixed(0)
    } ns (${(values[0] / lean[0]).toFixed(2)}×)`;
  }).join("; ");
}

console.log(`interleaved, CPU time per series made: ${interleaved()}`);
