/**
 * The options of a metric's series lifecycle (a cap on its series, idle expiry) as a metric and
 * a registry take them, their validation, and how a metric's own options and its registry's
 * defaults combine. The cap itself is applied in `series_caps.ts`, expiry in `series_expiry.ts`.
 *
 * @module
 */

/** How many series a metric keeps of its own when neither it nor its registry says. */
export const DEFAULT_MAX_SERIES = 10_000;

/** The series-lifecycle options of a labelled metric (see docs/cardinality.md). */
export interface SeriesLifecycleOptions {
  /**
   * The most series with label sets of their own this metric keeps (default: its registry's
   * `maxSeriesPerMetric`, 10 000 unless set; `Infinity` for no cap). Past it, a new label set
   * is recorded into one overflow series labelled `otel.metric.overflow="true"` (beside the
   * cap: at most `maxSeries + 1` series), so that totals stay right.
   *
   * @example
   * ```ts
   * import { Counter, Registry } from "@deno-prom/client";
   * const registry = new Registry();
   * const byUser = new Counter({
   *   name: "logins_total", help: "logins", labelNames: ["user"], maxSeries: 2, registry,
   * });
   * byUser.labels("ann").inc();
   * byUser.labels("bob").inc();
   * byUser.labels("cid").inc(); // counted in {otel_metric_overflow="true"}
   * ```
   */
  readonly maxSeries?: number;
  /**
   * Removes a series that was not updated for this many milliseconds (default: its registry's
   * `expireAfterMs`, off unless set). A child kept across an expiry keeps working: its next
   * update brings the series back from zero, with a new `_created`. Not for `Info` and `Enum`.
   *
   * @example
   * ```ts
   * import { Gauge, Registry } from "@deno-prom/client";
   * const registry = new Registry();
   * const perSession = new Gauge({
   *   name: "session_bytes", help: "bytes buffered per session", labelNames: ["session"],
   *   expireAfterMs: 10 * 60_000, registry,
   * });
   * perSession.labels("a1b2").set(512); // gone from scrapes 10 minutes after its last update
   * ```
   */
  readonly expireAfterMs?: number;
  /**
   * Told once when the metric first records into its overflow series (default: the registry's
   * `onError`, else one `console.warn` line).
   *
   * @example
   * ```ts
   * import { Gauge, Registry } from "@deno-prom/client";
   * const registry = new Registry();
   * const gauge = new Gauge({
   *   name: "queue_depth", help: "depth", labelNames: ["queue"], maxSeries: 100, registry,
   *   onError: (error) => console.error(error.message),
   * });
   * gauge.labels("jobs").set(3);
   * ```
   */
  readonly onError?: (error: SeriesOverflowError) => void;
}

/** The series-lifecycle defaults of a registry, for the metrics made in it. */
export interface RegistryLifecycleOptions {
  /**
   * The cap on the series of each labelled metric made with this registry (default 10 000;
   * `Infinity` for none); a metric's own `maxSeries` wins. See docs/cardinality.md.
   *
   * @example
   * ```ts
   * import { Registry } from "@deno-prom/client";
   * const registry = new Registry({ maxSeriesPerMetric: 50_000 });
   * ```
   */
  readonly maxSeriesPerMetric?: number;
  /**
   * Idle expiry (milliseconds without an update) for every labelled metric made with this
   * registry; off by default. A metric's own `expireAfterMs` wins.
   *
   * @example
   * ```ts
   * import { Registry } from "@deno-prom/client";
   * const registry = new Registry({ expireAfterMs: 15 * 60_000 });
   * ```
   */
  readonly expireAfterMs?: number;
  /**
   * Told once per metric when it first records into its overflow series (default: one
   * `console.warn` line); a metric's own `onError` wins.
   *
   * @example
   * ```ts
   * import { Registry } from "@deno-prom/client";
   * const registry = new Registry({ onError: (error) => console.error(error.message) });
   * ```
   */
  readonly onError?: (error: SeriesOverflowError) => void;
}

/**
 * What a metric first recording into its overflow series reports (to `onError`, else as one
 * `console.warn` line): the metric and its cap.
 *
 * @example
 * ```ts
 * import { Counter, Registry, SeriesOverflowError } from "@deno-prom/client";
 * const seen: SeriesOverflowError[] = [];
 * const registry = new Registry({ maxSeriesPerMetric: 1, onError: (e) => seen.push(e) });
 * const counter = new Counter({ name: "c_total", help: "h", labelNames: ["k"], registry });
 * counter.labels("a").inc();
 * counter.labels("b").inc();
 * console.log(seen[0].maxSeries); // 1
 * ```
 */
