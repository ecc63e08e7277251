/**
 * Merging the snapshots of several workers (isolates, Web Workers or processes) into the one
 * view a scrape should see. Pure functions over the snapshot model: the BroadcastChannel and
 * directory transports both end here.
 *
 * The rules, per family type:
 * - counter: values add up; `created` is the earliest; the exemplar is the latest.
 * - histogram: bucket counts, `count` and `sum` add up, bucket by bucket; every worker must use
 *   the same upper bounds (else a `TypeError` naming the metric and both bound lists).
 * - summary: `count` and `sum` add up; quantiles cannot be merged exactly and are left out.
 * - gauge: per its `aggregate` mode (default `all`); `live*` modes ignore dead workers.
 * - unknown: like a gauge in `all` mode (its meaning is unknown, so no arithmetic).
 * - info: the distinct label sets of the live workers (a build that exited is no longer running).
 * - stateset: one series per live worker, told apart by the worker label.
 *
 * Counters, histograms, summaries and gauges in `sum`/`min`/`max`/`mostrecent`/`all` mode keep
 * the last values of dead workers, so a counter never goes backwards when a worker exits.
 *
 * @module
 */

import type {
  CounterFamily,
  CounterPoint,
  Exemplar,
  GaugeAggregation,
  GaugeFamily,
  GaugePoint,
  HistogramFamily,
  HistogramPoint,
  InfoFamily,
  InfoPoint,
  Labels,
  MetricFamily,
  StateSetFamily,
  StateSetPoint,
  SummaryFamily,
  SummaryPoint,
  UnknownFamily,
} from "../model.ts";
import {
  mergeNativeParts,
  type NativeBuckets,
  nativeBucketsOf,
} from "../metrics/native_histogram.ts";
import { validateLabelName } from "../validation.ts";
import { DEFAULT_MAX_SERIES } from "../metrics/series_limits.ts";
import { capMergedFamily, type MergedSeriesChoice } from "./merge_caps.ts";

/** The families one worker reported, and whether that worker is still alive. */
export interface WorkerSnapshot {
  /** The worker's identity: the value of the worker label in `all` mode and in state sets. */
  readonly worker: string;
  /** `false` once the worker is known to have exited: `live*` gauges, info and state sets drop it. */
  readonly live: boolean;
  /** The worker's families, as its registry collected them. */
  readonly families: readonly MetricFamily[];
  /**
   * Whether `families` are themselves a merge result (the retired data of exited workers):
   * their `all`-mode gauge series already carry the worker label, which is then not added again.
   */
  readonly merged?: boolean;
}

/** Options of {@linkcode mergeSnapshots}. */
export interface MergeOptions {
  /** The label that tells workers apart in `all`/`liveall` gauges and state sets (default `worker`). */
  readonly workerLabel?: string;
  /**
   * The cap on each merged family's own label sets, as a metric's `maxSeries` (default
   * 10 000; `Infinity`: none); the others go to its `otel.metric.overflow="true"` series.
   *
   * @example
   * ```ts
   * import { mergeSnapshots } from "@deno-prom/client/workers";
   * const merged = mergeSnapshots([], { maxSeriesPerMetric: 50_000 });
   * ```
   */
  readonly maxSeriesPerMetric?: number;
  /**
   * Keeps which label sets stay under the cap the same from merge to merge (see
   * {@linkcode MergedSeriesChoice}); without it the choice follows the label sets' order.
   *
   * @example
   * ```ts
   * import { MergedSeriesChoice, mergeSnapshots } from "@deno-prom/client/workers";
   * const mergedSeries = new MergedSeriesChoice(); // one per aggregator, kept across scrapes
   * const merged = mergeSnapshots([], { mergedSeries });
   * ```
   */
  readonly mergedSeries?: MergedSeriesChoice;
}

/** The label added by `all` modes unless told otherwise. */
export const DEFAULT_WORKER_LABEL = "worker";

/**
 * Merges the snapshots of several workers into one list of families, in order of first
 * appearance (give the scraping worker's own snapshot first to keep its registration order).
 * Throws a `TypeError` when workers disagree on a family's type, a histogram's bounds or a
 * gauge's mode, or when a series to be told apart already has the worker label.
 *
 * @example
 * ```ts
 * import { mergeSnapshots } from "@deno-prom/client/workers";
 * const requests = (value: number) => ({
 *   type: "counter" as const, name: "requests", help: "requests served",
 *   points: [{ labels: { path: "/" }, value }],
 * });
 * const merged = mergeSnapshots([
 *   { worker: "a", live: true, families: [requests(3)] },
 *   { worker: "b", live: false, families: [requests(4)] }, // exited: its counts stay
 * ]);
 * // merged[0].points[0].value === 7
 * ```
 */
