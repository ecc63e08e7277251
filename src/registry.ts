/**
 * Registries hold collectors (metric objects and custom collectors), gather their snapshots and
 * render them in either text format.
 *
 * @module
 */

import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./exposition/openmetrics.ts";
import { PROMETHEUS_CONTENT_TYPE, renderText } from "./exposition/text.ts";
import type { Collector, MetricFamily } from "./model.ts";

/** The wire formats a registry renders: Prometheus text 0.0.4 or OpenMetrics 1.0. */
export type ExpositionFormat = "text" | "openmetrics";

/** Options of {@linkcode Registry.collect}. */
export interface CollectOptions {
  /**
   * Keep only families exposing one of these names (a family name, or a sample name such as
   * `foo_total` or `foo_bucket`), like the Python client's `name[]` filter.
   */
  readonly names?: Iterable<string>;
}

/** Options of {@linkcode Registry.metrics}. */
export interface MetricsOptions extends CollectOptions {
  /** `"text"` (0.0.4, the default) or `"openmetrics"`. */
  readonly format?: ExpositionFormat;
}

/** The `Content-Type` of each format. */
export function contentTypeOf(format: ExpositionFormat): string {
  return format === "openmetrics" ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/** Renders families in the given format. */
export function render(families: readonly MetricFamily[], format: ExpositionFormat): string {
  return format === "openmetrics" ? renderOpenMetrics(families) : renderText(families);
}

/** The sample names a family exposes, for `names` filtering. */
function exposedNames(family: MetricFamily): string[] {
  const name = family.name;
  switch (family.type) {
    case "counter":
      return [name, name + "_total", name + "_created"];
    case "histogram":
      return [name, name + "_bucket", name + "_count", name + "_sum", name + "_created"];
    case "summary":
      return [name, name + "_count", name + "_sum", name + "_created"];
    case "info":
      return [name, name + "_info"];
    default:
      return [name];
  }
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
  return families.filter((family) => exposedNames(family).some((name) => wanted.has(name)));
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

  /** Gathers fresh snapshots from every collector, awaiting async ones. */
  async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
    const families: MetricFamily[] = [];
    for (const collector of this.#collectors) {
      const collected = collector.collect();
      const resolved = collected instanceof Promise ? await collected : collected;
      for (const family of resolved) families.push(family);
    }
    return selectFamilies(families, options);
  }

  /** Collects and renders: text 0.0.4 by default, or `{ format: "openmetrics" }`. */
  async metrics(options: MetricsOptions = {}): Promise<string> {
    return render(await this.collect(options), options.format ?? "text");
  }
}

/**
 * The registry metrics join when no `registry` option is given. Metric modules import it from
 * here (this module imports nothing from `metrics/`, so there is no import cycle and a metric
 * module imported on its own still registers here).
 */
export const defaultRegistry: Registry = new Registry();
