// The guide's decorators in TypeScript: `@c.count_exceptions()` and `@g.track_inprogress()`
// become TC39 method decorators on a class, and the same calls work as function wrappers.
//
//   deno run examples/decorators.ts
//
// It needs no permission: it prints the exposition to stdout.
import { Counter, Gauge, Registry } from "../mod.ts";

const registry = new Registry();
const failures = new Counter({
  name: "job_failures_total",
  help: "jobs that threw",
  registry,
});
const inProgress = new Gauge({
  name: "jobs_in_progress",
  help: "jobs running right now",
  registry,
});

class Worker {
  // Decorators apply bottom-up: calls are tracked in progress, and throws are counted.
  @failures.countExceptions()
  @inProgress.trackInProgress()
  async work(fail: boolean): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 10));
    if (fail) throw new Error("the job failed");
    return "done";
  }
}

// The same without decorators: wrap plain functions.
const flaky = failures.countExceptions((attempt: number) => {
  if (attempt % 2 === 1) throw new RangeError(`attempt ${attempt} failed`);
  return attempt;
}, { only: RangeError });
const tracked = inProgress.trackInProgress(() => new Promise((r) => setTimeout(r, 10)));

const worker = new Worker();
const running = [worker.work(false), worker.work(true), tracked()];
console.log(`jobs_in_progress while three calls run: ${inProgress.value}`);
const outcomes = await Promise.allSettled(running);
console.log(`jobs_in_progress after they settled: ${inProgress.value}`);
for (const attempt of [0, 1, 2, 3]) {
  try {
    flaky(attempt);
  } catch {
    // counted by the wrapper, then rethrown: the caller still sees the error
  }
}
console.log(`outcomes: ${outcomes.map((outcome) => outcome.status).join(", ")}`);
console.log(await registry.metrics());
