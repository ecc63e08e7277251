/**
 * A background pusher: pushes a registry to a Pushgateway every few seconds, like the guide's
 * daemon thread calling `push_to_gateway` in a loop, without ever throwing into the program.
 *
 * @module
 */

import type { Collector, MetricFamily } from "../model.ts";
import { defaultRegistry, type Registry } from "../registry.ts";
import { PushError } from "./errors.ts";
import { requireDeno, unrefTimer } from "../platform.ts";
import {
  type FetchFunction,
  gatewayUrl,
  type GroupingKey,
  pushAddToGateway,
  type PushAuth,
  pushToGateway,
} from "./gateway.ts";

/** What {@linkcode PusherOptions.onError} learns besides the error. */
export interface PushFailureInfo {
  /** Failed attempts in a row, this one included (1 for the first failure of a streak). */
  readonly consecutiveFailures: number;
}

/** What {@linkcode PusherOptions.onRecover} learns when a push succeeds after failures. */
export interface PushRecoveryInfo {
  /** How many attempts in a row had failed before this success. */
  readonly failedAttempts: number;
}

/** Retry pacing while the gateway fails: delays double from `initialMs` up to `maxMs`. */
export interface BackoffOptions {
  /** Delay before the first retry; default `min(1000, intervalMs)`. */
  readonly initialMs?: number;
  /** Largest delay between retries; default `max(30000, intervalMs)`. */
  readonly maxMs?: number;
}

/** Options of {@linkcode Pusher}. */
export interface PusherOptions {
  /** The Pushgateway: a URL or `host:port` (`http://` assumed). User-info becomes basic auth. */
  readonly gateway: string | URL;
  /** The `job` label of the pushed group. */
  readonly job: string;
  /** The registry to push; default: the default registry. */
  readonly registry?: Registry;
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
  readonly auth?: PushAuth;
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
  /**
   * Expose the pusher's own health as metrics — `pusher_last_success_timestamp_seconds`,
   * `pusher_consecutive_failures` and `pusher_failures_total`: `true` adds them to the pushed
   * registry, `{ registry }` to another one (e.g. a scraped one). Default false.
   */
  readonly healthMetrics?: boolean | { readonly registry: Registry };
}

