/**
 * `observe` of a native histogram side by side with the classic one (the default 14 buckets),
 * on the same latency-like values, unlabelled and through a cached labelled child; plus the
 * state class alone, rendering the protobuf format, and `buckets()` (spans and deltas) of 10k
 * series as remote write and snapshots read them, changed since the last call or not. The
 * target: native ≤ 2× the classic.
 *
 * Run: `deno bench --allow-all bench/native_histogram_bench.ts`
 *
 * @module
 */

import { Histogram, Registry } from "../mod.ts";
import { NativeHistogram, renderProtobuf } from "../src/exposition/mod.ts";
import { observationsFor } from "./fixtures.ts";

// Log-normal latencies around 50 ms (1 ms … 3 s): about 90 populated buckets at factor 1.1, and a
// different bucket from call to call for both kinds.
let seed = 1;
const next = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
const VALUES = Float64Array.from({ length: 4096 }, () => {
  const z = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  return 0.05 * Math.exp(z);
});
const MASK = VALUES.length - 1;

function histograms(labelled: boolean) {
  const registry = new Registry();
  const labelNames = labelled ? ["route"] : [];
  const classic = new Histogram({ name: "classic_seconds", help: "c", labelNames, registry });
  const native = new Histogram({
    name: "native_seconds",
    help: "n",
    labelNames,
    native: true,
    registry,
  });
  const both = new Histogram({
    name: "both_seconds",
    help: "b",
    labelNames,
    native: true,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registry,
  });
  // Warm the native windows up to their steady size.
  for (const v of VALUES) {
    (labelled ? native.labels("/api") : native).observe(v);
    (labelled ? both.labels("/api") : both).observe(v);
  }
  return { registry, classic, native, both };
}

{
  const { classic, native, both } = histograms(false);
  let i = 0;
  Deno.bench("classic (14 buckets)", { group: "observe unlabelled", baseline: true }, () => {
    classic.observe(VALUES[i++ & MASK]);
  });
  Deno.bench("native (factor 1.1)", { group: "observe unlabelled" }, () => {
    native.observe(VALUES[i++ & MASK]);
  });
  Deno.bench("classic + native", { group: "observe unlabelled" }, () => {
    both.observe(VALUES[i++ & MASK]);
  });
}

{
  const { classic, native } = histograms(true);
  let i = 0;
  Deno.bench("classic (14 buckets)", { group: "observe labels(route)", baseline: true }, () => {
    classic.labels("/api").observe(VALUES[i++ & MASK]);
  });
  Deno.bench("native (factor 1.1)", { group: "observe labels(route)" }, () => {
    native.labels("/api").observe(VALUES[i++ & MASK]);
  });
}

{
  const state = new NativeHistogram();
  for (const v of VALUES) state.observe(v);
  let i = 0;
  Deno.bench("NativeHistogram.observe (state alone)", { group: "state" }, () => {
    state.observe(VALUES[i++ & MASK]);
  });
}

{
  const { registry } = histograms(false);
  const families = await registry.collect();
  Deno.bench("renderProtobuf (3 histograms, ~90 native buckets each)", { group: "render" }, () => {
    renderProtobuf(families);
  });
}

{
  // 10k states as the remote-write benchmark fills them (ten observations each, 0…12 s). Each
  // round observes one of a state's own ten values again, so its buckets stay the same ones.
  const SERIES = 10_000;
  const own = Float64Array.from(
    { length: SERIES * 10 },
    (_, n) => observationsFor(n / 10 | 0)[n % 10],
  );
  const states = Array.from({ length: SERIES }, (_, s) => {
    const state = new NativeHistogram();
    for (let k = 0; k < 10; k++) state.observe(own[s * 10 + k]);
    return state;
  });
  let round = 0;
  const group = "buckets() of 10k series (10 buckets each)";
  Deno.bench("observe one value into each", { group, baseline: true }, () => {
    const k = round++ % 10;
    for (let s = 0; s < SERIES; s++) states[s].observe(own[s * 10 + k]);
  });
  Deno.bench("observe, then buckets(), each", { group }, () => {
    const k = round++ % 10;
    for (let s = 0; s < SERIES; s++) {
      states[s].observe(own[s * 10 + k]);
      states[s].buckets();
    }
  });
  Deno.bench("buckets() alone", { group }, () => {
    for (let s = 0; s < SERIES; s++) states[s].buckets();
  });
}