export class SeriesOverflowError extends RangeError {
  /** The metric that reached its cap. */
  readonly metricName: string;
  /** Its cap. */
  readonly maxSeries: number;

  /** Made by a metric reaching its cap. */
  constructor(metricName: string, maxSeries: number) {
    super(
      `metric "${metricName}" reached its cap of ${maxSeries} series (maxSeries): new label ` +
        `sets are now recorded into its series {otel.metric.overflow="true"}`,
    );
    this.name = "SeriesOverflowError";
    this.metricName = metricName;
    this.maxSeries = maxSeries;
  }
}

/** A metric's series lifecycle, resolved. */
export interface SeriesLimits {
  /** The cap (`Infinity`: none). */
  readonly maxSeries: number;
  /** Idle expiry in milliseconds (`Infinity`: off). */
  readonly expireAfterMs: number;
  /** Where the first overflow is reported (`undefined`: `console.warn`). */
  readonly onError: ((error: SeriesOverflowError) => void) | undefined;
}

/** The limits of a registry made without options, and of a metric with no registry. */
export const DEFAULT_LIMITS: SeriesLimits = Object.freeze({
  maxSeries: DEFAULT_MAX_SERIES,
  expireAfterMs: Infinity,
  onError: undefined,
});

/** The limits of each registry, for the metrics made in it (an internal interface). */
const limitsByRegistry = new WeakMap<object, SeriesLimits>();

/** Called by `new Registry(options)`: the limits its metrics default to. */
export function setRegistryLimits(registry: object, limits: SeriesLimits): void {
  limitsByRegistry.set(registry, limits);
}

/** The limits a registry's metrics default to (the defaults for an unknown one). */
export function registryLimits(registry: object): SeriesLimits {
  return limitsByRegistry.get(registry) ?? DEFAULT_LIMITS;
}

/** Checks `new Registry(options)`'s lifecycle options (a `RangeError`/`TypeError` naming one). */
export function registryLimitsOf(options: RegistryLifecycleOptions | undefined): SeriesLimits {
  if (options === undefined || options === null || typeof options !== "object") {
    return DEFAULT_LIMITS;
  }
  return Object.freeze({
    maxSeries: checkCap("Registry maxSeriesPerMetric", options.maxSeriesPerMetric) ??
      DEFAULT_MAX_SERIES,
    expireAfterMs: checkExpiry("Registry expireAfterMs", options.expireAfterMs) ?? Infinity,
    onError: checkOnError("Registry onError", options.onError),
  });
}

/** A metric's limits: its own options, else its registry's (`undefined`: the defaults). */
export function metricLimitsOf(
  metricName: string,
  options: SeriesLifecycleOptions,
  registryLimits: SeriesLimits | undefined,
): SeriesLimits {
  const inherited = registryLimits ?? DEFAULT_LIMITS;
  const where = `of metric "${metricName}"`;
  return {
    maxSeries: checkCap(`maxSeries ${where}`, options.maxSeries) ?? inherited.maxSeries,
    expireAfterMs: checkExpiry(`expireAfterMs ${where}`, options.expireAfterMs) ??
      inherited.expireAfterMs,
    onError: checkOnError(`onError ${where}`, options.onError) ?? inherited.onError,
  };
}

function checkCap(what: string, given: unknown): number | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== "number") {
    throw new TypeError(`${what} must be a number, got ${typeof given}`);
  }
  if (!(given >= 1) || (given !== Infinity && !Number.isInteger(given))) {
    throw new RangeError(`${what} must be a whole number of at least 1 or Infinity, got ${given}`);
  }
  return given;
}

function checkExpiry(what: string, given: unknown): number | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== "number") {
    throw new TypeError(`${what} must be a number, got ${typeof given}`);
  }
  if (!(given > 0)) throw new RangeError(`${what} must be more than 0 ms, got ${given}`);
  return given;
}

function checkOnError(
  what: string,
  given: unknown,
): ((error: SeriesOverflowError) => void) | undefined {
  if (given === undefined) return undefined;
  if (typeof given !== "function") throw new TypeError(`${what} must be a function`);
  return given as (error: SeriesOverflowError) => void;
}
