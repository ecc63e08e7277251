// A Web Worker of examples/web_workers.ts: it runs the jobs it is sent and counts them in its
// own registry (the default one: each worker has its own). The one line that makes its numbers
// part of the main thread's /metrics is `aggregateWorkers()`.
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { Counter, Gauge, Histogram } from "../mod.ts";
import { aggregateWorkers } from "../src/workers/mod.ts";

const jobs = new Counter({ name: "jobs_processed_total", help: "jobs processed" });
const duration = new Histogram({
  name: "job_duration_seconds",
  help: "how long a job took",
  buckets: [0.001, 0.01, 0.1],
});
const busy = new Gauge({
  name: "workers_busy",
  help: "workers running a job now",
  aggregate: "livesum", // summed over the workers still alive
});
const cluster = aggregateWorkers({ workerId: self.name });

self.onmessage = async (event: MessageEvent<{ jobs: number }>) => {
  busy.inc();
  for (let i = 0; i < event.data.jobs; i++) {
    const stopTimer = duration.startTimer();
    crypto.getRandomValues(new Uint8Array(1024)); // the "work"
    stopTimer();
    jobs.inc();
  }
  busy.dec();
  await cluster.publish(); // so the numbers survive even if this worker is terminated now
  self.postMessage("done");
};
