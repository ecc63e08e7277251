// Processes for tests/workers/directory_test.ts.
//
//   write  --dir D --increments N [--interval MS] [--series S] [--exit]
//     counts N jobs, publishes to D, prints "published <pid>", then keeps rewriting its file
//     every MS until killed — or, with --exit, ends normally (its final snapshot marks it gone).
//     --series S adds S labelled series, to make every write large (slow enough to be killed in).
//     On SIGUSR1 it counts one more job, flushes, and prints "counted <total>".
//   export --dir D --port P [--retire-after MS] [--dead-after MS]
//     serves the merged view of D at http://127.0.0.1:P/metrics.
import { Counter, Gauge, Histogram, Registry, startHttpServer } from "../../mod.ts";
import { directoryCollector, publishToDirectory } from "../../src/workers/mod.ts";

function option(name: string): string | undefined {
  const index = Deno.args.indexOf(`--${name}`);
  return index < 0 ? undefined : Deno.args[index + 1];
}

const mode = Deno.args[0];
const dir = option("dir")!;

if (mode === "write") {
  const registry = new Registry();
  const jobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
  const duration = new Histogram({
    name: "job_duration_seconds",
    help: "job duration",
    buckets: [0.1, 1],
    registry,
  });
  new Gauge({ name: "processes_up", help: "processes alive", aggregate: "livesum", registry })
    .set(1);
  new Gauge({ name: "process_seen", help: "one per live process", aggregate: "liveall", registry })
    .set(1);
  new Gauge({ name: "processes_ever", help: "processes started", aggregate: "sum", registry })
    .set(1);
  const series = Number(option("series") ?? 0);
  if (series > 0) {
    const padding = new Counter({
      name: "padding_total",
      help: "many series, to make each write large",
      labelNames: ["index"],
      registry,
    });
    for (let i = 0; i < series; i++) padding.labels({ index: String(i) }).inc(i);
  }
  const increments = Number(option("increments") ?? 0);
  for (let i = 0; i < increments; i++) {
    jobs.inc();
    duration.observe(i % 2 === 0 ? 0.05 : 0.5);
  }
  const publisher = publishToDirectory({
    dir,
    registry,
    intervalMs: Number(option("interval") ?? 1000),
  });
  await publisher.flush();
  console.log(`published ${Deno.pid}`);
  // SIGUSR1: one more job, written at once (tests count exactly what a process added when).
  Deno.addSignalListener("SIGUSR1", async () => {
    jobs.inc();
    await publisher.flush();
    console.log(`counted ${jobs.value}`);
  });
  if (!Deno.args.includes("--exit")) {
    // Keep running (the publisher's timer does not keep a program alive by itself).
    setInterval(() => {}, 60_000);
  }
} else if (mode === "export") {
  const collector = directoryCollector({
    dir,
    retireAfterMs: option("retire-after") === undefined
      ? undefined
      : Number(option("retire-after")),
    deadAfterMs: option("dead-after") === undefined ? undefined : Number(option("dead-after")),
  });
  const server = startHttpServer({
    port: Number(option("port")),
    hostname: "127.0.0.1",
    registry: collector,
    compression: false,
  });
  console.log(`exporting ${dir} at ${server.url}`);
} else {
  console.error("usage: write|export --dir D ...");
  Deno.exit(2);
}
