/**
 * `collectDefaultMetrics()`: registers the process and Deno runtime collectors in one call.
 *
 * @module
 */

import { defaultRegistry, type Registry } from "../registry.ts";
import { announceNothing, ProcessCollector } from "./process.ts";
import { RuntimeCollector } from "./runtime.ts";

/** Options of {@linkcode collectDefaultMetrics}. */
export interface DefaultMetricsOptions {
  /** Where to register the collectors; defaults to `defaultRegistry`. */
  readonly registry?: Registry;
  /** Prepended to every metric name, e.g. `"myapp_"`. */
  readonly prefix?: string;
  /** Measure event-loop lag with a timer that never keeps the program alive (default `true`). */
  readonly eventLoopLag?: boolean;
  /** How often the lag probe fires, in milliseconds (default 20). */
  readonly eventLoopLagResolutionMs?: number;
  /**
   * Told once per process which `/proc` metrics are missing. By default nobody is told: the
   * defaults are whatever this process may read, and the missing ones are simply absent.
   */
  readonly onUnavailable?: (message: string) => void;
}

/** What {@linkcode collectDefaultMetrics} registered, and how to take it back. */
export interface DefaultMetrics extends Disposable {
  /** The `process_*` collector. */
  readonly process: ProcessCollector;
  /** The `deno_*` collector. */
  readonly runtime: RuntimeCollector;
  /** Unregisters both collectors and stops the event-loop probe. Idempotent. */
  stop(): void;
}

/**
 * Registers the standard process metrics (`process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
 * `process_start_time_seconds`, `process_open_fds`, `process_max_fds`) and Deno's own (memory,
 * event-loop lag and its distribution, active resources, heap spaces, `deno_info`: see
 * {@linkcode RuntimeCollector}). Values are read on every scrape. Process metrics that cannot
 * be read here are left out, silently unless `onUnavailable` is given: on Linux,
 * `process_virtual_memory_bytes`, `process_open_fds` and `process_max_fds` need `/proc/self`,
 * which Deno 2 grants only under `--allow-all`. A {@linkcode ProcessCollector} registered by
 * hand announces them, since there they were asked for. Registering twice in one registry throws
 * a `TypeError`, as for any duplicate name.
 *
 * @example
 * ```ts
 * import { collectDefaultMetrics, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * using defaults = collectDefaultMetrics({ registry });
 * const text = await registry.metrics(); // process_cpu_seconds_total …, deno_info{…} 1.0
 * ```
 */
export function collectDefaultMetrics(options: DefaultMetricsOptions = {}): DefaultMetrics {
  if (options === null || typeof options !== "object") {
    throw new TypeError("collectDefaultMetrics() takes an options object, e.g. { registry }");
  }
  const registry = options.registry ?? defaultRegistry;
  const process = new ProcessCollector({
    prefix: options.prefix,
    // The caller asked for whatever defaults this process can give, not for the /proc metrics
    // by name: their absence is no news worth a line on stderr at every start.
    onUnavailable: options.onUnavailable ?? announceNothing,
  });
  const runtime = new RuntimeCollector({
    prefix: options.prefix,
    eventLoopLag: options.eventLoopLag,
    eventLoopLagResolutionMs: options.eventLoopLagResolutionMs,
  });
  try {
    registry.register(process);
    registry.register(runtime);
  } catch (error) {
    // Leave nothing half-registered, and no probe timer running, behind.
    registry.unregister(process);
    runtime.stop();
    throw error;
  }
  const stop = (): void => {
    registry.unregister(process);
    registry.unregister(runtime);
    runtime.stop();
  };
  return { process, runtime, stop, [Symbol.dispose]: stop };
}
