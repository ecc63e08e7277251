/**
 * Starts a real Prometheus server (Debian's `prometheus` 2.42 binary) for end-to-end tests.
 *
 * Prometheus 2.42 has no `scrape_protocols` setting: its scraper always sends the fixed header
 * {@linkcode PROMETHEUS_2_42_ACCEPT}, which prefers OpenMetrics. To make tests able to exercise
 * other formats anyway, {@linkcode StartPrometheusOptions.scrapeProtocols} puts a tiny in-process
 * HTTP proxy in front of each target that rewrites the `Accept` header (see that option).
 *
 * @module
 */

import {
  freePort,
  type ManagedProcess,
  sleep,
  startProcess,
  waitFor,
  waitForReadyUrl,
} from "./process.ts";

/** The exact `Accept` header Prometheus 2.42 sends on every scrape (without native histograms). */
export const PROMETHEUS_2_42_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/** Scrape protocol names, spelled like the `scrape_protocols` setting of newer Prometheus versions. */
export type ScrapeProtocol =
  | "OpenMetricsText1.0.0"
  | "OpenMetricsText0.0.1"
  | "PrometheusText0.0.4";

const MEDIA_TYPES: Record<ScrapeProtocol, string> = {
  "OpenMetricsText1.0.0": "application/openmetrics-text;version=1.0.0",
  "OpenMetricsText0.0.1": "application/openmetrics-text;version=0.0.1",
  "PrometheusText0.0.4": "text/plain;version=0.0.4",
};

/** Builds an `Accept` header listing `protocols` in order of preference (no `*` fallback). */
export function acceptHeaderFor(protocols: readonly ScrapeProtocol[]): string {
  if (protocols.length === 0) throw new Error("acceptHeaderFor: need at least one protocol");
  return protocols
    .map((p, i) => {
      const media = MEDIA_TYPES[p];
      if (media === undefined) throw new Error(`Unknown scrape protocol '${p}'`);
      const q = Math.max(0.1, 1 - i * 0.1);
      return i === 0 ? media : `${media};q=${q.toFixed(1)}`;
    })
    .join(",");
}

/** Options for {@linkcode startPrometheus}. */
export interface StartPrometheusOptions {
  /** Targets to scrape, as `host:port` (job name `deno`). */
  scrapeTargets: string[];
  /** Scrape interval in seconds (default 1); the scrape timeout equals the interval. */
  scrapeIntervalSeconds?: number;
  /** Path scraped on each target (default `/metrics`). */
  metricsPath?: string;
  /**
   * Formats Prometheus should ask for, most preferred first.
   *
   * Prometheus 2.42 cannot be configured to send anything but {@linkcode PROMETHEUS_2_42_ACCEPT}.
   * When this option is given, each target is reached through an in-process proxy that replaces
   * the `Accept` header with {@linkcode acceptHeaderFor}(scrapeProtocols) and asks upstream for an
   * uncompressed body. The target's `instance` label is still its real `host:port`. Every proxied
   * scrape is recorded in {@linkcode PrometheusServer.scrapes}. When omitted, Prometheus scrapes
   * the targets directly with its own header.
   */
  scrapeProtocols?: ScrapeProtocol[];
  /** Extra command-line flags for `prometheus`. */
  extraArgs?: string[];
}

/** One sample of an instant-query result (vector element, or a scalar wrapped with no labels). */
export interface PromSample {
  /** Labels of the series (including `__name__` when the query keeps it). */
  metric: Record<string, string>;
  /** Evaluation timestamp in seconds and the value as Prometheus prints it. */
  value: [number, string];
}

/** The `data` part of a `/api/v1/query` answer. */
export interface PromQueryData {
  /** `vector`, `matrix`, `scalar` or `string`. */
  resultType: string;
  /** Shape depends on `resultType`. */
  result: unknown;
}

/** One active target as reported by `/api/v1/targets`. */
export interface PromTarget {
  /** Labels after relabelling (`job`, `instance`, ...). */
  labels: Record<string, string>;
  /** Labels before relabelling (`__address__`, `__metrics_path__`, ...). */
  discoveredLabels: Record<string, string>;
  /** Scrape pool (the job name). */
  scrapePool: string;
  /** URL actually scraped (the proxy's URL when `scrapeProtocols` is used). */
  scrapeUrl: string;
  /** Last scrape error, empty when the last scrape succeeded. */
  lastError: string;
  /** Time of the last scrape (RFC 3339). */
  lastScrape: string;
  /** Duration of the last scrape in seconds. */
  lastScrapeDuration: number;
  /** `up`, `down` or `unknown`. */
  health: string;
}