export function mergeSnapshots(
  snapshots: readonly WorkerSnapshot[],
  options: MergeOptions = {},
): MetricFamily[] {
  const workerLabel = options.workerLabel ?? DEFAULT_WORKER_LABEL;
  validateLabelName(workerLabel);
  const maxSeries = options.maxSeriesPerMetric ?? DEFAULT_MAX_SERIES;
  if (!(maxSeries >= 1)) {
    throw new RangeError(`maxSeriesPerMetric must be at least 1, got ${maxSeries}`);
  }
  // Series lifecycle: the merged view is capped like a metric (merge_caps.ts).
  const capMerge = {
    keyOf: labelSetKey,
    mergePoints: (family: MetricFamily) =>
      mergeFamily([{ snapshot: MERGED_VIEW, family }], workerLabel),
  };
  const groups = groupByName(
    options.mergedSeries?.withIdleContributions(snapshots, labelSetKey) ?? snapshots,
  );
  const merged: MetricFamily[] = [];
  for (const parts of groups.values()) {
    const family = mergeFamily(parts, workerLabel);
    if (family === undefined) continue;
    merged.push(
      maxSeries === Infinity
        ? family
        : capMergedFamily(family, maxSeries, options.mergedSeries, capMerge),
    );
  }
  return merged;
}

/** The merged view as one part, to merge again (the worker label already added). */
const MERGED_VIEW: WorkerSnapshot = { worker: "", live: true, merged: true, families: [] };

/** One worker's copy of a family. */
interface FamilyPart<F extends MetricFamily = MetricFamily> {
  readonly snapshot: WorkerSnapshot;
  readonly family: F;
}

/** Groups every worker's families by name, checking that the types agree. */
function groupByName(snapshots: readonly WorkerSnapshot[]): Map<string, FamilyPart[]> {
  const groups = new Map<string, FamilyPart[]>();
  for (const snapshot of snapshots) {
    for (const family of snapshot.families) {
      const parts = groups.get(family.name);
      if (parts === undefined) {
        groups.set(family.name, [{ snapshot, family }]);
        continue;
      }
      const first = parts[0];
      if (first.family.type !== family.type) {
        throw new TypeError(
          `metric "${family.name}" is a ${first.family.type} in worker ${
            JSON.stringify(first.snapshot.worker)
          } but a ${family.type} in worker ${
            JSON.stringify(snapshot.worker)
          }: every worker must define it the same way`,
        );
      }
      parts.push({ snapshot, family });
    }
  }
  return groups;
}

/** Merges one family's parts; `undefined` when no part counts (e.g. only dead workers' info). */
function mergeFamily(parts: FamilyPart[], workerLabel: string): MetricFamily | undefined {
  const first = parts[0].family;
  switch (first.type) {
    case "counter":
      return {
        ...metadataOf(first),
        type: "counter",
        points: mergeCounters(parts as FamilyPart<CounterFamily>[]),
      };
    case "histogram":
      return {
        ...metadataOf(first),
        type: "histogram",
        points: mergeHistograms(parts as FamilyPart<HistogramFamily>[]),
      };
    case "summary":
      return {
        ...metadataOf(first),
        type: "summary",
        points: mergeSummaries(parts as FamilyPart<SummaryFamily>[]),
      };
    case "gauge":
      return mergeGauges(parts as FamilyPart<GaugeFamily>[], workerLabel);
    case "unknown": {
      const points = perWorker(parts as FamilyPart<UnknownFamily>[], workerLabel, copyGaugePoint);
      return { ...metadataOf(first), type: "unknown", points };
    }
    case "info": {
      const live = liveParts(parts as FamilyPart<InfoFamily>[]);
      if (live.length === 0) return undefined;
      return { ...metadataOf(first), type: "info", points: distinctInfo(live) };
    }
    case "stateset": {
      const live = liveParts(parts as FamilyPart<StateSetFamily>[]);
      if (live.length === 0) return undefined;
      const points = perWorker(live, workerLabel, copyStateSetPoint);
      return { ...metadataOf(first), type: "stateset", points };
    }
  }
}

