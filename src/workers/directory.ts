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
 * Only regular files are read (never a link, FIFO or device), up to `maxFileBytes`. A file that
 * cannot be read or parsed is counted and reported (once per streak), and while it stays so,
 * the collector keeps counting the last good copy it read of it; the same holds for
 * `retired.json`, which is then never overwritten. So garbage never makes a counter go back.
 *
 * Liveness: every writer holds an exclusive lock (`flock`) on `snapshot-<instance>.lock` while it
 * runs. The kernel releases it when the process ends, however it ends, and not while the process
 * is merely stopped (a paused container, `SIGSTOP`, a suspended host). So a writer whose lock is
 * held is live and never retired, however long it has been silent; one whose lock is free is
 * dead and retired at once. Where there is no lock file (a file system without locks) a process
 * is dead once its file is final (it exited normally) or has not changed for `deadAfterMs`,
 * measured on the exporter's monotonic clock, so a wall-clock step cannot age a file. A dead
 * process's counters, histograms, summaries and non-`live` gauges stay counted; its `live*`
 * gauges, info and state sets drop out.
 *
 * Retirement, so files cannot pile up: when a collection sees a file that is final, of a process
 * gone, or silent for more than `retireAfterMs`, it folds that file's data into `retired.json`
 * and deletes it, under an exclusive lock on `.retire.lock` so concurrent exporters never fold a
 * file twice. `retired.json` notes the last write folded in of every process, and keeps the data
 * of the last 32 processes retired while perhaps only stalled: should one of them write again,
 * only what it added since its retirement counts (nothing twice, nothing lost).
 *
 * @module
 */

import type { CounterFamily, MetricFamily } from "../model.ts";
import {
  type CollectOptions,
  defaultRegistry,
  familyGate,
  hasCollect,
  type MetricsSource,
  Registry,
  selectFamilies,
} from "../registry.ts";
import { decodeFamilies, encodeSnapshot } from "./codec.ts";
import { mergeSnapshots, subtractBaseline, type WorkerSnapshot } from "./merge.ts";
import { MergedSeriesChoice } from "./merge_caps.ts";
import { requireDeno } from "../platform.ts";
import { positiveMs } from "../validation.ts";

/** The `format` tag of a process's snapshot file. */
const SNAPSHOT_FORMAT = "deno-prometheus-snapshot/1";
/** The `format` tag of the retired file (version 1 listed instances only; still read). */
const RETIRED_FORMAT = "deno-prometheus-retired/2";
const RETIRED_FORMAT_V1 = "deno-prometheus-retired/1";
/** The merged data of retired processes. */
const RETIRED_FILE = "retired.json";
/** Locked exclusively while retiring. */
const LOCK_FILE = ".retire.lock";
/** Snapshot files: `snapshot-<pid>-<random>.json`; anything else in the directory is ignored. */
const SNAPSHOT_NAME = /^snapshot-(\d+-[0-9a-f]+)\.json$/;
/** Lifetime lock files: `.snapshot-<pid>-<random>.lock`. */
const LOCK_NAME = /^\.snapshot-(\d+-[0-9a-f]+)\.lock$/;
/** Temporary files of an interrupted write are removed once this old. */
const STALE_TEMP_MS = 60_000;
/**
 * How many processes retired while perhaps only stalled keep the data they had at retirement
 * (to count only their increments should they write again); older ones are forgotten.
 */
const MAX_BASELINES = 32;
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
  /** Counts the writes of this process: a later write has a larger number. */
  readonly sequence: number;
  readonly intervalMs: number;
  readonly final: boolean;
  readonly families: readonly MetricFamily[];
}

/** What `retired.json` knows of one retired process. */
interface RetiredInstance {
  /** The `sequence` of the last snapshot folded in: later ones are new increments. */
  readonly sequence: number;
  /** It exited or is known to be gone: it never writes again. */
  readonly gone: boolean;
}

