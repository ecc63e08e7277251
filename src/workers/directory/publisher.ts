/**
 * One process's side of the directory mode: writes its snapshot into the directory and serves
 * the merged view (see `../directory.ts`).
 *
 * @module
 */

import type { MetricFamily } from "../../model.ts";
import {
  type CollectOptions,
  defaultRegistry,
  hasCollect,
  type MetricsSource,
  Registry,
} from "../../registry.ts";
import { encodeSnapshot } from "../codec.ts";
import { collectWithin, OWN_COLLECTION_DEADLINE_MS } from "../deadline.ts";
import { requireDeno } from "../../platform.ts";
import { positiveMs } from "../../validation.ts";
import { checkDir, DirectoryCollector, type DirectoryCollectorOptions } from "./collector.ts";
import { SNAPSHOT_FORMAT, type SnapshotFile } from "./file_format.ts";
import { join, writeAtomically, writeAtomicallySync } from "./file_io.ts";
import { holdLifetimeLock, lockPathOf, ownInstances } from "./lifetime_lock.ts";
import { checkOnError, StreakReporter } from "./streak_reporter.ts";

/** Options of {@linkcode publishToDirectory}. */
export interface DirectoryPublisherOptions extends DirectoryCollectorOptions {
  /** What this process publishes; defaults to `defaultRegistry`. */
  readonly registry?: MetricsSource;
  /** How often the snapshot is rewritten, in milliseconds (default 1000). */
  readonly intervalMs?: number;
  /**
   * This process's value of the worker label (default: its pid). Set it when processes of
   * several machines or containers share the directory, where pids may repeat.
   */
  readonly workerId?: string;
}

/**
 * Collects a `Registry` synchronously, for the `unload` event where nothing can be awaited:
 * metric objects answer at once; the families of asynchronous custom collectors are taken from
 * the last snapshot written.
 */
function collectSync(
  source: MetricsSource,
  lastFamilies: readonly MetricFamily[],
): readonly MetricFamily[] {
  if (!(source instanceof Registry)) return lastFamilies;
  const fresh: MetricFamily[] = [];
  let someAsync = false;
  for (const collector of source.collectors) {
    try {
      const collected = collector.collect();
      if (collected instanceof Promise) {
        collected.catch(() => {}); // Cannot be awaited any more; its failure is not ours.
        someAsync = true;
      } else {
        fresh.push(...collected);
      }
    } catch {
      // A failing collector is left out of the final snapshot rather than losing all of it.
    }
  }
  if (!someAsync) return fresh;
  const freshNames = new Set(fresh.map((family) => family.name));
  return [...fresh, ...lastFamilies.filter((family) => !freshNames.has(family.name))];
}

/**
 * One process's end of the directory mode: writes this process's snapshot into the directory
 * and, on `collect()`, returns the merged view of every process there. Made by
 * {@linkcode publishToDirectory}.
 */
export class DirectoryPublisher implements MetricsSource, AsyncDisposable {
  /** The directory written to. */
  readonly dir: string;
  /** This process's file in `dir`. */
  readonly path: string;
  /** This process's value of the worker label. */
  readonly workerId: string;
  readonly #fileName: string;
  readonly #registry: MetricsSource;
  readonly #intervalMs: number;
  readonly #startedAtMs = Date.now();
  readonly #collector: DirectoryCollector;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #onUnload = () => this.#writeFinalSync();
  readonly #reporter: StreakReporter;
  /** Held while this process runs, so exporters can tell a stopped process from a dead one. */
  #lifetimeLock: Deno.FsFile | undefined;
  readonly #lockPath: string;
  readonly #instance: string;
  #sequence = 0;
  #lastFamilies: readonly MetricFamily[] = [];
  #writing: Promise<void> = Promise.resolve();
  #queuedWrites = 0;
  #closed = false;
  #writeErrors = 0;
  #lastError: unknown = undefined;

