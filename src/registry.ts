/**
 * Registries hold collectors (metric objects and custom collectors) and gather their snapshots.
 * They know no wire format: `metrics()` is a convenience that hands the snapshots to
 * `exposition/render.ts`.
 *
 * @module
 */

import { type ExpositionFormat, render } from "./exposition/render.ts";
import {
  ByteRender,
  gatherItems,
  type ReadFromStorage,
  type RenderItems,
  type StorageGather,
} from "./exposition/byte_render.ts";
import { checkFamilies, exposedNames, InvalidFamilyError } from "./exposition/validate.ts";
import { WrittenNames } from "./exposition/written_names.ts";
import type { Collector, Labels, MetricFamily } from "./model.ts";
import { findSampleValue } from "./exposition/sample_value.ts";
import { type EscapingScheme, validateLabelName, validateMetricName } from "./validation.ts";
import * as lifecycle from "./metrics/series_limits.ts";

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

/**
 * Anything that can be exposed, pushed, remote-written or written to a textfile: a
 * {@linkcode Registry}, or any object that gathers families the same way (a worker aggregator,
 * a directory collector). It should honour `options.names`, which carries the `?name[]=` filter
 * of a scrape.
 */
export interface MetricsSource {
  /** Returns fresh snapshots, keeping only the families named in `options.names` when given. */
  collect(
    options?: CollectOptions,
  ): Promise<readonly MetricFamily[]> | readonly MetricFamily[];
}

/**
 * Whether `value` is an object with a `collect()` method: the shape check every option that
 * takes a {@linkcode MetricsSource} (or `register()` a collector) makes before its own message.
 */
export function hasCollect(value: unknown): value is MetricsSource {
  return value !== null && typeof value === "object" &&
    typeof (value as { collect?: unknown }).collect === "function";
}

/** Options of {@linkcode Registry.metrics}. */
export interface MetricsOptions extends CollectOptions {
  /** `"text"` (0.0.4, the default), `"openmetrics"`, or `"protobuf"` (bytes). */
  readonly format?: ExpositionFormat;
  /**
   * How names are written (see `EscapingScheme`): `"underscores"` (the default), `"dots"`,
   * `"values"`, or `"allow-utf-8"` (outside the legacy alphabet, quoted as they are).
   */
  readonly escaping?: EscapingScheme;
  /**
   * `false` leaves out the `_created` lines of counters, histograms and summaries in
   * OpenMetrics (the Python client's `PROMETHEUS_DISABLE_CREATED_SERIES`), which halves the
   * output of counters. Default `true`. The text format 0.0.4 never has them.
   */
  readonly createdSeries?: boolean;
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

// ---------------------------------------------------------------------------------------------
// Registry-wide default labels and name prefix (`new Registry({ defaultLabels, prefix })`).
// Applied to the collected snapshots, so every path that reads a registry — exposition, push,
// remote write, worker snapshots, `getSampleValue` — sees the same names and labels.
// ---------------------------------------------------------------------------------------------

/** Options of {@linkcode Registry}. */
export interface RegistryOptions extends lifecycle.RegistryLifecycleOptions {
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
  trusted: Set<MetricFamily>,
  scopedAlready: ReadonlySet<MetricFamily>,
  scope: RegistryScope,
  checkedAtSource: Set<MetricFamily>,
): MetricFamily[] {
  if (scope.prefix === "" && scope.defaultLabels === undefined) return families;
  const defaults = scope.defaultLabels;
  return families.map((family) => {
    if (scopedAlready.has(family)) return family;
    const named = withPrefix(family, scope.prefix);
    const scoped = defaults === undefined ? named : withDefaultLabels(named, defaults);
    // A built-in family stays valid: each of its series already has or gets every default.
    if (trusted.has(family)) trusted.add(scoped);
    // A prefix keeps a family checked at its source valid; default labels may not (two of its
    // series can differ by a default label only, or have a label a default one meets), so it
    // is then checked here.
    if (defaults === undefined && checkedAtSource.has(family)) checkedAtSource.add(scoped);
    return scoped;
  });
}

/** Each registry's `StorageGather`, entered by its constructor. */
const storageGathers = new WeakMap<Registry, StorageGather>();

/**
 * A set of collectors to expose together. Families come out in registration order.
 *
 * @example
 * ```ts
 * import { Counter, Registry } from "@deno-prom/client";
 * const registry = new Registry();
 * const jobs = new Counter({ name: "jobs_total", help: "jobs run", registry });
 * jobs.inc();
 * const text = await registry.metrics();
 * const openMetrics = await registry.metrics({ format: "openmetrics" });
 * ```
 */
export class Registry implements MetricsSource {
  readonly #collectors = new Set<Collector>();
  readonly #scope: RegistryScope;
  // Sample name → owning collector: a second collector exposing a taken name is refused.
  readonly #owners = new Map<string, Collector>();
  // What UTF-8 sample names are written as, to refuse one some scraper would read as taken.
  readonly #written = new WrittenNames();

