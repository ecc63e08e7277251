/**
 * One pass over the directory: the snapshot files, temporary files, lock files and
 * `retired.json` found there.
 *
 * @module
 */

import { join, readRegularFile } from "./file_io.ts";
import {
  EMPTY_RETIRED,
  LOCK_NAME,
  parseRetiredFile,
  parseSnapshotFile,
  RETIRED_FILE,
  type RetiredFile,
  SNAPSHOT_NAME,
  type SnapshotFile,
} from "./file_format.ts";
import type { StreakReporter } from "./streak_reporter.ts";

/** A snapshot file as found in the directory. */
export interface SnapshotEntry {
  readonly instance: string;
  readonly path: string;
  /** Its content, or `undefined` when it could not be read or parsed. */
  readonly file: SnapshotFile | undefined;
  readonly mtimeMs: number;
}

/** What one pass over the directory found. */
export interface DirectoryState {
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
export async function readDirectory(
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
