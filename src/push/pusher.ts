/**
 * A background pusher: pushes a registry to a Pushgateway every few seconds, like the guide's
 * daemon thread calling `push_to_gateway` in a loop, without ever throwing into the program.
 *
 * @module
 */

import { checkedSource, defaultRegistry, hasCollect, type MetricsSource } from "../registry.ts";
import { BackgroundLoop, type BackgroundOptions, BackgroundSender } from "./background.ts";
import {
  type FetchFunction,
  gatewayUrl,
  type GroupingKey,
  pushAddToGateway,
  pushToGateway,
} from "./gateway.ts";
import { positiveMs } from "../validation.ts";
import type { Auth } from "../auth.ts";

export type {
  BackgroundOptions,
  BackoffOptions,
  PushFailureInfo,
  PushRecoveryInfo,
} from "./background.ts";
export { BackgroundSender } from "./background.ts";

/** Options of {@linkcode Pusher}. */
export interface PusherOptions extends BackgroundOptions {
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
  /** `"put"` (default) replaces the whole group; `"post"` replaces only same-named families. */
  readonly method?: "put" | "post";
  /** Basic auth or bearer token for the gateway. */
  readonly auth?: Auth;
  /** Extra request headers. */
  readonly headers?: HeadersInit;
  /** The `fetch` to use; default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /** Gzip bodies: as {@linkcode PushOptions.gzip} (default: from 4096 bytes up). */
  readonly gzip?: boolean | number;
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
export class Pusher extends BackgroundSender {
  /** The group's URL, without credentials. */
  readonly url: string;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: PusherOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Pusher takes an options object with at least { gateway, job }");
    }
    const url = gatewayUrl(options.gateway, options.job, options.groupingKey);
    const registry = options.registry ?? defaultRegistry;
    if (!hasCollect(registry)) {
      throw new TypeError(`registry of the pusher for ${url} must have a collect() method`);
    }
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
    const loop = new BackgroundLoop({
      owner: "Pusher",
      url,
      verb: "push",
      given: options,
      defaultIntervalMs: 5_000,
      source: registry,
      send: () => push(gateway, pushOptions),
      healthNames: {
        prefix: "pusher",
        action: "push to the Pushgateway",
        actions: "pushes to the Pushgateway",
      },
    });
    super(loop);
    this.url = url;
  }

  /**
   * Pushes now (after the push in flight, if any). Resolves `true` on success, `false` on failure
   * (reported to `onError`); never rejects. Works whether or not the pusher is started.
   */
  pushNow(): Promise<boolean> {
    return this.sendNow();
  }
}
