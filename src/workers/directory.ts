/**
 * One view of the metrics of several OS processes through a directory they share, like the
 * Python client's multiprocess mode.
 *
 * Each process calls {@linkcode publishToDirectory}: it writes its registry's snapshot as JSON to
 * `snapshot-<pid>-<random>.json` every `intervalMs`, on `flush()`, and at exit (`close()`, the
 * end of the program or `Deno.exit()`). Every write goes to a temporary file (named with a
 * leading `.` and ending in `.tmp`) renamed over the old one, so readers see the previous
 * snapshot or the next one, never half of one, even when the writer is killed mid-write.
 *
 * An exporter calls {@linkcode directoryCollector} (or a publishing process serves its
 * publisher) and merges every file at scrape time by the rules of {@linkcode mergeSnapshots}.
 * Files that cannot be read or parsed are skipped and counted, never fatal.
 *
 * Retirement, so files cannot pile up: a process is dead once its file is final (it exited
 * normally) or has not been rewritten for `deadAfterMs`. A dead process's counters, histograms,
 * summaries and non-`live` gauges stay counted; its `live*` gauges, info and state sets drop out.
 * When a collection sees a file that is final, or dead for more than `retireAfterMs`, it folds
 * that file's data into `retired.json` and deletes it, under an exclusive lock on
 * `.retire.lock` so concurrent exporters never fold a file twice. A process retired while only
 * stalled has its later writes ignored (never counted twice).
 *
 * @module
 */

import type { MetricsSource } from "../http/handler.ts";
import type { CounterFamily, MetricFamily } from "../model.ts";
import { type CollectOptions, defaultRegistry, Registry, selectFamilies } from "../registry.ts";
import { decodeFamilies, encodeSnapshot } from "./codec.ts";
import { mergeSnapshots, type WorkerSnapshot } from "./merge.ts";
import { requireDeno } from "../platform.ts";

/** The `format` tag of a process's snapshot file. */
const SNAPSHOT_FORMAT = "deno-prometheus-snapshot/1";
/** The `format` tag of the retired file. */
const RETIRED_FORMAT = "deno-prometheus-retired/1";
/** The merged data of retired processes. */
const RETIRED_FILE = "retired.json";
/** Locked exclusively while retiring. */
const LOCK_FILE = ".retire.lock";
/** Snapshot files: `snapshot-<pid>-<random>.json`; anything else in the directory is ignored. */
const SNAPSHOT_NAME = /^snapshot-(\d+-[0-9a-f]+)\.json$/;
/** Temporary files of an interrupted write are removed once this old. */
const STALE_TEMP_MS = 60_000;

/** Options of {@linkcode directoryCollector}. */
export interface DirectoryCollectorOptions {
  /** The directory the processes write to. */
  readonly dir: string;
  /**
   * A process whose file was not rewritten for this long is dead, in milliseconds (default:
   * three of that process's write intervals, at least one second).
   */
  readonly deadAfterMs?: number;
  /**
   * A dead process's file is folded into `retired.json` and deleted after this long, in
   * milliseconds (default 600000, ten minutes); a final file (normal exit) at once.
   */
  readonly retireAfterMs?: number;
  /** The label that tells processes apart in `all` gauges and state sets (default `pid`). */
  readonly workerLabel?: string;
  /**
   * Add the counter `metrics_directory_read_errors_total` (files skipped because they could not
   * be read or parsed) to the merged view (default `true`).
   */
  readonly exposeReadErrors?: boolean;
}

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

/** One process's snapshot file. */
interface SnapshotFile {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly pid: number;
  readonly worker: string;
  readonly startedAtMs: number;
  readonly writtenAtMs: number;
  readonly intervalMs: number;
  readonly final: boolean;
  readonly families: readonly MetricFamily[];
}

/** The retired file: merged data of processes gone, and which ones. */
interface RetiredFile {
  readonly format: typeof RETIRED_FORMAT;
  readonly writtenAtMs: number;
  /** The instance (`<pid>-<random>`) of every process folded in. */
  readonly instances: readonly string[];
  readonly families: readonly MetricFamily[];
}

