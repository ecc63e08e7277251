/**
 * Deno's own metrics: V8 heap and external memory, event-loop lag and its distribution,
 * active resources, heap spaces, and the runtime versions. None of them needs a permission.
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
   * Measure event-loop lag (default `true`). This runs a timer (every
   * `eventLoopLagResolutionMs`) that never keeps the program alive; `stop()` clears it.
   */
  readonly eventLoopLag?: boolean;
  /**
   * How often the lag probe fires, in milliseconds (default 20; prom-client's default
   * precision is 10). Finer catches shorter stalls and costs more CPU while idle.
   */
  readonly eventLoopLagResolutionMs?: number;
}

/**
 * How often the lag probe fires by default, in milliseconds. prom-client samples every 10 ms with
 * a native timer; a JavaScript timer costs more CPU per firing, and firing half as often halves
 * that cost, so we default to 20 ms.
 */
const DEFAULT_LAG_RESOLUTION_MS = 20;
/** How far back the lag distribution looks: the probes of the last minute. */
const LAG_WINDOW_MS = 60_000;

const NAMES = {
  heapUsed: "deno_memory_heap_used_bytes",
  heapTotal: "deno_memory_heap_total_bytes",
  external: "deno_memory_external_bytes",
  eventLoopLag: "deno_eventloop_lag_seconds",
  lagMin: "deno_eventloop_lag_min_seconds",
  lagMax: "deno_eventloop_lag_max_seconds",
  lagMean: "deno_eventloop_lag_mean_seconds",
  lagStddev: "deno_eventloop_lag_stddev_seconds",
  lagP50: "deno_eventloop_lag_p50_seconds",
  lagP90: "deno_eventloop_lag_p90_seconds",
  lagP99: "deno_eventloop_lag_p99_seconds",
  eluActive: "deno_eventloop_active_seconds",
  eluIdle: "deno_eventloop_idle_seconds",
  activeResources: "deno_active_resources",
  heapSpaceTotal: "deno_heap_space_size_total_bytes",
  heapSpaceUsed: "deno_heap_space_size_used_bytes",
  heapSpaceAvailable: "deno_heap_space_size_available_bytes",
  // An info family is named without `_info`; formats add it.
  info: "deno",
} as const;

/** The lag distribution over a window of probes, in seconds. */
export interface LagStatistics {
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/**
 * Statistics of lags sorted in increasing order (at least one): percentiles by nearest rank
 * (the smallest lag that at least p% of the probes did not exceed), population deviation.
 */
export function lagStatistics(sorted: Float64Array): LagStatistics {
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (sorted[i] - mean) ** 2;
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)];
  return {
    min: sorted[0],
    max: sorted[n - 1],
    mean,
    stddev: Math.sqrt(squares / n),
    p50: rank(50),
    p90: rank(90),
    p99: rank(99),
  };
}

/**
 * Measures event-loop lag: a timer is due every `resolutionMs`; how late it actually fires is
 * how long the loop was kept from running callbacks. The lags of the last minute are kept in a
 * fixed ring (no growth, whatever the uptime), and reading them changes nothing: two scrapers,
 * or a scrape and a push, see the same distribution.
 */
