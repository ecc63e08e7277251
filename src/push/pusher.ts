/**
 * A background pusher: pushes a registry to a Pushgateway every few seconds, like the guide's
 * daemon thread calling `push_to_gateway` in a loop, without ever throwing into the program.
 *
 * @module
 */

import {
  checkedSource,
  defaultRegistry,
  hasCollect,
  type MetricsSource,
  type Registry,
} from "../registry.ts";
import {
  BackgroundLoop,
  type BackoffOptions,
  healthRegistryOf,
  type PushFailureInfo,
  type PushRecoveryInfo,
} from "./background.ts";
import {
  type FetchFunction,
  gatewayUrl,
  type GroupingKey,
  pushAddToGateway,
  pushToGateway,
} from "./gateway.ts";
import { positiveMs } from "../validation.ts";
import type { Auth } from "../auth.ts";

export type { BackoffOptions, PushFailureInfo, PushRecoveryInfo } from "./background.ts";

/** Options of {@linkcode Pusher}. */
export interface PusherOptions {
  /** The Pushgateway: a URL or `host:port` (`http://` assumed). User-info becomes basic auth. */
  readonly gateway: string | URL;
  /** The `job` label of the pushed group. */
  readonly job: string;
  /**
   * What to push: a `Registry`, a worker aggregator, a directory collector, or anything with
   * `collect()`. Default: the default registry.
   */
  readonly registry?: MetricsSource;
  /** More grouping labels, e.g. `{ instance: "worker-1" }`. */
  readonly groupingKey?: GroupingKey;
  /** Time between pushes in milliseconds; default 5000. */
  readonly intervalMs?: number;
  /** `"put"` (default) replaces the whole group; `"post"` replaces only same-named families. */
  readonly method?: "put" | "post";
  /** Timeout of each push in milliseconds; default 10000. */
  readonly timeoutMs?: number;
  /**
   * Called on every failed push. Default: one `console.error` line per failure streak (the
   * first failure) and one line when pushing recovers. Errors it throws are swallowed.
   */
  readonly onError?: (error: Error, info: PushFailureInfo) => void;
  /** Called when a push succeeds after failures (the default prints one line when `onError` is not given). */
  readonly onRecover?: (info: PushRecoveryInfo) => void;
  /** Basic auth or bearer token for the gateway. */
  readonly auth?: Auth;
  /** Extra request headers. */
  readonly headers?: HeadersInit;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * On SIGINT or SIGTERM: do the final push, then exit with the conventional code (130 or 143).
   * The listeners exist while the pusher runs. Default false.
   */
  readonly flushOnSignals?: boolean;
  /**
   * Whether the pending timer keeps the process alive while the pusher runs. Default false, like
   * the guide's daemon thread: the program ends when its own work ends (call `stop()` first to
   * push the last values). A push already in flight always completes or times out first.
   */
  readonly keepAlive?: boolean;
  /** Retry pacing while failing (capped exponential backoff with jitter). */
  readonly backoff?: BackoffOptions;
  /** Gzip bodies: as {@linkcode PushOptions.gzip} (default: from 4096 bytes up). */
  readonly gzip?: boolean | number;
  /**
   * Expose the pusher's own health as metrics — `pusher_last_success_timestamp_seconds`,
   * `pusher_consecutive_failures` and `pusher_failures_total`: `true` adds them to the pushed
   * registry, `{ registry }` to another one (e.g. a scraped one). Default false.
   */
  readonly healthMetrics?: boolean | { readonly registry: Registry };
}

/** Default timeout of each background push. */
const DEFAULT_PUSHER_TIMEOUT_MS = 10_000;

