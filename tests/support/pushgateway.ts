/**
 * Starts a real Pushgateway (Debian's `prometheus-pushgateway` 1.5 binary) for end-to-end tests.
 *
 * Persistence is disabled explicitly with an empty `--persistence.file=`: Debian's build defaults
 * that flag to `/var/lib/prometheus/pushgateway.data`, which would leak state between tests and
 * restarts.
 *
 * @module
 */

import { freePort, type ManagedProcess, sleep, startProcess, waitForReadyUrl } from "./process.ts";

/** One metric family inside a Pushgateway group, as returned by `/api/v1/metrics`. */
export interface PushgatewayFamily {
  /** Push time of the family (RFC 3339). */
  time_stamp: string;
  /** `COUNTER`, `GAUGE`, `SUMMARY`, `HISTOGRAM` or `UNTYPED`. */
  type: string;
  /** HELP text. */
  help: string;
  /** Samples; `value` for counters/gauges/untyped, `buckets`/`quantiles`/`count`/`sum` otherwise. */
  // deno-lint-ignore no-explicit-any
  metrics: Array<{ labels: Record<string, string>; [field: string]: any }>;
}

/** One group (one grouping key) as returned by `/api/v1/metrics`. */
export interface PushgatewayGroup {
  /** The grouping key labels, e.g. `{ job: "x", instance: "y" }`. */
  labels: Record<string, string>;
  /** Whether the last push to this group succeeded. */
  last_push_successful?: boolean;
  /** Metric families by name (plus `push_time_seconds` and `push_failure_time_seconds`). */
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** Body of `GET /api/v1/metrics`. */
export interface PushgatewayMetricsResponse {
  /** `success` on success. */
  status: string;
  /** All groups currently held. */
  data: PushgatewayGroup[];
}

/** Options for {@linkcode startPushgateway}. */
export interface StartPushgatewayOptions {
  /** Port to listen on (default: a free port). */
  port?: number;
  /** Extra command-line flags for `prometheus-pushgateway`. */
  extraArgs?: string[];
}

/** A running Pushgateway. */
export interface PushgatewayServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Port the Pushgateway listens on (unchanged by `restart()`). */
  readonly port: number;
  /** Parsed `GET /api/v1/metrics` body (`{ status, data: groups }`). */
  metricsJson(): Promise<PushgatewayMetricsResponse>;
  /** The groups from `metricsJson()`. */
  groups(): Promise<PushgatewayGroup[]>;
  /** Text of `GET /metrics` (all pushed metrics plus the Pushgateway's own). */
  metricsText(): Promise<string>;
  /** Captured log output of the current process (for error messages). */
  output(): string;
  /** Stops the process and starts a fresh one on the same port (all pushed groups are lost). */
  restart(): Promise<void>;
  /** Stops the Pushgateway. Idempotent. */
  stop(): Promise<void>;
}

async function getOk(url: string): Promise<Response> {
  const res = await fetch(url);
  if (!res.ok) {
    const text = await res.text();
    throw new Error(`GET ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
  return res;
}

/** Launches one Pushgateway process on `port` and waits for `/-/ready`; throws with its log on failure. */
async function launch(port: number, extraArgs: string[]): Promise<ManagedProcess> {
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess("prometheus-pushgateway", [
    `--web.listen-address=127.0.0.1:${port}`,
    "--persistence.file=",
    ...extraArgs,
  ]);
  await waitForReadyUrl(proc, `${url}/-/ready`, {
    name: "pushgateway",
    // Generous: on a loaded 2-core machine a cold start can take several seconds.
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  if (proc.exited) {
    const status = await proc.stop();
    const error = new Error(
      `prometheus-pushgateway exited early with code ${status.code}\n` +
        `--- pushgateway output ---\n${proc.output()}`,
    );
    (error as Error & { addressInUse?: boolean }).addressInUse = /address already in use/i.test(
      proc.output(),
    );
    throw error;
  }
  return proc;
}

/** Starts `prometheus-pushgateway` on 127.0.0.1 (free port unless given) without persistence. */
export async function startPushgateway(
  { port: requestedPort, extraArgs = [] }: StartPushgatewayOptions = {},
): Promise<PushgatewayServer> {
  let port = requestedPort ?? freePort();
  let proc: ManagedProcess;
  for (let attempt = 1;; attempt++) {
    try {
      proc = await launch(port, extraArgs);
      break;
    } catch (err) {
      const inUse = (err as Error & { addressInUse?: boolean }).addressInUse;
      if (!inUse || requestedPort !== undefined || attempt >= 3) throw err;
      port = freePort();
    }
  }
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;

  const server: PushgatewayServer = {
    url,
    port,
    metricsJson: async () => (await getOk(`${url}/api/v1/metrics`)).json(),
    groups: async () => (await server.metricsJson()).data,
    metricsText: async () => (await getOk(`${url}/metrics`)).text(),
    output: () => proc.output(),
    async restart() {
      if (stopped) throw new Error("restart(): the Pushgateway was stopped");
      await proc.stop();
      // The listening socket is gone once the process exited; retry briefly in case the
      // kernel still considers the port busy.
      for (let attempt = 1;; attempt++) {
        try {
          proc = await launch(port, extraArgs);
          return;
        } catch (err) {
          const inUse = (err as Error & { addressInUse?: boolean }).addressInUse;
          if (!inUse || attempt >= 20) throw err;
          await sleep(100);
        }
      }
    },
    async stop() {
      stopped = true;
      await proc.stop();
    },
  };
  return server;
}
