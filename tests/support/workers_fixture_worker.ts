// A Web Worker for tests/workers/broadcast_test.ts, driven by messages from the test:
//   { kind: "start", channelName, workerId }  → joins the aggregation, answers "ready"
//   { kind: "work", increments }              → counts, publishes, answers { kind: "done" }
//   { kind: "close" }                         → leaves with a final snapshot, answers "closed"
// Each worker sets `workers_up` (livesum), `worker_seen` (liveall) and `workers_ever` (sum) to 1.
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { Counter, Gauge, Registry } from "../../mod.ts";
import { aggregateWorkers, type WorkerAggregator } from "../../src/workers/mod.ts";

const registry = new Registry();
const jobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
new Gauge({ name: "workers_up", help: "workers alive", aggregate: "livesum", registry }).set(1);
new Gauge({ name: "worker_seen", help: "one per live worker", aggregate: "liveall", registry })
  .set(1);
new Gauge({ name: "workers_ever", help: "workers ever started", aggregate: "sum", registry })
  .set(1);
let cluster: WorkerAggregator | undefined;

interface Command {
  kind: "start" | "work" | "close";
  channelName?: string;
  workerId?: string;
  increments?: number;
}

self.onmessage = async (event: MessageEvent<Command>) => {
  const command = event.data;
  if (command.kind === "start") {
    cluster = aggregateWorkers({
      registry,
      channelName: command.channelName,
      workerId: command.workerId,
      publishIntervalMs: 100,
    });
    self.postMessage({ kind: "ready" });
  } else if (command.kind === "work") {
    for (let i = 0; i < (command.increments ?? 0); i++) jobs.inc();
    await cluster?.publish();
    self.postMessage({ kind: "done", total: jobs.value });
  } else if (command.kind === "close") {
    await cluster?.close();
    self.postMessage({ kind: "closed" });
  }
};