/** A proxied scrape, recorded when `scrapeProtocols` is used. */
export interface RecordedScrape {
  /** The real target (`host:port`). */
  target: string;
  /** Path and query that was scraped. */
  path: string;
  /** `Accept` header sent by Prometheus. */
  originalAccept: string | null;
  /** `Accept` header forwarded to the target. */
  forwardedAccept: string;
  /** HTTP status returned by the target (502 when unreachable). */
  status: number;
  /** `Content-Type` returned by the target. */
  contentType: string | null;
}

/** A running Prometheus server. */
export interface PrometheusServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Port Prometheus listens on. */
  port: number;
  /** Temporary directory holding `prometheus.yml` and the TSDB (removed by `stop()`). */
  dir: string;
  /** Addresses Prometheus actually scrapes (proxies when `scrapeProtocols` is used). */
  scrapeAddresses: string[];
  /** Scrapes seen by the Accept-rewriting proxies (last 200), oldest first. */
  scrapes: RecordedScrape[];
  /** Runs an instant query and returns its samples (vector, or scalar as one unlabelled sample). */
  query(promql: string): Promise<PromSample[]>;
  /** Runs an instant query and returns the raw `data` object. */
  queryRaw(promql: string): Promise<PromQueryData>;
  /** Polls `query(promql)` until `predicate` holds, and returns the satisfying result. */
  waitForQuery(
    promql: string,
    predicate: (result: PromSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<PromSample[]>;
  /** Lists the active targets from `/api/v1/targets`. */
  targets(): Promise<PromTarget[]>;
  /** Waits until every configured target has health `up`. */
  waitForTargetsUp(timeoutMs?: number): Promise<PromTarget[]>;
  /** Captured Prometheus log output (for error messages). */
  output(): string;
  /** Stops Prometheus and the proxies and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

/** GETs a Prometheus HTTP API URL and returns its `data`; throws with the API error otherwise. */
async function apiGet<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const text = await res.text();
  let body: { status?: string; data?: T; error?: string; errorType?: string };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET ${url}: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (!res.ok || body.status !== "success") {
    throw new Error(
      `GET ${url}: HTTP ${res.status} ${body.errorType ?? ""}: ${body.error ?? text.slice(0, 300)}`,
    );
  }
  return body.data as T;
}

/** Starts the header-rewriting proxy for one target; returns its address and a shutdown hook. */
function startAcceptProxy(
  target: string,
  accept: string,
  log: RecordedScrape[],
): { address: string; shutdown: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const incoming = new URL(req.url);
    const headers = new Headers(req.headers);
    headers.delete("host");
    headers.set("accept", accept);
    headers.set("accept-encoding", "identity");
    const entry: RecordedScrape = {
      target,
      path: incoming.pathname + incoming.search,
      originalAccept: req.headers.get("accept"),
      forwardedAccept: accept,
      status: 502,
      contentType: null,
    };
    log.push(entry);
    if (log.length > 200) log.splice(0, log.length - 200);
    try {
      const upstream = await fetch(`http://${target}${entry.path}`, {
        method: req.method,
        headers,
      });
      const body = await upstream.arrayBuffer();
      entry.status = upstream.status;
      entry.contentType = upstream.headers.get("content-type");
      const out = new Headers(upstream.headers);
      for (const h of ["content-length", "content-encoding", "transfer-encoding", "connection"]) {
        out.delete(h);
      }
      return new Response(body, { status: upstream.status, headers: out });
    } catch (err) {
      return new Response(`proxy: cannot reach ${target}: ${err}`, { status: 502 });
    }
  });
  return {
    address: `127.0.0.1:${server.addr.port}`,
    shutdown: () => server.shutdown(),
  };
}

/**
 * Starts Prometheus on a free 127.0.0.1 port scraping `scrapeTargets`, and waits until it is ready.
 *
 * Readiness takes well under a second, but Prometheus 2.42 hands new targets to its scrape loops
 * only every 5 s (fixed discovery/reload tick), so the first scrape lands about 5 s after start:
 * start it once per test and use {@linkcode PrometheusServer.waitForQuery} rather than sleeps.
 */
