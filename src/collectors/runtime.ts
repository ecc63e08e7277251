/**
 * Deno's own metrics: V8 heap and external memory, event-loop lag, and the runtime versions.
 * None of them needs a permission.
 *
 * @module
 */

import type { Collector, MetricFamily } from "../model.ts";
import { prefixedNames } from "./names.ts";
import { requireDeno } from "../platform.ts";

/** Options of {@linkcode RuntimeCollector}. */
export interface RuntimeCollectorOptions {
  /** Prepended to every metric name, e.g. `"myapp_"` gives `myapp_deno_info`. */
  readonly prefix?: string;
  /**
   * Measure event-loop lag (default `true`). This runs a timer every half second that never keeps
   * the program alive; `stop()` clears it.
   */
  readonly eventLoopLag?: boolean;
}

/** How often the lag probe fires. Short enough to catch stalls, long enough to cost nothing. */
const LAG_PROBE_INTERVAL_MS = 500;

const NAMES = {
  heapUsed: "deno_memory_heap_used_bytes",
  heapTotal: "deno_memory_heap_total_bytes",
  external: "deno_memory_external_bytes",
  eventLoopLag: "deno_eventloop_lag_seconds",
  // An info family is named without `_info`; formats add it.
  info: "deno",
} as const;

/**
 * Measures event-loop lag: a timer is due every {@linkcode LAG_PROBE_INTERVAL_MS}; how late it
 * actually fires is how long the loop was kept from running callbacks.
 */
class LagProbe {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lagSeconds = 0;

  constructor() {
    this.#schedule();
  }

  /** The lag measured by the latest probe, in seconds (0 before the first one). */
  get lagSeconds(): number {
    return this.#lagSeconds;
  }

  #schedule(): void {
    const due = performance.now() + LAG_PROBE_INTERVAL_MS;
    const timer = setTimeout(() => {
      this.#lagSeconds = Math.max(0, performance.now() - due) / 1000;
      this.#schedule();
    }, LAG_PROBE_INTERVAL_MS);
    // The probe must never be the reason a finished program keeps running.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Collects Deno's runtime metrics: `deno_memory_heap_used_bytes`,
 * `deno_memory_heap_total_bytes`, `deno_memory_external_bytes` (from `Deno.memoryUsage()`),
 * `deno_eventloop_lag_seconds`, and `deno_info{version,v8,typescript} 1`. Call `stop()` (or
 * let `using` do it) when done, to clear the event-loop probe.
 *
 * @example
 * ```ts
 * import { Registry, RuntimeCollector } from "@deno-prom/client";
 * const registry = new Registry();
 * using runtime = new RuntimeCollector();
 * registry.register(runtime);
 * const text = await registry.metrics(); // deno_memory_heap_used_bytes 5.1e+06 …
 * ```
 */
export class RuntimeCollector implements Collector, Disposable {
  /** The sample names this collector exposes, so a registry refuses a second copy. */
  readonly sampleNames: readonly string[];
  readonly #names: { readonly [K in keyof typeof NAMES]: string };
  readonly #lagProbe: LagProbe | undefined;
  readonly #versions: Readonly<Record<string, string>>;

  /** Creates the collector (and starts the lag probe unless `eventLoopLag: false`). */
  constructor(options: RuntimeCollectorOptions = {}) {
    requireDeno("RuntimeCollector");
    const names = prefixedNames("RuntimeCollector", options?.prefix ?? "", NAMES);
    this.#names = names;
    const eventLoopLag = options?.eventLoopLag ?? true;
    this.sampleNames = Object.freeze([
      names.heapUsed,
      names.heapTotal,
      names.external,
      ...(eventLoopLag ? [names.eventLoopLag] : []),
      names.info,
      names.info + "_info",
    ]);
    this.#versions = Object.freeze({
      version: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    });
    // Started last, so a constructor that throws leaves no timer behind.
    this.#lagProbe = eventLoopLag ? new LagProbe() : undefined;
  }

  /** Returns fresh snapshots of the runtime metrics. */
  collect(): MetricFamily[] {
    const names = this.#names;
    const memory = Deno.memoryUsage();
    const families: MetricFamily[] = [
      {
        type: "gauge",
        name: names.heapUsed,
        help: "V8 heap in use, in bytes.",
        unit: "bytes",
        points: [{ labels: {}, value: memory.heapUsed }],
      },
      {
        type: "gauge",
        name: names.heapTotal,
        help: "V8 heap reserved, in bytes.",
        unit: "bytes",
        points: [{ labels: {}, value: memory.heapTotal }],
      },
      {
        type: "gauge",
        name: names.external,
        help: "Memory outside the V8 heap held by JavaScript objects (such as ArrayBuffers), " +
          "in bytes.",
        unit: "bytes",
        points: [{ labels: {}, value: memory.external }],
      },
    ];
    if (this.#lagProbe !== undefined) {
      families.push({
        type: "gauge",
        name: names.eventLoopLag,
        help: "How late the latest event-loop probe timer fired, in seconds.",
        unit: "seconds",
        points: [{ labels: {}, value: this.#lagProbe.lagSeconds }],
      });
    }
    families.push({
      type: "info",
      name: names.info,
      help: "Versions of the Deno runtime, V8 and TypeScript.",
      points: [{ labels: this.#versions }],
    });
    return families;
  }

  /** Stops the event-loop probe. Collecting afterwards still works; the lag stays at its last value. */
  stop(): void {
    this.#lagProbe?.stop();
  }

  /** Same as {@linkcode RuntimeCollector.stop}, for `using`. */
  [Symbol.dispose](): void {
    this.stop();
  }
}
