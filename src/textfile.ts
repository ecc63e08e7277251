/**
 * `writeToTextfile()`: the text format written for node_exporter's textfile collector, as the
 * Python client's `write_to_textfile` does. Deno only (it writes files); checked when called.
 *
 * @module
 */

import { renderText } from "./exposition/text.ts";
import { checkedSource, hasCollect, type MetricsSource } from "./registry.ts";

/** Characters for the temporary file's random part. */
function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `registry`'s metrics in the Prometheus text format 0.0.4 to `path`, for
 * node_exporter's textfile collector (`--collector.textfile.directory`). The text goes to a
 * temporary file in the same directory (`<path>.<pid>.<random>.tmp`, which the collector
 * ignores as it does not end in `.prom`), is flushed to disk, and is then renamed over `path`:
 * a reader sees the old file or the new one, never half of one. On any failure the temporary
 * file is removed, `path` is left as it was, and the error is thrown (naming `path`).
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
 * await writeToTextfile("/var/lib/node_exporter/textfile/backup.prom", registry);
 * ```
 */
export async function writeToTextfile(path: string, registry: MetricsSource): Promise<void> {
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
  // Render first: a collector that fails leaves no file behind at all.
  const text = renderText(await checkedSource(registry).collect());
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
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.sync();
    } finally {
      file.close();
    }
    await deno.rename(temporary, path);
  } catch (error) {
    await deno.remove(temporary).catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`writeToTextfile(): could not write "${path}": ${reason}`, { cause: error });
  }
}
