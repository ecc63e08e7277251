// The guide's first program, push mode: a batch job with no HTTP server of its own. A monitor
// object holds its own registry and the job histogram, and a background pusher sends it to a
// Prometheus Pushgateway every 5 s under job "moni"; the job runs 10 times, each run sleeping a
// random 0–10 s, then the program waits 10 s and stops the pusher (which pushes one last time).
//
//   prometheus-pushgateway &          # listens on :9091
//   deno run --allow-net examples/push_job.ts
//   deno run --allow-net examples/push_job.ts --gateway http://localhost:9091 --runs 3 --max-sleep 0.2 --linger 0
//
// The pushed group is then at http://localhost:9091/metrics (job="moni"). Like Python's
// push_to_gateway, which raises, the program fails (exit code 1, the error on stderr) when its
// final push fails: the gateway then does not hold the job's last values.
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
  /** The latest failed push's error, kept for the final report. */
  #lastError: Error | undefined;

  constructor(gateway: string, intervalSeconds: number) {
    this.#pusher = new Pusher({
      gateway,
      job: "moni",
      registry: this.registry,
      intervalMs: intervalSeconds * 1000,
      onError: (error, { consecutiveFailures }) => {
        this.#lastError = error;
        // One line per streak of failures: the job goes on while the gateway is away.
        if (consecutiveFailures === 1) console.error(`push failed, retrying: ${error.message}`);
      },
    });
  }

  start(): void {
    this.#pusher.start();
  }

  /**
   * Stops pushing after one final push, so the last observations reach the gateway; rejects with
   * that push's error when it failed.
   */
  async stop(): Promise<void> {
    await this.#pusher.stop();
    if (this.#pusher.consecutiveFailures > 0) {
      throw this.#lastError ?? new Error(`the final push to ${this.#pusher.url} failed`);
    }
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
try {
  await moni.stop();
} catch (error) {
  console.error(`error: the final push failed: ${(error as Error).message}`);
  Deno.exit(1);
}
console.log(`pushed to ${flags.push} under job "moni"`);
