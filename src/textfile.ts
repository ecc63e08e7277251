/**
 * `writeToTextfile()`: the text format written for node_exporter's textfile collector, as the
 * Python client's `write_to_textfile` does. Deno only (it writes files); checked when called.
 *
 * @module
 */

import { renderText } from "./exposition/text.ts";
import { checkedSource, hasCollect, type MetricsSource } from "./registry.ts";
import { positiveMs } from "./validation.ts";

/** The default of `timeoutMs`: the default deadline of a scrape. */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Characters for the temporary file's random part. */
function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Set once the deadline passed: the work still running stops before it renames anything. */
interface Deadline {
  expired: boolean;
}

/** Stops the abandoned work; its error never reaches the caller, who was told already. */
function checkDeadline(deadline: Deadline): void {
  if (deadline.expired) throw new Error("the deadline passed");
}

/**
 * Writes `registry`'s metrics in the Prometheus text format 0.0.4 to `path`, for
 * node_exporter's textfile collector (`--collector.textfile.directory`). The text goes to a
 * temporary file in the same directory (`<path>.<pid>.<random>.tmp`, which the collector
 * ignores as it does not end in `.prom`), is flushed to disk, and is then renamed over `path`:
 * a reader sees the old file or the new one, never half of one. On any failure the temporary
 * file is removed, `path` is left as it was, and the error is thrown (naming `path`).
 *
 * Collecting and writing may take at most `options.timeoutMs` (default 10 seconds): past it the
 * call rejects naming `path`, and `path` is left as it was — a collector that never settles
 * cannot hang a batch job's last step. A collection or write still running then is abandoned:
 * it never renames over `path`, and removes its temporary file when it ends.
 *
 * Needs Deno, with `--allow-write` (and `--allow-read`) for the directory of `path`.
 *
 * @example A batch job leaving its metrics for node_exporter
 * ```ts ignore
 * import { Gauge, Registry, writeToTextfile } from "@deno-prom/client";
 * const registry = new Registry();
 * const lastSuccess = new Gauge({
 *   name: "backup_last_success_timestamp_seconds", help: "when the backup last succeeded", registry,
 * });
 * lastSuccess.setToCurrentTime();
 * await writeToTextfile("/var/lib/node_exporter/textfile/backup.prom", registry, {
 *   timeoutMs: 5000,
 * });
 * ```
 */
export async function writeToTextfile(
  path: string,
  registry: MetricsSource,
  options: {
    /**
     * How long collecting and writing may take, in milliseconds (default 10000, as for a
     * scrape). Past it the call rejects and the file is left as it was.
     */
    readonly timeoutMs?: number;
  } = {},
): Promise<void> {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno === undefined) {
    throw new TypeError("writeToTextfile() needs Deno: this runtime has no file system API");
  }
  if (typeof path !== "string" || path === "") {
    throw new TypeError(`writeToTextfile() takes a file path, got ${JSON.stringify(path)}`);
  }
  if (!hasCollect(registry)) {
    throw new TypeError("writeToTextfile(): registry must be a Registry or have collect()");
  }
  if (options === null || typeof options !== "object") {
    throw new TypeError("writeToTextfile() takes an options object, e.g. { timeoutMs: 5000 }");
  }
  const timeoutMs = positiveMs(
    options.timeoutMs,
    "writeToTextfile(): timeoutMs",
    DEFAULT_TIMEOUT_MS,
  );
  const deadline: Deadline = { expired: false };
  const work = collectAndWrite(deno, path, registry, deadline);
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Not un-refed: a program awaiting this call must live until it rejects.
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      deadline.expired = true;
      reject(
        new Error(
          `writeToTextfile(): could not write "${path}": collecting and writing the metrics ` +
            `took longer than timeoutMs (${timeoutMs} ms); the file was left as it was`,
        ),
      );
    }, timeoutMs);
  });
  // Once abandoned, the work's own failure (or the deadline it noticed) has nobody to tell.
  work.catch(() => {});
  try {
    await Promise.race([work, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function collectAndWrite(
  deno: typeof Deno,
  path: string,
  registry: MetricsSource,
  deadline: Deadline,
): Promise<void> {
  // Render first: a collector that fails leaves no file behind at all.
  const families = await checkedSource(registry).collect();
  checkDeadline(deadline);
  const text = renderText(families);
  const temporary = `${path}.${deno.pid}.${randomSuffix()}.tmp`;
  try {
    const file = await deno.open(temporary, {
      write: true,
      createNew: true,
      mode: 0o644,
    });
    try {
      const bytes = new TextEncoder().encode(text);
      let written = 0;
      while (written < bytes.length) {
        checkDeadline(deadline);
        written += await file.write(bytes.subarray(written));
      }
      await file.sync();
    } finally {
      file.close();
    }
    // The last check before the rename: past the deadline the caller was told the old file
    // stays, so it must.
    checkDeadline(deadline);
    await deno.rename(temporary, path);
  } catch (error) {
    await deno.remove(temporary).catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`writeToTextfile(): could not write "${path}": ${reason}`, { cause: error });
  }
}
