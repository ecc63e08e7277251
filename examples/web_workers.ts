// Web Workers, one view: four workers run jobs and count them in their own registries; the main
// thread serves the merged numbers of all of them at /metrics (and prints them once the jobs are
// done). Each side turns the aggregation on with one call, `aggregateWorkers()`.
//
//   deno run --allow-net --allow-read examples/web_workers.ts
//   deno run --allow-net --allow-read examples/web_workers.ts --port 8000 --jobs 5000 --serve
//
// Without --serve it exits after printing; with it, it serves until Ctrl-C.
import { parseArgs } from "node:util";
import { startHttpServer } from "../mod.ts";
import { aggregateWorkers } from "../src/workers/mod.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    jobs: { type: "string", default: "1000" },
    serve: { type: "boolean", default: false },
  },
});
const jobsPerWorker = Number(flags.values.jobs);

// The main thread is a worker too: its own metrics (none here) join the merged view.
const cluster = aggregateWorkers({ workerId: "main" });
const server = startHttpServer({
  port: Number(flags.values.port),
  hostname: "127.0.0.1",
  registry: cluster,
});
console.log(`serving the metrics of every worker at ${server.url}`);

const workers = [1, 2, 3, 4].map((i) =>
  new Worker(new URL("./web_workers_worker.ts", import.meta.url), {
    type: "module",
    name: `worker-${i}`,
  })
);
await Promise.all(workers.map((worker) =>
  new Promise<void>((resolve) => {
    worker.onmessage = () => resolve();
    worker.postMessage({ jobs: jobsPerWorker });
  })
));

const text = await (await fetch(server.url)).text();
console.log(
  text.split("\n").filter((line) => /^(jobs_processed_total|job_duration_seconds_count)/.test(line))
    .join("\n"),
);

if (!flags.values.serve) {
  for (const worker of workers) worker.terminate();
  await server.shutdown();
  await cluster.close();
}
