/**
 * The background sending loop shared by the Pusher (Pushgateway) and the RemoteWriter (remote
 * write): a timer that sends every interval, capped exponential backoff with jitter while
 * sends fail, never two sends in flight, a final send on stop, health counters, and — in Deno —
 * a flush on SIGINT/SIGTERM. Whatever it sends is given as a function; the loop never throws
 * into the program.
 *
 * @module
 */

import { requireDeno, unrefTimer } from "../platform.ts";
import type { Collector, MetricFamily } from "../model.ts";
import type { Registry } from "../registry.ts";
import { positiveMs } from "../validation.ts";

/** What `onError` learns besides the error. */
export interface PushFailureInfo {
  /** Failed attempts in a row, this one included (1 for the first failure of a streak). */
  readonly consecutiveFailures: number;
}

/** What `onRecover` learns when a send succeeds after failures. */
export interface PushRecoveryInfo {
  /** How many attempts in a row had failed before this success. */
  readonly failedAttempts: number;
}

/** Retry pacing while sending fails: delays double from `initialMs` up to `maxMs`. */
export interface BackoffOptions {
  /** Delay before the first retry; default `min(1000, intervalMs)`. */
  readonly initialMs?: number;
  /** Largest delay between retries; default `max(30000, intervalMs)`. */
  readonly maxMs?: number;
}

/**
 * Options of the `Pusher` and the `RemoteWriter`: how they send in the background.
 *
 * @example
 * ```ts ignore
 * import { RemoteWriter } from "@deno-prom/client";
 * const writer = new RemoteWriter({
 *   url: "http://localhost:9090/api/v1/write",
 *   labels: { job: "worker" },
 *   intervalMs: 30_000,
 *   backoff: { initialMs: 2_000, maxMs: 60_000 },
 *   healthMetrics: true, // remote_writer_* families in the written registry
 * });
 * ```
 */
export interface BackgroundOptions {
  /** Time between sends in milliseconds; default 5000 for a `Pusher`, 15000 for a `RemoteWriter`. */
  readonly intervalMs?: number;
  /** Timeout of each send in milliseconds; default 10000. */
  readonly timeoutMs?: number;
  /**
   * Called on every failed send. Default: one `console.error` line per failure streak (the
   * first failure) and one line when sending recovers. Errors it throws are swallowed.
   */
  readonly onError?: (error: Error, info: PushFailureInfo) => void;
  /** Called when a send succeeds after failures (the default prints one line without `onError`). */
  readonly onRecover?: (info: PushRecoveryInfo) => void;
  /**
   * Pacing of retries after a retryable failure (5xx, 429, network, timeout): capped exponential
   * backoff with jitter, at least the `Retry-After`. Other failures wait for the next interval.
   */
  readonly backoff?: BackoffOptions;
  /**
   * On SIGINT or SIGTERM: send once more, then exit with the conventional code (130 or 143).
   * The listeners exist while it runs. Deno only; default false.
   */
  readonly flushOnSignals?: boolean;
  /**
   * Whether the pending timer keeps the process alive while it runs. Default false, like the
   * guide's daemon thread: the program ends when its own work ends (call `stop()` first to send
   * the last values). A send already in flight always completes or times out first.
   */
  readonly keepAlive?: boolean;
  /**
   * Expose its own health as metrics — `<pusher|remote_writer>_last_success_timestamp_seconds`,
   * `…_consecutive_failures` and `…_failures_total`: `true` adds them to the sent registry,
   * `{ registry }` to another one (e.g. a scraped one). Default false.
   */
  readonly healthMetrics?: boolean | { readonly registry: Registry };
}

/**
 * What the `Pusher` and the `RemoteWriter` share: sending in the background (the first send on
 * `start()`, never two in flight, backoff while failing, failures to `onError`, never thrown),
 * its health, and a final send on `stop()`.
 *
 * @example
 * ```ts ignore
 * import { Pusher } from "@deno-prom/client";
 * const pusher = new Pusher({ gateway: "localhost:9091", job: "batch" });
 * pusher.start();
 * // …
 * if (pusher.consecutiveFailures > 3) console.warn("the gateway is down since", pusher.lastSuccess);
 * await pusher.stop();
 * ```
 */
export abstract class BackgroundSender {
  readonly #loop: BackgroundLoop;

  /** @internal The loop it delegates to (`Pusher` and `RemoteWriter` make theirs). */
  protected constructor(loop: BackgroundLoop) {
    this.#loop = loop;
  }

  /** Whether it is started and not stopped. */
  get running(): boolean {
    return this.#loop.running;
  }

