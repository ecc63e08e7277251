// The guide's second program, pull mode: the same histogram, filled through the timer wrapper
// (the guide's `@h.time()`), served at http://localhost:8000/metrics by a background server that
// also answers the container health check at /healthz. After the runs it lingers so Prometheus
// can scrape the final numbers.
//
//   deno run --allow-net examples/pull_job.ts
//   deno run --allow-net examples/pull_job.ts --port 8000 --runs 3 --max-sleep 0.2 --linger 0
import { Registry, startHttpServer } from "../mod.ts";
import { job, jobHistogram, parseJobFlags, sleep } from "./guide_job.ts";

const flags = parseJobFlags(
  "usage: pull_job.ts [--port P] [--runs N] [--max-sleep S] [--linger S]",
  { linger: 30 },
);

const registry = new Registry();
const h = jobHistogram(registry);
// `@h_label.time()` in the guide: every call of timedJob is observed when it settles.
const timedJob = h.labels({ job_name: "test_job" }).time(job);

await using server = startHttpServer({ port: flags.port, registry });
console.log(`serving metrics at ${server.url}`);
for (let run = 1; run <= flags.runs; run++) {
  const seconds = await timedJob(flags.maxSleep);
  console.log(`job ran ${seconds.toFixed(2)} s`);
}
console.log(`done; serving for ${flags.linger} s more`);
await sleep(flags.linger * 1000);
