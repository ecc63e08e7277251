// The guide's first program, push mode: a batch job with no HTTP server of its own. A monitor
// object holds its own registry and the job histogram, and a background pusher sends it to a
// Prometheus Pushgateway every 5 s under job "moni"; the job runs 10 times, each run sleeping a
// random 0–10 s, then the program waits 10 s and stops the pusher (which pushes one last time).
//
//   prometheus-pushgateway &          # listens on :9091
//   deno run --allow-net examples/push_job.ts
//   deno run --allow-net examples/push_job.ts --gateway http://localhost:9091 --runs 3 --max-sleep 0.2 --linger 0
//
// The pushed group is then at http://localhost:9091/metrics (job="moni").
import { type Histogram, Pusher, Registry } from "../mod.ts";
import { job, jobHistogram, parseJobFlags, sleep } from "./guide_job.ts";

const flags = parseJobFlags(
  "usage: push_job.ts [--gateway URL] [--runs N] [--max-sleep S] [--linger S] [--interval S]",
  { push: "http://localhost:9091", linger: 10 },
);

/** The guide's `Moni`: its own registry, the histogram, and the background pusher. */
class Moni {
  readonly registry = new Registry();
  readonly histogram: Histogram = jobHistogram(this.registry);
  readonly #pusher: Pusher;

  constructor(gateway: string, intervalSeconds: number) {
    this.#pusher = new Pusher({
      gateway,
      job: "moni",
      registry: this.registry,
      intervalMs: intervalSeconds * 1000,
    });
  }

  start(): void {
    this.#pusher.start();
  }

  /** Stops pushing after one final push, so the last observations reach the gateway. */
  stop(): Promise<void> {
    return this.#pusher.stop();
  }
}

const moni = new Moni(flags.push!, flags.interval);
moni.start();
const jobDuration = moni.histogram.labels({ job_name: "test_job" });
for (let run = 1; run <= flags.runs; run++) {
  const seconds = await job(flags.maxSleep);
  jobDuration.observe(seconds);
  console.log(`job ran ${seconds.toFixed(2)} s`);
}
await sleep(flags.linger * 1000);
await moni.stop();
console.log(`pushed to ${flags.push} under job "moni"`);
