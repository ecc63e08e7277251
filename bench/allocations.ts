/**
 * Checks that the hot paths allocate nothing. Each case runs in a child process started with
 * `--trace-gc`, once with 5 million and once with 15 million calls; the difference is what 10
 * million calls cost: the young-generation collections (scavenges) V8 reports between two
 * full collections around the measured calls, and the heap growth. A path that allocated even 8 bytes per call would fill the young generation over and
 * over (80 MB); an allocation-free one triggers no scavenge. `labels({...})` is shown next to
 * a control case: the object literal its caller writes is the caller's own allocation.
 *
 * Run: `deno run -A bench/allocations.ts`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { Counter, Gauge, Histogram, Summary } from "../mod.ts";
import { SAME_BUCKETS } from "./fixtures.ts";

const CALLS = 10_000_000;
const MANY = 100_000;
const OBSERVATIONS = Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 12_000) / 1000);
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
const ROUTES = ["/", "/users", "/users/:id", "/orders", "/orders/:id", "/login", "/health", "/api"];

/** Each case returns the operation to repeat; `call` is the iteration number. */
const CASES: Record<string, () => (call: number) => void> = {
  "ours counter.inc()": () => {
    const counter = new Counter({ name: "c_total", help: "c", registry: null });
    return () => counter.inc();
  },
  "ours counter child.inc()": () => {
    const child = new Counter({ name: "c_total", help: "c", labelNames: ["l"], registry: null })
      .labels("a");
    return () => child.inc();
  },
  "ours gauge child.set(v)": () => {
    const child = new Gauge({ name: "g", help: "g", labelNames: ["l"], registry: null })
      .labels("a");
    return (call) => child.set(OBSERVATIONS[call & 1023]);
  },
  "ours histogram child.observe(v)": () => {
    const child = new Histogram({ name: "h", help: "h", labelNames: ["l"], registry: null })
      .labels("a");
    return (call) => child.observe(OBSERVATIONS[call & 1023]);
  },
  "ours summary child.observe(v)": () => {
    const child = new Summary({ name: "s", help: "s", labelNames: ["l"], registry: null })
      .labels("a");
    return (call) => child.observe(OBSERVATIONS[call & 1023]);
  },
  "ours counter.labels(method, route) over 64 series": () => {
    const counter = new Counter({
      name: "c_total",
      help: "c",
      labelNames: ["method", "route"],
      registry: null,
    });
    return (call) => counter.labels(METHODS[call & 7], ROUTES[(call >> 3) & 7]).inc();
  },
  "ours counter.labels({method, route}) over 64 series": () => {
    const counter = new Counter({
      name: "c_total",
      help: "c",
      labelNames: ["method", "route"],
      registry: null,
    });
    return (call) =>
      counter.labels({ method: METHODS[call & 7], route: ROUTES[(call >> 3) & 7] }).inc();
  },
  "ours counter.incWith(labels) over 100k series, labels objects made beforehand": () => {
    const { counter, labelSets } = manySeries();
    return (call) => counter.incWith(labelSets[scattered(call)]);
  },
  "ours counter.labels(labels).inc() over 100k series, labels objects made beforehand": () => {
    // A miss of the recent children makes a child (a handle): this one allocates.
    const { counter, labelSets } = manySeries();
    return (call) => counter.labels(labelSets[scattered(call)]).inc();
  },
  "control: the {method, route} literal alone, passed to a function": () => {
    // What the caller of labels({...}) allocates itself, whatever the library does.
    let kept: unknown;
    const keep = (labels: unknown) => {
      kept = labels;
    };
    return (call) => {
      keep({ method: METHODS[call & 7], route: ROUTES[(call >> 3) & 7] });
      if (kept === undefined) throw new Error("unreachable");
    };
  },
  "prom-client histogram child.observe(v)": () => {
    const child = new client.Histogram({
      name: "h",
      help: "h",
      buckets: SAME_BUCKETS,
      labelNames: ["l"],
      registers: [new client.Registry()],
    }).labels("a");
    return (call) => child.observe(OBSERVATIONS[call & 1023]);
  },
};

