/**
 * Starts a real VictoriaMetrics single-node server (Debian's `victoria-metrics` 1.79 binary) for
 * end-to-end tests of remote write: on a free port of 127.0.0.1, its storage in a temporary
 * directory, data visible to queries at once (`-search.latencyOffset=0s`).
 *
 * @module
 */

import {
  freePort,
  type ManagedProcess,
  startProcess,
  waitFor,
  waitForReadyUrl,
} from "./process.ts";

/** One series as `/api/v1/export` lists it. */
export interface ExportedSeries {
  /** Its labels, `__name__` included. */
  metric: Record<string, string>;
  /** Its values, oldest first. */
  values: number[];
  /** Their timestamps in milliseconds. */
  timestamps: number[];
}

/** A running VictoriaMetrics server. */
export interface VictoriaMetricsServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Its Prometheus remote-write endpoint. */
  readonly writeUrl: string;
  /** Makes what was written searchable now (`/internal/force_flush`). */
  flush(): Promise<void>;
  /** Every series matching `selector` (e.g. `{__name__=~"rw_.*"}`), with its raw samples. */
  export(selector: string): Promise<ExportedSeries[]>;
  /**
   * {@linkcode VictoriaMetricsServer.export} once `ready` holds for its answer (flushing
   * first): new series become searchable a moment after they are written.
   */
  exportWhen(
    selector: string,
    ready: (series: ExportedSeries[]) => boolean,
    timeoutMs?: number,
  ): Promise<ExportedSeries[]>;
  /** An instant query (`/api/v1/query`): each series' labels and value (as text). */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Stops the server and removes its storage. */
  stop(): Promise<void>;
}

/** Starts VictoriaMetrics; retries on another port when the one chosen was taken meanwhile. */
export async function startVictoriaMetrics(): Promise<VictoriaMetricsServer> {
  const dir = await Deno.makeTempDir({ prefix: "victoria-metrics-" });
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = startProcess("victoria-metrics", [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dir}`,
      "-search.latencyOffset=0s",
      "-search.disableCache",
      "-loggerLevel=ERROR",
      "-memory.allowedPercent=20",
    ]);
    try {
      await waitForReadyUrl(proc, `${url}/health`, {
        name: "victoria-metrics",
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      if (proc.exited) throw new Error(`victoria-metrics exited:\n${proc.output()}`);
      return server(url, proc, dir);
    } catch (error) {
      lastError = error;
      await proc.stop();
    }
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  throw lastError;
}

function server(url: string, proc: ManagedProcess, dir: string): VictoriaMetricsServer {
  let stopping: Promise<void> | undefined;
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    async flush() {
      const response = await fetch(`${url}/internal/force_flush`);
      await response.body?.cancel();
      if (!response.ok) throw new Error(`force_flush: HTTP ${response.status}`);
    },
    async export(selector) {
      const response = await fetch(
        `${url}/api/v1/export?match[]=${encodeURIComponent(selector)}`,
        { signal: AbortSignal.timeout(60_000) },
      );
      const text = await response.text();
      if (!response.ok) throw new Error(`export: HTTP ${response.status}: ${text.slice(0, 500)}`);
      return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
    },
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
        signal: AbortSignal.timeout(30_000),
      });
      const body = await response.json();
      if (!response.ok || body.status !== "success") {
        throw new Error(`query ${promql}: HTTP ${response.status}: ${JSON.stringify(body)}`);
      }
      return body.data.result;
    },
    async exportWhen(selector, ready, timeoutMs = 30_000) {
      let series: ExportedSeries[] = [];
      await waitFor(async () => {
        await this.flush();
        series = await this.export(selector);
        return ready(series);
      }, { timeoutMs, intervalMs: 200, what: `VictoriaMetrics series ${selector}` });
      return series;
    },
    stop() {
      stopping ??= (async () => {
        await proc.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopping;
    },
  };
}