export async function startPrometheus(
  {
    scrapeTargets,
    scrapeIntervalSeconds = 1,
    metricsPath = "/metrics",
    scrapeProtocols,
    extraArgs = [],
  }: StartPrometheusOptions,
): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-prometheus-" });
  const scrapes: RecordedScrape[] = [];
  const proxies: { address: string; shutdown: () => Promise<void> }[] = [];
  let proc: ManagedProcess | undefined;

  const cleanup = async () => {
    if (proc) await proc.stop();
    for (const p of proxies.splice(0)) await p.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    if (scrapeProtocols !== undefined) {
      const accept = acceptHeaderFor(scrapeProtocols);
      for (const target of scrapeTargets) proxies.push(startAcceptProxy(target, accept, scrapes));
    }
    const scrapeAddresses = proxies.length > 0 ? proxies.map((p) => p.address) : [...scrapeTargets];
    // Prometheus durations take no fractions ("0.5s" is invalid), so use milliseconds.
    const interval = `${Math.max(1, Math.round(scrapeIntervalSeconds * 1000))}ms`;
    const config = {
      global: {
        scrape_interval: interval,
        scrape_timeout: interval,
        evaluation_interval: interval,
      },
      scrape_configs: [{
        job_name: "deno",
        scrape_interval: interval,
        scrape_timeout: interval,
        metrics_path: metricsPath,
        static_configs: scrapeTargets.map((target, i) => ({
          targets: [scrapeAddresses[i]],
          // Keep the real address as `instance` even when scraping through a proxy.
          labels: { instance: target },
        })),
      }],
    };
    const configPath = `${dir}/prometheus.yml`;
    // JSON is valid YAML, and sidesteps any quoting questions.
    await Deno.writeTextFile(configPath, JSON.stringify(config, null, 2) + "\n");

    // The port is only reserved momentarily; retry if another process grabbed it.
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      const url = `http://127.0.0.1:${port}`;
      const p = startProcess("prometheus", [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=info",
        ...extraArgs,
      ], { cwd: dir });
      proc = p;
      await waitForReadyUrl(p, `${url}/-/ready`, {
        name: "prometheus",
        timeoutMs: 30_000,
        intervalMs: 100,
      });
      if (p.exited) {
        const status = await p.stop();
        const log = p.output();
        if (attempt < 3 && /address already in use/i.test(log)) {
          await sleep(50);
          continue;
        }
        throw new Error(
          `prometheus exited early with code ${status.code}\n--- prometheus output ---\n${log}`,
        );
      }

      const server: PrometheusServer = {
        url,
        port,
        dir,
        scrapeAddresses,
        scrapes,
        queryRaw: (promql) =>
          apiGet<PromQueryData>(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`),
        async query(promql) {
          const data = await server.queryRaw(promql);
          if (data.resultType === "vector") return data.result as PromSample[];
          if (data.resultType === "scalar" || data.resultType === "string") {
            return [{ metric: {}, value: data.result as [number, string] }];
          }
          throw new Error(
            `query(${promql}): result type '${data.resultType}' is not an instant vector; use queryRaw`,
          );
        },
        async waitForQuery(promql, predicate, timeoutMs = 20_000) {
          let last: PromSample[] | undefined;
          try {
            await waitFor(async () => {
              last = await server.query(promql);
              return predicate(last);
            }, { timeoutMs, intervalMs: 250, what: `query '${promql}' to satisfy the predicate` });
          } catch (err) {
            const targets = await server.targets().catch(() => []);
            const health = targets
              .map((t) => `${t.labels.instance} ${t.health} ${t.lastError}`)
              .join("; ");
            throw new Error(
              `${(err as Error).message}\nlast result: ${JSON.stringify(last)}\ntargets: ${health}`,
            );
          }
          return last!;
        },
        async targets() {
          const data = await apiGet<{ activeTargets: PromTarget[] }>(
            `${url}/api/v1/targets?state=active`,
          );
          return data.activeTargets;
        },
        async waitForTargetsUp(timeoutMs = 20_000) {
          let last: PromTarget[] = [];
          try {
            await waitFor(async () => {
              last = await server.targets();
              return last.length === scrapeTargets.length &&
                last.every((t) => t.health === "up");
            }, { timeoutMs, intervalMs: 200, what: "all Prometheus targets to be up" });
          } catch (err) {
            const health = last.map((t) => `${t.labels.instance}: ${t.health} ${t.lastError}`);
            throw new Error(`${(err as Error).message}\ntargets: ${health.join("; ")}`);
          }
          return last;
        },
        output: () => p.output(),
        stop: (() => {
          let stopping: Promise<void> | undefined;
          return () => stopping ??= cleanup();
        })(),
      };
      return server;
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
}
