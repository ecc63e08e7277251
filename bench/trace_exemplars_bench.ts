/**
 * What `traceExemplars: true` costs per update: a counter's `inc()` and a histogram's
 * `observe()` on a child, plain and with the option, inside a sampled span of an OpenTelemetry
 * context registered the way `@opentelemetry/api` registers one (a stand-in context manager
 * here, so that the lookup is what is measured, not an SDK). Cases:
 *
 * - "plain": the option off (the hot path as without this feature);
 * - "traced, one span": the option on, many updates within one span (the usual case: the span's
 *   exemplar is built once, later updates find it kept);
 * - "traced, new span each update": a span per update (the worst case: an exemplar built and
 *   stamped each time);
 * - "traced, no span": the option on outside any span.
 *
 * Run: `deno run --allow-all bench/trace_exemplars_bench.ts` prints the fastest of 30 batches
 * per case, the cases taking turns, and each traced case's ratio to the plain one;
 * `deno bench --allow-all bench/trace_exemplars_bench.ts` runs the same cases as `Deno.bench`.
 *
 * @module
 */

import { Counter, Histogram, Registry } from "../mod.ts";

const API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/**
 * A context holding a span, as `@opentelemetry/api` defines them (only `getValue()` and
 * `spanContext()` are read); contexts are immutable, so a new span comes in a new context.
 */
function contextOf(traceId: string, spanId: string) {
  const spanContext = { traceId, spanId, traceFlags: 1 };
  const span = { spanContext: () => spanContext };
  return { getValue: (key: symbol) => key === SPAN_KEY ? span : undefined };
}
const ROOT_CONTEXT = { getValue: (_key: symbol) => undefined };
let activeContext: unknown = ROOT_CONTEXT;
(globalThis as Record<symbol, unknown>)[API_KEY] = {
  version: "1.9.0",
  context: { active: () => activeContext },
};

const ONE_SPAN = contextOf("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");
const SPANS = Array.from(
  { length: 64 },
  (_, i) =>
    contextOf("0af7651916cd43dd8448eb211c80319c", (0x1000 + i).toString(16).padStart(16, "a")),
);
let spanIndex = 0;

const registry = new Registry();
const plainCounter = new Counter({ name: "plain", help: "h", labelNames: ["a"], registry });
const tracedCounter = new Counter({
  name: "traced",
  help: "h",
  labelNames: ["a"],
  registry,
  traceExemplars: true,
});
const plainHistogram = new Histogram({ name: "plain_h", help: "h", labelNames: ["a"], registry });
const tracedHistogram = new Histogram({
  name: "traced_h",
  help: "h",
  labelNames: ["a"],
  registry,
  traceExemplars: true,
});
const plainInc = plainCounter.labels("x");
const tracedInc = tracedCounter.labels("x");
const plainObserve = plainHistogram.labels("x");
const tracedObserve = tracedHistogram.labels("x");

type Case = [name: string, group: string, run: () => void, baseline?: boolean];
const CASES: Case[] = [
  ["plain", "counter inc()", () => {
    activeContext = ONE_SPAN;
    plainInc.inc();
  }, true],
  ["traced, one span", "counter inc()", () => {
    activeContext = ONE_SPAN;
    tracedInc.inc();
  }],
  ["traced, new span each update", "counter inc()", () => {
    activeContext = SPANS[spanIndex = (spanIndex + 1) & 63];
    tracedInc.inc();
  }],
  ["traced, no span", "counter inc()", () => {
    activeContext = ROOT_CONTEXT;
    tracedInc.inc();
  }],
  ["plain", "histogram observe()", () => {
    activeContext = ONE_SPAN;
    plainObserve.observe(0.3);
  }, true],
  ["traced, one span", "histogram observe()", () => {
    activeContext = ONE_SPAN;
    tracedObserve.observe(0.3);
  }],
  ["traced, new span each update", "histogram observe()", () => {
    activeContext = SPANS[spanIndex = (spanIndex + 1) & 63];
    tracedObserve.observe(0.3);
  }],
  ["traced, no span", "histogram observe()", () => {
    activeContext = ROOT_CONTEXT;
    tracedObserve.observe(0.3);
  }],
];

function main(): void {
  const best = CASES.map(() => Infinity);
  const calls = 200_000;
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < CASES.length; i++) {
      const run = CASES[i][2];
      const started = performance.now();
      for (let n = 0; n < calls; n++) run();
      best[i] = Math.min(best[i], ((performance.now() - started) * 1e6) / calls);
    }
  }
  console.log("| update | case | ns | × plain |\n|---|---|---|---|");
  CASES.forEach(([name, group], i) => {
    const plain = best[CASES.findIndex(([, g, , baseline]) => g === group && baseline)];
    console.log(`| ${group} | ${name} | ${best[i].toFixed(1)} | ${(best[i] / plain).toFixed(2)} |`);
  });
}

if (import.meta.main) {
  main();
} else {
  for (const [name, group, run, baseline] of CASES) {
    Deno.bench(name, { group, baseline: baseline === true }, run);
  }
}
