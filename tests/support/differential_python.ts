/**
 * The TypeScript side of the cross-checks against Python's official client: runs
 * `tests/support/python_ops.py` with Debian's interpreter and the `_created` series disabled,
 * and the small text normalisations the comparisons need.
 *
 * @module
 */

import { run } from "./process.ts";
import { PYTHON } from "./python.ts";

/** Path of the Python helper script. */
export const PYTHON_OPS_SCRIPT: string = new URL("./python_ops.py", import.meta.url).pathname;

/** Runs `python_ops.py <mode>` with `request` as JSON on stdin and returns its JSON answer. */
export async function runPythonOps<T>(mode: "apply" | "parse", request: unknown): Promise<T> {
  const result = await run(PYTHON, [PYTHON_OPS_SCRIPT, mode], {
    stdin: JSON.stringify(request),
    env: { PROMETHEUS_DISABLE_CREATED_SERIES: "True", PYTHONIOENCODING: "utf-8" },
  });
  if (result.code !== 0) {
    throw new Error(
      `python_ops.py ${mode} exited with ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return JSON.parse(result.stdout) as T;
}

/**
 * A number as text that Python's `float()` and JavaScript's `Number()` both read back exactly:
 * `String(n)` (`"1e+21"`, `"NaN"`, `"Infinity"`), except `"-0.0"` for negative zero, which
 * `String` would write as `"0"`.
 */
export function numberText(value: number): string {
  return Object.is(value, -0) ? "-0.0" : String(value);
}

/** Reads back what {@linkcode numberText} (or the Python side's `number_text`) wrote. */
export function parseNumberText(text: string): number {
  return Number(text);
}

/**
 * Undoes the one known bug of prometheus_client 0.16's float formatting: values in [1e10, 1e16)
 * come out with a three-digit exponent (`1.5e+010`), fixed upstream later (`1.5e+10`), which is
 * what we write. Only an exponent right after a digit and right before the end of the value
 * (space, quote, end of line) is touched, so label text is left alone.
 */
export function normalizePythonExponents(text: string): string {
  return text.replace(/(?<=[0-9])e\+0(\d\d)(?=[ "\n]|$)/gm, "e+$1");
}

/**
 * Replaces the timestamp at the end of every exemplar (` # {…} value timestamp`) with `<ts>`:
 * both sides stamp exemplars with the wall clock at different instants and precisions.
 */
export function maskExemplarTimestamps(text: string): string {
  return text.replace(/^(.* # \{.*\} \S+) \S+$/gm, "$1 <ts>");
}

/** Drops every `*_created` sample line (OpenMetrics), keeping HELP/TYPE and other samples. */
export function dropCreatedLines(text: string): string {
  return text.split("\n").filter((line) => !/^[a-zA-Z_:][a-zA-Z0-9_:]*_created[{ ]/.test(line))
    .join("\n");
}

/**
 * A short, readable report of where two texts first differ: the first differing lines of each,
 * with a few lines of context, characters escaped so that invisible differences show.
 */
export function firstDifference(ours: string, theirs: string, context = 3): string {
  const ourLines = ours.split("\n");
  const theirLines = theirs.split("\n");
  let index = 0;
  while (
    index < ourLines.length && index < theirLines.length && ourLines[index] === theirLines[index]
  ) index++;
  if (index === ourLines.length && index === theirLines.length) return "(identical)";
  const show = (lines: string[]) =>
    lines.slice(Math.max(0, index - context), index + context + 1).map((line, i) => {
      const number = Math.max(0, index - context) + i + 1;
      return `${number === index + 1 ? ">" : " "} ${String(number).padStart(4)} ${
        JSON.stringify(line)
      }`;
    }).join("\n");
  return `first difference at line ${index + 1}\n--- ours\n${show(ourLines)}\n--- python\n${
    show(theirLines)
  }`;
}
