/**
 * Many workers, one view alone: merging snapshots, aggregation over a `BroadcastChannel`
 * (isolates, Web Workers) and through a directory (processes). The same names are exported by
 * the package root; import them from here to keep a bundle to what it uses.
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
  WorkerAggregator,
} from "./broadcast.ts";
export {
  DirectoryCollector,
  directoryCollector,
  type DirectoryCollectorOptions,
  DirectoryPublisher,
  type DirectoryPublisherOptions,
  publishToDirectory,
} from "./directory.ts";