const EMPTY_RETIRED: RetiredFile = {
  format: RETIRED_FORMAT,
  writtenAtMs: 0,
  instances: [],
  families: [],
};

/** A snapshot file as read, with the instance taken from its name. */
interface ReadSnapshot {
  readonly instance: string;
  readonly path: string;
  readonly file: SnapshotFile;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function positiveMs(
  where: string,
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0 && value < Infinity)) {
    throw new RangeError(`${where}: ${name} must be a positive number of milliseconds`);
  }
  return value;
}

function checkDir(where: string, dir: unknown): asserts dir is string {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`${where} needs a directory: { dir: "/path/to/metrics" }`);
  }
}

function parseSnapshotFile(text: string, path: string): SnapshotFile {
  const file = JSON.parse(text) as Partial<SnapshotFile> | null;
  if (file === null || typeof file !== "object" || file.format !== SNAPSHOT_FORMAT) {
    throw new TypeError(`${path} is not a ${SNAPSHOT_FORMAT} file`);
  }
  if (
    typeof file.pid !== "number" || typeof file.worker !== "string" ||
    typeof file.startedAtMs !== "number" || typeof file.writtenAtMs !== "number" ||
    typeof file.intervalMs !== "number" || typeof file.final !== "boolean"
  ) {
    throw new TypeError(`${path} lacks pid, worker, times or final flag`);
  }
  decodeFamilies(file.families, path);
  return file as SnapshotFile;
}

function parseRetiredFile(text: string, path: string): RetiredFile {
  const file = JSON.parse(text) as Partial<RetiredFile> | null;
  if (file === null || typeof file !== "object" || file.format !== RETIRED_FORMAT) {
    throw new TypeError(`${path} is not a ${RETIRED_FORMAT} file`);
  }
  if (!Array.isArray(file.instances) || !file.instances.every((i) => typeof i === "string")) {
    throw new TypeError(`${path} lacks its list of retired instances`);
  }
  decodeFamilies(file.families, path);
  return file as RetiredFile;
}

/** Reads a text file; `undefined` when it does not exist (any more). */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Writes `text` to `path` atomically: a temporary file in the same directory, then a rename. */
async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    await Deno.writeTextFile(temp, text);
    await Deno.rename(temp, join(dir, name));
  } catch (error) {
    await removeIfPresent(temp).catch(() => {});
    throw error;
  }
}