/** Name, help and unit, taken from the first worker that has the family. */
function metadataOf(family: MetricFamily): { name: string; help: string; unit?: string } {
  return family.unit === undefined
    ? { name: family.name, help: family.help }
    : { name: family.name, help: family.help, unit: family.unit };
}

function liveParts<F extends MetricFamily>(parts: readonly FamilyPart<F>[]): FamilyPart<F>[] {
  return parts.filter((part) => part.snapshot.live);
}

/**
 * A key identifying a label set whatever its order and whatever characters its values hold:
 * each `name=<length>:value`, by name. Label names cannot hold `=`, and the length says where
 * a value ends, so two different label sets never share a key.
 */
export function labelSetKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length > 1) names.sort();
  let key = "";
  for (const name of names) {
    const value = labels[name];
    key += `${name}=${value.length}:${value}`;
  }
  return key;
}

/** The earlier of two optional creation times. */
function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** The later of two optional exemplars (by timestamp; one without a timestamp loses). */
function latestExemplar(a: Exemplar | undefined, b: Exemplar | undefined): Exemplar | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return (b.timestamp ?? -Infinity) > (a.timestamp ?? -Infinity) ? b : a;
}

/** Adds the optional fields that are set, so merged points carry no `undefined` properties. */
function withOptional<T extends object>(point: T, optional: Record<string, unknown>): T {
  const result = { ...point } as Record<string, unknown>;
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) result[key] = value;
  }
  return result as T;
}

// --- counters, histograms, summaries: everything adds up ---

interface CounterSum {
  labels: Labels;
  value: number;
  created?: number;
  exemplar?: Exemplar;
}

/**
 * Folds every worker's points into one running sum per label set: `start` makes the sum from
 * the first point seen, `add` folds each later point of the same label set into it.
 */
function sumByLabelSet<F extends MetricFamily, S>(
  parts: readonly FamilyPart<F>[],
  start: (point: F["points"][number], part: FamilyPart<F>) => S,
  add: (sum: S, point: F["points"][number], part: FamilyPart<F>) => void,
): S[] {
  const sums = new Map<string, S>();
  for (const part of parts) {
    for (const point of part.family.points as readonly F["points"][number][]) {
      const key = labelSetKey(point.labels);
      const sum = sums.get(key);
      if (sum === undefined) sums.set(key, start(point, part));
      else add(sum, point, part);
    }
  }
  return [...sums.values()];
}

function mergeCounters(parts: readonly FamilyPart<CounterFamily>[]): CounterPoint[] {
  const sums = sumByLabelSet<CounterFamily, CounterSum>(parts, (point) => ({ ...point }), (
    sum,
    point,
  ) => {
    sum.value += point.value;
    sum.created = earliest(sum.created, point.created);
    sum.exemplar = latestExemplar(sum.exemplar, point.exemplar);
  });
  return sums.map(({ labels, value, created, exemplar }) =>
    withOptional({ labels, value }, { created, exemplar })
  );
}

interface HistogramSum {
  labels: Labels;
  upperBounds: readonly number[];
  bucketCounts: number[];
  count: number;
  sum: number;
  created?: number;
  exemplars?: (Exemplar | undefined)[];
  firstWorker: string;
  native?: NativeBuckets;
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((bound, i) => bound === b[i]);
}

