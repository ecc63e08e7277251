// A `deno serve --parallel` module for tests/workers/deno_serve_parallel_test.ts: `/work` increments a counter
// and observes a histogram; `/metrics` serves the aggregated view. Every answer names the
// worker that gave it in `x-worker`, so the test can check that both workers took part.
import { Counter, Histogram, metricsHandler, Registry } from "../../mod.ts";
import { aggregateWorkers } from "../../src/workers/mod.ts";

const registry = new Registry();
const jobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
const duration = new Histogram({
  name: "job_duration_seconds",
  help: "job duration",
  buckets: [0.001, 0.01, 0.1],
  registry,
});
const cluster = aggregateWorkers({ registry, channelName: Deno.env.get("CHANNEL") });
const serveMetrics = metricsHandler({ registry: cluster, compression: false });

export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    let response: Response;
    if (path === "/metrics") {
      response = await serveMetrics(request);
    } else if (path === "/work") {
      jobs.inc();
      duration.observe(Math.random() * 0.02);
      response = new Response("done\n");
    } else {
      response = new Response("not found\n", { status: 404 });
    }
    response.headers.set("x-worker", cluster.workerId);
    return response;
  },
} satisfies Deno.ServeDefaultExport;