/**
 * Pushes a registry to a Pushgateway every `intervalMs` in the background — the guide's
 * `Moni.start()` with a daemon thread looping over `push_to_gateway`.
 *
 * - The first push happens right after `start()`, then one every `intervalMs`.
 * - Never throws into the program: failures go to `onError`. Never two pushes in flight: a
 *   tick that comes while a push still runs is skipped.
 * - While the gateway fails, retries follow a capped exponential backoff with jitter, and the
 *   normal pace resumes by itself after the first success.
 * - `stop()` (or `await using`) stops the timer and makes one final push. After it nothing of
 *   the pusher keeps the process alive; while running, only with `keepAlive: true`.
 *
 * @example
 * ```ts ignore
 * import { Gauge, Pusher, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const queued = new Gauge({ name: "jobs_queued", help: "jobs waiting", registry });
 * await using pusher = new Pusher({ gateway: "localhost:9091", job: "moni", registry });
 * pusher.start();
 * queued.set(3); // pushed within 5 s, and once more when the pusher is disposed
 * ```
 */
export class Pusher {
  /** The group's URL, without credentials. */
  readonly url: string;
  readonly #loop: BackgroundLoop;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: PusherOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Pusher takes an options object with at least { gateway, job }");
    }
    const url = gatewayUrl(options.gateway, options.job, options.groupingKey);
    this.url = url;
    const registry = options.registry ?? defaultRegistry;
    if (!hasCollect(registry)) {
      throw new TypeError(`registry of the pusher for ${url} must have a collect() method`);
    }
    const healthRegistry = healthRegistryOf(
      options.healthMetrics,
      registry,
      `the pusher for ${url}`,
    );
    const timeoutMs = positiveMs(
      options.timeoutMs ?? DEFAULT_PUSHER_TIMEOUT_MS,
      `timeoutMs of the pusher for ${url}`,
    );
    const method = options.method ?? "put";
    if (method !== "put" && method !== "post") {
      throw new TypeError(
        `method of the pusher for ${url} must be "put" or "post", got ${String(method)}`,
      );
    }
    const push = method === "put" ? pushToGateway : pushAddToGateway;
    const pushOptions = {
      job: options.job,
      // Checked once here, so a bad family is reported once per streak, not at every push.
      registry: checkedSource(registry),
      groupingKey: options.groupingKey,
      timeoutMs,
      auth: options.auth,
      headers: options.headers,
      fetch: options.fetch,
      gzip: options.gzip,
    };
    const gateway = options.gateway;
    this.#loop = new BackgroundLoop({
      owner: "Pusher",
      url,
      verb: "push",
      intervalMs: options.intervalMs ?? 5_000,
      backoff: options.backoff,
      keepAlive: options.keepAlive === true,
      flushOnSignals: options.flushOnSignals === true,
      onError: options.onError,
      onRecover: options.onRecover,
      send: () => push(gateway, pushOptions),
      health: healthRegistry === undefined ? undefined : {
        registry: healthRegistry,
        names: {
          prefix: "pusher",
          action: "push to the Pushgateway",
          actions: "pushes to the Pushgateway",
        },
      },
    });
  }

  /** Whether the pusher is started and not stopped. */
  get running(): boolean {
    return this.#loop.running;
  }

  /** When the last push succeeded, or `undefined` if none has yet. */
  get lastSuccess(): Date | undefined {
    return this.#loop.lastSuccess;
  }

  /** Failed pushes in a row since the last success (0 when healthy). */
  get consecutiveFailures(): number {
    return this.#loop.consecutiveFailures;
  }

  /** Failed pushes since the pusher was created. */
  get failuresTotal(): number {
    return this.#loop.failuresTotal;
  }

  /** Starts pushing: once right away, then every `intervalMs`. Does nothing when running. */
  start(): void {
    this.#loop.start();
  }

  /**
   * Stops the timer and makes one final push, so the last observations are not lost. Resolves
   * when that push is done (failed or not); never rejects. Does nothing when not running.
   */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /**
   * Pushes now (after the push in flight, if any). Resolves `true` on success, `false` on failure
   * (reported to `onError`); never rejects. Works whether or not the pusher is started.
   */
  pushNow(): Promise<boolean> {
    return this.#loop.sendNow();
  }

  /** Same as {@linkcode Pusher.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
