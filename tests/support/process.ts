/**
 * Helpers for tests that own real child processes (Prometheus, Pushgateway, promtool, python).
 *
 * Everything here is written so Deno's test sanitizers stay quiet: child streams are always
 * drained to the end, children are always awaited, and timers are always cleared.
 *
 * @module
 */

/** Maximum number of characters of child output kept for error messages. */
const OUTPUT_LIMIT = 64 * 1024;

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}

/** Resolves after `ms` milliseconds (the timer is never left pending). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Options for {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds (default 30000, a margin for a loaded machine). */
  timeoutMs?: number;
  /** Delay between two checks in milliseconds (default 100). */
  intervalMs?: number;
  /** Human readable description of the awaited condition, used in the timeout error. */
  what?: string;
}

/** Polls `check` until it resolves to true; throws an error naming `what` on timeout. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  { timeoutMs = 30_000, intervalMs = 100, what = "condition" }: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  while (true) {
    attempts++;
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const detail = lastError === undefined
    ? ""
    : `; last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new Error(
    `Timed out after ${timeoutMs} ms (${attempts} attempts) waiting for ${what}${detail}`,
  );
}

/**
 * Waits until `readyUrl` answers 200 or `proc` exits (the caller checks `proc.exited`). On
 * timeout it stops `proc` and throws with the process' output under a `--- name output ---` line.
 */
export async function waitForReadyUrl(
  proc: ManagedProcess,
  readyUrl: string,
  { name, timeoutMs, intervalMs }: { name: string; timeoutMs: number; intervalMs: number },
): Promise<void> {
  try {
    await waitFor(async () => {
      if (proc.exited) return true;
      try {
        const res = await fetch(readyUrl);
        await res.body?.cancel();
        return res.status === 200;
      } catch {
        return false;
      }
    }, { timeoutMs, intervalMs, what: `${name} readiness on ${readyUrl}` });
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${proc.output()}`);
  }
}

/** Returns the absolute path of `cmd` found on PATH (or `cmd` itself if it is a path), else undefined. */
export function which(cmd: string): string | undefined {
  const isExecutable = (path: string): boolean => {
    try {
      const info = Deno.statSync(path);
      return info.isFile && (info.mode === null || (info.mode & 0o111) !== 0);
    } catch {
      return false;
    }
  };
  if (cmd.includes("/")) return isExecutable(cmd) ? cmd : undefined;
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const candidate = `${dir.replace(/\/+$/, "")}/${cmd}`;
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Returns true (meaning "ignore this test") when `cmd` is not installed and we are not on CI.
 *
 * On CI (env `CI` set) a missing tool is never a reason to skip: the test runs and fails loudly,
 * because `.ci/run` is responsible for installing it. Use as `Deno.test({ ignore: missingTool("x") })`.
 */
export function missingTool(cmd: string): boolean {
  if (which(cmd) !== undefined) return false;
  if (Deno.env.get("CI")) return false;
  console.warn(`[skip] '${cmd}' is not on PATH; run .ci/run (or install it) to enable this test`);
  return true;
}

/** Options for {@linkcode startProcess}. */
export interface StartProcessOptions {
  /** Extra environment variables (merged into the parent's environment). */
  env?: Record<string, string>;
  /** Working directory of the child. */
  cwd?: string;
}

/** A running child process whose output is captured for diagnostics. */
export interface ManagedProcess {
  /** Process id of the child. */
  readonly pid: number;
  /** The command line, for messages. */
  readonly commandLine: string;
  /** Resolves with the exit status once the child has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** True once the child has exited. */
  readonly exited: boolean;
  /** Captured stdout+stderr so far (interleaved in arrival order, last 64 KiB). */
  output(): string;
  /** Sends `signal` to the child; a no-op if it already exited. */
  kill(signal?: Deno.Signal): void;
  /** SIGTERM, wait up to `graceMs` (default 5000), then SIGKILL; awaits exit and stream drain. Idempotent. */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Reads a stream to its end, appending decoded text via `sink`. Never rejects. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  sink: (text: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
    sink(decoder.decode());
  } catch {
    // The child went away mid-read; nothing more to collect.
  }
}

/** Spawns `cmd args` with stdin closed and stdout/stderr captured into an in-memory buffer. */
export function startProcess(
  cmd: string,
  args: string[] = [],
  { env, cwd }: StartProcessOptions = {},
): ManagedProcess {
  const commandLine = [cmd, ...args].join(" ");
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  let buffer = "";
  const append = (text: string) => {
    if (text === "") return;
    buffer += text;
    if (buffer.length > OUTPUT_LIMIT * 2) buffer = buffer.slice(-OUTPUT_LIMIT);
  };
  const drained = Promise.all([drain(child.stdout, append), drain(child.stderr, append)]);

  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  const kill = (signal: Deno.Signal = "SIGTERM") => {
    if (exited) return;
    try {
      child.kill(signal);
    } catch {
      // Already terminated between the check and the kill.
    }
  };

  let stopping: Promise<Deno.CommandStatus> | undefined;
  const stop = (graceMs = 5_000): Promise<Deno.CommandStatus> => {
    stopping ??= (async () => {
      kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs);
      });
      try {
        const first = await Promise.race([status, timedOut]);
        if (first === "timeout") kill("SIGKILL");
      } finally {
        clearTimeout(timer);
      }
      const result = await status;
      await drained;
      return result;
    })();
    return stopping;
  };

  return {
    pid: child.pid,
    commandLine,
    status,
    get exited() {
      return exited;
    },
    output: () => buffer.length > OUTPUT_LIMIT ? buffer.slice(-OUTPUT_LIMIT) : buffer,
    kill,
    stop,
  };
}

/** Result of {@linkcode run}. */
export interface RunResult {
  /** Exit code of the process. */
  code: number;
  /** Everything written to stdout, decoded as UTF-8. */
  stdout: string;
  /** Everything written to stderr, decoded as UTF-8. */
  stderr: string;
}

/**
 * Runs `cmd args` to completion, optionally feeding `stdin`, and collects its output. With
 * `timeoutMs`, a child still running then is killed and `run` throws with what it printed.
 */
export async function run(
  cmd: string,
  args: string[] = [],
  { stdin, env, cwd, timeoutMs }: StartProcessOptions & { stdin?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = new Deno.Command(cmd, {
    args,
    env,
    cwd,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const collected = child.output();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    try {
      await writer.write(new TextEncoder().encode(stdin));
    } catch {
      // The child exited without reading all of its input; its output tells why.
    }
    try {
      await writer.close();
    } catch {
      // Already closed by the failed write.
    }
  }
  let timedOut = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // It exited just now.
    }
  }, timeoutMs);
  let out: Deno.CommandOutput;
  try {
    out = await collected;
  } finally {
    clearTimeout(timer);
  }
  const decoder = new TextDecoder();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (timedOut) {
    throw new Error(
      `${[cmd, ...args].join(" ")} did not finish within ${timeoutMs} ms and was killed\n` +
        `--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * A line of script that defines `usage()`: the heap and external memory in use after two forced
 * collections (needs `gc`, which {@linkcode runMeasuringScript} exposes).
 */
export const HEAP_USAGE =
  "const usage = () => { gc(); gc(); const m = Deno.memoryUsage(); return m.heapUsed + m.external; };";

/**
 * Runs `script` in a fresh `deno eval` with `gc()` exposed, so what earlier tests left on the heap
 * cannot blur a memory measurement, and returns the JSON the script printed. Fails with its
 * stderr when the script fails.
 */
export async function runMeasuringScript<T = Record<string, number>>(script: string): Promise<T> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`the measuring script failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}
