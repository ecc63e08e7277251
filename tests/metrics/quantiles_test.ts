// Summary quantiles: the documented relative error bound at every accepted accuracy, and a clear
// RangeError for settings that cannot keep it.
import assert from "node:assert/strict";
import { Registry, Summary } from "../../mod.ts";
import type { SummaryPoint } from "../../src/exposition/mod.ts";
import { MIN_RELATIVE_ACCURACY, QuantileWindow } from "../../src/metrics/quantiles.ts";

/** A deterministic pseudo-random sequence in [0, 1). */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** `count` latencies spread log-uniformly over six decades, 1 ms to 1000 s. */
function sixDecades(count: number): number[] {
  const next = random(42);
  return Array.from({ length: count }, () => 10 ** (-3 + 6 * next()));
}

/** A ten-minute window of `ageBuckets` slots at `relativeAccuracy`. */
function windowOf(relativeAccuracy: number, maxBuckets = 2048, ageBuckets = 3): QuantileWindow {
  return new QuantileWindow({ maxAgeSeconds: 600, ageBuckets, relativeAccuracy, maxBuckets });
}

const QUANTILES = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];

function assertWithinBound(values: number[], accuracy: number, estimates: number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  QUANTILES.forEach((quantile, i) => {
    const truth = sorted[Math.floor(quantile * (sorted.length - 1))];
    const error = Math.abs(estimates[i] - truth) / truth;
    assert.ok(
      error <= accuracy * (1 + 1e-9),
      `p${quantile * 100} at accuracy ${accuracy}: ${estimates[i]} vs ${truth} (error ${error})`,
    );
  });
}

for (const accuracy of [0.01, 0.001, MIN_RELATIVE_ACCURACY]) {
  Deno.test(`accuracy ${accuracy}: every quantile over six decades is within the bound`, () => {
    const registry = new Registry();
    const latency = new Summary({
      name: "latency_seconds",
      help: "latency",
      percentiles: QUANTILES,
      relativeAccuracy: accuracy,
      registry,
    });
    const values = sixDecades(50_000);
    for (const value of values) latency.observe(value);
    const point = latency.collect()[0].points[0] as SummaryPoint;
    assertWithinBound(values, accuracy, point.quantiles.map((q) => q.value));
  });
}

Deno.test("values spanning more than nine decades coarsen only the smallest ones", () => {
  const window = windowOf(0.01, 16); // 16 buckets are raised to what nine decades need
  // 1e-8 .. 1e4: twelve decades; the highest nine keep the bound.
  const values: number[] = [];
  for (let exponent = -8; exponent <= 4; exponent += 0.01) values.push(10 ** exponent);
  for (const value of values) window.observe(value);
  const [low, median, high] = window.quantiles([0.01, 0.5, 0.99]);
  const sorted = [...values].sort((a, b) => a - b);
  const truth = (q: number) => sorted[Math.floor(q * (sorted.length - 1))];
  assert.ok(Math.abs(median - truth(0.5)) / truth(0.5) <= 0.01, `${median} vs ${truth(0.5)}`);
  assert.ok(Math.abs(high - truth(0.99)) / truth(0.99) <= 0.01, `${high} vs ${truth(0.99)}`);
  assert.ok(low >= truth(0.01) && low <= 1e-5, `the smallest are coarsened upwards: ${low}`);
});

Deno.test("negative, zero and positive values keep their order and the bound", () => {
  const window = windowOf(0.001);
  const values = [-1000, -5, -0.002, 0, 0, 0.003, 7, 1500];
  for (const value of values) window.observe(value);
  const estimates = window.quantiles([0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1]);
  const sorted = [...values].sort((a, b) => a - b);
  [0, 0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1].forEach((q, i) => {
    const truth = sorted[Math.floor(q * (sorted.length - 1))];
    const error = truth === 0 ? Math.abs(estimates[i]) : Math.abs(estimates[i] - truth) / -truth;
    assert.ok(Math.abs(error) <= 0.001, `q${q}: ${estimates[i]} vs ${truth}`);
  });
});

Deno.test("settings that cannot keep the bound are RangeErrors naming the summary", () => {
  const registry = new Registry();
  const make = (options: { relativeAccuracy?: number; ageBuckets?: number }) =>
    new Summary({ name: "s", help: "h", percentiles: [0.5], registry: new Registry(), ...options });
  assert.throws(() => make({ relativeAccuracy: 1e-17 }), {
    name: "RangeError",
    message: 'relativeAccuracy of summary "s" must be in [0.0002, 0.5]: a finer accuracy would ' +
      "need more than 65536 buckets to keep nine decades",
  });
  assert.throws(() => make({ relativeAccuracy: 1e-5 }), RangeError);
  assert.throws(() => make({ ageBuckets: 1e9 }), {
    name: "RangeError",
    message: 'ageBuckets of summary "s" must be an integer in [1, 1000]',
  });
  // Labelled summaries are refused at construction too, not at their first labels() call.
  assert.throws(
    () =>
      new Summary({
        name: "t",
        help: "h",
        labelNames: ["path"],
        percentiles: [0.5],
        relativeAccuracy: 1e-17,
        registry,
      }),
    RangeError,
  );
  make({ relativeAccuracy: MIN_RELATIVE_ACCURACY, ageBuckets: 1000 }); // the limits are accepted
});

Deno.test("infinities keep their rank and never coarsen the finite values", () => {
  const window = windowOf(0.001);
  for (const value of [-Infinity, 0.002, 0.003, 0.5, 7, Infinity]) window.observe(value);
  const [lowest, second, third, fourth, fifth, highest] = window.quantiles([
    0.1,
    0.3,
    0.5,
    0.7,
    0.9,
    1,
  ]);
  assert.equal(lowest, -Infinity);
  assert.ok(Math.abs(second - 0.002) / 0.002 <= 0.001, `${second}`);
  assert.ok(Math.abs(third - 0.003) / 0.003 <= 0.001, `${third}`);
  assert.ok(Math.abs(fourth - 0.5) / 0.5 <= 0.001, `${fourth}`);
  assert.ok(Math.abs(fifth - 7) / 7 <= 0.001, `${fifth}`);
  assert.equal(highest, Infinity);
});
