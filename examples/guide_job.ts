// Shared by the guide's programs (push_job.ts, pull_job.ts, demo.ts): the job itself, the
// guide's histogram, and command-line flags. Not a program of its own.
import { parseArgs } from "node:util";
import { Histogram, type Registry } from "../mod.ts";

/**
 * The guide's histogram: `Histogram('job_duration_seconds', labelnames=['job_name'], buckets=…)`;
 * with `native`, also a native histogram (served over protobuf to Prometheus).
 */
export function jobHistogram(registry: Registry, native = false): Histogram {
  return new Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    buckets: [1, 2, 3, 10, 20, 50, 100],
    registry,
    ...(native ? { native: true } as const : {}),
  });
}

/** The guide's job: it sleeps a random 0–`maxSleepSeconds` s and returns how long it slept. */
export async function job(maxSleepSeconds: number): Promise<number> {
  const seconds = Math.random() * maxSleepSeconds;
  await sleep(seconds * 1000);
  return seconds;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The flags every guide program takes. */
export interface JobFlags {
  /** How many times the job runs (`--runs`). */
  readonly runs: number;
  /** Longest sleep of one run, in seconds (`--max-sleep`). */
  readonly maxSleep: number;
  /** Port of the /metrics server (`--port`). */
  readonly port: number;
  /** Pushgateway URL (`--push` / `--gateway`), if pushing. */
  readonly push: string | undefined;
  /** Seconds to keep going after the last run (`--linger`). */
  readonly linger: number;
  /** Seconds between pushes (`--interval`). */
  readonly interval: number;
  /** Whether the histogram is native too (`--native`). */
  readonly native: boolean;
  /** Where to write the metrics for node_exporter's textfile collector (`--textfile`), if anywhere. */
  readonly textfile: string | undefined;
}

/** Parses the flags, with the given defaults; exits with a usage message on bad input. */
export function parseJobFlags(
  usage: string,
  defaults: Partial<JobFlags> = {},
  args: string[] = Deno.args,
): JobFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        runs: { type: "string" },
        "max-sleep": { type: "string" },
        port: { type: "string" },
        push: { type: "string" },
        gateway: { type: "string" },
        linger: { type: "string" },
        interval: { type: "string" },
        native: { type: "boolean" },
        textfile: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (error) {
    exitWithUsage(usage, (error as Error).message);
  }
  if (parsed.help) exitWithUsage(usage);
  const number = (flag: string, given: string | undefined, fallback: number, integer = false) => {
    if (given === undefined) return fallback;
    const value = Number(given);
    if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
      exitWithUsage(
        usage,
        `--${flag} takes a ${integer ? "whole " : ""}number ≥ 0, got "${given}"`,
      );
    }
    return value;
  };
  return {
    runs: number("runs", parsed.runs, defaults.runs ?? 10, true),
    maxSleep: number("max-sleep", parsed["max-sleep"], defaults.maxSleep ?? 10),
    port: number("port", parsed.port, defaults.port ?? 8000, true),
    push: parsed.push ?? parsed.gateway ?? defaults.push,
    linger: number("linger", parsed.linger, defaults.linger ?? 0),
    interval: number("interval", parsed.interval, defaults.interval ?? 5),
    native: parsed.native ?? false,
    textfile: parsed.textfile ?? defaults.textfile,
  };
}

function exitWithUsage(usage: string, problem?: string): never {
  if (problem !== undefined) console.error(`error: ${problem}\n`);
  console.error(usage);
  Deno.exit(problem === undefined ? 0 : 2);
}
