/**
 * What an aggregator keeps of the peers it retired: their merged data, and enough to refuse
 * their late messages — in memory bounded however many workers ever lived.
 *
 * @module
 */

import type { MetricFamily } from "../../model.ts";
import { mergeSnapshots } from "../merge.ts";

/**
 * How many retired peers are remembered by instance id. Beyond, the oldest are forgotten and
 * only the latest start time among them is kept: any unknown peer that started no later is
 * refused, as it may be one of them.
 */
export const MAX_REMEMBERED_RETIRED = 10_000;

/**
 * How many peers retired while perhaps only stalled keep the data they had at retirement, to
 * count only their increments should they speak again; older ones are refused if they do.
 */
export const MAX_BASELINES = 32;

/** How a message from a peer that is not a current one may count. */
export type Admission =
  /** A peer never retired here: all of its data counts. */
  | { readonly kind: "new" }
  /** A peer retired while stalled: only what it added since counts. */
  | { readonly kind: "resumed"; readonly baseline: readonly MetricFamily[] }
  /** A retired peer (or one that may be): its data is counted already, or cannot be told apart. */
  | { readonly kind: "refused" };

/** The retired peers of one aggregator. */
export class RetiredPeers {
  readonly #workerLabel: string;
  /** The merged data of every peer retired. */
  #families: MetricFamily[] = [];
  /** Start times of the latest retired peers, by instance id, oldest retirement first. */
  readonly #startedMsByInstance = new Map<string, number>();
  /** The latest start time among the retired peers forgotten from the map above, if any. */
  #forgottenStartedMs: number | undefined;
  /** The families folded in of the latest peers retired for silence, by instance id. */
  readonly #baselines = new Map<string, readonly MetricFamily[]>();

  constructor(workerLabel: string) {
    this.#workerLabel = workerLabel;
  }

  /** The merged data of every peer retired. */
  get families(): readonly MetricFamily[] {
    return this.#families;
  }

  /**
   * Folds a peer's `families` (less what is folded in already) into the retired data. `stalled`
   * when it was retired for silence rather than after a goodbye: its `lastFamilies` are then
   * kept a while, so that should it speak again only its new increments count. Throws, and
   * changes nothing, when the families conflict with the retired data.
   */
  retire(
    instance: string,
    worker: string,
    startedMs: number,
    families: readonly MetricFamily[],
    stalled: { readonly lastFamilies: readonly MetricFamily[] } | undefined,
  ): void {
    this.#families = mergeSnapshots([
      { worker: "retired", live: false, merged: true, families: this.#families },
      { worker, live: false, families },
    ], { workerLabel: this.#workerLabel });
    this.#startedMsByInstance.set(instance, startedMs);
    if (this.#startedMsByInstance.size > MAX_REMEMBERED_RETIRED) {
      const [oldest, oldestStartedMs] = this.#startedMsByInstance.entries().next().value!;
      this.#startedMsByInstance.delete(oldest);
      this.#forgottenStartedMs = Math.max(this.#forgottenStartedMs ?? -Infinity, oldestStartedMs);
    }
    if (stalled !== undefined) {
      this.#baselines.set(instance, stalled.lastFamilies);
      if (this.#baselines.size > MAX_BASELINES) {
        this.#baselines.delete(this.#baselines.keys().next().value!);
      }
    }
  }

  /**
   * How a snapshot of `instance`, a peer not currently known, counts. A peer retired for
   * silence that speaks again is taken back (once) with its baseline.
   */
  admit(instance: string, startedMs: number): Admission {
    const baseline = this.#baselines.get(instance);
    if (baseline !== undefined) {
      this.#baselines.delete(instance);
      this.#startedMsByInstance.delete(instance);
      return { kind: "resumed", baseline };
    }
    if (this.#startedMsByInstance.has(instance)) return { kind: "refused" };
    // Started no later than a retired peer forgotten since: perhaps a forgotten one.
    const forgotten = this.#forgottenStartedMs;
    if (forgotten !== undefined && startedMs <= forgotten) return { kind: "refused" };
    return { kind: "new" };
  }
}
