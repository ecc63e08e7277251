/**
 * Summary.observe with quantiles, at the default accuracy 0.01 and at 0.001, on latencies spread
 * over six decades (1 ms to 1000 s): the case that used to collapse buckets on every call.
 *
 * Run: `deno bench --allow-all bench/quantiles_bench.ts`
 *
 * @module
 */

import { Registry, Summary } from "../mod.ts";

// Log-uniform over 1e-3 .. 1e3 s, in a fixed cycle.
const VALUES = Array.from(
  { length: 4096 },
  (_, i) => 10 ** (-3 + 6 * ((i * 2654435761) % 4096) / 4096),
);

for (const relativeAccuracy of [0.01, 0.001]) {
  const summary = new Summary({
    name: "latency_seconds",
    help: "latency",
    percentiles: [0.5, 0.9, 0.99],
    relativeAccuracy,
    registry: new Registry(),
  });
  // Fill the window first, so every bucket of the six decades is in use.
  for (const value of VALUES) summary.observe(value);
  let i = 0;
  Deno.bench(`summary.observe, quantiles at accuracy ${relativeAccuracy}`, {
    group: "summary quantiles",
    baseline: relativeAccuracy === 0.01,
  }, () => {
    summary.observe(VALUES[i++ & 4095]);
  });
}
