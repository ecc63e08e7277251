/**
 * Registries hold collectors (metric objects and custom collectors), gather their snapshots and
 * render them in either text format.
 *
 * @module
 */

import { OPENMETRICS_CONTENT_TYPE, renderOpenMetrics } from "./exposition/openmetrics.ts";
import { PROMETHEUS_CONTENT_TYPE, renderText } from "./exposition/text.ts";
import { setDefaultRegistry } from "./metrics/base.ts";
import type { Collector, Labels, MetricFamily } from "./model.ts";
import { formatFloat, hasSum } from "./format.ts";
import { validateLabelName, validateMetricName } from "./validation.ts";

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

// ---------------------------------------------------------------------------------------------
// Registry-wide default labels and name prefix (`new Registry({ defaultLabels, prefix })`).
// Applied to the collected snapshots, so every path that reads a registry — exposition, push,
// remote write, worker snapshots, `getSampleValue` — sees the same names and labels.
// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode Registry}. */
export interface RegistryOptions {
  /**
   * Labels added to every sample of every family this registry collects, custom collectors'
   * included, e.g. `{ region: "eu-1", version: "1.4.2" }`. A series that has a label of the
   * same name keeps its own value. `le` and `quantile` are refused (formats add them), and a
   * state set keeps its own label named after the family.
   */
  readonly defaultLabels?: Readonly<Record<string, string>>;
  /**
   * Prepended to the name of every family this registry collects, e.g. `"mylib_"` turns
   * `requests_total` into `mylib_requests_total`. Applied when collecting: metrics are created
   * and looked up (`getMetric`) under their own names; what is exposed, pushed, filtered with
   * `names` and read with `getSampleValue` carries the prefix.
   */
  readonly prefix?: string;
}

/** Validated registry options; `undefined` members mean "nothing to apply". */
interface RegistryScope {
  readonly defaultLabels: Labels | undefined;
  readonly prefix: string;
}

/** Checks the options of `new Registry(…)`, with a `TypeError` naming the bad one. */
function registryScopeOf(options: RegistryOptions | undefined): RegistryScope {
  if (options === undefined) return { defaultLabels: undefined, prefix: "" };
  if (options === null || typeof options !== "object") {
    throw new TypeError("new Registry() takes an options object, e.g. { defaultLabels: {…} }");
  }
  const prefix = options.prefix ?? "";
  if (typeof prefix !== "string") {
    throw new TypeError(`Registry prefix must be a string, got ${typeof prefix}`);
  }
  if (prefix !== "") validateMetricName(prefix);
  const given = options.defaultLabels;
  if (given === undefined) return { defaultLabels: undefined, prefix };
  if (given === null || typeof given !== "object" || Array.isArray(given)) {
    throw new TypeError("Registry defaultLabels must be an object of label names to values");
  }
  const defaultLabels: Record<string, string> = {};
  for (const [name, value] of Object.entries(given)) {
    validateLabelName(name);
    if (name === "le" || name === "quantile") {
      throw new TypeError(
        `Registry defaultLabels cannot hold "${name}": histograms and summaries add it themselves`,
      );
    }
    if (typeof value !== "string") {
      throw new TypeError(
        `Registry defaultLabels: the value of "${name}" must be a string, got ${typeof value}`,
      );
    }
    defaultLabels[name] = value;
  }
  const none = Object.keys(defaultLabels).length === 0;
  return { defaultLabels: none ? undefined : Object.freeze(defaultLabels), prefix };
}

/** The family under its prefixed name; the family itself when there is no prefix. */
function withPrefix(family: MetricFamily, prefix: string): MetricFamily {
  return prefix === "" ? family : { ...family, name: prefix + family.name };
}

/**
 * The family with `defaults` added to each point's labels. The point's own labels win; a state
 * set's label named after the family (where its states go) is never added.
 */
function withDefaultLabels(family: MetricFamily, defaults: Labels): MetricFamily {
  let extra = defaults;
  if (family.type === "stateset" && Object.hasOwn(defaults, family.name)) {
    const { [family.name]: _stateLabel, ...rest } = defaults;
    extra = rest;
  }
  const points = (family.points as readonly { readonly labels: Labels }[]).map((point) => ({
    ...point,
    labels: { ...extra, ...point.labels },
  }));
  return { ...family, points } as MetricFamily;
}

/** Applies a registry's prefix and default labels to collected families (as-is without them). */
function applyRegistryScope(
  families: MetricFamily[],
  scope: RegistryScope,
  options: CollectOptions,
): MetricFamily[] {
  if (scope.prefix === "" && scope.defaultLabels === undefined) {
    return selectFamilies(families, options);
  }
  const named = families.map((family) => withPrefix(family, scope.prefix));
  const selected = selectFamilies(named, options);
  const defaults = scope.defaultLabels;
  return defaults === undefined ? selected : selected.map((f) => withDefaultLabels(f, defaults));
}

// ---------------------------------------------------------------------------------------------
// `getSampleValue`: one sample's value, found the way the Python client's is.
// ---------------------------------------------------------------------------------------------