/** Default timeout of each background push. */
const DEFAULT_PUSHER_TIMEOUT_MS = 10_000;
const EXIT_CODES: Readonly<Record<"SIGINT" | "SIGTERM", number>> = { SIGINT: 130, SIGTERM: 143 };

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
  readonly #gateway: string | URL;
  readonly #job: string;
  readonly #registry: Registry;
  readonly #groupingKey: GroupingKey | undefined;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #push: typeof pushToGateway;
  readonly #onError: (error: Error, info: PushFailureInfo) => void;
  readonly #onRecover: (info: PushRecoveryInfo) => void;
  readonly #auth: PushAuth | undefined;
  readonly #headers: HeadersInit | undefined;
  readonly #fetch: FetchFunction | undefined;
  readonly #flushOnSignals: boolean;
  readonly #keepAlive: boolean;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #healthRegistry: Registry | undefined;
  readonly #healthCollector: Collector;

  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // The push running now, and at most one queued behind it (pushNow/stop wait their turn).
  #inFlight: Promise<boolean> | undefined;
  #queued: Promise<boolean> | undefined;
  #stopping: Promise<void> | undefined;
  #signalHandlers: [Deno.Signal, () => void][] = [];
  #lastSuccess: Date | undefined;
  #consecutiveFailures = 0;
  #failuresTotal = 0;

  /** Checks the options (throwing `TypeError`/`RangeError`) without sending anything. */
  constructor(options: PusherOptions) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Pusher takes an options object with at least { gateway, job }");
    }
    this.url = gatewayUrl(options.gateway, options.job, options.groupingKey);
    this.#gateway = options.gateway;
    this.#job = options.job;
    this.#registry = options.registry ?? defaultRegistry;
    this.#groupingKey = options.groupingKey;
    this.#intervalMs = positiveMs(options.intervalMs ?? 5_000, "intervalMs", this.url);
    this.#timeoutMs = positiveMs(
      options.timeoutMs ?? DEFAULT_PUSHER_TIMEOUT_MS,
      "timeoutMs",
      this.url,
    );
    const method = options.method ?? "put";
    if (method !== "put" && method !== "post") {
      throw new TypeError(
        `method of the pusher for ${this.url} must be "put" or "post", got ${String(method)}`,
      );
    }
    this.#push = method === "put" ? pushToGateway : pushAddToGateway;
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TypeError(`onError of the pusher for ${this.url} must be a function`);
    }
    if (options.onRecover !== undefined && typeof options.onRecover !== "function") {
      throw new TypeError(`onRecover of the pusher for ${this.url} must be a function`);
    }
    const logByDefault = options.onError === undefined;
    this.#onError = options.onError ?? ((error, info) => {
      if (info.consecutiveFailures === 1) {
        const what = error instanceof PushError
          ? error.message
          : `push to ${this.url} failed: ${error.message}`;
        console.error(
          `Pusher: ${what} (retrying with backoff; ` +
            `further failures are not logged until a push succeeds)`,
        );
      }
    });
    this.#onRecover = options.onRecover ?? ((info) => {
      if (logByDefault) {
        console.error(
          `Pusher: pushing to ${this.url} works again after ${info.failedAttempts} failed attempts`,
        );
      }
    });
    this.#auth = options.auth;
    this.#headers = options.headers;
    this.#fetch = options.fetch;
    this.#flushOnSignals = options.flushOnSignals === true;
    if (this.#flushOnSignals) requireDeno("Pusher flushOnSignals", "call stop() before exiting");
    this.#keepAlive = options.keepAlive === true;
    this.#backoffInitialMs = positiveMs(
      options.backoff?.initialMs ?? Math.min(1_000, this.#intervalMs),
      "backoff.initialMs",
      this.url,
    );
    this.#backoffMaxMs = positiveMs(
      options.backoff?.maxMs ?? Math.max(30_000, this.#intervalMs, this.#backoffInitialMs),
      "backoff.maxMs",
      this.url,
    );
    if (this.#backoffMaxMs < this.#backoffInitialMs) {
      throw new RangeError(
        `backoff.maxMs (${this.#backoffMaxMs}) of the pusher for ${this.url} must not be ` +
          `smaller than backoff.initialMs (${this.#backoffInitialMs})`,
      );
    }
    this.#healthCollector = healthCollector(this);
    const health = options.healthMetrics;
    this.#healthRegistry = health === true
      ? this.#registry
      : health !== undefined && health !== false && typeof health === "object"
      ? health.registry
      : undefined;
    // Registering now makes a name clash a constructor error, not a surprise at start().
    this.#healthRegistry?.register(this.#healthCollector);
  }

  /** Whether the pusher is started and not stopped. */
  get running(): boolean {
    return this.#running;
  }

  /** When the last push succeeded, or `undefined` if none has yet. */
  get lastSuccess(): Date | undefined {
    return this.#lastSuccess === undefined ? undefined : new Date(this.#lastSuccess);
  }

  /** Failed pushes in a row since the last success (0 when healthy). */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Failed pushes since the pusher was created. */
  get failuresTotal(): number {
    return this.#failuresTotal;
  }

  /** Starts pushing: once right away, then every `intervalMs`. Does nothing when running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#stopping = undefined;
    this.#healthRegistry?.register(this.#healthCollector);
    if (this.#flushOnSignals) this.#installSignalHandlers();
    // The first push starts now: its request keeps the process alive until it is done.
    void this.#tick();
  }

  /**
   * Stops the timer and makes one final push, so the last observations are not lost. Resolves
   * when that push is done (failed or not); never rejects. Does nothing when not running.
   */
  stop(): Promise<void> {
    if (!this.#running) return this.#stopping ?? Promise.resolve();
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#removeSignalHandlers();
    this.#stopping = this.#pushInTurn().then(() => {
      this.#healthRegistry?.unregister(this.#healthCollector);
    });
    return this.#stopping;
  }

  /**
   * Pushes now (after the push in flight, if any). Resolves `true` on success, `false` on failure
   * (reported to `onError`); never rejects. Works whether or not the pusher is started.
   */
  pushNow(): Promise<boolean> {
    return this.#pushInTurn();
  }

  /** Same as {@linkcode Pusher.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #schedule(delayMs: number): void {
    const timer = setTimeout(() => this.#tick(), delayMs);
    // An unref'd timer lets the program end while the pusher waits, like a daemon thread.
    if (!this.#keepAlive) unrefTimer(timer);
    this.#timer = timer;
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#running) return;
    const startedAt = performance.now();
    // A push started by pushNow() is still running: skip this tick rather than pile up.
    if (this.#inFlight === undefined) await this.#pushInTurn();
    if (!this.#running) return;
    const delayMs = this.#nextDelayMs();
    const elapsedMs = performance.now() - startedAt;
    // A push slower than the delay skips the ticks it overran instead of firing back to back.
    this.#schedule(elapsedMs < delayMs ? delayMs - elapsedMs : delayMs - (elapsedMs % delayMs));
  }

  #nextDelayMs(): number {
    if (this.#consecutiveFailures === 0) return this.#intervalMs;
    const exponent = Math.min(this.#consecutiveFailures - 1, 30);
    const capped = Math.min(this.#backoffMaxMs, this.#backoffInitialMs * 2 ** exponent);
    // Half fixed, half random: retries of many pushers spread out, yet never exceed the cap.
    return capped / 2 + Math.random() * (capped / 2);
  }

  /** Runs one push after the one in flight; a push already queued is shared, not repeated. */
  #pushInTurn(): Promise<boolean> {
    if (this.#queued !== undefined) return this.#queued;
    if (this.#inFlight === undefined) return this.#startAttempt();
    const queued = this.#inFlight.then(() => {
      this.#queued = undefined;
      return this.#startAttempt();
    });
    this.#queued = queued;
    return queued;
  }

  #startAttempt(): Promise<boolean> {
    const attempt = this.#attempt().finally(() => {
      if (this.#inFlight === attempt) this.#inFlight = undefined;
    });
    this.#inFlight = attempt;
    return attempt;
  }

  async #attempt(): Promise<boolean> {
    try {
      await this.#push(this.#gateway, {
        job: this.#job,
        registry: this.#registry,
        groupingKey: this.#groupingKey,
        timeoutMs: this.#timeoutMs,
        auth: this.#auth,
        headers: this.#headers,
        fetch: this.#fetch,
      });
    } catch (thrown) {
      this.#consecutiveFailures++;
      this.#failuresTotal++;
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      const info = { consecutiveFailures: this.#consecutiveFailures };
      callSafely(() => this.#onError(error, info));
      return false;
    }
    this.#lastSuccess = new Date();
    const failedAttempts = this.#consecutiveFailures;
    this.#consecutiveFailures = 0;
    if (failedAttempts > 0) callSafely(() => this.#onRecover({ failedAttempts }));
    return true;
  }

  #installSignalHandlers(): void {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const handler = () => this.#flushAndExit(EXIT_CODES[signal]);
      try {
        Deno.addSignalListener(signal, handler);
        this.#signalHandlers.push([signal, handler]);
      } catch {
        // SIGTERM is not supported on Windows; SIGINT still flushes there.
      }
    }
  }

  #removeSignalHandlers(): void {
    for (const [signal, handler] of this.#signalHandlers) {
      try {
        Deno.removeSignalListener(signal, handler);
      } catch {
        // Already removed.
      }
    }
    this.#signalHandlers = [];
  }

  #flushAndExit(code: number): void {
    // stop() removes the listeners, so a second Ctrl-C during the flush gets Deno's default: exit.
    this.stop().finally(() => Deno.exit(code));
  }
}

