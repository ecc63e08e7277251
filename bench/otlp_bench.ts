/**
 * The OTLP receiver: taking a request of 10,000 points, and a scrape of 10,000 received
 * series, against a scrape of 10,000 series of a built-in counter (the baseline). The received
 * families are checked when received, so a scrape does not check them again; the third scrape
 * case hands the same families to the registry through a plain collector, which is checked at
 * every scrape (what the receiver cost before), to show the difference in one run.
 *
 * Run: `deno bench --allow-all bench/otlp_bench.ts`
 *
 * @module
 */

import { Counter, Registry } from "../mod.ts";
import { otlpHandler } from "../src/http/otlp.ts";

const SERIES = 10_000;
const S = 1_000_000_000;

/** A JSON export request: one cumulative sum with `SERIES` points, each its own route. */
function request(time: number, value: number): Request {
  const dataPoints = [];
  for (let i = 0; i < SERIES; i++) {
    dataPoints.push({
      attributes: [
        { key: "http.route", value: { stringValue: `/api/items/${i}` } },
        { key: "http.request.method", value: { stringValue: i % 2 === 0 ? "GET" : "POST" } },
      ],
      startTimeUnixNano: String(1_700_000_000 * S),
      timeUnixNano: String(time),
      asInt: String(value + i),
    });
  }
  const body = JSON.stringify({
    resourceMetrics: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "shop" } }] },
      scopeMetrics: [{
        scope: { name: "bench", version: "1.0.0" },
        metrics: [{
          name: "http.server.requests",
          unit: "{request}",
          sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints },
        }],
      }],
    }],
  });
  return new Request("http://localhost/v1/metrics", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
}

const received = new Registry();
const receive = otlpHandler({ registry: received, maxSeriesPerMetric: Infinity });
let time = 1_700_000_001 * S;
const first = await receive(request(time, 1));
if (first.status !== 200 || receive.collector.seriesCount !== SERIES) {
  throw new Error(`the receiver took ${receive.collector.seriesCount} series (${first.status})`);
}

// The same families, from a collector the registry knows nothing about: checked per scrape.
const checkedPerScrape = new Registry();
checkedPerScrape.register({ collect: () => receive.collector.collect() });

const builtIn = new Registry();
const counter = new Counter({
  name: "http_server_requests",
  help: "requests",
  labelNames: ["route", "method"],
  registry: builtIn,
});
for (let i = 0; i < SERIES; i++) {
  counter.labels(`/api/items/${i}`, i % 2 === 0 ? "GET" : "POST").inc(1 + i);
}

// The outputs must hold as many series each, or the comparison means nothing.
const lines = (text: string) => text.split("\n").filter((l) => l.startsWith("http")).length;
const counts = [
  lines(await builtIn.metrics()),
  lines(await received.metrics()),
  lines(await checkedPerScrape.metrics()),
];
if (counts.some((count) => count < SERIES)) throw new Error(`series written: ${counts}`);

Deno.bench(
  "registry.metrics(), 10k series of a built-in counter",
  { group: "otlp.scrape.10k", baseline: true, n: 20, warmup: 3 },
  async () => {
    await builtIn.metrics();
  },
);
Deno.bench(
  "registry.metrics(), 10k received series (checked when received)",
  { group: "otlp.scrape.10k", n: 20, warmup: 3 },
  async () => {
    await received.metrics();
  },
);
Deno.bench(
  "registry.metrics(), 10k received series through a plain collector (checked per scrape)",
  { group: "otlp.scrape.10k", n: 20, warmup: 3 },
  async () => {
    await checkedPerScrape.metrics();
  },
);
Deno.bench(
  "otlpHandler, a request of 10k points of known series (JSON)",
  { group: "otlp.receive.10k", n: 10, warmup: 2 },
  async (b) => {
    time += S;
    const next = request(time, 2);
    b.start();
    const response = await receive(next);
    b.end();
    await response.body?.cancel();
  },
);