  /** When the last send succeeded, or `undefined` if none has yet. */
  get lastSuccess(): Date | undefined {
    return this.#loop.lastSuccess;
  }

  /** Failed sends in a row since the last success (0 when healthy). */
  get consecutiveFailures(): number {
    return this.#loop.consecutiveFailures;
  }

  /** Failed sends since it was created. */
  get failuresTotal(): number {
    return this.#loop.failuresTotal;
  }

  /** Starts sending: once right away, then every `intervalMs`. Does nothing when running. */
  start(): void {
    this.#loop.start();
  }

  /**
   * Stops the timer and sends once more, so the last observations are not lost. Resolves when
   * that send is done (failed or not); never rejects. Does nothing when not running.
   */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Sends after the send in flight, if any: `true` on success, `false` on failure; never rejects. */
  protected sendNow(): Promise<boolean> {
    return this.#loop.sendNow();
  }

  /** Same as {@linkcode BackgroundSender.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** How the loop is set up: the user's options (checked here) and what its owner adds. */
export interface BackgroundLoopOptions {
  /** Who logs: `Pusher` or `RemoteWriter`. */
  readonly owner: string;
  /** Where it sends, for messages. */
  readonly url: string;
  /** `push` or `write`, for messages. */
  readonly verb: string;
  /** The user's options. */
  readonly given: BackgroundOptions;
  /** The interval when `given` has none. */
  readonly defaultIntervalMs: number;
  /** What it sends (the registry `healthMetrics: true` adds its health families to). */
  readonly source: unknown;
  /** One send; rejects on failure. */
  readonly send: () => Promise<void>;
  /**
   * Whether retrying sooner may help; a failure that is not retryable waits for the next
   * regular interval instead of backing off. Default: every failure is retryable.
   */
  readonly isRetryable?: (error: Error) => boolean;
  /** The least wait before a retry that the failure asks for (e.g. `Retry-After`), if any. */
  readonly retryAfterMs?: (error: Error) => number | undefined;
  /**
   * The names of the loop's own health families (with `healthMetrics`): registered at
   * construction and on start, unregistered after the final send of stop.
   */
  readonly healthNames: HealthNames;
}

const EXIT_CODES: Readonly<Record<"SIGINT" | "SIGTERM", number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * The loop itself. Owners (Pusher, RemoteWriter) validate their options, then delegate
 * start/stop/sendNow and the health getters to one of these.
 */
export class BackgroundLoop {
  readonly #owner: string;
  readonly #intervalMs: number;
  readonly #backoffInitialMs: number;
  readonly #backoffMaxMs: number;
  readonly #keepAlive: boolean;
  readonly #flushOnSignals: boolean;
  readonly #onError: (error: Error, info: PushFailureInfo) => void;
  readonly #onRecover: (info: PushRecoveryInfo) => void;
  readonly #send: () => Promise<void>;
  readonly #isRetryable: (error: Error) => boolean;
  readonly #retryAfterMs: (error: Error) => number | undefined;

  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  // The send running now, and at most one queued behind it (sendNow/stop wait their turn).
  #inFlight: Promise<boolean> | undefined;
  #queued: Promise<boolean> | undefined;
  #stopping: Promise<void> | undefined;
  #signalHandlers: [Deno.Signal, () => void][] = [];
  #lastSuccess: Date | undefined;
  #consecutiveFailures = 0;
  #failuresTotal = 0;
  #lastRetryable = true;
  #lastRetryAfterMs: number | undefined;
  readonly #healthRegistry: Registry | undefined;
  readonly #healthCollector: Collector | undefined;

