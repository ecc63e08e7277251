/**
 * The exporter's side of the directory mode: merges every snapshot file at each collection and
 * retires the files of processes gone (see `../directory.ts`).
 *
 * @module
 */

import type { CounterFamily, MetricFamily } from "../../model.ts";
import {
  type CollectOptions,
  familyGate,
  type MetricsSource,
  selectFamilies,
} from "../../registry.ts";
import { encodeSnapshot } from "../codec.ts";
import { mergeSnapshots, subtractBaseline, type WorkerSnapshot } from "../merge.ts";
import { MergedSeriesChoice } from "../merge_caps.ts";
import { requireDeno } from "../../platform.ts";
import { positiveMs } from "../../validation.ts";
import {
  EMPTY_RETIRED,
  LOCK_FILE,
  MAX_BASELINES,
  parseSnapshotFile,
  RETIRED_FILE,
  RETIRED_FORMAT,
  type RetiredFile,
  type RetiredInstance,
  type SnapshotFile,
} from "./file_format.ts";
import { join, readRegularFile, removeIfPresent, writeAtomically } from "./file_io.ts";
import { lockPathOf, type ProcessState, writerState } from "./lifetime_lock.ts";
import { type DirectoryState, readDirectory } from "./listing.ts";
import { checkOnError, StreakReporter } from "./streak_reporter.ts";
import { CollectionSharing } from "../collection_sharing.ts";

const STALE_TEMP_MS = 60_000;
/** Default of `maxFileBytes`. */
const DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024;

/** Options of {@linkcode directoryCollector}. */
export interface DirectoryCollectorOptions {
  /** The directory the processes write to. */
  readonly dir: string;
  /**
   * A process whose file was not rewritten for this long is dead, in milliseconds (default:
   * three of that process's write intervals, at least one second). Used only where the process
   * itself cannot be checked (see {@linkcode publishToDirectory}).
   */
  readonly deadAfterMs?: number;
  /**
   * A dead process's file is folded into `retired.json` and deleted after this long, in
   * milliseconds (default 600000, ten minutes); a final file (normal exit), or the file of a
   * process known to be gone, at once. A process known to be running is never retired.
   */
  readonly retireAfterMs?: number;
  /** The label that tells processes apart in `all` gauges and state sets (default `pid`). */
  readonly workerLabel?: string;
  /**
   * Add the counter `metrics_directory_read_errors_total` (files skipped because they could not
   * be read or parsed) to the merged view (default `true`).
   */
  readonly exposeReadErrors?: boolean;
  /** Files larger than this are not read, in bytes (default 64 MiB). */
  readonly maxFileBytes?: number;
  /**
   * Called with each problem of the directory — a file that cannot be read, a retirement or
   * write that fails — once per streak: again only after that file or operation worked in
   * between (the default prints one line with `console.error`).
   */
  readonly onError?: (error: Error) => void;
}

export function checkDir(where: string, dir: unknown): asserts dir is string {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`${where} needs a directory: { dir: "/path/to/metrics" }`);
  }
}

interface Tracked {
  /** The last snapshot that parsed: used while the file cannot be read. */
  lastGood: SnapshotFile;
  /** `performance.now()` when its sequence last changed (estimated at first sight). */
  changedAt: number;
}

/** How one process's file counts in a view of the directory. */
interface Contribution {
  readonly instance: string;
  readonly path: string;
  readonly file: SnapshotFile;
  /** Its families, less what `retired.json` already counts of it. */
  readonly families: readonly MetricFamily[];
  /** The entry was unreadable now: `file` is the last good copy. */
  readonly stale: boolean;
  readonly mtimeMs: number;
}

/**
 * Merges the snapshot files of a directory at every `collect()`, and retires the files of
 * processes gone. Made by {@linkcode directoryCollector}.
 */
export class DirectoryCollector implements MetricsSource {
  /** The directory read. */
  readonly dir: string;
  readonly #deadAfterMs: number | undefined;
  readonly #retireAfterMs: number;
  readonly #workerLabel: string;
  /** Series lifecycle: which label sets the capped merged view keeps, stable across scrapes. */
  readonly #mergedSeries = new MergedSeriesChoice();
  readonly #exposeReadErrors: boolean;
  readonly #maxFileBytes: number;
  readonly #reporter: StreakReporter;
  /** The files' families are untrusted: checked before they leave this collector. */
  readonly #gate = familyGate();
  readonly #tracked = new Map<string, Tracked>();
  #lastGoodRetired: RetiredFile | undefined;
  #readErrors = 0;
  /**
   * Concurrent collections share one pass over the directory, so a hung file system holds one
   * pass, not one per scrape.
   */
  readonly #collections = new CollectionSharing(() => this.#collectDirectory(), () => {});

