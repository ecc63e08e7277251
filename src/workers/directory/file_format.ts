/**
 * The files of the directory mode: names, the JSON of a process's snapshot and of
 * `retired.json`, and the parsers that refuse anything else.
 *
 * @module
 */

import type { MetricFamily } from "../../model.ts";
import { decodeFamilies } from "../codec.ts";

/** The `format` tag of a process's snapshot file. */
export const SNAPSHOT_FORMAT = "deno-prometheus-snapshot/1";
/** The `format` tag of the retired file (version 1 listed instances only; still read). */
export const RETIRED_FORMAT = "deno-prometheus-retired/2";
export const RETIRED_FORMAT_V1 = "deno-prometheus-retired/1";
/** The merged data of retired processes. */
export const RETIRED_FILE = "retired.json";
/** Locked exclusively while retiring. */
export const LOCK_FILE = ".retire.lock";
/** Snapshot files: `snapshot-<pid>-<random>.json`; anything else in the directory is ignored. */
export const SNAPSHOT_NAME = /^snapshot-(\d+-[0-9a-f]+)\.json$/;
/** Lifetime lock files: `.snapshot-<pid>-<random>.lock`. */
export const LOCK_NAME = /^\.snapshot-(\d+-[0-9a-f]+)\.lock$/;
/** Temporary files of an interrupted write are removed once this old. */
/**
 * How many processes retired while perhaps only stalled keep the data they had at retirement
 * (to count only their increments should they write again); older ones are forgotten.
 */
export const MAX_BASELINES = 32;

/** One process's snapshot file. */
export interface SnapshotFile {
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
export interface RetiredInstance {
  /** The `sequence` of the last snapshot folded in: later ones are new increments. */
  readonly sequence: number;
  /** It exited or is known to be gone: it never writes again. */
  readonly gone: boolean;
}

/** The retired file: merged data of processes gone, and which ones. */
export interface RetiredFile {
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

export const EMPTY_RETIRED: RetiredFile = {
  format: RETIRED_FORMAT,
  writtenAtMs: 0,
  instances: {},
  baselines: {},
  families: [],
};

export function parseSnapshotFile(text: string, path: string): SnapshotFile {
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

export function parseRetiredFile(text: string, path: string): RetiredFile {
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
