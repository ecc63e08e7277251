/**
 * The cost of creating a series (which idle expiry makes recurring): `labels(...).inc()` with
 * label values never seen before, against a lean store of the same data (the joined label
 * values as a `Map` key, the value in a typed-array slot). `deno bench` prints the ratio.
 *
 * Run: `deno bench --allow-all bench/series_creation_bench.ts`
 *
 * @module
 */

import { Counter } from "../mod.ts";

/** Series created per measured call. */
const SERIES = 10_000;
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
/** Distinct values, made once so that no case pays for building strings. */
const IDS = Array.from({ length: SERIES }, (_, i) => `/users/${i}`);

Deno.bench("lean store: Map of joined keys, values in a Float64Array", {
  group: "create 10k series",
  baseline: true,
}, () => {
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
});

Deno.bench("ours: counter.labels(method, id).inc()", { group: "create 10k series" }, () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["method", "id"],
    registry: null,
  });
  for (let i = 0; i < SERIES; i++) counter.labels(METHODS[i & 7], IDS[i]).inc();
});

Deno.bench("ours: counter.labels({ method, id }).inc()", { group: "create 10k series" }, () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["method", "id"],
    registry: null,
  });
  for (let i = 0; i < SERIES; i++) counter.labels({ method: METHODS[i & 7], id: IDS[i] }).inc();
});

Deno.bench("ours: counter.incWith({ method, id })", { group: "create 10k series" }, () => {
  const counter = new Counter({
    name: "c_total",
    help: "h",
    labelNames: ["method", "id"],
    registry: null,
  });
  for (let i = 0; i < SERIES; i++) counter.incWith({ method: METHODS[i & 7], id: IDS[i] });
});