/** The synchronous twin of {@linkcode writeAtomically}, for the `unload` event. */
function writeAtomicallySync(dir: string, name: string, text: string): void {
  const temp = join(dir, `.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  Deno.writeTextFileSync(temp, text);
  Deno.renameSync(temp, join(dir, name));
}

/** What one pass over the directory found. */
interface DirectoryState {
  readonly snapshots: ReadSnapshot[];
  /** Snapshot files that could not be read or parsed, with their modification times. */
  readonly unreadable: { readonly path: string; readonly mtimeMs: number }[];
  /** Temporary files, with their modification times. */
  readonly temporary: { readonly path: string; readonly mtimeMs: number }[];
  /** `undefined` when `retired.json` exists but cannot be parsed (then nothing is retired). */
  readonly retired: RetiredFile | undefined;
  readonly errors: number;
}

async function mtimeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return Date.now(); // Gone or unreadable: treat as new, so it is left alone.
  }
}

/**
 * Reads the directory: snapshot files first and `retired.json` last, so a file retired meanwhile
 * is found in `retired.json` (and its stale copy then skipped), never missed.
 */
async function readDirectory(dir: string): Promise<DirectoryState> {
  const snapshots: ReadSnapshot[] = [];
  const unreadable: DirectoryState["unreadable"] = [];
  const temporary: DirectoryState["temporary"] = [];
  let errors = 0;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  names.sort();
  for (const name of names) {
    const path = join(dir, name);
    if (name.startsWith(".") && name.endsWith(".tmp")) {
      temporary.push({ path, mtimeMs: await mtimeOf(path) });
      continue;
    }
    const match = SNAPSHOT_NAME.exec(name);
    if (match === null) continue;
    try {
      const text = await readIfPresent(path);
      if (text === undefined) continue; // Retired between the listing and now.
      snapshots.push({ instance: match[1], path, file: parseSnapshotFile(text, path) });
    } catch {
      errors++;
      unreadable.push({ path, mtimeMs: await mtimeOf(path) });
    }
  }
  let retired: RetiredFile | undefined = EMPTY_RETIRED;
  const retiredPath = join(dir, RETIRED_FILE);
  try {
    const text = await readIfPresent(retiredPath);
    if (text !== undefined) retired = parseRetiredFile(text, retiredPath);
  } catch {
    errors++;
    retired = undefined;
  }
  return { snapshots, unreadable, temporary, retired, errors };
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
  readonly #exposeReadErrors: boolean;
  #readErrors = 0;

  /** Internal: use {@linkcode directoryCollector}. */
  constructor(options: DirectoryCollectorOptions) {
    const where = "directoryCollector";
    requireDeno(where);
    if (options === null || typeof options !== "object") {
      throw new TypeError(`${where} takes an options object: { dir: "/path/to/metrics" }`);
    }
    checkDir(where, options.dir);
    this.dir = options.dir;
    this.#deadAfterMs = options.deadAfterMs === undefined
      ? undefined
      : positiveMs(where, "deadAfterMs", options.deadAfterMs, 0);
    this.#retireAfterMs = positiveMs(where, "retireAfterMs", options.retireAfterMs, 600_000);
    this.#workerLabel = options.workerLabel ?? "pid";
    mergeSnapshots([], { workerLabel: this.#workerLabel }); // Validates the label name now.
    this.#exposeReadErrors = options.exposeReadErrors ?? true;
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
    const now = Date.now();
    const state = await readDirectory(this.dir);
    this.#readErrors += state.errors;
    const families = this.#merge(state, now);
    if (this.#exposeReadErrors) families.push(this.#readErrorsFamily());
    if (state.retired !== undefined && this.#hasWork(state, now)) {
      // Retirement moves data between files without changing the totals: a failure (say, a
      // read-only directory) only postpones it.
      await this.#retire().catch(() => {});
    }
    return selectFamilies(families, options);
  }

  #isLive(file: SnapshotFile, now: number): boolean {
    const deadAfterMs = this.#deadAfterMs ?? Math.max(3 * file.intervalMs, 1000);
    return !file.final && now - file.writtenAtMs <= deadAfterMs;
  }

  #isRetirable(file: SnapshotFile, now: number): boolean {
    return file.final || now - file.writtenAtMs > this.#retireAfterMs;
  }

  #merge(state: DirectoryState, now: number): MetricFamily[] {
    const retired = state.retired ?? EMPTY_RETIRED;
    const retiredInstances = new Set(retired.instances);
    const current = state.snapshots
      .filter((snapshot) => !retiredInstances.has(snapshot.instance))
      .sort((a, b) => a.file.startedAtMs - b.file.startedAtMs);
    const snapshots: WorkerSnapshot[] = current.map(({ file }) => ({
      worker: file.worker,
      live: this.#isLive(file, now),
      families: file.families,
    }));
    snapshots.push({ worker: "retired", live: false, merged: true, families: retired.families });
    return mergeSnapshots(snapshots, { workerLabel: this.#workerLabel });
  }

  #hasWork(state: DirectoryState, now: number): boolean {
    const retiredInstances = new Set(state.retired?.instances);
    return state.snapshots.some(({ instance, file }) =>
      retiredInstances.has(instance) || this.#isRetirable(file, now)
    ) ||
      state.temporary.some(({ mtimeMs }) => now - mtimeMs > STALE_TEMP_MS) ||
      state.unreadable.some(({ mtimeMs }) => now - mtimeMs > this.#retireAfterMs);
  }

  /** Folds retirable files into `retired.json` and deletes them, holding the retire lock. */
  async #retire(): Promise<void> {
    // try/finally rather than `using`, which V8 before 13.4 (e.g. Node 22) cannot parse.
    const lock = await Deno.open(join(this.dir, LOCK_FILE), { create: true, write: true });
    try {
      await this.#retireHolding(lock);
    } finally {
      lock.close();
    }
  }

  async #retireHolding(lock: Deno.FsFile): Promise<void> {
    if (!(await lock.tryLock(true))) return; // Another exporter is retiring right now.
    // Read again under the lock: another exporter may have retired files since our first pass.
    const state = await readDirectory(this.dir);
    if (state.retired === undefined) return; // Never overwrite a retired file we cannot read.
    const now = Date.now();
    const retiredInstances = new Set(state.retired.instances);
    const leftovers = state.snapshots.filter(({ instance }) => retiredInstances.has(instance));
    const retirable = state.snapshots.filter(({ instance, file }) =>
      !retiredInstances.has(instance) && this.#isRetirable(file, now)
    );
    if (retirable.length > 0) {
      const families = mergeSnapshots([
        { worker: "retired", live: false, merged: true, families: state.retired.families },
        ...retirable.map(({ file }) => ({
          worker: file.worker,
          live: false,
          families: file.families,
        })),
      ], { workerLabel: this.#workerLabel });
      const retired: RetiredFile = {
        format: RETIRED_FORMAT,
        writtenAtMs: now,
        instances: [...state.retired.instances, ...retirable.map(({ instance }) => instance)],
        families,
      };
      // Written before the files are deleted: a crash in between leaves files whose instance
      // is listed as retired, which readers skip and the next retirement deletes.
      await writeAtomically(this.dir, RETIRED_FILE, encodeSnapshot(retired));
    }
    for (const { path } of [...leftovers, ...retirable]) await removeIfPresent(path);
    for (const { path, mtimeMs } of state.temporary) {
      if (now - mtimeMs > STALE_TEMP_MS) await removeIfPresent(path);
    }
    for (const { path, mtimeMs } of state.unreadable) {
      if (now - mtimeMs > this.#retireAfterMs) await removeIfPresent(path);
    }
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
 * import { directoryCollector } from "@deno-prom/client";
 * const dir = await Deno.makeTempDir();
 * const merged = directoryCollector({ dir });
 * const families = await merged.collect(); // every process's metrics, merged
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function directoryCollector(options: DirectoryCollectorOptions): DirectoryCollector {
  return new DirectoryCollector(options);
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
    if (
      registry === null || typeof registry !== "object" || typeof registry.collect !== "function"
    ) {
      throw new TypeError(`${where}: registry must have a collect() method`);
    }
    const workerId = options.workerId ?? String(Deno.pid);
    if (typeof workerId !== "string" || workerId === "") {
      throw new TypeError(`${where}: workerId must be a non-empty string`);
    }
    this.#intervalMs = positiveMs(where, "intervalMs", options.intervalMs, 1000);
    this.#collector = new DirectoryCollector(options);
    this.dir = options.dir;
    this.workerId = workerId;
    this.#registry = registry;
    const random = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
    this.#fileName = `snapshot-${Deno.pid}-${random}.json`;
    this.path = join(this.dir, this.#fileName);
    Deno.mkdirSync(this.dir, { recursive: true });
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
   * rejects: a failed write is counted in `writeErrors`.
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
        const families = await this.#registry.collect();
        this.#lastFamilies = families;
        await writeAtomically(this.dir, this.#fileName, this.#encode(families, final));
      } catch (error) {
        this.#writeErrors++;
        this.#lastError = error;
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
      intervalMs: this.#intervalMs,
      final,
      families,
    };
    return encodeSnapshot(file);
  }

  #writeFinalSync(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      const families = collectSync(this.#registry, this.#lastFamilies);
      writeAtomicallySync(this.dir, this.#fileName, this.#encode(families, true));
    } catch (error) {
      this.#writeErrors++;
      this.#lastError = error;
    }
  }
}

/**
 * Turns on the directory mode in one process: its snapshot is written to `dir` every
 * `intervalMs` and at exit, and the returned publisher's `collect()` serves the merged view of
 * every process writing there. Call it once per process; serve the publisher (or, in a
 * separate exporter, a {@linkcode directoryCollector}). Needs `--allow-read` and
 * `--allow-write` on `dir`. Increments made after the last write are lost if the process is
 * killed (SIGKILL, or SIGTERM without a handler): at most `intervalMs` of them.
 *
 * @example
 * ```ts
 * import { Counter, publishToDirectory, Registry } from "@deno-prom/client";
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