/** The retired file: merged data of processes gone, and which ones. */
interface RetiredFile {
  readonly format: typeof RETIRED_FORMAT;
  readonly writtenAtMs: number;
  /** Every process folded in, by instance (`<pid>-<random>`). */
  readonly instances: Readonly<Record<string, RetiredInstance>>;
  /**
   * The families folded in of processes retired while perhaps only stalled: should one write
   * again, only what it added since counts. At most {@linkcode MAX_BASELINES}, oldest first.
   */
  readonly baselines: Readonly<Record<string, readonly MetricFamily[]>>;
  readonly families: readonly MetricFamily[];
}

const EMPTY_RETIRED: RetiredFile = {
  format: RETIRED_FORMAT,
  writtenAtMs: 0,
  instances: {},
  baselines: {},
  families: [],
};

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

function checkDir(where: string, dir: unknown): asserts dir is string {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`${where} needs a directory: { dir: "/path/to/metrics" }`);
  }
}

function checkOnError(where: string, onError: unknown): (error: Error) => void {
  if (onError === undefined) return (error) => console.error(error.message);
  if (typeof onError !== "function") throw new TypeError(`${where}: onError must be a function`);
  return onError as (error: Error) => void;
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
  const sequence = typeof file.sequence === "number" ? file.sequence : file.writtenAtMs;
  return { ...file, sequence } as SnapshotFile;
}

function isRetiredInstance(value: unknown): value is RetiredInstance {
  if (value === null || typeof value !== "object") return false;
  const instance = value as Partial<RetiredInstance>;
  return typeof instance.sequence === "number" && typeof instance.gone === "boolean";
}

function parseRetiredFile(text: string, path: string): RetiredFile {
  const file = JSON.parse(text) as Record<string, unknown> | null;
  if (file === null || typeof file !== "object") {
    throw new TypeError(`${path} is not a ${RETIRED_FORMAT} file`);
  }
  if (file.format === RETIRED_FORMAT_V1) {
    // Version 1 listed instances only; none of them may be counted again.
    const listed = file.instances;
    if (!Array.isArray(listed) || !listed.every((i) => typeof i === "string")) {
      throw new TypeError(`${path} lacks its list of retired instances`);
    }
    const instances: Record<string, RetiredInstance> = {};
    for (const instance of listed) instances[instance] = { sequence: Infinity, gone: false };
    const families = decodeFamilies(file.families, path);
    return { ...EMPTY_RETIRED, writtenAtMs: Number(file.writtenAtMs) || 0, instances, families };
  }
  if (file.format !== RETIRED_FORMAT) {
    throw new TypeError(`${path} is not a ${RETIRED_FORMAT} file`);
  }
  const { instances, baselines } = file;
  if (
    instances === null || typeof instances !== "object" ||
    !Object.values(instances).every((instance) => {
      if (isObjectWithSequence(instance)) instance.sequence = Number(instance.sequence);
      return isRetiredInstance(instance);
    })
  ) {
    throw new TypeError(`${path} lacks its list of retired instances`);
  }
  if (baselines === null || typeof baselines !== "object") {
    throw new TypeError(`${path} lacks the baselines of retired processes`);
  }
  for (const [instance, families] of Object.entries(baselines)) {
    decodeFamilies(families, `${path}: baseline of ${instance}`);
  }
  decodeFamilies(file.families, path);
  return file as unknown as RetiredFile;
}

/** JSON writes an infinite sequence (retired by version 1) as the string "Infinity". */
function isObjectWithSequence(value: unknown): value is { sequence: unknown } {
  return value !== null && typeof value === "object" && "sequence" in value;
}

/**
 * Reads a regular file of at most `maxBytes`; `undefined` when it does not exist (any more).
 * Symbolic links, FIFOs, devices and directories are refused without being opened, so a FIFO
 * cannot block a scrape and a link to `/dev/zero` cannot fill memory.
 */