/** Whether `labels` plus the optional `extraName="extraValue"` is exactly `wanted`. */
function sameLabels(
  labels: Labels,
  wanted: Labels,
  extraName?: string,
  extraValue?: string,
): boolean {
  let count = 0;
  for (const name in labels) {
    if (!Object.hasOwn(labels, name) || name === extraName) continue;
    if (wanted[name] !== labels[name] || !Object.hasOwn(wanted, name)) return false;
    count++;
  }
  if (extraName !== undefined) {
    if (wanted[extraName] !== extraValue || !Object.hasOwn(wanted, extraName)) return false;
    count++;
  }
  let wantedCount = 0;
  for (const name in wanted) if (Object.hasOwn(wanted, name)) wantedCount++;
  return count === wantedCount;
}

/**
 * The value of the sample `name{labels}` among `families`, as the text formats name samples
 * (`x_total`, `x_created`, `x_bucket` with `le`, `x_count`, `x_sum`, a summary's `quantile`,
 * `x_info`, a state set's label named after it), or `undefined` when there is none.
 */
export function findSampleValue(
  families: readonly MetricFamily[],
  name: string,
  labels: Labels,
): number | undefined {
  for (const family of families) {
    const base = family.name;
    if (!name.startsWith(base)) continue;
    const suffix = name.slice(base.length);
    for (const point of family.points) {
      const created = "created" in point ? point.created : undefined;
      if (suffix === "_created" && created !== undefined && sameLabels(point.labels, labels)) {
        return created;
      }
    }
    switch (family.type) {
      case "counter":
      case "gauge":
      case "unknown":
        // A counter's value is `x_total`; a gauge's is `x` itself.
        if (suffix !== (family.type === "counter" ? "_total" : "")) break;
        for (const point of family.points) {
          if (sameLabels(point.labels, labels)) return point.value;
        }
        break;
      case "histogram":
        for (const point of family.points) {
          if (suffix === "_bucket") {
            const bounds = point.upperBounds;
            for (let i = 0; i < bounds.length; i++) {
              if (sameLabels(point.labels, labels, "le", formatFloat(bounds[i]))) {
                return point.bucketCounts[i];
              }
            }
          } else if (sameLabels(point.labels, labels)) {
            if (suffix === "_count") return point.count;
            if (suffix === "_sum" && hasSum(point)) return point.sum;
          }
        }
        break;
      case "summary":
        for (const point of family.points) {
          if (suffix === "") {
            for (const { quantile, value } of point.quantiles) {
              if (sameLabels(point.labels, labels, "quantile", formatFloat(quantile))) return value;
            }
          } else if (sameLabels(point.labels, labels)) {
            if (suffix === "_count") return point.count;
            if (suffix === "_sum") return point.sum;
          }
        }
        break;
      case "info":
        if (suffix !== "_info") break;
        for (const point of family.points) {
          if (sameLabels(point.labels, labels)) return 1;
        }
        break;
      case "stateset":
        if (suffix !== "") break;
        for (const point of family.points) {
          for (const state of point.states) {
            if (sameLabels(point.labels, labels, base, state.name)) return state.enabled ? 1 : 0;
          }
        }
        break;
    }
  }
  return undefined;
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
  readonly #scope: RegistryScope;
  // Sample name → owning collector: a second collector exposing a taken name is refused.
  readonly #owners = new Map<string, Collector>();

  /**
   * Creates an empty registry. With `defaultLabels`, every sample it exposes carries those
   * labels; with `prefix`, every family name starts with it (see {@linkcode RegistryOptions}).
   *
   * @example
   * ```ts
   * import { Counter, Registry } from "./mod.ts";
   * const registry = new Registry({ defaultLabels: { region: "eu-1" }, prefix: "shop_" });
   * new Counter({ name: "orders_total", help: "orders taken", registry }).inc();
   * await registry.metrics(); // …shop_orders_total{region="eu-1"} 1.0
   * ```
   */
  constructor(options?: RegistryOptions) {
    this.#scope = registryScopeOf(options);
  }

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
    return applyRegistryScope(families, this.#scope, options);
  }

  /**
   * The value of one sample as this registry exposes it (prefix and default labels included),
   * or `undefined` when there is none: the Python client's `get_sample_value`, for tests of
   * one's own instrumentation. `name` is a sample name (`requests_total`, `latency_bucket`,
   * `latency_count`, `requests_created`); `labels` must be the sample's labels exactly, with
   * `le` for a bucket (`"0.5"`, `"+Inf"`) and `quantile` for a summary quantile.
   *
   * @example
   * ```ts
   * import { Counter, Registry } from "./mod.ts";
   * const registry = new Registry();
   * const requests = new Counter({
   *   name: "requests_total", help: "requests", labelNames: ["method"], registry,
   * });
   * requests.labels("GET").inc();
   * await registry.getSampleValue("requests_total", { method: "GET" }); // 1
   * await registry.getSampleValue("requests_total", { method: "PUT" }); // undefined
   * ```
   */
  async getSampleValue(name: string, labels: Labels = {}): Promise<number | undefined> {
    if (typeof name !== "string") {
      throw new TypeError(`getSampleValue() takes a sample name, got ${typeof name}`);
    }
    if (labels === null || typeof labels !== "object") {
      throw new TypeError(`getSampleValue("${name}", labels): labels must be an object`);
    }
    return findSampleValue(await this.collect(), name, labels);
  }

  /** Collects and renders: text 0.0.4 by default, or `{ format: "openmetrics" }`. */
  async metrics(options: MetricsOptions = {}): Promise<string> {
    return render(await this.collect(options), options.format ?? "text");
  }
}

/** The registry metrics join when no `registry` option is given. */
export const defaultRegistry: Registry = new Registry();
setDefaultRegistry(defaultRegistry);
