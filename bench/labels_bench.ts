/**
 * `labels({ method, route })` against its floor: the work no label lookup can avoid, an object
 * literal, one `Map.get` per label and a write into a typed array. Each group's first case is
 * that floor (the baseline), so `deno bench` prints every other case as a ratio of it. Issue
 * 12's aims: the object form within 2.5× of the floor at 64 series, within 3× at 100k.
 *
 * At 64 series every call finds a recently used child. At 100k series, visited in a scattered
 * order, almost every `labels(...)` call makes a new child (a handle), while `incWith` makes
 * nothing.
 *
 * `deno bench` runs the cases one after another, and adds its own cost per call to each (which
 * flatters the ratios); on a loaded machine the cases also see different loads. So the module
 * also prints ratios measured its own way: each case a loop of its own (so that V8 optimises
 * it like code that calls `labels(...)` in a loop), the cases interleaved round by round in
 * one process, CPU time (not wall time) per round, the median of 15 rounds.
 *
 * Run: `deno bench --allow-all bench/labels_bench.ts`
 *
 * @module
 */

import process from "node:process";
import { Counter, Histogram, Registry } from "../mod.ts";

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
const FEW_ROUTES = [
  "/",
  "/users",
  "/users/:id",
  "/orders",
  "/orders/:id",
  "/login",
  "/health",
  "/api",
];
const MANY = 100_000;
const MANY_ROUTES = Array.from({ length: MANY / METHODS.length }, (_, i) => `/route/${i}`);
const OBSERVATIONS = Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 12_000) / 1000);

/** The i-th of `count` series, in a scattered but fixed order (a multiplicative hash). */
function scattered(call: number, count: number): number {
  return (Math.imul(call, 0x9e3779b1) >>> 0) % count;
}

/** The floor for `routes`: a literal, two `Map.get` and a write, as a closure over its state. */
function floor(routes: readonly string[], series: number): (call: number) => void {
  const methodIds = new Map(METHODS.map((method, id) => [method, id]));
  const routeIds = new Map(routes.map((route, id) => [route, id]));
  const totals = new Float64Array(METHODS.length * routes.length);
  return (call) => {
    const i = series === 64 ? call & 63 : scattered(call, series);
    const labels = { method: METHODS[i & 7], route: routes[i >> 3] };
    totals[routeIds.get(labels.route)! * 8 + methodIds.get(labels.method)!] += 1;
  };
}

function counterWith(routes: readonly string[]): Counter {
  const counter = new Counter({
    name: "requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registry: new Registry(),
    maxSeries: Infinity, // up to 100k series
  });
  for (let i = 0; i < METHODS.length * routes.length; i++) {
    counter.labels(METHODS[i & 7], routes[i >> 3]).inc();
  }
  return counter;
}

for (const [series, routes] of [[64, FEW_ROUTES], [MANY, MANY_ROUTES]] as const) {
  const group = `labels at ${series} series`;
  const pick = (call: number) => series === 64 ? call & 63 : scattered(call, series);
  const floorCall = floor(routes, series);
  let floorCalls = 0;
  Deno.bench("floor: literal + 2 × Map.get + write", { group, baseline: true }, () => {
    floorCall(floorCalls++);
  });

  const counter = counterWith(routes);
  let labelsCalls = 0;
  Deno.bench("counter.labels({ method, route }).inc()", { group }, () => {
    const i = pick(labelsCalls++);
    counter.labels({ method: METHODS[i & 7], route: routes[i >> 3] }).inc();
  });
  let positionalCalls = 0;
  Deno.bench("counter.labels(method, route).inc()", { group }, () => {
    const i = pick(positionalCalls++);
    counter.labels(METHODS[i & 7], routes[i >> 3]).inc();
  });
  let incWithCalls = 0;
  Deno.bench("counter.incWith({ method, route })", { group }, () => {
    const i = pick(incWithCalls++);
    counter.incWith({ method: METHODS[i & 7], route: routes[i >> 3] });
  });

  const histogram = new Histogram({
    name: "duration_seconds",
    help: "durations",
    labelNames: ["method", "route"],
    registry: new Registry(),
    maxSeries: Infinity, // up to 100k series
  });
  for (let i = 0; i < METHODS.length * routes.length; i++) {
    histogram.observeWith({ method: METHODS[i & 7], route: routes[i >> 3] }, 0);
  }
  let observeWithCalls = 0;
  Deno.bench("histogram.observeWith({ method, route }, v)", { group }, () => {
    const n = observeWithCalls++;
    const i = pick(n);
    histogram.observeWith(
      { method: METHODS[i & 7], route: routes[i >> 3] },
      OBSERVATIONS[n & 1023],
    );
  });
}

/**
 * The interleaved measurement (see the module documentation): nanoseconds per call of each
 * case, median of `rounds` rounds of `calls` calls each, and its ratio to the floor.
 */
function interleaved(series: number, routes: readonly string[]): string {
  const pick = series === 64
    ? (call: number) => call & 63
    : (call: number) => scattered(call, series);
  const methodIds = new Map(METHODS.map((method, id) => [method, id]));
  const routeIds = new Map(routes.map((route, id) => [route, id]));
  const totals = new Float64Array(METHODS.length * routes.length);
  const counter = counterWith(routes);
  // Each case is a loop of its own, so that each call site sees one case.
  const cases: Record<string, (first: number, calls: number) => void> = {
    floor: (first, calls) => {
      for (let call = first; call < first + calls; call++) {
        const i = pick(call);
        const labels = { method: METHODS[i & 7], route: routes[i >> 3] };
        totals[routeIds.get(labels.route)! * 8 + methodIds.get(labels.method)!] += 1;
      }
    },
    "labels({...}).inc()": (first, calls) => {
      for (let call = first; call < first + calls; call++) {
        const i = pick(call);
        counter.labels({ method: METHODS[i & 7], route: routes[i >> 3] }).inc();
      }
    },
    "labels(m, r).inc()": (first, calls) => {
      for (let call = first; call < first + calls; call++) {
        const i = pick(call);
        counter.labels(METHODS[i & 7], routes[i >> 3]).inc();
      }
    },
    "incWith({...})": (first, calls) => {
      for (let call = first; call < first + calls; call++) {
        const i = pick(call);
        counter.incWith({ method: METHODS[i & 7], route: routes[i >> 3] });
      }
    },
  };
  const calls = series === 64 ? 300_000 : 60_000;
  const rounds = 15;
  const samples: Record<string, number[]> = {};
  let call = 0;
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const start = process.cpuUsage();
      run(call, calls);
      const used = process.cpuUsage(start);
      call += calls;
      (samples[name] ??= []).push(((used.user + used.system) * 1000) / calls);
    }
  }
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1];
  const floorNs = median(samples.floor);
  return Object.entries(samples).map(([name, values]) => {
    const ns = median(values);
    return `${name} ${ns.toFixed(1)} ns (${(ns / floorNs).toFixed(2)}×)`;
  }).join(", ");
}

for (const [series, routes] of [[64, FEW_ROUTES], [MANY, MANY_ROUTES]] as const) {
  console.log(`interleaved, CPU time, ${series} series: ${interleaved(series, routes)}`);
}