async function readRegularFile(path: string, maxBytes: number): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!info.isFile) {
    throw new Error("not a regular file (a link, FIFO, device or directory): not read");
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  // try/finally rather than `using`, which V8 before 13.4 (e.g. Node 22) cannot parse.
  try {
    const opened = await file.stat(); // replaced since lstat? Check what was opened.
    if (!opened.isFile) throw new Error("not a regular file: not read");
    if (opened.size > maxBytes) {
      throw new Error(`${opened.size} bytes, more than maxFileBytes (${maxBytes}): not read`);
    }
    const buffer = new Uint8Array(opened.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const read = await file.read(buffer.subarray(length));
      if (read === null) break;
      length += read;
    }
    if (length > opened.size) throw new Error("it grew while being read");
    return new TextDecoder().decode(buffer.subarray(0, length));
  } finally {
    file.close();
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

// --- process liveness through a lock each writer holds for its lifetime ---

/**
 * The file a writer keeps locked (`flock`, exclusive) while it runs. The kernel releases the
 * lock when the process ends, however it ends, and not while it is merely stopped: a lock held
 * is a process running, a lock free is a process gone.
 */
function lockPathOf(dir: string, instance: string): string {
  return join(dir, `.snapshot-${instance}.lock`);
}

/** Takes the lifetime lock at `path`; `undefined` where the file system cannot lock. */
function holdLifetimeLock(path: string): Deno.FsFile | undefined {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { create: true, write: true });
    if (file.tryLockSync(true)) return file;
  } catch {
    // No locks here (or no file): exporters fall back to the age of the snapshot.
  }
  file?.close();
  return undefined;
}

/** What a writer's lifetime lock says of it. */
type ProcessState = "running" | "gone" | "unknown";

/**
 * The instances this process publishes. Their locks are never probed from here: where `flock` is
 * emulated with POSIX locks (NFS), which belong to a process rather than to an open file, probing
 * one's own lock would succeed and closing the probe would release it.
 */
const ownInstances = new Set<string>();

async function writerState(dir: string, instance: string): Promise<ProcessState> {
  if (ownInstances.has(instance)) return "running";
  const path = lockPathOf(dir, instance);
  try {
    // Never open anything but a regular file: a FIFO would block.
    if (!(await Deno.lstat(path)).isFile) return "unknown";
    // try/finally rather than `using`, which V8 before 13.4 (e.g. Node 22) cannot parse.
    const file = await Deno.open(path, { read: true });
    try {
      if (!(await file.tryLock(true))) return "running";
      await file.unlock();
      return "gone";
    } finally {
      file.close();
    }
  } catch {
    return "unknown"; // No lock file (an older writer, or no locks there): go by age.
  }
}

// --- reporting once per streak ---

/**
 * Reports each problem once per streak: a key reported stays quiet until `clear(key)` (the
 * thing worked again). Keys are files or operations; their number is bounded by the directory.
 */
class StreakReporter {
  readonly #failing = new Set<string>();
  constructor(readonly onError: (error: Error) => void) {}

