/**
 * Prometheus remote write 1.0: the source's current samples as `WriteRequest`s (protobuf,
 * Snappy block-compressed, split into requests of bounded size) sent straight to Prometheus, Mimir, Thanos, Cortex, VictoriaMetrics
 * or Grafana Cloud — for code that nobody can scrape. `remoteWrite` sends once;
 * `RemoteWriter` sends in the background, like the `Pusher` does for the Pushgateway.
 *
 * Series are named as Prometheus stores them when it scrapes the text format 0.0.4: counters as
 * `<name>_total`, histograms as `<name>_bucket` (with `le`), `<name>_count` and `<name>_sum`,
 * summaries as `<name>` (with `quantile`), `<name>_count` and `<name>_sum`, info metrics as the
 * gauge `<name>_info` and state sets as a gauge per state; no `_created` series.
 *
 * @module
 */

export {
  DEFAULT_MAX_BYTES_PER_REQUEST,
  DEFAULT_MAX_SERIES_PER_REQUEST,
  DEFAULT_REMOTE_WRITE_TIMEOUT_MS,
  type RemoteWriteOptions,
} from "./remote_write/send.ts";
export { RemoteWriter, type RemoteWriterOptions } from "./remote_write/writer.ts";
import { prepareWrite, type RemoteWriteOptions, writeOnce } from "./remote_write/send.ts";

/**
 * Sends the source's current samples to a remote-write receiver, all with one timestamp (now),
 * in requests of at most `maxSeriesPerRequest` series and `maxBytesPerRequest` bytes, one after
 * another. Resolves when the receiver accepted them all (2xx). A request that fails stops the
 * write: the error's message says how many series were written before it. Rejects with a
 * {@linkcode RemoteWriteError} (whose `retryable` says whether trying again may help) when the
 * receiver answers anything else — a redirect included, which is never followed — cannot be
 * reached or does not answer within `timeoutMs`; with a `TypeError` for invalid options or a
 * series without a `job` label. An error thrown by a collector rejects unchanged.
 *
 * @example
 * ```ts ignore
 * import { Counter, Registry, remoteWrite } from "@deno-prom/client";
 * const registry = new Registry();
 * new Counter({ name: "invoices_sent", help: "invoices sent", registry }).inc(12);
 * await remoteWrite("http://localhost:9090/api/v1/write", {
 *   registry,
 *   labels: { job: "billing", instance: "cli" },
 * });
 * ```
 */
export async function remoteWrite(url: string | URL, options: RemoteWriteOptions): Promise<void> {
  await writeOnce(prepareWrite(url, options), Date.now());
}
