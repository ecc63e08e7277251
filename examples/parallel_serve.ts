// One /metrics for every isolate of `deno serve --parallel`: each worker counts the requests it
// answers, and whichever worker a scrape lands on answers with the total of all of them.
//
//   DENO_JOBS=4 deno serve --parallel --port 8000 -A examples/parallel_serve.ts
//   for i in $(seq 100); do curl -s localhost:8000/ > /dev/null; done
//   curl -s localhost:8000/metrics | grep 'http_requests_total{'   # path="/" 100, at every scrape
//
// (`--allow-net` is all it needs; `DENO_JOBS` sets the number of isolates, default: one per CPU.)
import { Counter, metricsHandler } from "../mod.ts";
import { aggregateWorkers } from "../src/workers/mod.ts";

const requests = new Counter({
  name: "http_requests_total",
  help: "HTTP requests answered, other than scrapes, by path",
  labelNames: ["path"],
});

// The one call that turns aggregation on; it runs in every worker, as this whole module does.
const cluster = aggregateWorkers();
const serveMetrics = metricsHandler({ registry: cluster });

export default {
  fetch(request: Request): Response | Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return serveMetrics(request);
    requests.labels({ path }).inc();
    return new Response(`hello from worker ${cluster.workerId}\n`);
  },
} satisfies Deno.ServeDefaultExport;
