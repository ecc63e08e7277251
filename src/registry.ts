/**
 * Registries hold collectors (metric objects and custom collectors), gather their snapshots and
 * render them in either text format.
 *
 * @module
 */

import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./exposition/openmetrics.ts";
import { PROMETHEUS_CONTENT_TYPE, renderText } from "./exposition/text.ts";
import { PROTOBUF_CONTENT_TYPE, renderProtobuf } from "./exposition/protobuf.ts";
import { DEFAULT_ESCAPING, escapeFamily } from "./exposition/escaping.ts";
import { checkFamilies, exposedNames, InvalidFamilyError } from "./exposition/validate.ts";
import { Metric, setDefaultRegistry } from "./metrics/base.ts";
import type { Collector, MetricFamily } from "./model.ts";
import type { EscapingScheme } from "./validation.ts";

/**
 * The wire formats a registry renders: Prometheus text 0.0.4, OpenMetrics 1.0, or the delimited
 * protobuf format (`io.prometheus.client.MetricFamily`, bytes rather than text).
 */
export type ExpositionFormat = "text" | "openmetrics" | "protobuf";

/** Options of {@linkcode Registry.collect}. */
export interface CollectOptions {
  /**
   * Keep only families exposing one of these names (a family name, or a sample name such as
   * `foo_total` or `foo_bucket`), like the Python client's `name[]` filter.
   */
  readonly names?: Iterable<string>;
  /**
   * Called with each family dropped because it cannot be exposed (from a custom collector: a
   * bad name, a negative counter, a histogram without `+Inf`, a name another family has…), once
   * per streak: a family that stays bad is reported again only after it was good in between.
   * Defaults to `console.error`.
   */
  readonly onError?: (error: InvalidFamilyError) => void;
}

/** Options of {@linkcode Registry.metrics}. */
export interface MetricsOptions extends CollectOptions {
  /** `"text"` (0.0.4, the default), `"openmetrics"`, or `"protobuf"` (bytes). */
  readonly format?: ExpositionFormat;
  /**
   * How names outside the legacy alphabet are written: `"underscores"` (the default),
   * `"dots"`, `"values"`, or `"allow-utf-8"` (quoted as they are).
   */
  readonly escaping?: EscapingScheme;
}

