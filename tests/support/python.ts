/**
 * Runs the reference Python client (Debian's python3-prometheus-client) and `promtool`
 * for cross-checking our output in tests.
 *
 * @module
 */

import { run, type RunResult, which } from "./process.ts";

/** The interpreter used for all Python helpers (Debian's, where python3-prometheus-client lives). */
export const PYTHON = "/usr/bin/python3";

/** Runs `script` with {@linkcode PYTHON} (`-c`), `stdin` on standard input, `_created` series disabled. */
export function python(script: string, stdin?: string): Promise<RunResult> {
  return run(PYTHON, ["-c", script], {
    stdin,
    env: { PROMETHEUS_DISABLE_CREATED_SERIES: "True", PYTHONIOENCODING: "utf-8" },
  });
}

let pythonClientCache: boolean | undefined;

/** True when {@linkcode PYTHON} can `import prometheus_client` (checked once, synchronously). */
export function hasPythonClient(): boolean {
  if (pythonClientCache === undefined) {
    try {
      const out = new Deno.Command(PYTHON, {
        args: ["-c", "import prometheus_client"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).outputSync();
      pythonClientCache = out.success;
    } catch {
      pythonClientCache = false; // no interpreter at all
    }
  }
  return pythonClientCache;
}

/**
 * Returns true (meaning "ignore this test") when the Python client is absent and we are not on CI.
 *
 * Prints a clear reason when skipping. On CI (env `CI` set) the test runs and fails instead, since
 * `.ci/run` installs python3-prometheus-client. Use as `Deno.test({ ignore: skipWithoutPythonClient() })`.
 */
export function skipWithoutPythonClient(): boolean {
  if (hasPythonClient() || Deno.env.get("CI")) return false;
  console.warn(
    `[skip] ${PYTHON} cannot import prometheus_client; ` +
      "install python3-prometheus-client (or run .ci/run) to enable this test",
  );
  return true;
}

/** True when `promtool` is on PATH. */
export function hasPromtool(): boolean {
  return which("promtool") !== undefined;
}

/** Runs `promtool check metrics` with `text` on stdin (exit 0: clean, 3: lint problems, 1: parse error). */
export function promtoolCheckMetrics(text: string): Promise<RunResult> {
  return run("promtool", ["check", "metrics"], { stdin: text });
}
