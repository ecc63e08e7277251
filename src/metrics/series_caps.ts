/**
 * A metric's cap on its series (`maxSeries`) and its one overflow series, for `SeriesTable`.
 *
 * Past the cap, a label set that has no series of its own is recorded into one overflow series
 * whose only own label is OpenTelemetry's `otel.metric.overflow="true"` (constant labels, a
 * registry's default labels and a histogram's `le` still apply). The overflow series sits
 * beside the cap: a metric keeps at most `maxSeries` label sets of its own plus that one.
 * Nothing recorded is lost: the overflow series takes what the missing series would have, so
 * totals over all series stay right.
 *
 * The overflow series lives in the metric's index and store like any series, at a slot whose
 * label values are a lone surrogate, which no label value can be (label values are made well
 * formed before they are stored), and which is taken out of the value dictionaries' lookup maps:
 * no `labels(...)` or `remove(...)` finds it. Its labels come from here instead.
 *
 * @module
 */

import type { Labels } from "../model.ts";
import type { SeriesIndex } from "./series_index.ts";
import { type SeriesLimits, SeriesOverflowError } from "./series_limits.ts";
import { OVERFLOW_LABEL_NAME } from "../validation.ts";

/** The label value of every position at the overflow series' slot: a lone surrogate. */
const OVERFLOW_SLOT_VALUE = "\ud800";

/** The cap of one metric and where its overflow series is. */
export class SeriesCap {
  /** The most series with a label set of their own (`Infinity`: no cap). */
  readonly maxSeries: number;
  /** The slot of the overflow series, or -1 while there is none. */
  overflowSlot = -1;
  /** The live series with a label set of their own. */
  #ownCount = 0;
  #reported = false;
  readonly #metricName: string;
  readonly #onError: ((error: SeriesOverflowError) => void) | undefined;
  readonly #labels: Labels;

  /** The cap of the metric `metricName`, whose constant labels are `constLabels`. */
  constructor(metricName: string, limits: SeriesLimits, constLabels: Labels) {
    this.#metricName = metricName;
    this.maxSeries = limits.maxSeries;
    this.#onError = limits.onError;
    this.#labels = Object.freeze({ ...constLabels, [OVERFLOW_LABEL_NAME]: "true" });
  }

  /** Whether a new label set goes to the overflow series. */
  get isFull(): boolean {
    return this.#ownCount >= this.maxSeries;
  }

  /** A series with its own label set was made. */
  added(): void {
    this.#ownCount++;
  }

  /** `count` series with their own label sets were removed (or expired). */
  removed(count: number): void {
    this.#ownCount -= count;
  }

  /** Every series was removed, the overflow series with them. */
  cleared(): void {
    this.#ownCount = 0;
    this.overflowSlot = -1;
  }

  /** The overflow series' labels: a new object at each call, as the index gives. */
  overflowLabels(): Labels {
    return { ...this.#labels };
  }

  /** The label values `index.add` is given for the overflow series' slot. */
  slotValues(width: number): string[] {
    return new Array(width).fill(OVERFLOW_SLOT_VALUE);
  }

  /**
   * Takes the overflow slot's values out of the index's lookup maps (after the slot was added,
   * and again after each compaction, which builds the maps anew), so that no lookup finds it.
   */
  hideSlotValues(index: SeriesIndex): void {
    for (const idMap of index.idMaps) (idMap as Map<string, number>).delete(OVERFLOW_SLOT_VALUE);
  }

  /** Reports the first overflow of the metric, once: to `onError`, else one `console.warn`. */
  reportOverflow(): void {
    if (this.#reported) return;
    this.#reported = true;
    const error = new SeriesOverflowError(this.#metricName, this.maxSeries);
    if (this.#onError === undefined) {
      console.warn(error.message);
      return;
    }
    try {
      this.#onError(error);
    } catch {
      // A failing report must not fail the update that recorded into the overflow series.
    }
  }
}
