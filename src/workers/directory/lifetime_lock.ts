/**
 * Process liveness through a lock each writer holds for its lifetime (`flock`).
 *
 * @module
 */

import { join } from "./file_io.ts";

/**
 * The file a writer keeps locked (`flock`, exclusive) while it runs. The kernel releases the
 * lock when the process ends, however it ends, and not while it is merely stopped: a lock held
 * is a process running, a lock free is a process gone.
 */
export function lockPathOf(dir: string, instance: string): string {
  return join(dir, `.snapshot-${instance}.lock`);
}

/** Takes the lifetime lock at `path`; `undefined` where the file system cannot lock. */
export function holdLifetimeLock(path: string): Deno.FsFile | undefined {
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
export type ProcessState = "running" | "gone" | "unknown";

/**
 * The instances this process publishes. Their locks are never probed from here: where `flock` is
 * emulated with POSIX locks (NFS), which belong to a process rather than to an open file, probing
 * one's own lock would succeed and closing the probe would release it.
 */
export const ownInstances = new Set<string>();

export async function writerState(dir: string, instance: string): Promise<ProcessState> {
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
