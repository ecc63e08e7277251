/**
 * The standard `process_*` metrics of Prometheus' client-library guidelines, read afresh on
 * every scrape.
 *
 * Where they come from: Linux `/proc/self` when the program may read it, otherwise what Deno
 * offers without any permission (CPU time from the Node-compatible `process.cpuUsage()`, the
 * resident set size from `Deno.memoryUsage()`, the start time from `performance.timeOrigin`
 * outside workers).
 * What cannot be read is left out, never guessed, and Deno is never made to prompt. On Linux,
 * the metrics only `/proc` has (`process_virtual_memory_bytes`, `process_open_fds`,
 * `process_max_fds`) are then missing: this is announced once per process, in one line on
 * stderr (or to `onUnavailable`), by a collector registered by hand; `collectDefaultMetrics()`
 * leaves them out quietly unless given an `onUnavailable`. Note that Deno 2 grants `/proc/self` only to programs run
 * with `--allow-all`; `--allow-read=/proc` is not enough.
 *
 * @module
 */

import type { Collector, MetricFamily } from "../model.ts";
import { prefixedNames } from "./names.ts";
import { requireDeno } from "../platform.ts";

/** Options of {@linkcode ProcessCollector}. */
export interface ProcessCollectorOptions {
  /** Prepended to every metric name, e.g. `"myapp_"` gives `myapp_process_open_fds`. */
  readonly prefix?: string;
  /**
   * Told, once per process, which metrics are missing because `/proc` may not be read.
   * Default: `console.warn`; pass `() => {}` to stay silent.
   */
  readonly onUnavailable?: (message: string) => void;
}

/** Set once the missing `/proc` metrics were announced: once per process, not per collector. */
let procAnnounced = false;

/** The one-line announcement of the metrics that `/proc` alone provides. */
export const PROC_UNAVAILABLE_MESSAGE =
  "deno-prom: process_virtual_memory_bytes, process_open_fds and process_max_fds are left " +
  "out: Deno 2 lets a program read /proc/self only when run with --allow-all " +
  "(--allow-read=/proc is not enough)";

/**
 * The `onUnavailable` of a collector nobody asked for by name (`collectDefaultMetrics()` without
 * one): it stays quiet and leaves the once-per-process announcement to a collector that was.
 */
export function announceNothing(): void {}

/** `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`, 100 on every Linux build. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The Node-compatible `process` global that Deno 2 provides, as far as we use it. */
interface CpuUsageSource {
  cpuUsage?: () => { readonly user: number; readonly system: number };
}

/** Name suffixes of the metrics, before the prefix; `_total` is added for the counter. */
const NAMES = {
  cpu: "process_cpu_seconds",
  residentMemory: "process_resident_memory_bytes",
  virtualMemory: "process_virtual_memory_bytes",
  startTime: "process_start_time_seconds",
  openFds: "process_open_fds",
  maxFds: "process_max_fds",
} as const;

/** The fields of `/proc/self/stat` we use. */
interface ProcStat {
  /** User plus system CPU time, in seconds. */
  readonly cpuSeconds: number;
  /** Start time after boot, in clock ticks. */
  readonly startTicks: number;
  /** Virtual memory size, in bytes. */
  readonly virtualBytes: number;
}

/** Parses `/proc/self/stat`; the command name may hold spaces and parentheses, so we cut after the last `)`. */
export function parseProcStat(text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 of proc(5) ("state"): field n sits at index n - 3.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  const startTicks = Number(fields[22 - 3]);
  const virtualBytes = Number(fields[23 - 3]);
  if (![utime, stime, startTicks, virtualBytes].every(Number.isFinite)) return undefined;
  return { cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND, startTicks, virtualBytes };
}

/** The `VmRSS` line of `/proc/self/status`, in bytes. */
export function parseResidentBytes(statusText: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return match === null ? undefined : Number(match[1]) * 1024;
}