/** A counter with 100k `{method, route}` series, and their label objects. */
function manySeries(): { counter: Counter; labelSets: { method: string; route: string }[] } {
  const counter = new Counter({
    name: "c_total",
    help: "c",
    labelNames: ["method", "route"],
    registry: null,
    maxSeries: Infinity,
  });
  const labelSets = Array.from({ length: MANY }, (_, i) => ({
    method: METHODS[i & 7],
    route: `/route/${i >> 3}`,
  }));
  for (const labels of labelSets) counter.incWith(labels);
  return { counter, labelSets };
}

/** The series of call number `call`, scattered over the 100k (a multiplicative hash). */
function scattered(call: number): number {
  return (Math.imul(call, 0x9e3779b1) >>> 0) % MANY;
}

declare function gc(): void;

/**
 * Runs one case in this process (started with --trace-gc): warm-up, then `calls` measured
 * calls. V8 writes its GC trace to stdout through its own buffer, so nothing else goes there:
 * the heap growth goes to stderr.
 */
function runCase(name: string, calls: number): void {
  const operation = CASES[name]();
  for (let call = 0; call < 1_000_000; call++) operation(call); // warm up and optimise
  gc();
  const before = Deno.memoryUsage().heapUsed;
  for (let call = 0; call < calls; call++) operation(call);
  const grown = Deno.memoryUsage().heapUsed - before;
  // A second full collection marks the end of the measured calls in V8's trace.
  gc();
  console.error(`HEAP ${grown}`);
}

/**
 * The scavenges V8 reported between the two full collections that `runCase` asks for (traced
 * with the reason "testing"), so that those of start-up and warm-up are not counted.
 */
function scavengesDuringCalls(trace: string): number {
  const lines = trace.split("\n");
  const marks = lines.flatMap((line, index) =>
    line.includes("Mark-Compact") && line.includes("testing") ? [index] : []
  );
  if (marks.length < 2) throw new Error("the GC trace lacks the marks around the measured calls");
  const [start, end] = marks.slice(-2);
  return lines.slice(start, end).filter((line) => line.includes("Scavenge")).length;
}

/** Runs a case in a child process; returns its scavenge count and heap growth. */
async function measure(name: string, calls: number): Promise<{ scavenges: number; grown: number }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--trace-gc,--expose-gc",
      new URL(import.meta.url).pathname,
      name,
      String(calls),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  const heapLine = stderr.split("\n").find((line) => line.startsWith("HEAP "));
  if (!output.success || heapLine === undefined) {
    throw new Error(`case "${name}" failed: ${stderr}`);
  }
  const scavenges = scavengesDuringCalls(new TextDecoder().decode(output.stdout));
  return { scavenges, grown: Number(heapLine.slice(5)) };
}

/** Runs each case twice in child processes and reports what the extra calls cost. */
async function main(): Promise<void> {
  console.log(
    `${CALLS.toLocaleString("en")} calls per case (the difference between runs of ${
      (CALLS * 1.5).toLocaleString("en")
    } and ${(CALLS / 2).toLocaleString("en")} calls)`,
  );
  console.log("| case | scavenges during those calls | heap growth | verdict |");
  console.log("|---|---|---|---|");
  for (const name of Object.keys(CASES)) {
    // Compared with a run of a third as many calls, so that one-off costs (compiling the
    // optimised code, say) cancel out and only what grows with the number of calls remains.
    const short = await measure(name, CALLS / 2);
    const long = await measure(name, CALLS * 1.5);
    const scavenges = long.scavenges - short.scavenges;
    const grown = long.grown - short.grown;
    // Even 8 bytes per call would be 80 MB over the extra calls: several scavenges at least.
    const verdict = scavenges <= 1 && grown < 1024 * 1024 ? "no allocation per call" : "allocates";
    console.log(`| ${name} | ${scavenges} | ${(grown / 1024).toFixed(0)} KiB | ${verdict} |`);
  }
}

if (Deno.args.length > 0) runCase(Deno.args[0], Number(Deno.args[1]));
else await main();