  report(key: string, error: unknown): void {
    if (this.#failing.has(key)) return;
    if (this.#failing.size >= 10_000) this.#failing.clear();
    this.#failing.add(key);
    const reported = error instanceof Error ? error : new Error(String(error));
    try {
      this.onError(reported);
    } catch {
      // A throwing onError must not break a scrape or a write.
    }
  }

  clear(key: string): void {
    this.#failing.delete(key);
  }

  /** Forgets the keys for which `keep` says no (files gone from the directory). */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#failing) if (!keep(key)) this.#failing.delete(key);
  }
}

// --- reading the directory ---

/** A snapshot file as found in the directory. */
interface SnapshotEntry {
  readonly instance: string;
  readonly path: string;
  /** Its content, or `undefined` when it could not be read or parsed. */
  readonly file: SnapshotFile | undefined;
  readonly mtimeMs: number;
}

/** What one pass over the directory found. */
interface DirectoryState {
  readonly snapshots: SnapshotEntry[];
  /** Temporary files, with their modification times. */
  readonly temporary: { readonly path: string; readonly mtimeMs: number }[];
  /** Lock files without a snapshot (a writer killed before its first write, or starting). */
  readonly orphanLocks: { readonly instance: string; readonly mtimeMs: number }[];
  /** `undefined` when `retired.json` exists but cannot be read or parsed. */
  readonly retired: RetiredFile | undefined;
  readonly errors: number;
}

async function mtimeOf(path: string): Promise<number> {
  try {
    return (await Deno.lstat(path)).mtime?.getTime() ?? 0;
  } catch {
    return Date.now(); // Gone or unreadable: treat as new, so it is left alone.
  }
}

/**
 * Reads the directory: snapshot files first and `retired.json` last, so a file retired meanwhile
 * is found in `retired.json` (and its stale copy then skipped), never missed. Problems are
 * reported (once per streak) and counted.
 */
async function readDirectory(
  dir: string,
  maxBytes: number,
  reporter: StreakReporter,
): Promise<DirectoryState> {
  const snapshots: SnapshotEntry[] = [];
  const temporary: DirectoryState["temporary"] = [];
  const locks: DirectoryState["orphanLocks"] = [];
  let errors = 0;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    reporter.clear("listing");
  } catch (error) {
    reporter.report(
      "listing",
      new Error(`metrics directory ${dir} cannot be read: ${(error as Error).message}`),
    );
    if (!(error instanceof Deno.errors.NotFound)) errors++;
  }
  names.sort();
  for (const name of names) {
    const path = join(dir, name);
    if (name.startsWith(".") && name.endsWith(".tmp")) {
      temporary.push({ path, mtimeMs: await mtimeOf(path) });
      continue;
    }
    const lock = LOCK_NAME.exec(name);
    if (lock !== null) {
      locks.push({ instance: lock[1], mtimeMs: await mtimeOf(path) });
      continue;
    }
    const match = SNAPSHOT_NAME.exec(name);
    if (match === null) continue;
    try {
      const text = await readRegularFile(path, maxBytes);
      if (text === undefined) continue; // Retired between the listing and now.
      const file = parseSnapshotFile(text, path);
      snapshots.push({ instance: match[1], path, file, mtimeMs: 0 });
      reporter.clear(path);
    } catch (error) {
      errors++;
      reporter.report(path, new Error(`metrics directory: ${path}: ${(error as Error).message}`));
      snapshots.push({ instance: match[1], path, file: undefined, mtimeMs: await mtimeOf(path) });
    }
  }
  names.push(RETIRED_FILE);
  reporter.retain((key) => !key.startsWith(dir) || names.some((name) => key === join(dir, name)));
  let retired: RetiredFile | undefined = EMPTY_RETIRED;
  const retiredPath = join(dir, RETIRED_FILE);
  try {
    const text = await readRegularFile(retiredPath, maxBytes);
    if (text !== undefined) retired = parseRetiredFile(text, retiredPath);
    reporter.clear(retiredPath);
  } catch (error) {
    errors++;
    reporter.report(
      retiredPath,
      new Error(
        `metrics directory: ${retiredPath}: ${(error as Error).message}; the data it held ` +
          `last is kept and ` +
          `nothing is retired until it is readable`,
      ),
    );
    retired = undefined;
  }
  const withSnapshot = new Set(snapshots.map(({ instance }) => instance));
  const orphanLocks = locks.filter(({ instance }) => !withSnapshot.has(instance));
  return { snapshots, temporary, orphanLocks, retired, errors };
}

/** What the collector remembers of a file between scrapes. */
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
    const families = await this.#gate(
      mergeSnapshots(snapshots, {
        workerLabel: this.#workerLabel,
        mergedSeries: this.#mergedSeries,
      }),
      options.onError ?? this.#reporter.onError,
    );
    if (this.#exposeReadErrors) families.push(this.#readErrorsFamily());
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
    return selectFamilies(families, options);
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
        const families = await this.#registry.collect();
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
 * reported to `onError` once per streak.
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