class LagProbe {
  readonly #resolutionMs: number;
  readonly #lags: Float64Array;
  readonly #times: Float64Array;
  #next = 0;
  #stored = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lagSeconds = 0;

  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs;
    const capacity = Math.ceil(LAG_WINDOW_MS / resolutionMs) + 1;
    this.#lags = new Float64Array(capacity);
    this.#times = new Float64Array(capacity);
    this.#schedule();
  }

  /** The lag measured by the latest probe, in seconds (0 before the first one). */
  get lagSeconds(): number {
    return this.#lagSeconds;
  }

  /** The distribution of the last minute's lags, or `undefined` before the first probe. */
  statistics(): LagStatistics | undefined {
    const since = performance.now() - LAG_WINDOW_MS;
    const recent: number[] = [];
    for (let i = 0; i < this.#stored; i++) {
      if (this.#times[i] >= since) recent.push(this.#lags[i]);
    }
    if (recent.length === 0) return undefined;
    return lagStatistics(Float64Array.from(recent).sort());
  }

  #schedule(): void {
    const due = performance.now() + this.#resolutionMs;
    const timer = setTimeout(() => {
      const now = performance.now();
      this.#lagSeconds = Math.max(0, now - due) / 1000;
      this.#lags[this.#next] = this.#lagSeconds;
      this.#times[this.#next] = now;
      this.#next = (this.#next + 1) % this.#lags.length;
      if (this.#stored < this.#lags.length) this.#stored++;
      this.#schedule();
    }, this.#resolutionMs);
    // The probe must never be the reason a finished program keeps running.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** Node's event-loop utilisation figures, cumulative, in milliseconds. */
export interface EventLoopUtilization {
  readonly idle: number;
  readonly active: number;
}

/**
 * `performance.eventLoopUtilization()` where the runtime really measures it. Deno 2.9 has the
 * function but returns zeros, so it counts as absent there (checked on every call, so a Deno
 * that starts measuring is picked up).
 */
function eventLoopUtilization(): EventLoopUtilization | undefined {
  const measure = (performance as { eventLoopUtilization?: () => EventLoopUtilization })
    .eventLoopUtilization;
  if (typeof measure !== "function") return undefined;
  try {
    const elu = measure.call(performance);
    return elu.idle + elu.active > 0 ? elu : undefined;
  } catch {
    return undefined;
  }
}

/** The two cumulative counters of event-loop activity, from utilisation figures. */
export function utilizationFamilies(
  elu: EventLoopUtilization,
  names: { readonly eluActive: string; readonly eluIdle: string },
): MetricFamily[] {
  return [
    {
      type: "counter",
      name: names.eluActive,
      help: "Time the event loop spent running callbacks, in seconds " +
        "(utilisation: rate of this over the rate of it plus the idle time).",
      unit: "seconds",
      points: [{ labels: {}, value: elu.active / 1000 }],
    },
    {
      type: "counter",
      name: names.eluIdle,
      help: "Time the event loop spent waiting for events, in seconds.",
      unit: "seconds",
      points: [{ labels: {}, value: elu.idle / 1000 }],
    },
  ];
}

/** Counts by type, from `process.getActiveResourcesInfo()` (Node's list of live handles). */
export function countByType(types: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of types) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Node's `process.getActiveResourcesInfo`, when the runtime has it. */
function activeResourceTypes(): readonly string[] | undefined {
  const nodeProcess = (globalThis as {
    process?: { getActiveResourcesInfo?: () => string[] };
  }).process;
  try {
    const types = nodeProcess?.getActiveResourcesInfo?.();
    return Array.isArray(types) ? types : undefined;
  } catch {
    return undefined;
  }
}

/** One V8 heap space, as `node:v8` reports it. */
interface HeapSpace {
  readonly space_name: string;
  readonly space_size: number;
  readonly space_used_size: number;
  readonly space_available_size: number;
}

/** `node:v8`'s heap-space statistics, loaded when a collector is made (never at import). */
type HeapSpaceReader = () => readonly HeapSpace[];

function loadHeapSpaceReader(): Promise<HeapSpaceReader | undefined> {
  return import("node:v8").then(
    (v8) =>
      typeof v8.getHeapSpaceStatistics === "function"
        ? () => v8.getHeapSpaceStatistics() as readonly HeapSpace[]
        : undefined,
    () => undefined,
  );
}

/** The per-space gauges, `space` being V8's name without `_space` (`new`, `old`, `code`…). */
export function heapSpaceFamilies(
  spaces: readonly HeapSpace[],
  names: {
    readonly heapSpaceTotal: string;
    readonly heapSpaceUsed: string;
    readonly heapSpaceAvailable: string;
  },
): MetricFamily[] {
  const labelsOf = spaces.map((space) => ({ space: space.space_name.replace(/_space$/, "") }));
  const family = (name: string, help: string, value: (space: HeapSpace) => number) => ({
    type: "gauge" as const,
    name,
    help,
    unit: "bytes",
    points: spaces.map((space, i) => ({ labels: labelsOf[i], value: value(space) })),
  });
  return [
    family(names.heapSpaceTotal, "Size of each V8 heap space, in bytes.", (s) => s.space_size),
    family(names.heapSpaceUsed, "Bytes in use in each V8 heap space.", (s) => s.space_used_size),
    family(
      names.heapSpaceAvailable,
      "Bytes still available in each V8 heap space.",
      (s) => s.space_available_size,
    ),
  ];
}

/**
 * Collects Deno's runtime metrics, read on every scrape. None needs a permission:
 *
 * - `deno_memory_heap_used_bytes`, `deno_memory_heap_total_bytes`, `deno_memory_external_bytes`
 *   from `Deno.memoryUsage()`;
 * - event-loop lag: `deno_eventloop_lag_seconds` (the latest probe) and its distribution over
 *   the last minute, as prom-client gives it: `deno_eventloop_lag_{min,max,mean,stddev,p50,p90,
 *   p99}_seconds` (absent until the first probe has fired);
 * - `deno_eventloop_active_seconds_total` and `deno_eventloop_idle_seconds_total`, from
 *   `performance.eventLoopUtilization()`, only where the runtime measures it (Deno 2.9 returns
 *   zeros, so they are absent there);
 * - `deno_active_resources{type}`: Node-compatible handles keeping the loop alive (timers,
 *   `node:net` sockets and servers), from `process.getActiveResourcesInfo()`. Resources opened
 *   through `Deno.*` APIs (`Deno.serve`, `Deno.open`) are not in that list;
 * - `deno_heap_space_size_{total,used,available}_bytes{space}` from `node:v8`;
 * - `deno_info{version,v8,typescript} 1`.
 *
 * Garbage collection is not observable in Deno 2.9 (`PerformanceObserver` accepts `gc` but
 * never reports an entry), so there is no GC metric. Call `stop()` (or let `using` do it) when
 * done, to clear the event-loop probe.
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { RuntimeCollector } from "@deno-prom/client/collectors";
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
  readonly #heapSpaces: Promise<HeapSpaceReader | undefined>;

  /** Creates the collector (and starts the lag probe unless `eventLoopLag: false`). */
  constructor(options: RuntimeCollectorOptions = {}) {
    requireDeno("RuntimeCollector");
    const names = prefixedNames("RuntimeCollector", options?.prefix ?? "", NAMES);
    this.#names = names;
    const eventLoopLag = options?.eventLoopLag ?? true;
    const resolutionMs = options?.eventLoopLagResolutionMs ?? DEFAULT_LAG_RESOLUTION_MS;
    if (
      typeof resolutionMs !== "number" || !(resolutionMs >= 1 && resolutionMs <= LAG_WINDOW_MS)
    ) {
      throw new RangeError(
        `RuntimeCollector: eventLoopLagResolutionMs must be from 1 to ${LAG_WINDOW_MS}, got ${resolutionMs}`,
      );
    }
    const lagNames = [
      names.eventLoopLag,
      names.lagMin,
      names.lagMax,
      names.lagMean,
      names.lagStddev,
      names.lagP50,
      names.lagP90,
      names.lagP99,
    ];
    this.sampleNames = Object.freeze([
      names.heapUsed,
      names.heapTotal,
      names.external,
      ...(eventLoopLag ? lagNames : []),
      names.eluActive + "_total",
      names.eluIdle + "_total",
      names.activeResources,
      names.heapSpaceTotal,
      names.heapSpaceUsed,
      names.heapSpaceAvailable,
      names.info,
      names.info + "_info",
    ]);
    this.#versions = Object.freeze({
      version: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    });
    this.#heapSpaces = loadHeapSpaceReader();
    // Started last, so a constructor that throws leaves no timer behind.
    this.#lagProbe = eventLoopLag ? new LagProbe(resolutionMs) : undefined;
  }

  /** Returns fresh snapshots of the runtime metrics. */
  async collect(): Promise<MetricFamily[]> {
    const names = this.#names;
    const memory = Deno.memoryUsage();
    const families: MetricFamily[] = [
      gauge(names.heapUsed, "V8 heap in use, in bytes.", memory.heapUsed, "bytes"),
      gauge(names.heapTotal, "V8 heap reserved, in bytes.", memory.heapTotal, "bytes"),
      gauge(
        names.external,
        "Memory outside the V8 heap held by JavaScript objects (such as ArrayBuffers), in bytes.",
        memory.external,
        "bytes",
      ),
    ];
    const probe = this.#lagProbe;
    if (probe !== undefined) {
      families.push(gauge(
        names.eventLoopLag,
        "How late the latest event-loop probe timer fired, in seconds.",
        probe.lagSeconds,
        "seconds",
      ));
      const stats = probe.statistics();
      if (stats !== undefined) {
        const window = "of the event-loop probes of the last minute, in seconds.";
        families.push(
          gauge(names.lagMin, `Smallest lag ${window}`, stats.min, "seconds"),
          gauge(names.lagMax, `Largest lag ${window}`, stats.max, "seconds"),
          gauge(names.lagMean, `Mean lag ${window}`, stats.mean, "seconds"),
          gauge(
            names.lagStddev,
            `Standard deviation of the lag ${window}`,
            stats.stddev,
            "seconds",
          ),
          gauge(names.lagP50, `Median lag ${window}`, stats.p50, "seconds"),
          gauge(names.lagP90, `90th percentile of the lag ${window}`, stats.p90, "seconds"),
          gauge(names.lagP99, `99th percentile of the lag ${window}`, stats.p99, "seconds"),
        );
      }
    }
    const elu = eventLoopUtilization();
    if (elu !== undefined) families.push(...utilizationFamilies(elu, names));
    const resourceTypes = activeResourceTypes();
    if (resourceTypes !== undefined) {
      families.push({
        type: "gauge",
        name: names.activeResources,
        help: "Node-compatible resources keeping the event loop alive (timers, node:net " +
          "sockets), by type; Deno.* resources are not counted.",
        points: [...countByType(resourceTypes)].map(([type, count]) => ({
          labels: { type },
          value: count,
        })),
      });
    }
    const readHeapSpaces = await this.#heapSpaces;
    if (readHeapSpaces !== undefined) {
      try {
        families.push(...heapSpaceFamilies(readHeapSpaces(), names));
      } catch {
        // Left out on this scrape: what cannot be read is not guessed.
      }
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

function gauge(name: string, help: string, value: number, unit?: string): MetricFamily {
  return { type: "gauge", name, help, unit, points: [{ labels: {}, value }] };
}