/** The `Content-Type` of each format. */
export function contentTypeOf(format: ExpositionFormat): string {
  if (format === "protobuf") return PROTOBUF_CONTENT_TYPE;
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/**
 * Renders families in a text format, writing names outside the legacy alphabet as `escaping`
 * says (default `underscores`).
 */
export function render(
  families: readonly MetricFamily[],
  format: Exclude<ExpositionFormat, "protobuf">,
  escaping?: EscapingScheme,
): string;
/** Renders families in the protobuf format. */
export function render(
  families: readonly MetricFamily[],
  format: "protobuf",
  escaping?: EscapingScheme,
): Uint8Array;
/** Renders families in the given format: text for the text formats, bytes for protobuf. */
export function render(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): string | Uint8Array;
export function render(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): string | Uint8Array {
  if (format === "protobuf") {
    const scheme = escaping ?? DEFAULT_ESCAPING;
    return renderProtobuf(families.map((family) => escapeFamily(family, scheme)));
  }
  return format === "openmetrics"
    ? renderOpenMetrics(families, escaping)
    : renderText(families, escaping);
}

/** Renders families in the given format as the bytes of a response body. */
export function renderBytes(
  families: readonly MetricFamily[],
  format: ExpositionFormat,
  escaping?: EscapingScheme,
): Uint8Array<ArrayBuffer> {
  if (format === "protobuf") return render(families, format, escaping) as Uint8Array<ArrayBuffer>;
  return new TextEncoder().encode(render(families, format, escaping));
}

/**
 * Keeps the families that `options.names` asks for (all of them when it gives no names): the
 * `name[]` filter, shared by registries and by anything else that gathers families.
 */
export function selectFamilies(
  families: MetricFamily[],
  options: CollectOptions = {},
): MetricFamily[] {
  if (options.names === undefined) return families;
  const wanted = new Set(options.names);
  return families.filter((family) =>
    exposedNames(family.name, family.type).some((name) => wanted.has(name))
  );
}

/**
 * A set of collectors to expose together. Families come out in registration order.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "./mod.ts";
 * const registry = new Registry();
 * const jobs = new Counter({ name: "jobs_total", help: "jobs run", registry });
 * jobs.inc();
 * const text = await registry.metrics();
 * const openMetrics = await registry.metrics({ format: "openmetrics" });
 * ```
 */
export class Registry {
  readonly #collectors = new Set<Collector>();
  // Sample name → owning collector: a second collector exposing a taken name is refused.
  readonly #owners = new Map<string, Collector>();

  /** Adds a collector; throws a `TypeError` if one of its sample names is already taken. */
  register(collector: Collector): void {
    if (
      collector === null || typeof collector !== "object" || typeof collector.collect !== "function"
    ) {
      throw new TypeError("register() takes a metric or a collector (an object with collect())");
    }
    if (this.#collectors.has(collector)) return;
    const sampleNames = collector.sampleNames ?? [];
    for (const sampleName of sampleNames) {
      if (this.#owners.has(sampleName)) {
        throw new TypeError(
          `a metric named "${sampleName}" is already registered in this registry`,
        );
      }
    }
    for (const sampleName of sampleNames) this.#owners.set(sampleName, collector);
    this.#collectors.add(collector);
  }

  /** Removes a collector (no error when it was not registered). */
  unregister(collector: Collector): void {
    if (!this.#collectors.delete(collector)) return;
    for (const sampleName of collector.sampleNames ?? []) {
      if (this.#owners.get(sampleName) === collector) this.#owners.delete(sampleName);
    }
  }

  /** Removes every collector. */
  clear(): void {
    this.#collectors.clear();
    this.#owners.clear();
  }

  /**
   * The registered collector that exposes `name` (its family name, or one of its sample
   * names such as `requests_total`), or `undefined`.
   */
  getMetric(name: string): Collector | undefined {
    return this.#owners.get(name);
  }

  /** Every registered collector, in registration order. */
  get collectors(): readonly Collector[] {
    return [...this.#collectors];
  }

  /**
   * Gathers fresh snapshots from every collector, awaiting async ones. Families from custom
   * collectors are validated; a bad one is dropped and reported to `options.onError` (see
   * {@linkcode CollectOptions.onError}), and the others are still returned.
   */
  async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
    const families: MetricFamily[] = [];
    const trusted = new Set<MetricFamily>();
    const problems: InvalidFamilyError[] = [];
    for (const collector of this.#collectors) {
      const collected = collector.collect();
      const resolved = collected instanceof Promise ? await collected : collected;
      if (!Array.isArray(resolved)) {
        problems.push(
          new InvalidFamilyError(
            "(collector)",
            `a collector returned ${typeof resolved}, not an array of families`,
          ),
        );
        continue;
      }
      // A metric's own families are valid by construction: only their names are checked.
      const isMetric = collector instanceof Metric;
      for (const family of resolved) {
        families.push(family);
        if (isMetric) trusted.add(family);
      }
    }
    const kept = checkFamilies(families, { trusted, onInvalid: (error) => problems.push(error) });
    this.#reportOncePerStreak(problems, options.onError ?? reportToConsole);
    return selectFamilies(kept, options);
  }

  // ---- Invalid families: reported once per streak (trust) ----
  // Per reporter, the messages reported at its last collection: a family that stays bad is
  // not reported at every scrape.
  readonly #reportedTo = new WeakMap<(error: InvalidFamilyError) => void, Set<string>>();

  #reportOncePerStreak(
    problems: readonly InvalidFamilyError[],
    report: (error: InvalidFamilyError) => void,
  ): void {
    const previous = this.#reportedTo.get(report);
    if (problems.length === 0 && previous === undefined) return;
    const current = new Set<string>();
    for (const problem of problems) {
      current.add(problem.message);
      if (previous?.has(problem.message)) continue;
      try {
        report(problem);
      } catch {
        // A failing reporter must not fail the scrape.
      }
    }
    if (current.size === 0) this.#reportedTo.delete(report);
    else this.#reportedTo.set(report, current);
  }

  /** Collects and renders in the protobuf format: the bytes Prometheus scrapes. */
  metrics(options: MetricsOptions & { readonly format: "protobuf" }): Promise<Uint8Array>;
  /**
   * Collects and renders: text 0.0.4 by default, or `{ format: "openmetrics" }`; names outside
   * the legacy alphabet as `escaping` says (default `underscores`).
   */
  metrics(
    options?: MetricsOptions & { readonly format?: "text" | "openmetrics" },
  ): Promise<string>;
  /** Collects and renders: text for the text formats, bytes for `"protobuf"`. */
  metrics(options: MetricsOptions): Promise<string | Uint8Array>;
  async metrics(options: MetricsOptions = {}): Promise<string | Uint8Array> {
    return render(await this.collect(options), options.format ?? "text", options.escaping);
  }

}

function reportToConsole(error: InvalidFamilyError): void {
  console.error(error.message);
}

/** The registry metrics join when no `registry` option is given. */
export const defaultRegistry: Registry = new Registry();
setDefaultRegistry(defaultRegistry);