  /**
   * Creates an empty registry. With `defaultLabels`, every sample it exposes carries those
   * labels; with `prefix`, every family name starts with it (see {@linkcode RegistryOptions}).
   *
   * @example
   * ```ts
   * import { Counter, Registry } from "@deno-prom/client";
   * const registry = new Registry({ defaultLabels: { region: "eu-1" }, prefix: "shop_" });
   * new Counter({ name: "orders_total", help: "orders taken", registry }).inc();
   * await registry.metrics(); // …shop_orders_total{region="eu-1"} 1.0
   * ```
   */
  constructor(options?: RegistryOptions) {
    this.#scope = registryScopeOf(options);
    lifecycle.setRegistryLimits(this, lifecycle.registryLimitsOf(options)); // docs/cardinality.md
    storageGathers.set(this, this.#gatherWithStorage);
  }

  /** Adds a collector; a `TypeError` if a sample name is taken, or read as a taken one. */
  register(collector: Collector): void {
    if (!hasCollect(collector)) {
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
    this.#written.add(collector, (name) => this.#owners.get(name), this.#scope.defaultLabels);
    for (const sampleName of sampleNames) this.#owners.set(sampleName, collector);
    this.#collectors.add(collector);
  }

  /** Removes a collector (no error when it was not registered). */
  unregister(collector: Collector): void {
    if (!this.#collectors.delete(collector)) return;
    for (const sampleName of collector.sampleNames ?? []) {
      if (this.#owners.get(sampleName) === collector) this.#owners.delete(sampleName);
    }
    this.#written.delete(collector);
  }

  /** Removes every collector. */
  clear(): void {
    this.#collectors.clear();
    this.#owners.clear();
    this.#written.clear();
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
    return selectFamilies(await this.#gather(options, undefined), options);
  }

  /** `collect()` with the built-in metrics `readFromStorage` takes left to its caller. */
  readonly #gatherWithStorage: StorageGather = async (options, readFromStorage) =>
    selectFamilies(await this.#gather(options, readFromStorage), options);

  /**
   * The families that can be exposed, under the registry's scope: each collector's (a built-in
   * metric's trusted, others validated), or for a built-in metric the family without points
   * `readFromStorage` gives (already scoped).
   */
  async #gather(
    options: CollectOptions,
    readFromStorage: ReadFromStorage | undefined,
  ): Promise<MetricFamily[]> {
    const families: MetricFamily[] = [];
    const trusted = new Set<MetricFamily>();
    const checkedAtSource = new Set<MetricFamily>();
    const fromStorage = new Set<MetricFamily>();
    const problems: InvalidFamilyError[] = [];
    const scope = this.#scope;
    for (const collector of this.#collectors) {
      const isMetric = builtIn.has(collector);
      const stored = isMetric
        ? readFromStorage?.(collector, scope.prefix, scope.defaultLabels)
        : undefined;
      if (stored !== undefined) {
        families.push(stored);
        trusted.add(stored);
        fromStorage.add(stored);
        continue;
      }
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
      const isChecked = checkedCollectors.has(collector);
      for (const family of resolved) {
        families.push(family);
        if (isMetric) trusted.add(family);
        else if (isChecked) checkedAtSource.add(family);
      }
    }
    // Checked as exposed, after the prefix and default labels: a custom family whose series
    // differ only by a default label would otherwise print the same line twice.
    const scoped = applyRegistryScope(families, trusted, fromStorage, scope, checkedAtSource);
    const kept = checkFamilies(scoped, {
      trusted,
      checkedAtSource,
      onInvalid: (error) => problems.push(error),
    });
    this.#reports.report(problems, options.onError ?? reportToConsole);
    return kept;
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
   * import { Counter, Registry } from "@deno-prom/client";
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

  /** What was reported of invalid families, per reporter. */
  readonly #reports = new StreakReports();

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
    const format = options.format ?? "text";
    if (format === "protobuf") {
      const families = await this.collect(options);
      return render(families, format, options.escaping);
    }
    const items = await gatherItems(this.#gatherWithStorage, options);
    return new ByteRender(items, { ...options, format }).text();
  }
}

/**
 * Internal (not exported from `mod.ts`), for the byte renderer, the handler and remote write:
 * what rendering `registry` takes (see `gatherItems`): its collectors' snapshots, checked as
 * `registry.collect(options)` checks them, and its counters, gauges and histograms to read from
 * storage.
 */
export function gatherForBytes(
  registry: Registry,
  options: CollectOptions,
): Promise<RenderItems> {
  return gatherItems(storageGathers.get(registry)!, options);
}

/**
 * Reports problems once per streak, per reporter: a message reported at the last check is not
 * reported again until a check without it came in between.
 */
class StreakReports {
  readonly #reportedTo = new WeakMap<(error: InvalidFamilyError) => void, Set<string>>();

  report(
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
}

/** Drops and reports the families no exposition may carry; see {@linkcode familyGate}. */
export type FamilyGate = (
  families: readonly MetricFamily[],
  onError: (error: InvalidFamilyError) => void,
) => Promise<MetricFamily[]>;

/**
 * Internal: the registry's own family check for families from elsewhere (worker messages,
 * snapshot files, any source that is not a `Registry`), with its own memory of what it
 * reported (a family that stays bad is reported again only after it was good in between): one
 * rule and one streak logic for every untrusted source.
 */
export function familyGate(): FamilyGate {
  const reports = new StreakReports();
  return (families, onError) => {
    const problems: InvalidFamilyError[] = [];
    if (!Array.isArray(families)) {
      problems.push(
        new InvalidFamilyError(
          "(collector)",
          `a collector returned ${typeof families}, not an array of families`,
        ),
      );
      families = [];
    }
    const kept = checkFamilies(families, { onInvalid: (error) => problems.push(error) });
    reports.report(problems, onError);
    return Promise.resolve(kept);
  };
}

/**
 * Internal: `source` as the handler, push, remote write and the textfile writer read it. A
 * `Registry` checks its collectors' families itself; any other source's families are checked
 * here, so that a bad family is dropped and reported rather than sent.
 */
export function checkedSource(source: MetricsSource): MetricsSource {
  if (source instanceof Registry) return source;
  const gate = familyGate();
  return {
    async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
      const families = await source.collect(options);
      return await gate(families, options.onError ?? reportToConsole);
    },
  };
}

/** The library's own metric objects, whose families are valid by construction. */
const builtIn = new WeakSet<Collector>();

/** Internal (not exported from `mod.ts`): the metric types mark themselves as built in. */
export function markBuiltIn(metric: Collector): void {
  builtIn.add(metric);
}

/**
 * Collectors whose families are checked against every exposition rule where they are made
 * (the OTLP receiver's store, `src/otel/store.ts`): skipped by the per-scrape family check, and
 * otherwise gathered like any collector's (names still checked for clashes, in order).
 */
const checkedCollectors = new WeakSet<Collector>();

/**
 * Internal (not exported from `mod.ts`): marks `collector` as one whose every family passes
 * `validateFamily` as it is collected. Only for a collector of this library that makes sure of
 * it when it takes its data in (the OTLP receiver); a family of such a collector that broke a
 * rule would be written as it is.
 */
export function markCheckedAtSource(collector: Collector): void {
  checkedCollectors.add(collector);
}

function reportToConsole(error: InvalidFamilyError): void {
  console.error(error.message);
}

/**
 * The registry metrics join when no `registry` option is given. Metric modules import it from
 * here (this module and what it imports — `exposition/`, `model.ts`, `validation.ts` — import
 * nothing from `metrics/`, so there is no import cycle and a metric module imported on its own
 * still registers here).
 */
export const defaultRegistry: Registry = new Registry();