  /** Internal: use {@linkcode directoryCollector}. */
  constructor(options: DirectoryCollectorOptions, reporter?: StreakReporter) {
    const where = "directoryCollector";
    requireDeno(where);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where} takes an options object: { dir: "/path/to/metrics" }`);
    }
    checkDir(where, options.dir);
    this.dir = options.dir;
    this.#deadAfterMs = options.deadAfterMs === undefined
      ? undefined
      : positiveMs(options.deadAfterMs, `${where}: deadAfterMs`);
    this.#retireAfterMs = positiveMs(options.retireAfterMs, `${where}: retireAfterMs`, 600_000);
    this.#workerLabel = options.workerLabel ?? "pid";
    mergeSnapshots([], { workerLabel: this.#workerLabel }); // Validates the label name now.
    this.#exposeReadErrors = options.exposeReadErrors ?? true;
    const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (!(Number.isInteger(maxFileBytes) && maxFileBytes > 0)) {
      throw new RangeError(`${where}: maxFileBytes must be a positive integer`);
    }
    this.#maxFileBytes = maxFileBytes;
    this.#reporter = reporter ?? new StreakReporter(checkOnError(where, options.onError));
  }

  /** How many times a file was skipped because it could not be read or parsed. */
  get readErrors(): number {
    return this.#readErrors;
  }

  /**
   * Returns the merged families of every process that wrote to the directory (those named in
   * `options.names` only, when given), then retires the files of processes gone.
   */
  async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
    // Scrapes sharing a collection share its families: each gets its own list (made by the gate).
    const families = await this.#gate(
      await this.#collections.join(),
      options.onError ?? this.#reporter.onError,
    );
    if (this.#exposeReadErrors) families.push(this.#readErrorsFamily());
    return selectFamilies(families, options);
  }

  /** Reads and merges every file, then retires the files of processes gone. */
  async #collectDirectory(): Promise<MetricFamily[]> {
    const state = await this.#read();
    this.#readErrors += state.errors;
    const retired = state.retired ?? this.#lastGoodRetired ?? EMPTY_RETIRED;
    const contributions = this.#contributions(state, retired);
    const processes = await this.#writerStates(contributions);
    const snapshots: WorkerSnapshot[] = contributions
      .sort((a, b) => a.file.startedAtMs - b.file.startedAtMs)
      .map(({ instance, file, families }) => ({
        worker: file.worker,
        live: this.#isLive(instance, file, processes),
        families,
      }));
    snapshots.push({ worker: "retired", live: false, merged: true, families: retired.families });
    const merged = mergeSnapshots(snapshots, {
      workerLabel: this.#workerLabel,
      mergedSeries: this.#mergedSeries,
    });
    if (state.retired !== undefined && this.#hasWork(state, contributions, processes)) {
      // Retirement moves data between files without changing the totals: a failure (say, a
      // read-only directory) only postpones it.
      try {
        await this.#retire();
        this.#reporter.clear("retire");
      } catch (error) {
        this.#reporter.report(
          "retire",
          new Error(
            `metrics directory ${this.dir}: cannot retire the files of exited processes ` +
              `(${(error as Error).message}); they are still counted, and the files stay`,
          ),
        );
      }
    }
    return merged;
  }

  /** Reads the directory and updates what is remembered of each file. */
  async #read(): Promise<DirectoryState> {
    const state = await readDirectory(this.dir, this.#maxFileBytes, this.#reporter);
    const now = performance.now();
    const listed = new Set<string>();
    for (const { instance, file } of state.snapshots) {
      listed.add(instance);
      if (file === undefined) continue;
      const tracked = this.#tracked.get(instance);
      if (tracked === undefined) {
        // First sight: its age by the wall clock, from then on by the monotonic clock.
        const age = Math.max(0, Date.now() - file.writtenAtMs);
        this.#tracked.set(instance, { lastGood: file, changedAt: now - age });
      } else if (tracked.lastGood.sequence !== file.sequence) {
        tracked.lastGood = file;
        tracked.changedAt = now;
      }
    }
    for (const instance of this.#tracked.keys()) {
      if (!listed.has(instance)) this.#tracked.delete(instance);
    }
    if (state.retired !== undefined) this.#lastGoodRetired = state.retired;
    return state;
  }

  /**
   * How each file counts: its last good copy when unreadable now; nothing when `retired.json`
   * already holds all of it; only what it added since retirement when it wrote again after.
   */
  #contributions(state: DirectoryState, retired: RetiredFile): Contribution[] {
    const contributions: Contribution[] = [];
    for (const { instance, path, file, mtimeMs } of state.snapshots) {
      const known = file ?? this.#tracked.get(instance)?.lastGood;
      if (known === undefined) continue;
      const wasRetired = retired.instances[instance];
      let families = known.families;
      if (wasRetired !== undefined) {
        if (known.sequence <= wasRetired.sequence) continue; // A leftover, already counted.
        const baseline = retired.baselines[instance];
        if (baseline === undefined) {
          this.#reporter.report(
            `late:${instance}`,
            new Error(
              `metrics directory: ${path} was written again after its process was retired, ` +
                `too long ago to tell its new increments from the old: ignored`,
            ),
          );
          continue;
        }
        families = subtractBaseline(known.families, baseline);
      }
      contributions.push({
        instance,
        path,
        file: known,
        families,
        stale: file === undefined,
        mtimeMs,
      });
    }
    return contributions;
  }

  /** What each writer's lifetime lock says of it, asked once per collection. */
  async #writerStates(
    contributions: readonly Contribution[],
  ): Promise<Map<string, ProcessState>> {
    const states = new Map<string, ProcessState>();
    for (const { instance, file } of contributions) {
      if (!file.final) states.set(instance, await writerState(this.dir, instance));
    }
    return states;
  }

  /** Milliseconds since the file last changed, by the monotonic clock. */
  #silentMs(instance: string): number {
    const tracked = this.#tracked.get(instance);
    return tracked === undefined ? 0 : performance.now() - tracked.changedAt;
  }

  #isLive(instance: string, file: SnapshotFile, states: Map<string, ProcessState>): boolean {
    if (file.final) return false;
    const state = states.get(instance) ?? "unknown";
    if (state !== "unknown") return state === "running";
    const deadAfterMs = this.#deadAfterMs ?? Math.max(3 * file.intervalMs, 1000);
    return this.#silentMs(instance) <= deadAfterMs;
  }

  #isRetirable(contribution: Contribution, states: Map<string, ProcessState>): boolean {
    const { instance, file, stale, mtimeMs } = contribution;
    if (stale) return Date.now() - mtimeMs > this.#retireAfterMs; // Unreadable for long.
    if (file.final) return true;
    const state = states.get(instance) ?? "unknown";
    if (state !== "unknown") return state === "gone";
    return this.#silentMs(instance) > this.#retireAfterMs;
  }

  #hasWork(
    state: DirectoryState,
    contributions: readonly Contribution[],
    states: Map<string, ProcessState>,
  ): boolean {
    const retired = state.retired ?? EMPTY_RETIRED;
    const now = Date.now();
    return state.snapshots.some(({ instance, file }) =>
      file !== undefined && retired.instances[instance] !== undefined &&
      !contributions.some((contribution) => contribution.instance === instance)
    ) ||
      contributions.some((contribution) => this.#isRetirable(contribution, states)) ||
      state.temporary.some(({ mtimeMs }) => now - mtimeMs > STALE_TEMP_MS) ||
      state.orphanLocks.some(({ mtimeMs }) => now - mtimeMs > STALE_TEMP_MS) ||
      state.snapshots.some(({ instance, file, mtimeMs }) =>
        file === undefined && !this.#tracked.has(instance) && now - mtimeMs > this.#retireAfterMs
      );
  }

  /** Folds retirable files into `retired.json` and deletes them, holding the retire lock. */
  async #retire(): Promise<void> {
    // try/finally rather than `using`, which V8 before 13.4 (e.g. Node 22) cannot parse.
    const path = join(this.dir, LOCK_FILE);
    try {
      // Never open anything but a regular file: opening a FIFO would block every scrape.
      if (!(await Deno.lstat(path)).isFile) {
        throw new Error(`${LOCK_FILE} is not a regular file (a link, FIFO, device or directory)`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const lock = await Deno.open(path, { create: true, write: true });
    try {
      await this.#retireHolding(lock);
    } finally {
      lock.close();
    }
  }

  async #retireHolding(lock: Deno.FsFile): Promise<void> {
    if (!(await lock.tryLock(true))) return; // Another exporter is retiring right now.
    // Read again under the lock: another exporter may have retired files since our first pass.
    const state = await this.#read();
    const retired = state.retired;
    if (retired === undefined) return; // Never overwrite a retired file we cannot read.
    const contributions = this.#contributions(state, retired);
    const states = await this.#writerStates(contributions);
    const counted = new Set(contributions.map(({ instance }) => instance));
    const retirable = contributions.filter((contribution) =>
      this.#isRetirable(contribution, states)
    );
    const instances: Record<string, RetiredInstance> = { ...retired.instances };
    const baselines: Record<string, readonly MetricFamily[]> = { ...retired.baselines };
    for (const { instance, file } of retirable) {
      const gone = file.final || states.get(instance) === "gone";
      instances[instance] = { sequence: file.sequence, gone };
      delete baselines[instance]; // re-added last: the newest baselines are kept
      if (!gone) baselines[instance] = file.families;
    }
    const baselineNames = Object.keys(baselines);
    for (const instance of baselineNames.slice(0, -MAX_BASELINES)) delete baselines[instance];
    // A process gone whose file is deleted never writes again: it need not be listed.
    const listed = new Set(state.snapshots.map(({ instance }) => instance));
    let pruned = false;
    for (const [instance, { gone }] of Object.entries(instances)) {
      if (gone && !listed.has(instance) && baselines[instance] === undefined) {
        delete instances[instance];
        pruned = true;
      }
    }
    if (retirable.length > 0 || pruned) {
      const families = mergeSnapshots([
        { worker: "retired", live: false, merged: true, families: retired.families },
        ...retirable.map(({ file, families }) => ({
          worker: file.worker,
          live: false,
          families,
        })),
      ], { workerLabel: this.#workerLabel });
      const next: RetiredFile = {
        format: RETIRED_FORMAT,
        writtenAtMs: Date.now(),
        instances,
        baselines,
        families,
      };
      // Written before the files are deleted: a crash in between leaves files whose instance
      // is listed as retired with their sequence, which readers skip and the next retirement
      // deletes.
      await writeAtomically(this.dir, RETIRED_FILE, encodeSnapshot(next));
      this.#lastGoodRetired = next;
    }
    const now = Date.now();
    for (const { instance, path, file } of state.snapshots) {
      const retiredNow = retirable.find((contribution) => contribution.instance === instance);
      if (retiredNow !== undefined) {
        await this.#removeUnlessRewritten(path, retiredNow.file.sequence);
        if (instances[instance]?.gone) await removeIfPresent(lockPathOf(this.dir, instance));
      } else if (
        file !== undefined && instances[instance] !== undefined && !counted.has(instance)
      ) {
        await removeIfPresent(path); // A leftover, or a late write that cannot be counted.
      }
    }
    for (const { path, mtimeMs } of state.temporary) {
      if (now - mtimeMs > STALE_TEMP_MS) await removeIfPresent(path);
    }
    for (const { instance, mtimeMs } of state.orphanLocks) {
      // Old, and nobody holds it: its writer died before writing a snapshot.
      if (now - mtimeMs > STALE_TEMP_MS && await writerState(this.dir, instance) === "gone") {
        await removeIfPresent(lockPathOf(this.dir, instance));
      }
    }
    for (const { instance, path, file, mtimeMs } of state.snapshots) {
      // Unreadable for long, and never read by us: nothing of it is counted here.
      if (file === undefined && !counted.has(instance) && now - mtimeMs > this.#retireAfterMs) {
        await removeIfPresent(path);
      }
    }
  }

  /** Deletes a retired file unless its writer wrote again meanwhile (then it counts anew). */
  async #removeUnlessRewritten(path: string, sequence: number): Promise<void> {
    try {
      const text = await readRegularFile(path, this.#maxFileBytes);
      if (text === undefined) return;
      if (parseSnapshotFile(text, path).sequence > sequence) return;
    } catch {
      // Unreadable now: its retired copy is what counts; delete it.
    }
    await removeIfPresent(path);
  }

  #readErrorsFamily(): CounterFamily {
    return {
      type: "counter",
      name: "metrics_directory_read_errors",
      help: "Snapshot files of the metrics directory skipped because they could not be read or " +
        "parsed.",
      points: [{ labels: {}, value: this.#readErrors }],
    };
  }
}

/**
 * Serves the merged view of every process writing to `dir` (with {@linkcode publishToDirectory}):
 * pass the result to `metricsHandler({ registry })` or `startHttpServer({ registry })`.
 * Needs `--allow-read` and `--allow-write` on `dir` (writing only to retire files).
 *
 * @example An exporter process
 * ```ts
 * import { directoryCollector } from "@deno-prom/client/workers";
 * const dir = await Deno.makeTempDir();
 * const merged = directoryCollector({ dir });
 * const families = await merged.collect(); // every process's metrics, merged
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function directoryCollector(options: DirectoryCollectorOptions): DirectoryCollector {
  return new DirectoryCollector(options);
}