function positiveMs(value: unknown, name: string, url: string): number {
  if (typeof value !== "number" || !(value > 0 && value < Infinity)) {
    throw new RangeError(
      `${name} of the pusher for ${url} must be a positive number of milliseconds, got ${
        String(value)
      }`,
    );
  }
  return value;
}

function callSafely(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    console.error(`Pusher: a callback threw: ${error instanceof Error ? error.message : error}`);
  }
}

/** The pusher's health as three families, read fresh on every collect. */
function healthCollector(pusher: Pusher): Collector {
  const names = {
    lastSuccess: "pusher_last_success_timestamp_seconds",
    consecutive: "pusher_consecutive_failures",
    failures: "pusher_failures",
  };
  return {
    sampleNames: [
      names.lastSuccess,
      names.consecutive,
      names.failures,
      names.failures + "_total",
      names.failures + "_created",
    ],
    collect(): MetricFamily[] {
      const lastSuccess = pusher.lastSuccess;
      return [
        {
          type: "gauge",
          name: names.lastSuccess,
          help: "Unix time of the last successful push to the Pushgateway (0 if none yet).",
          points: [{
            labels: {},
            value: lastSuccess === undefined ? 0 : lastSuccess.getTime() / 1e3,
          }],
        },
        {
          type: "gauge",
          name: names.consecutive,
          help: "Failed pushes to the Pushgateway in a row since the last success.",
          points: [{ labels: {}, value: pusher.consecutiveFailures }],
        },
        {
          type: "counter",
          name: names.failures,
          help: "Failed pushes to the Pushgateway.",
          points: [{ labels: {}, value: pusher.failuresTotal }],
        },
      ];
    },
  };
}
