/**
 * Hot-path benchmarks: each group measures one operation here and in prom-client 15.1.3 (the
 * baseline), in the same process, so `deno task bench` prints the ratio side by side.
 *
 * Run: `deno bench --allow-all bench/metrics_bench.ts`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { Counter, Histogram, Registry } from "../mod.ts";
import { SeriesStore } from "../src/metrics/series_store.ts";
import { SAME_BUCKETS } from "./fixtures.ts";

// 8 methods × 8 routes = 64 series, visited in a fixed cycle so every call hits a cached child.
const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"];
const ROUTES = ["/", "/users", "/users/:id", "/orders", "/orders/:id", "/login", "/health", "/api"];
const SERIES = METHODS.length * ROUTES.length;

// Observed values spread over the 14 bounds (0.005 … 10 s), some beyond the last one: the bucket
// changes from call to call, the hard case for any bucket search.
const OBSERVATIONS = Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 12_000) / 1000);

/** A fresh prom-client registry per case, so its default registry never carries state over. */
function promRegistry(): client.Registry {
  return new client.Registry();
}

// --- the harness itself: what deno bench measures for a function that does nothing -------

Deno.bench("empty function (the harness floor)", { group: "harness" }, () => {});

// --- counter.inc() unlabelled -------------------------------------------------------------

{
  const promCounter = new client.Counter({
    name: "bench_requests_total",
    help: "requests",
    registers: [promRegistry()],
  });
  const ourCounter = new Counter({
    name: "bench_requests_total",
    help: "requests",
    registry: new Registry(),
  });
  Deno.bench("prom-client counter.inc()", { group: "counter.inc", baseline: true }, () => {
    promCounter.inc();
  });
  Deno.bench("ours counter.inc()", { group: "counter.inc" }, () => {
    ourCounter.inc();
  });
}

// --- counter.labels({method, route}).inc() over 64 series ---------------------------------

{
  const labelNames = ["method", "route"];
  const promCounter = new client.Counter({
    name: "bench_labelled_total",
    help: "requests",
    labelNames,
    registers: [promRegistry()],
  });
  const ourCounter = new Counter({
    name: "bench_labelled_total",
    help: "requests",
    labelNames,
    registry: new Registry(),
  });
  let promCall = 0;
  let ourCall = 0;
  Deno.bench(
    "prom-client counter.labels({method, route}).inc()",
    { group: "counter.labels.inc", baseline: true },
    () => {
      const i = promCall++ & (SERIES - 1);
      promCounter.labels({ method: METHODS[i & 7], route: ROUTES[i >> 3] }).inc();
    },
  );
  Deno.bench(
    "ours counter.labels({method, route}).inc()",
    { group: "counter.labels.inc" },
    () => {
      const i = ourCall++ & (SERIES - 1);
      ourCounter.labels({ method: METHODS[i & 7], route: ROUTES[i >> 3] }).inc();
    },
  );
}

// --- histogram.labels({method, route}).observe(v) over 64 series, 14 bounds ---------------

{
  const labelNames = ["method", "route"];
  const promHistogram = new client.Histogram({
    name: "bench_duration_seconds",
    help: "durations",
    buckets: SAME_BUCKETS,
    labelNames,
    registers: [promRegistry()],
  });
  const ourHistogram = new Histogram({
    name: "bench_duration_seconds",
    help: "durations",
    labelNames,
    registry: new Registry(),
  });
  let promCall = 0;
  let ourCall = 0;
  Deno.bench(
    "prom-client histogram.labels({method, route}).observe(v)",
    { group: "histogram.labels.observe", baseline: true },
    () => {
      const n = promCall++;
      const i = n & (SERIES - 1);
      promHistogram.labels({ method: METHODS[i & 7], route: ROUTES[i >> 3] })
        .observe(OBSERVATIONS[n & 1023]);
    },
  );
  Deno.bench(
    "ours histogram.labels({method, route}).observe(v)",
    { group: "histogram.labels.observe" },
    () => {
      const n = ourCall++;
      const i = n & (SERIES - 1);
      ourHistogram.labels({ method: METHODS[i & 7], route: ROUTES[i >> 3] })
        .observe(OBSERVATIONS[n & 1023]);
    },
  );
}

// --- cached child: child.observe(v) ----------------------------------------------------------

{
  const promHistogram = new client.Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    buckets: SAME_BUCKETS,
    labelNames: ["job_name"],
    registers: [promRegistry()],
  });
  const ourHistogram = new Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    registry: new Registry(),
  });
  const promChild = promHistogram.labels({ job_name: "test_job" });
  const ourChild = ourHistogram.labels({ job_name: "test_job" });
  let promCall = 0;
  let ourCall = 0;
  Deno.bench(
    "prom-client child.observe(v)",
    { group: "child.observe", baseline: true },
    () => {
      promChild.observe(OBSERVATIONS[promCall++ & 1023]);
    },
  );
  Deno.bench("ours child.observe(v)", { group: "child.observe" }, () => {
    ourChild.observe(OBSERVATIONS[ourCall++ & 1023]);
  });
}

// --- why an unlabelled counter keeps its total in a field ------------------------------------
// `counter.inc()` adds to a field of the metric; every other series adds to its number in the
// metric's packed store. The second case does the same work as `counter.inc()` with the total
// in a store, as a labelled child does it: if it ever measures within noise of the first, the
// field can go and unlabelled counters can use the store like every other series.

{
  const counter = new Counter({ name: "bench_unlabelled_total", help: "h", registry: null });
  const store = new SeriesStore(
    "bench_unlabelled",
    { numberStride: 2, countStride: 0, sideCount: 1, createdOffset: 1 },
    1,
    () => ({}),
  );
  const addToStore = (amount = 1) => {
    if (typeof amount !== "number" || !(amount >= 0 && amount < Infinity)) throw new RangeError();
    store.numbers[0] += amount;
  };
  Deno.bench("ours counter.inc() (total in a field)", {
    group: "unlabelled total",
    baseline: true,
  }, () => {
    counter.inc();
  });
  Deno.bench("the same add into a packed store's slot 0", { group: "unlabelled total" }, () => {
    addToStore();
  });
}
