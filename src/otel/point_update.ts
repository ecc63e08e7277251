/**
 * The new point of one received series, from an OTLP point and the series as it was: the
 * translation of `translate.ts` plus what time says — a changed start time or a cumulative value
 * that went down is a reset (a new `_created`), a delta adds to the series' value.
 *
 * @module
 */

import type { Exemplar, Labels } from "../model.ts";
import type { OtlpPointBase } from "./otlp_types.ts";
import { classicOf, counterExemplar, nativeOf, secondsOf, summaryOf } from "./translate.ts";

/** The series types of the receiver's store. */
export type Kind = "counter" | "gauge" | "histogram" | "native" | "summary";

/** What a series holds that its next point is compared with. */
export interface SeriesState {
  // deno-lint-ignore no-explicit-any
  readonly point: any;
  readonly start: number;
  /** A counter's value, or a histogram's or summary's count. */
  readonly value: number;
}

/**
 * The new point of a series, from an OTLP point and the series as it was: a string when the
 * point is refused. `value` is what the next point is compared with (a counter's value, a
 * histogram's count); `start` a changed start time.
 */
export function pointUpdate(
  kind: Kind,
  point: OtlpPointBase,
  labels: Labels,
  series: SeriesState | undefined,
  delta: boolean,
  // deno-lint-ignore no-explicit-any
): { point: any; value: number; start?: number } | string {
  const start = point.startTimeUnixNano;
  // A series whose start moved on, or whose cumulative total went down, started again.
  const restarted = (measure: number): boolean =>
    series !== undefined && !delta &&
    ((start !== 0 && start !== series.start) || measure < series.value);
  const createdOf = (measure: number): number | undefined => {
    if (series === undefined || delta) return series?.point.created ?? secondsOf(start);
    if (!restarted(measure)) return series.point.created;
    // A reset without a new start time: the point's own time marks the new start.
    return secondsOf(start !== series.start && start !== 0 ? start : point.timeUnixNano);
  };
  const withCreated = <T extends object>(values: T, created: number | undefined) =>
    created === undefined ? values : { ...values, created };

  switch (kind) {
    case "gauge": {
      const value = (point as unknown as { value: number }).value;
      return { point: { labels, value }, value };
    }
    case "counter": {
      const given = (point as unknown as { value: number }).value;
      if (!(given >= 0) || given === Infinity) return `counter value ${given} is negative or NaN`;
      const value = delta && series !== undefined ? series.value + given : given;
      const created = createdOf(given);
      const exemplar: Exemplar | undefined = counterExemplar(point.exemplars) ??
        (restarted(given) ? undefined : series?.point.exemplar);
      const values = exemplar === undefined ? { labels, value } : { labels, value, exemplar };
      return { point: withCreated(values, created), value };
    }
    case "histogram": {
      const classic = classicOf(point as never);
      if (typeof classic === "string") return classic;
      const created = createdOf(classic.count);
      return { point: withCreated({ labels, ...classic }, created), value: classic.count };
    }
    case "native": {
      const native = nativeOf(point as never);
      if (typeof native === "string") return native;
      const created = createdOf(native.count);
      return { point: withCreated({ labels, ...native }, created), value: native.count };
    }
    case "summary": {
      const summary = summaryOf(point as never);
      if (typeof summary === "string") return summary;
      const created = createdOf(summary.count);
      return { point: withCreated({ labels, ...summary }, created), value: summary.count };
    }
  }
}
