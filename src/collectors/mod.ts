/**
 * The built-in collectors alone: process metrics from `/proc`, runtime metrics (memory, event
 * loop lag) and `collectDefaultMetrics`, which registers both (the root exports only
 * `collectDefaultMetrics` and its types). Import the collectors from here to register one alone.
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { collectDefaultMetrics } from "@deno-prom/client/collectors";
 * const registry = new Registry();
 * using defaults = collectDefaultMetrics({ registry });
 * const text = await registry.metrics(); // process_cpu_seconds_total …, deno_info{…} 1.0
 * ```
 *
 * @module
 */

export { ProcessCollector, type ProcessCollectorOptions } from "./process.ts";
export { RuntimeCollector, type RuntimeCollectorOptions } from "./runtime.ts";
export {
  collectDefaultMetrics,
  type DefaultMetrics,
  type DefaultMetricsOptions,
} from "./defaults.ts";