function mergeHistograms(parts: readonly FamilyPart<HistogramFamily>[]): HistogramPoint[] {
  const sums = sumByLabelSet<HistogramFamily, HistogramSum>(parts, (point, { snapshot }) => ({
    ...point,
    bucketCounts: [...point.bucketCounts],
    exemplars: point.exemplars === undefined ? undefined : [...point.exemplars],
    firstWorker: snapshot.worker,
    native: nativeBucketsOf(point),
  }), (sum, point, { snapshot, family }) => {
    // Native buckets of any schemas merge (at the coarser one).
    sum.native = mergeNativeParts(sum.native, nativeBucketsOf(point), family.name);
    if (!sameBounds(sum.upperBounds, point.upperBounds)) {
      throw new TypeError(
        `histogram "${family.name}" has buckets [${sum.upperBounds.join(", ")}] in worker ${
          JSON.stringify(sum.firstWorker)
        } but [${point.upperBounds.join(", ")}] in worker ${
          JSON.stringify(snapshot.worker)
        }: every worker must use the same buckets to be merged`,
      );
    }
    for (let i = 0; i < sum.bucketCounts.length; i++) {
      sum.bucketCounts[i] += point.bucketCounts[i];
    }
    sum.count += point.count;
    sum.sum += point.sum;
    sum.created = earliest(sum.created, point.created);
    if (point.exemplars !== undefined) {
      const exemplars = sum.exemplars ?? new Array(sum.upperBounds.length).fill(undefined);
      for (let i = 0; i < exemplars.length; i++) {
        exemplars[i] = latestExemplar(exemplars[i], point.exemplars[i]);
      }
      sum.exemplars = exemplars;
    }
  });
  return sums.map((sum) =>
    withOptional({
      labels: sum.labels,
      upperBounds: sum.upperBounds,
      bucketCounts: sum.bucketCounts,
      count: sum.count,
      sum: sum.sum,
    }, { created: sum.created, exemplars: sum.exemplars, ...sum.native })
  );
}

interface SummarySum {
  labels: Labels;
  count: number;
  sum: number;
  created?: number;
}

function mergeSummaries(parts: readonly FamilyPart<SummaryFamily>[]): SummaryPoint[] {
  const sums = sumByLabelSet<SummaryFamily, SummarySum>(
    parts,
    ({ labels, count, sum, created }) => ({ labels, count, sum, created }),
    (sum, point) => {
      sum.count += point.count;
      sum.sum += point.sum;
      sum.created = earliest(sum.created, point.created);
    },
  );
  // Quantiles of different workers cannot be combined into true quantiles: none is exposed.
  return sums.map(({ labels, count, sum, created }) =>
    withOptional({ labels, count, sum, quantiles: [] }, { created })
  );
}

// --- gauges: per the mode chosen at creation ---

function mergeGauges(
  parts: readonly FamilyPart<GaugeFamily>[],
  workerLabel: string,
): GaugeFamily | undefined {
  const first = parts[0];
  const mode: GaugeAggregation = first.family.aggregate ?? "all";
  for (const part of parts) {
    const partMode = part.family.aggregate ?? "all";
    if (partMode !== mode) {
      throw new TypeError(
        `gauge "${first.family.name}" has aggregate mode "${mode}" in worker ${
          JSON.stringify(first.snapshot.worker)
        } but "${partMode}" in worker ${
          JSON.stringify(part.snapshot.worker)
        }: every worker must use the same mode`,
      );
    }
  }
  const liveOnly = mode.startsWith("live");
  const counted = liveOnly ? liveParts(parts) : parts;
  if (liveOnly && counted.length === 0) return undefined;
  const base = liveOnly ? mode.slice("live".length) : mode;
  let points: GaugePoint[];
  if (base === "all") points = perWorker(counted, workerLabel, copyGaugePoint);
  else if (base === "mostrecent") points = mostRecentGauges(counted);
  else points = combineGauges(counted, base === "sum" ? add : base === "min" ? Math.min : Math.max);
  const family: GaugeFamily = { ...metadataOf(first.family), type: "gauge", points };
  return first.family.aggregate === undefined ? family : { ...family, aggregate: mode };
}

function add(a: number, b: number): number {
  return a + b;
}

/** Folds each series' values with `combine`, skipping NaN unless every value is NaN. */
function combineGauges(
  parts: readonly FamilyPart<GaugeFamily>[],
  combine: (a: number, b: number) => number,
): GaugePoint[] {
  return sumByLabelSet<GaugeFamily, { labels: Labels; value: number }>(
    parts,
    ({ labels, value }) => ({ labels, value }),
    (result, point) => {
      if (Number.isNaN(result.value)) result.value = point.value;
      else if (!Number.isNaN(point.value)) result.value = combine(result.value, point.value);
    },
  );
}

/** Keeps, per series, the value changed last (a point never changed counts as oldest). */
function mostRecentGauges(parts: readonly FamilyPart<GaugeFamily>[]): GaugePoint[] {
  const latest = sumByLabelSet<GaugeFamily, { point: GaugePoint }>(
    parts,
    (point) => ({ point }),
    (kept, point) => {
      if ((point.updated ?? -Infinity) > (kept.point.updated ?? -Infinity)) kept.point = point;
    },
  );
  return latest.map(({ point }) => copyGaugePoint(point));
}

