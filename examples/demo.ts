// `deno task demo`: the guide's job, end to end, with nothing else running. Pull mode by
// default: a /metrics server (plus /healthz) on port 8000 while the job runs 10 times, each
// run sleeping a random 0–10 s; at the end it prints what /metrics serves. With --push it also
// pushes the job's histogram (only it: runtime metrics of a process that has ended would outlive
// it on the gateway) to a Pushgateway every 5 s under job "moni", with a final push at the end.
//
//   deno task demo
//   deno task demo --runs 3 --max-sleep 0.2 --linger 0
//   deno task demo --push http://localhost:9091 --port 8001    (--port 0: any free port)
//   deno task demo --native    (a native histogram too; Prometheus needs
//                               --enable-feature=native-histograms and scrapes it over protobuf)
//   deno run --allow-net --allow-read=/tmp --allow-write=/tmp examples/demo.ts --textfile /tmp/demo.prom
//
// Permissions: --allow-net (server, push). Deno 2.9 lets a program read /proc/self only with
// --allow-all, so the /proc-only process metrics (open fds, virtual memory) appear only under -A;
// without it collectDefaultMetrics() leaves them out quietly.
import {
  collectDefaultMetrics,
  PortInUseError,
  Pusher,
  Registry,
  startHttpServer,
  writeToTextfile,
} from "../mod.ts";
import { job, jobHistogram, parseJobFlags, sleep } from "./guide_job.ts";

const USAGE = `usage: deno task demo [options]
  --runs N        how many times the job runs (default 10)
  --max-sleep S   longest run, in seconds (default 10)
  --port P        port of the /metrics server (default 8000; 0 takes any free port)
  --push URL      also push to this Pushgateway every --interval s (default 5)
  --linger S      keep serving S seconds after the last run (default 10)
  --native        make the histogram native too (see docs/native-histograms.md)
  --textfile PATH also write the metrics to PATH for node_exporter's textfile collector
                  (needs --allow-read and --allow-write for its directory)`;

const flags = parseJobFlags(USAGE, { linger: 10 });

function fail(message: string): never {
  console.error(`error: ${message}`);
  Deno.exit(1);
}

function isPermissionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}

// The job's own registry is what gets pushed; /metrics serves it and the runtime metrics.
const jobRegistry = new Registry();
const histogram = jobHistogram(jobRegistry, flags.native);
const registry = new Registry();
registry.register(jobRegistry);
const runtimeMetrics = collectDefaultMetrics({ registry });
const timedJob = histogram.labels({ job_name: "test_job" }).time(job);

let server;
try {
  server = startHttpServer({ port: flags.port, registry });
} catch (error) {
  if (error instanceof PortInUseError) {
    fail(
      `port ${flags.port} is already in use by another program; ` +
        `pick another one with --port (e.g. --port ${flags.port + 1})`,
    );
  }
  if (isPermissionError(error)) {
    fail(
      "the demo needs network permission to serve /metrics: run `deno task demo`, or " +
        "`deno run --allow-net examples/demo.ts`",
    );
  }
  throw error;
}
const localUrl = `http://localhost:${server.port}`;
console.log(`serving metrics at ${localUrl}/metrics (health check: ${localUrl}/healthz)`);

let pusher: Pusher | undefined;
if (flags.push !== undefined) {
  pusher = new Pusher({
    gateway: flags.push,
    job: "moni",
    registry: jobRegistry,
    intervalMs: flags.interval * 1000,
  });
  pusher.start();
  console.log(`pushing to ${flags.push} every ${flags.interval} s under job "moni"`);
}

for (let run = 1; run <= flags.runs; run++) {
  const seconds = await timedJob(flags.maxSleep);
  console.log(`run ${run}/${flags.runs}: job ran ${seconds.toFixed(2)} s`);
}

if (pusher !== undefined) {
  await pusher.stop(); // one final push, so the last runs are not lost
  console.log(
    pusher.consecutiveFailures === 0
      ? `final push to ${flags.push} done`
      : `the Pushgateway at ${flags.push} could not be reached; the runs are still served here`,
  );
}

if (flags.textfile !== undefined) {
  await writeToTextfile(flags.textfile, jobRegistry).then(
    () => console.log(`metrics written to ${flags.textfile} for node_exporter`),
    (error) => fail(error.message),
  );
}

// What a scraper gets right now, in the text format 0.0.4 (the guide's listing).
const response = await fetch(
  `http://127.0.0.1:${server.port}/metrics?name[]=job_duration_seconds`,
);
console.log(`\n--- ${localUrl}/metrics (job_duration_seconds) ---\n${await response.text()}`);

if (flags.linger > 0) {
  console.log(`serving for ${flags.linger} s more, so Prometheus can scrape it (Ctrl-C stops)`);
  await sleep(flags.linger * 1000);
}
runtimeMetrics.stop();
await server.shutdown();