  /** Checks the callbacks and the backoff (throwing `TypeError`/`RangeError`). */
  constructor(options: BackgroundLoopOptions) {
    const { owner, url, verb, given } = options;
    const what = owner === "Pusher" ? "the pusher" : `the ${owner}`;
    this.#owner = owner;
    this.#intervalMs = positiveMs(
      given.intervalMs ?? options.defaultIntervalMs,
      `intervalMs of ${what} for ${url}`,
    );
    if (given.onError !== undefined && typeof given.onError !== "function") {
      throw new TypeError(`onError of ${what} for ${url} must be a function`);
    }
    if (given.onRecover !== undefined && typeof given.onRecover !== "function") {
      throw new TypeError(`onRecover of ${what} for ${url} must be a function`);
    }
    const logByDefault = given.onError === undefined;
    this.#onError = given.onError ?? ((error, info) => {
      if (info.consecutiveFailures === 1) {
        const text = error.message.includes(url)
          ? error.message
          : `${verb} to ${url} failed: ${error.message}`;
        console.error(
          `${owner}: ${text} (retrying with backoff; ` +
            `further failures are not logged until a ${verb} succeeds)`,
        );
      }
    });
    this.#onRecover = given.onRecover ?? ((info) => {
      if (logByDefault) {
        console.error(
          `${owner}: ${
            verb === "push" ? "pushing" : "writing"
          } to ${url} works again after ${info.failedAttempts} failed attempts`,
        );
      }
    });
    this.#keepAlive = given.keepAlive === true;
    this.#flushOnSignals = given.flushOnSignals === true;
    this.#send = options.send;
    this.#isRetryable = options.isRetryable ?? (() => true);
    this.#retryAfterMs = options.retryAfterMs ?? (() => undefined);
    this.#backoffInitialMs = positiveMs(
      given.backoff?.initialMs ?? Math.min(1_000, this.#intervalMs),
      `backoff.initialMs of ${what} for ${url}`,
    );
    this.#backoffMaxMs = positiveMs(
      given.backoff?.maxMs ?? Math.max(30_000, this.#intervalMs, this.#backoffInitialMs),
      `backoff.maxMs of ${what} for ${url}`,
    );
    if (this.#backoffMaxMs < this.#backoffInitialMs) {
      throw new RangeError(
        `backoff.maxMs (${this.#backoffMaxMs}) of ${what} for ${url} must not be ` +
          `smaller than backoff.initialMs (${this.#backoffInitialMs})`,
      );
    }
    this.#healthRegistry = healthRegistryOf(
      given.healthMetrics,
      options.source,
      `${what} for ${url}`,
    );
    this.#healthCollector = this.#healthRegistry === undefined
      ? undefined
      : healthCollector(this, options.healthNames);
    // Registering now makes a name clash a constructor error, not a surprise at start().
    if (this.#healthCollector !== undefined) this.#healthRegistry?.register(this.#healthCollector);
    if (this.#flushOnSignals) {
      requireDeno(`${options.owner} flushOnSignals`, `call stop() before the program ends`);
    }
  }

  /** Whether the loop is started and not stopped. */
  get running(): boolean {
    return this.#running;
  }

  /** When the last send succeeded, or `undefined` if none has yet. */
  get lastSuccess(): Date | undefined {
    return this.#lastSuccess === undefined ? undefined : new Date(this.#lastSuccess);
  }

  /** Failed sends in a row since the last success (0 when healthy). */
  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** Failed sends since the loop was created. */
  get failuresTotal(): number {
    return this.#failuresTotal;
  }

  /** Starts: one send right away, then one every interval. Does nothing when running. */
  start(): void {
    if (this.#running) return;
    if (this.#healthCollector !== undefined) this.#healthRegistry?.register(this.#healthCollector);
    this.#running = true;
    this.#stopping = undefined;
    if (this.#flushOnSignals) this.#installSignalHandlers();
    // The first send starts now: its request keeps the process alive until it is done.
    void this.#tick();
  }

  /** Stops the timer and makes one final send; never rejects. */
  stop(): Promise<void> {
    if (!this.#running) return this.#stopping ?? Promise.resolve();
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#removeSignalHandlers();
    this.#stopping = this.sendNow().then(() => {
      if (this.#healthCollector !== undefined) {
        this.#healthRegistry?.unregister(this.#healthCollector);
      }
    });
    return this.#stopping;
  }

  /** Sends after the send in flight, if any: `true` on success, `false` on failure. */
  sendNow(): Promise<boolean> {
    if (this.#queued !== undefined) return this.#queued;
    if (this.#inFlight === undefined) return this.#startAttempt();
    const queued = this.#inFlight.then(() => {
      this.#queued = undefined;
      return this.#startAttempt();
    });
    this.#queued = queued;
    return queued;
  }

  #schedule(delayMs: number): void {
    const timer = setTimeout(() => this.#tick(), delayMs);
    // An unref'd timer lets the program end while the loop waits, like a daemon thread.
    if (!this.#keepAlive) unrefTimer(timer);
    this.#timer = timer;
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    if (!this.#running) return;
    const startedAt = performance.now();
    // A send started by sendNow() is still running: skip this tick rather than pile up.
    if (this.#inFlight === undefined) await this.sendNow();
    if (!this.#running) return;
    const delayMs = this.#nextDelayMs();
    const elapsedMs = performance.now() - startedAt;
    // A send slower than the delay skips the ticks it overran instead of firing back to back.
    this.#schedule(elapsedMs < delayMs ? delayMs - elapsedMs : delayMs - (elapsedMs % delayMs));
  }

  #nextDelayMs(): number {
    if (this.#consecutiveFailures === 0 || !this.#lastRetryable) return this.#intervalMs;
    const backoff = backoffDelayMs(
      this.#consecutiveFailures,
      this.#backoffInitialMs,
      this.#backoffMaxMs,
    );
    // The receiver's own request to wait is honoured, up to the backoff cap.
    const asked = this.#lastRetryAfterMs;
    return asked === undefined ? backoff : Math.max(backoff, Math.min(asked, this.#backoffMaxMs));
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
      await this.#send();
    } catch (thrown) {
      this.#consecutiveFailures++;
      this.#failuresTotal++;
      const error = thrown instanceof Error ? thrown : new Error(String(thrown));
      this.#lastRetryable = callSafely(this.#owner, () => this.#isRetryable(error)) ?? true;
      this.#lastRetryAfterMs = callSafely(this.#owner, () => this.#retryAfterMs(error));
      const info = { consecutiveFailures: this.#consecutiveFailures };
      callSafely(this.#owner, () => this.#onError(error, info));
      return false;
    }
    this.#lastSuccess = new Date();
    const failedAttempts = this.#consecutiveFailures;
    this.#consecutiveFailures = 0;
    if (failedAttempts > 0) callSafely(this.#owner, () => this.#onRecover({ failedAttempts }));
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

/**
 * The delay before retry number `failures` (1 for the first): doubling from `initialMs`,
 * capped at `maxMs`, half fixed and half random so that retries of many senders spread out
 * yet never exceed the cap.
 */
export function backoffDelayMs(failures: number, initialMs: number, maxMs: number): number {
  const exponent = Math.min(failures - 1, 30);
  const capped = Math.min(maxMs, initialMs * 2 ** exponent);
  return capped / 2 + Math.random() * (capped / 2);
}

function callSafely<T>(owner: string, callback: () => T): T | undefined {
  try {
    return callback();
  } catch (error) {
    console.error(`${owner}: a callback threw: ${error instanceof Error ? error.message : error}`);
    return undefined;
  }
}

/** Names of the three health families of a sender: `<prefix>_last_success_timestamp_seconds`, … */
export interface HealthNames {
  /** Family name prefix, e.g. `pusher` or `remote_writer`. */
  readonly prefix: string;
  /** What a success is, for help texts: `push to the Pushgateway`. */
  readonly action: string;
  /** Plural for help texts: `pushes to the Pushgateway`. */
  readonly actions: string;
}

/**
 * The registry the `healthMetrics` option names: the sent registry for `true` (which must then
 * be a `Registry`), the given one for `{ registry }`, none otherwise.
 */
function healthRegistryOf(
  option: boolean | { readonly registry: Registry } | undefined,
  sent: unknown,
  what: string,
): Registry | undefined {
  if (option === true) {
    const registry = sent as Partial<Registry>;
    if (typeof registry.register !== "function" || typeof registry.unregister !== "function") {
      throw new TypeError(
        `healthMetrics: true of ${what} needs a Registry as registry; ` +
          `give healthMetrics: { registry } instead`,
      );
    }
    return sent as Registry;
  }
  if (option !== undefined && option !== false && typeof option === "object") {
    return option.registry;
  }
  return undefined;
}

/** A sender's health as three families, read fresh on every collect. */
function healthCollector(loop: BackgroundLoop, names: HealthNames): Collector {
  const lastSuccessName = `${names.prefix}_last_success_timestamp_seconds`;
  const consecutiveName = `${names.prefix}_consecutive_failures`;
  const failuresName = `${names.prefix}_failures`;
  return {
    sampleNames: [
      lastSuccessName,
      consecutiveName,
      failuresName,
      failuresName + "_total",
      failuresName + "_created",
    ],
    collect(): MetricFamily[] {
      const lastSuccess = loop.lastSuccess;
      return [
        {
          type: "gauge",
          name: lastSuccessName,
          help: `Unix time of the last successful ${names.action} (0 if none yet).`,
          points: [{
            labels: {},
            value: lastSuccess === undefined ? 0 : lastSuccess.getTime() / 1e3,
          }],
        },
        {
          type: "gauge",
          name: consecutiveName,
          help: `Failed ${names.actions} in a row since the last success.`,
          points: [{ labels: {}, value: loop.consecutiveFailures }],
        },
        {
          type: "counter",
          name: failuresName,
          help: `Failed ${names.actions}.`,
          points: [{ labels: {}, value: loop.failuresTotal }],
        },
      ];
    },
  };
}
