/**
 * The cap on a merged family's series: the same rule as a metric's `maxSeries`
 * (docs/cardinality.md) applied to the view merged from several workers, whose label sets
 * together may pass it even when each worker's do not.
 *
 * Which label sets keep their own series is deterministic: those kept at the previous merge
 * (when the caller keeps a {@linkcode MergedSeriesChoice}) while they are still there, then
 * the others in the order of their label-set keys. The rest are folded into the family's
 * overflow series by the family's own merge rules (counters and histograms add up, a gauge
 * follows its aggregate mode).
 *
 * Expiry in the merged view: a series leaves it once it expired in every worker. While another
 * worker still has it, a worker whose copy expired keeps counting with its last values (kept by
 * the {@linkcode MergedSeriesChoice}), so that a merged counter, histogram or summary never goes
 * backwards.
 *
 * @module
 */

import type { Labels, MetricFamily } from "../model.ts";
import { OVERFLOW_LABEL_NAME } from "../validation.ts";

/** The types whose series add up across workers (their merged series must not go back). */
const SUMMED: ReadonlySet<string> = new Set(["counter", "histogram", "summary"]);

/**
 * Which label sets of each merged family kept their own series at the last merge, so that the
 * choice stays the same from scrape to scrape while they are still there. Keep one per
 * aggregator and pass it to every `mergeSnapshots` call as `options.mergedSeries`.
 *
 * @example
 * ```ts
 * import { MergedSeriesChoice, mergeSnapshots } from "@deno-prom/client/workers";
 * const choice = new MergedSeriesChoice();
 * const merged = mergeSnapshots([], { maxSeriesPerMetric: 1000, mergedSeries: choice });
 * ```
 */
export class MergedSeriesChoice {
  /** Per family name, the label-set keys that kept their own series. */
  readonly #kept = new Map<string, Set<string>>();
  /** Per worker, per family name, its points by label-set key at the last merge. */
  #lastPoints = new Map<string, Map<string, Map<string, unknown>>>();

  /**
   * `snapshots` with, in each live worker's counters, histograms and summaries, the last
   * points of series that worker no longer has (they expired there) while another worker
   * still has them; remembers the points for the next merge.
   */
  withIdleContributions<
    S extends {
      readonly worker: string;
      readonly merged?: boolean;
      readonly families: readonly MetricFamily[];
    },
  >(
    snapshots: readonly S[],
    keyOf: (labels: Labels) => string,
  ): S[] {
    const present = new Map<string, Set<string>>();
    for (const snapshot of snapshots) {
      for (const family of snapshot.families) {
        if (!SUMMED.has(family.type)) continue;
        let keys = present.get(family.name);
        if (keys === undefined) present.set(family.name, keys = new Set());
        for (const point of family.points) keys.add(keyOf(point.labels));
      }
    }
    const lastPoints = new Map<string, Map<string, Map<string, unknown>>>();
    const result = snapshots.map((snapshot) => {
      if (snapshot.merged) return snapshot;
      const before = this.#lastPoints.get(snapshot.worker);
      const byFamily = new Map<string, Map<string, unknown>>();
      lastPoints.set(snapshot.worker, byFamily);
      const families = snapshot.families.map((family) => {
        if (!SUMMED.has(family.type)) return family;
        const points = new Map<string, unknown>();
        for (const point of family.points) points.set(keyOf(point.labels), point);
        const kept: unknown[] = [];
        const everywhere = present.get(family.name);
        for (const [key, point] of before?.get(family.name) ?? []) {
          if (!points.has(key) && everywhere?.has(key)) {
            points.set(key, point);
            kept.push(point);
          }
        }
        byFamily.set(family.name, points);
        return kept.length === 0
          ? family
          : { ...family, points: [...family.points, ...kept] } as MetricFamily;
      });
      return { ...snapshot, families };
    });
    this.#lastPoints = lastPoints;
    return result;
  }

  /** The keys kept for `family` at the last merge. */
  keptFor(family: string): ReadonlySet<string> | undefined {
    return this.#kept.get(family);
  }

  /** Remembers the keys kept for `family` now. */
  keep(family: string, keys: Set<string>): void {
    this.#kept.set(family, keys);
  }
}

/** What `capMergedFamily` needs of `merge.ts`: the label-set key and the family merge. */
export interface FamilyMerge {
  readonly keyOf: (labels: Labels) => string;
  /** Merges the points of `family` that share a label set, by the family's rules. */
  readonly mergePoints: (family: MetricFamily) => MetricFamily | undefined;
}

/**
 * `family` with at most `maxSeries` label sets of its own; the others folded into its
 * overflow series (see the module documentation). Info and state sets are left as they are.
 */
export function capMergedFamily(
  family: MetricFamily,
  maxSeries: number,
  choice: MergedSeriesChoice | undefined,
  merge: FamilyMerge,
): MetricFamily {
  if (family.type === "info" || family.type === "stateset") return family;
  const points = family.points as readonly { readonly labels: Labels }[];
  const keys = points.map((point) => merge.keyOf(point.labels));
  const own = new Set<string>();
  points.forEach((point, i) => {
    if (!Object.hasOwn(point.labels, OVERFLOW_LABEL_NAME)) own.add(keys[i]);
  });
  if (own.size <= maxSeries) {
    choice?.keep(family.name, own);
    return family;
  }
  const kept = new Set<string>();
  const before = choice?.keptFor(family.name);
  const sorted = [...own].sort();
  for (const key of before === undefined ? [] : sorted.filter((key) => before.has(key))) {
    if (kept.size < maxSeries) kept.add(key);
  }
  for (const key of sorted) {
    if (kept.size >= maxSeries) break;
    kept.add(key);
  }
  choice?.keep(family.name, kept);
  const overflowLabels = overflowLabelsOf(points);
  const folded = points.map((point, i) =>
    own.has(keys[i]) && !kept.has(keys[i]) ? { ...point, labels: overflowLabels } : point
  );
  return merge.mergePoints({ ...family, points: folded } as unknown as MetricFamily) ?? family;
}

/**
 * The labels of the overflow series: a worker's overflow series' own, else the labels every
 * point shares (the constant and default labels) with `otel.metric.overflow="true"`.
 */
function overflowLabelsOf(points: readonly { readonly labels: Labels }[]): Labels {
  const existing = points.find((point) => Object.hasOwn(point.labels, OVERFLOW_LABEL_NAME));
  if (existing !== undefined) return existing.labels;
  const shared: Record<string, string> = { ...points[0].labels };
  for (const point of points) {
    for (const name of Object.keys(shared)) {
      if (point.labels[name] !== shared[name]) delete shared[name];
    }
  }
  return { ...shared, [OVERFLOW_LABEL_NAME]: "true" };
}