/** The soft limit on open files from `/proc/self/limits` (`Infinity` when unlimited). */
export function parseMaxOpenFiles(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (match === null) return undefined;
  if (match[1] === "unlimited") return Infinity;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/** Boot time in seconds since the epoch, from the `btime` line of `/proc/stat`. */
export function parseBootTime(statText: string): number | undefined {
  const match = /^btime\s+(\d+)/m.exec(statText);
  return match === null ? undefined : Number(match[1]);
}

/** Runs `read`, turning any failure (missing file, permission) into `undefined`. */
function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function gauge(name: string, help: string, value: number, unit?: string): MetricFamily {
  return { type: "gauge", name, help, unit, points: [{ labels: {}, value }] };
}

/**
 * Collects the standard process metrics: `process_cpu_seconds_total`,
 * `process_resident_memory_bytes`, `process_virtual_memory_bytes`,
 * `process_start_time_seconds`, `process_open_fds` and `process_max_fds`. Each scrape reads
 * fresh values; those that cannot be read on this system or with these permissions are left out.
 * Usually registered through `collectDefaultMetrics()`.
 *
 * @example
 * ```ts
 * import { Registry } from "@deno-prom/client";
 * import { ProcessCollector } from "@deno-prom/client/collectors";
 * const registry = new Registry();
 * registry.register(new ProcessCollector());
 * const text = await registry.metrics(); // process_resident_memory_bytes 3.1e+07 …
 * ```
 */
export class ProcessCollector implements Collector {
  /** The sample names this collector may expose, so a registry refuses a second copy. */
  readonly sampleNames: readonly string[];
  readonly #names: { readonly [K in keyof typeof NAMES]: string };
  /** Set once a read of `/proc` was refused, so later scrapes do not retry it. */
  #procRefused = false;
  readonly #onUnavailable: (message: string) => void;

  /** Creates the collector; it does not register itself. */
  constructor(options: ProcessCollectorOptions = {}) {
    requireDeno("ProcessCollector");
    const names = prefixedNames("ProcessCollector", options?.prefix ?? "", NAMES);
    const onUnavailable = options?.onUnavailable ?? ((message: string) => console.warn(message));
    if (typeof onUnavailable !== "function") {
      throw new TypeError("ProcessCollector: onUnavailable must be a function");
    }
    this.#onUnavailable = onUnavailable;
    this.#names = names;
    this.sampleNames = Object.freeze([...Object.values(names), names.cpu + "_total"]);
  }

  /** Whether `/proc/self` may be read: on Linux, and only if Deno would not have to ask. */
  #procReadable(): boolean {
    if (Deno.build.os !== "linux") return false;
    if (this.#procRefused) return this.#announceProcUnavailable();
    const status = attempt(() => Deno.permissions.querySync({ name: "read", path: "/proc/self" }));
    return status?.state === "granted" || this.#announceProcUnavailable();
  }

  /** Announces (once per process) that the `/proc`-only metrics are missing; returns false. */
  #announceProcUnavailable(): false {
    if (!procAnnounced && this.#onUnavailable !== announceNothing) {
      procAnnounced = true;
      try {
        this.#onUnavailable(PROC_UNAVAILABLE_MESSAGE);
      } catch {
        // A failing logger must not fail the scrape.
      }
    }
    return false;
  }

  /** Reads a `/proc` file, remembering a refusal (Deno 2 wants `--allow-all` for `/proc/self`). */
  #readProc(path: string): string | undefined {
    try {
      return Deno.readTextFileSync(path);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        this.#procRefused = true;
      }
      return undefined;
    }
  }

  /** Returns fresh snapshots of the process metrics that can be read here. */
  collect(): MetricFamily[] {
    const names = this.#names;
    const families: MetricFamily[] = [];
    const proc = this.#procReadable();
    const stat = proc
      ? attempt(() => parseProcStat(this.#readProc("/proc/self/stat") ?? ""))
      : undefined;
    // Granted by the permission query, yet refused on reading (Deno 2 with --allow-read).
    if (this.#procRefused) this.#announceProcUnavailable();

    const cpuSeconds = cpuSecondsFromRuntime() ?? stat?.cpuSeconds;
    if (cpuSeconds !== undefined) {
      families.push({
        type: "counter",
        name: names.cpu,
        help: "User and system CPU time used by the process, in seconds.",
        unit: "seconds",
        points: [{ labels: {}, value: cpuSeconds }],
      });
    }

    const statusText = stat !== undefined ? this.#readProc("/proc/self/status") : undefined;
    const residentBytes = (statusText === undefined ? undefined : parseResidentBytes(statusText)) ??
      attempt(() => Deno.memoryUsage().rss);
    if (residentBytes !== undefined) {
      families.push(gauge(
        names.residentMemory,
        "Resident set size of the process (its memory held in RAM), in bytes.",
        residentBytes,
        "bytes",
      ));
    }

    if (stat !== undefined) {
      families.push(gauge(
        names.virtualMemory,
        "Virtual memory size of the process, in bytes.",
        stat.virtualBytes,
        "bytes",
      ));
    }

    const statText = stat !== undefined ? this.#readProc("/proc/stat") : undefined;
    const bootTime = statText === undefined ? undefined : parseBootTime(statText);
    const startTime = stat !== undefined && bootTime !== undefined
      ? bootTime + stat.startTicks / CLOCK_TICKS_PER_SECOND
      : startTimeFromRuntime();
    if (startTime !== undefined) {
      families.push(gauge(
        names.startTime,
        "When the process started, in seconds since the Unix epoch.",
        startTime,
        "seconds",
      ));
    }

    if (stat !== undefined) {
      const openFds = attempt(() => {
        let count = 0;
        for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
        return count;
      });
      if (openFds !== undefined) {
        families.push(gauge(names.openFds, "File descriptors the process holds open.", openFds));
      }
      const limitsText = this.#readProc("/proc/self/limits");
      const maxFds = limitsText === undefined ? undefined : parseMaxOpenFiles(limitsText);
      if (maxFds !== undefined) {
        families.push(gauge(
          names.maxFds,
          "Most file descriptors the process may open (its soft limit).",
          maxFds,
        ));
      }
    }
    return families;
  }
}

/** CPU seconds from `process.cpuUsage()` (microseconds, no permission needed), if Deno has it. */
function cpuSecondsFromRuntime(): number | undefined {
  const nodeProcess = (globalThis as { process?: CpuUsageSource }).process;
  const usage = attempt(() => nodeProcess?.cpuUsage?.());
  if (usage === undefined) return undefined;
  const seconds = (usage.user + usage.system) / 1e6;
  return Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * The runtime's time origin, which Deno sets as it starts: the process start within a fraction of
 * a second. Not in a worker, whose time origin is when the worker started.
 */
function startTimeFromRuntime(): number | undefined {
  const workerScope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown })
    .WorkerGlobalScope;
  if (typeof workerScope === "function" && globalThis instanceof workerScope) return undefined;
  const origin = performance.timeOrigin;
  return Number.isFinite(origin) && origin > 0 ? origin / 1000 : undefined;
}