function copyGaugePoint(point: GaugePoint, labels: Labels = point.labels): GaugePoint {
  return withOptional({ labels, value: point.value }, { updated: point.updated });
}

function copyStateSetPoint(point: StateSetPoint, labels: Labels): StateSetPoint {
  return { labels, states: point.states };
}

/**
 * One series per worker and label set: the worker label is added (except to already merged
 * data, which has it). Should two workers share an identity, the later one's series wins, but
 * merged (retired) data never replaces a worker's own: a retired worker that came back shows
 * its current value.
 */
function perWorker<P extends { readonly labels: Labels }>(
  parts: readonly FamilyPart<MetricFamily & { readonly points: readonly P[] }>[],
  workerLabel: string,
  copy: (point: P, labels: Labels) => P,
): P[] {
  const series = new Map<string, P>();
  for (const { snapshot, family } of parts) {
    for (const point of family.points) {
      let labels = point.labels;
      if (!snapshot.merged) {
        if (workerLabel in labels || (family.type === "stateset" && family.name === workerLabel)) {
          throw new TypeError(
            `metric "${family.name}" already has a label "${workerLabel}", which the worker ` +
              `aggregation adds to tell workers apart: rename the label, or choose another ` +
              `workerLabel`,
          );
        }
        labels = { ...labels, [workerLabel]: snapshot.worker };
      }
      const key = labelSetKey(labels);
      if (snapshot.merged && series.has(key)) continue;
      series.set(key, copy(point, labels));
    }
  }
  return [...series.values()];
}

/** Every distinct label set, once. */
function distinctInfo(parts: readonly FamilyPart<InfoFamily>[]): InfoPoint[] {
  return sumByLabelSet<InfoFamily, InfoPoint>(parts, ({ labels }) => ({ labels }), () => {});
}

// --- a worker's increments since a baseline ---

/**
 * What a worker added since `baseline` (an earlier snapshot of the same worker, already counted
 * elsewhere): counters, histograms, summaries and `sum` gauges lose the baseline's values, per
 * series (never below zero); every other family is taken as it is now, since its value is not a
 * sum. A series the baseline lacks counts in full.
 */
export function subtractBaseline(
  current: readonly MetricFamily[],
  baseline: readonly MetricFamily[],
): MetricFamily[] {
  const before = new Map(baseline.map((family) => [family.name, family]));
  return current.map((family) => {
    const old = before.get(family.name);
    if (old === undefined || old.type !== family.type) return family;
    const oldPoints = new Map<string, MetricFamily["points"][number]>();
    for (const point of old.points) oldPoints.set(labelSetKey(point.labels), point);
    switch (family.type) {
      case "counter":
        return {
          ...family,
          points: family.points.map((point) => {
            const was = oldPoints.get(labelSetKey(point.labels)) as CounterPoint | undefined;
            return was === undefined ? point : { ...point, value: since(point.value, was.value) };
          }),
        };
      case "gauge":
        if (family.aggregate !== "sum") return family;
        return {
          ...family,
          points: family.points.map((point) => {
            const was = oldPoints.get(labelSetKey(point.labels)) as GaugePoint | undefined;
            return was === undefined ? point : { ...point, value: point.value - was.value };
          }),
        };
      case "histogram":
        return {
          ...family,
          points: family.points.map((point) => {
            const was = oldPoints.get(labelSetKey(point.labels)) as HistogramPoint | undefined;
            if (was === undefined || !sameBounds(was.upperBounds, point.upperBounds)) return point;
            return {
              ...point,
              bucketCounts: point.bucketCounts.map((n, i) => since(n, was.bucketCounts[i])),
              count: since(point.count, was.count),
              sum: point.sum - was.sum,
            };
          }),
        };
      case "summary":
        return {
          ...family,
          points: family.points.map((point) => {
            const was = oldPoints.get(labelSetKey(point.labels)) as SummaryPoint | undefined;
            if (was === undefined) return point;
            return { ...point, count: since(point.count, was.count), sum: point.sum - was.sum };
          }),
        };
      default:
        return family;
    }
  });
}

/** The increase of a count from `before` to `now`, never negative. */
function since(now: number, before: number): number {
  return now >= before ? now - before : 0;
}