  /** Internal: use {@linkcode publishToDirectory}. */
  constructor(options: DirectoryPublisherOptions) {
    const where = "publishToDirectory";
    requireDeno(where);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where} takes an options object: { dir: "/path/to/metrics" }`);
    }
    checkDir(where, options.dir);
    const registry = options.registry ?? defaultRegistry;
    if (!hasCollect(registry)) {
      throw new TypeError(`${where}: registry must have a collect() method`);
    }
    const workerId = options.workerId ?? String(Deno.pid);
    if (typeof workerId !== "string" || workerId === "") {
      throw new TypeError(`${where}: workerId must be a non-empty string`);
    }
    this.#intervalMs = positiveMs(options.intervalMs, `${where}: intervalMs`, 1000);
    this.#reporter = new StreakReporter(checkOnError(where, options.onError));
    this.#collector = new DirectoryCollector(options, this.#reporter);
    this.dir = options.dir;
    this.workerId = workerId;
    this.#registry = registry;
    const instance = `${Deno.pid}-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    this.#fileName = `snapshot-${instance}.json`;
    this.path = join(this.dir, this.#fileName);
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
    } catch (error) {
      this.#writeFailed(error); // Reported; every write tries again, nothing is thrown.
    }
    // Taken before the first snapshot is written, so no exporter sees a snapshot unlocked.
    this.#lockPath = lockPathOf(this.dir, instance);
    this.#lifetimeLock = holdLifetimeLock(this.#lockPath);
    this.#instance = instance;
    ownInstances.add(instance);
    // A tick while a write is still running is skipped, so slow writes never pile up.
    this.#timer = setInterval(() => {
      if (this.#queuedWrites === 0) void this.flush();
    }, this.#intervalMs);
    Deno.unrefTimer(this.#timer);
    globalThis.addEventListener("unload", this.#onUnload);
    void this.flush();
  }

  /** How many writes failed (the next one retries); see `lastError` for the latest reason. */
  get writeErrors(): number {
    return this.#writeErrors;
  }

  /** The reason of the latest failed write, or `undefined`. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /**
   * Writes this process's snapshot now (it is also written every `intervalMs`). Never
   * rejects: a failed write is counted in `writeErrors` and reported to `onError`, once per
   * streak of failures.
   */
  flush(): Promise<void> {
    return this.#enqueueWrite(false);
  }

  /**
   * Writes this process's snapshot, then returns the merged view of every process writing to
   * the directory (see {@linkcode DirectoryCollector.collect}).
   */
  async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
    if (!this.#closed) await this.flush();
    return await this.#collector.collect(options);
  }

  /**
   * Writes a final snapshot (the process then counts as exited, and its file is retired at
   * the next collection) and stops writing. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const last = this.#enqueueWrite(true);
    this.#closed = true;
    clearInterval(this.#timer);
    globalThis.removeEventListener("unload", this.#onUnload);
    await last;
    this.#releaseLifetimeLock();
  }

  /**
   * Takes the lifetime lock again when it could not be taken (no directory yet) or its file was
   * removed with the directory: exporters would otherwise go by the snapshot's age.
   */
  #ensureLifetimeLock(): void {
    if (this.#closed) return;
    if (this.#lifetimeLock !== undefined) {
      try {
        Deno.lstatSync(this.#lockPath);
        return;
      } catch {
        this.#lifetimeLock.close(); // Its file is gone: lock a new one.
      }
    }
    this.#lifetimeLock = holdLifetimeLock(this.#lockPath);
  }

  /** The snapshot is final now: the lock (and its file) are no longer needed. */
  #releaseLifetimeLock(): void {
    ownInstances.delete(this.#instance);
    if (this.#lifetimeLock === undefined) return;
    try {
      Deno.removeSync(this.#lockPath);
    } catch {
      // Already gone, or the directory is: nothing to clean.
    }
    this.#lifetimeLock.close();
    this.#lifetimeLock = undefined;
  }

  /** Same as {@linkcode DirectoryPublisher.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Queues a write after the pending one, so renames happen in order. */
  #enqueueWrite(final: boolean): Promise<void> {
    if (this.#closed) return this.#writing;
    this.#queuedWrites++;
    this.#writing = this.#writing.then(async () => {
      this.#queuedWrites--;
      try {
        // A hung collector fails this write (reported) rather than every later one.
        const families = await collectWithin(
          this.#registry,
          OWN_COLLECTION_DEADLINE_MS,
          `publishToDirectory: ${this.path}`,
        );
        this.#lastFamilies = families;
        const text = this.#encode(families, final);
        try {
          await writeAtomically(this.dir, this.#fileName, text);
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
          // The directory was removed (a cleaned /tmp, say): make it again, once per write.
          await Deno.mkdir(this.dir, { recursive: true });
          await writeAtomically(this.dir, this.#fileName, text);
        }
        this.#reporter.clear("write");
        if (!final) this.#ensureLifetimeLock();
      } catch (error) {
        this.#writeFailed(error);
      }
    });
    return this.#writing;
  }

  #encode(families: readonly MetricFamily[], final: boolean): string {
    const file: SnapshotFile = {
      format: SNAPSHOT_FORMAT,
      pid: Deno.pid,
      worker: this.workerId,
      startedAtMs: this.#startedAtMs,
      writtenAtMs: Date.now(),
      sequence: ++this.#sequence,
      intervalMs: this.#intervalMs,
      final,
      families,
    };
    return encodeSnapshot(file);
  }

  #writeFailed(error: unknown): void {
    this.#writeErrors++;
    this.#lastError = error;
    this.#reporter.report(
      "write",
      new Error(
        `publishToDirectory: cannot write ${this.path}: ${(error as Error)?.message ?? error}; ` +
          `this process's metrics are missing from the merged view until a write succeeds`,
      ),
    );
  }

  #writeFinalSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      const families = collectSync(this.#registry, this.#lastFamilies);
      writeAtomicallySync(this.dir, this.#fileName, this.#encode(families, true));
    } catch (error) {
      this.#writeFailed(error);
    }
    this.#releaseLifetimeLock();
  }
}

/**
 * Turns on the directory mode in one process: its snapshot is written to `dir` every
 * `intervalMs` and at exit, and the returned publisher's `collect()` serves the merged view of
 * every process writing there. Call it once per process; serve the publisher (or, in a
 * separate exporter, a {@linkcode directoryCollector}). Needs `--allow-read` and
 * `--allow-write` on `dir`. Increments made after the last write are lost if the process is
 * killed (SIGKILL, or SIGTERM without a handler): at most `intervalMs` of them. While it runs,
 * the process holds a lock on `.snapshot-<pid>-<random>.lock` in `dir`, by which exporters tell
 * a stopped process (never retired) from a dead one (retired at once). A failed write is
 * reported to `onError` once per streak; a collection that has not settled after 10 seconds
 * fails its write the same way.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "@deno-prom/client";
 * import { publishToDirectory } from "@deno-prom/client/workers";
 * const dir = await Deno.makeTempDir();
 * const registry = new Registry();
 * const jobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
 * const publisher = publishToDirectory({ dir, registry });
 * jobs.inc();
 * const merged = await publisher.collect(); // this process and every other one writing to dir
 * await publisher.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function publishToDirectory(options: DirectoryPublisherOptions): DirectoryPublisher {
  return new DirectoryPublisher(options);
}
