/**
 * Many workers, one view alone: merging snapshots, aggregation over a `BroadcastChannel`
 * (isolates, Web Workers) and through a directory (processes), and how each gauge merges
 * (`GaugeAggregation`, the type of a gauge's `aggregate` option, also in `./exposition`). The
 * package root leaves all of these out. Each aggregator is made by its function
 * (`aggregateWorkers`, `publishToDirectory`, `directoryCollector`); its class is exported as a
 * type only.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "@deno-prom/client";
 * import { mergeSnapshots } from "@deno-prom/client/workers";
 * const a = new Registry();
 * const b = new Registry();
 * new Counter({ name: "jobs_total", help: "jobs", registry: a }).inc(3);
 * new Counter({ name: "jobs_total", help: "jobs", registry: b }).inc(4);
 * const merged = mergeSnapshots([
 *   { worker: "a", live: true, families: await a.collect() },
 *   { worker: "b", live: true, families: await b.collect() },
 * ]); // jobs_total 7
 * ```
 *
 * @module
 */

export { GAUGE_AGGREGATIONS, type GaugeAggregation } from "../model.ts";
export {
  DEFAULT_WORKER_LABEL,
  type MergeOptions,
  mergeSnapshots,
  type WorkerSnapshot,
} from "./merge.ts";
export { MergedSeriesChoice } from "./merge_caps.ts";
export {
  aggregateWorkers,
  type AggregateWorkersOptions,
  type PeerStatus,
  type WorkerAggregator,
} from "./broadcast.ts";
export {
  type DirectoryCollector,
  directoryCollector,
  type DirectoryCollectorOptions,
  type DirectoryPublisher,
  type DirectoryPublisherOptions,
  publishToDirectory,
} from "./directory.ts";
