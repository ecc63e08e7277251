/**
 * The OTLP receiver's series: what decoded requests leave behind, kept as snapshot points and
 * collected like any custom collector (so every format, push and remote write see them). The
 * store is bounded — families, series per family and in all, each with an overflow series past
 * its cap — and forgets a series not written for `expireAfterMs` (5 minutes by default), so a
 * sender that stops or restarts leaves no ghosts.
 *
 * Time and retries: a cumulative point replaces the series' values, and one older than the
 * last one taken (by `time_unix_nano`) is ignored, so a retried or reordered request never
 * double-counts. A changed `start_time_unix_nano` (or a cumulative value that went down) is a
 * reset: the series starts again with the new start as `_created`. A monotonic delta sum is
 * added to its series unless it ends no later than the last delta taken — a retried delta is
 * then ignored rather than counted twice.
 *
 * @module
 */

import type { Collector, Labels, MetricFamily, MetricType } from "../model.ts";
import {
  escapedNameClash,
  escapeName,
  isWellFormed,
  OVERFLOW_LABEL_NAME,
  validateMetricName,
} from "../validation.ts";
import { exposedNames } from "../exposition/validate.ts";
import { attributeLabels, familyName } from "./names.ts";
import {
  type Attributes,
  FLAG_NO_RECORDED_VALUE,
  type OtlpMetric,
  type OtlpPointBase,
  type OtlpRequest,
  TEMPORALITY_CUMULATIVE,
  TEMPORALITY_DELTA,
} from "./otlp_types.ts";
import { OverflowSeries } from "./overflow.ts";
import { seriesKey } from "./translate.ts";
import { type Kind, pointUpdate } from "./point_update.ts";

/** Bounds and behaviour of the store (see `OtlpHandlerOptions` for the documented defaults). */
export interface OtlpStoreOptions {
  readonly expireAfterMs: number;
  readonly maxSeriesPerMetric: number;
  readonly maxSeries: number;
  readonly maxMetrics: number;
  readonly maxLabelCharacters: number;
  readonly resourceLabels: readonly string[];
  readonly scopeLabels: boolean;
  /** Whether a family name is taken by a metric of the registry (then refused). */
  readonly isTaken: (name: string, type: MetricType) => boolean;
  /** Milliseconds now; a parameter so tests can move time. */
  readonly now: () => number;
}

/** What one request did: points refused, and one message per reason (a few at most). */
export interface IngestResult {
  rejected: number;
  readonly reasons: string[];
}

/** The labels of the overflow series: those of a built-in metric's (`metrics/series_caps.ts`). */
const OVERFLOW_LABELS: Labels = Object.freeze({ [OVERFLOW_LABEL_NAME]: "true" });
/** The overflow label as scrapers without UTF-8 support read it. */
const OVERFLOW_LABEL_ESCAPED = escapeName(OVERFLOW_LABEL_NAME, "underscores", "label");
const MAX_REASONS = 8;

/** One series: its point as exposed, and what the next point is compared with. */
interface Series {
  readonly resource: string;
  // deno-lint-ignore no-explicit-any
  point: any;
  start: number;
  time: number;
  /** For counters: the value compared with the next cumulative point (or accumulated delta). */
  value: number;
  delta: boolean;
  seenAt: number;
  /** Characters of its label names and values, counted in the store's budget. */
  readonly labelCharacters: number;
  /** Its attributes as first sent (see `rawKeyOf`), a key of the family's `rawKeys`. */
  readonly rawKey: string;
}

interface Family {
  /** The names it exposes to a legacy scraper (`exposedNames`), held in the store's claims. */
  readonly claims: readonly string[];
  readonly name: string;
  readonly kind: Kind;
  help: string;
  readonly unit: string | undefined;
  readonly series: Map<string, Series>;
  /** The overflow series, once a series went past the caps. */
  overflow: { readonly values: OverflowSeries; seenAt: number; counted: boolean } | undefined;
  /** Attributes as sent (`rawKeyOf`) → series key: one entry per series at most. */
  readonly rawKeys: Map<string, string>;
}

interface TargetInfo {
  readonly labels: Labels;
  /** `seriesKey(labels)`: no two targets have the same. */
  readonly labelsKey: string;
  seenAt: number;
  readonly labelCharacters: number;
}

/** The bounded store the OTLP handler writes and the registry collects. */
export class OtlpStore implements Collector {
  readonly #options: OtlpStoreOptions;
  readonly #families = new Map<string, Family>();
  readonly #targets = new Map<string, TargetInfo>();
  /** The `labelsKey` of every target. */
  readonly #targetLabels = new Set<string>();
  /** Exposed names (as a legacy scraper reads them) → the family claiming them. */
  readonly #claimed = new Map<string, string>();
  #seriesCount = 0;
  /**
   * No series or target can expire before this time (ms): the oldest write left after the last
   * sweep, or a request since, plus `expireAfterMs`. A sweep walks every series, so requests
   * and scrapes before it skip it.
   */
  #nextSweepAt = Infinity;
  /** Characters of label names and values held, over every series and target. */
  #labelCharacters = 0;

  constructor(options: OtlpStoreOptions) {
    this.#options = options;
  }

  /** How many series are held (every family, overflow series included). */
  get seriesCount(): number {
    return this.#seriesCount;
  }

  /** Applies a decoded request; never throws for anything the request holds. */
  ingest(request: OtlpRequest): IngestResult {
    const result: IngestResult = { rejected: request.skippedPoints, reasons: [] };
    if (request.skippedPoints > 0) {
      addReason(result, `${request.skippedPoints} points over the request's limits`);
    }
    const now = this.#options.now();
    this.#expire(now);
    // Whatever this request writes is seen now (a clock that went back included).
    this.#nextSweepAt = Math.min(this.#nextSweepAt, now + this.#options.expireAfterMs);
    for (const { resource, scopes } of request.resources) {
      const resourceKey = seriesKey(Object.fromEntries(resource));
      if (resource.length > 0) this.#noteTarget(resourceKey, resource, now);
      const promoted = resource.filter(([key]) => this.#options.resourceLabels.includes(key));
      for (const scope of scopes) {
        const shared: (readonly [string, string])[] = [...promoted];
        if (this.#options.scopeLabels) {
          if (scope.scopeName !== "") shared.push(["otel_scope_name", scope.scopeName]);
          if (scope.scopeVersion !== "") shared.push(["otel_scope_version", scope.scopeVersion]);
        }
        for (const metric of scope.metrics) {
          this.#ingestMetric(metric, shared, rawKeyOf(shared, ""), resourceKey, now, result);
        }
      }
    }
    return result;
  }

  #noteTarget(key: string, resource: Attributes, now: number): void {
    const known = this.#targets.get(key);
    if (known !== undefined) {
      known.seenAt = now;
      return;
    }
    if (this.#targets.size >= this.#options.maxSeriesPerMetric) return;
    const labels = labelsOf(resource);
    if (labels === undefined) return;
    // Two resources whose attributes differ but give the same labels (a key given twice, `__a`
    // and `key__a`) would be one series written twice: the first keeps it.
    const labelsKey = seriesKey(labels);
    if (this.#targetLabels.has(labelsKey)) return;
    const labelCharacters = charactersOf(labels);
    if (this.#labelCharacters + labelCharacters > this.#options.maxLabelCharacters) return;
    this.#labelCharacters += labelCharacters;
    this.#targets.set(key, { labels, labelsKey, seenAt: now, labelCharacters });
    this.#targetLabels.add(labelsKey);
  }

  #ingestMetric(
    metric: OtlpMetric,
    shared: Attributes,
    sharedKey: string,
    resource: string,
    now: number,
    result: IngestResult,
  ): void {
    const { data } = metric;
    const points = data.points;
    if (points.length === 0) return;
    const refuse = (reason: string, count = points.length): void => {
      result.rejected += count;
      addReason(result, `metric ${JSON.stringify(metric.name)}: ${reason}`);
    };
    let kind: Kind;
    let delta = false;
    switch (data.kind) {
      case "gauge":
        kind = "gauge";
        break;
      case "sum":
        if (data.temporality === TEMPORALITY_DELTA && !data.monotonic) {
          return refuse("a non-monotonic delta sum cannot be exposed (dropped, as the spec says)");
        }
        if (data.temporality !== TEMPORALITY_DELTA && data.temporality !== TEMPORALITY_CUMULATIVE) {
          return refuse("aggregation temporality unspecified");
        }
        kind = data.monotonic ? "counter" : "gauge";
        delta = data.temporality === TEMPORALITY_DELTA;
        break;
      case "histogram":
      case "exponential":
        if (data.temporality !== TEMPORALITY_CUMULATIVE) {
          return refuse("only cumulative histograms are taken (delta ones are dropped)");
        }
        kind = data.kind === "histogram" ? "histogram" : "native";
        break;
      case "summary":
        kind = "summary";
        break;
      default:
        return;
    }
    const type = kind === "native" ? "histogram" : kind;
    const named = familyName(metric.name, metric.unit, type);
    try {
      validateMetricName(named.name);
    } catch {
      return refuse("invalid metric name");
    }
    let family = this.#families.get(named.name);
    if (family === undefined) {
      if (this.#options.isTaken(named.name, type)) {
        return refuse(`"${named.name}" is a metric of the registry already`);
      }
      if (this.#families.size >= this.#options.maxMetrics) {
        return refuse(`the receiver holds ${this.#options.maxMetrics} metrics already`);
      }
      // Names as a legacy scraper reads them: two families must not expose one name.
      const claims = exposedNames(escapeName(named.name, "underscores"), type);
      const clash = claims.find((claim) => this.#claimed.has(claim));
      if (clash !== undefined) {
        return refuse(
          `it would expose "${clash}", as metric "${this.#claimed.get(clash)}" does already`,
        );
      }
      for (const claim of claims) this.#claimed.set(claim, named.name);
      family = {
        claims,
        name: named.name,
        kind,
        help: isWellFormed(metric.description) ? metric.description : "",
        unit: named.unit,
        series: new Map(),
        overflow: undefined,
        rawKeys: new Map(),
      };
      this.#families.set(named.name, family);
    } else if (family.kind !== kind) {
      return refuse(`"${named.name}" was received as a ${family.kind} already`);
    }
    if (metric.description !== "" && isWellFormed(metric.description)) {
      family.help = metric.description;
    }
    for (const point of points) {
      const reason = this.#ingestPoint(family, point, shared, sharedKey, resource, delta, now);
      if (reason !== undefined) refuse(reason, 1);
    }
    // A family whose points were all refused (or ended) holds nothing: it goes now, not at
    // the next sweep, and frees its names.
    if (family.series.size === 0 && family.overflow === undefined) this.#forget(family);
  }

  #forget(family: Family): void {
    this.#families.delete(family.name);
    for (const claim of family.claims) this.#claimed.delete(claim);
  }

  /** Takes one point into its series; returns why it was refused, if it was. */
  #ingestPoint(
    family: Family,
    point: OtlpPointBase,
    shared: Attributes,
    sharedKey: string,
    resource: string,
    delta: boolean,
    now: number,
  ): string | undefined {
    // The attributes as sent find a known series without translating them again.
    const rawKey = rawKeyOf(point.attributes, sharedKey);
    let key = family.rawKeys.get(rawKey);
    let series = key === undefined ? undefined : family.series.get(key);
    if (series === undefined) {
      const reason = this.#newSeriesKey(family, point.attributes, shared);
      if (typeof reason === "string") return reason;
      key = reason.key;
      if (Object.hasOwn(reason.labels, OVERFLOW_LABEL_NAME)) {
        // A sender's own overflow series (an SDK past its cap): its points go into this
        // metric's overflow series, which adds them up with ours. It gets no series of its own,
        // so it can never be written twice beside ours.
        if ((point.flags & FLAG_NO_RECORDED_VALUE) !== 0) return undefined;
        return this.#overflow(family, key, point, delta, now);
      }
      series = family.series.get(key);
      if (series === undefined) {
        return this.#ingestNew(family, point, reason.labels, key, rawKey, resource, delta, now);
      }
    }
    key = key!;
    if ((point.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
      // The sender says the series ended: it leaves the output now rather than at expiry.
      if (series.resource === resource) this.#remove(family, key, series);
      return undefined;
    }
    if (series.resource !== resource) {
      return `series ${JSON.stringify(series.point.labels)} is sent by ` +
        `another resource; give each sender its own service.instance.id`;
    }
    const time = point.timeUnixNano;
    const start = point.startTimeUnixNano;
    // A point older than the one taken (a retry, a reordered request) changes nothing.
    if (delta ? time <= series.time : time < series.time) return undefined;
    if (start !== 0 && series.start !== 0 && start < series.start && !delta) return undefined;
    const update = pointUpdate(family.kind, point, series.point.labels, series, delta);
    if (typeof update === "string") return update;
    series.point = update.point;
    series.start = update.start ?? start;
    series.time = time;
    series.value = update.value;
    series.seenAt = now;
    return undefined;
  }

  /** The labels and key of a series not found by its attributes as sent, or why not. */
  #newSeriesKey(
    family: Family,
    attributes: Attributes,
    shared: Attributes,
  ): { labels: Labels; key: string } | string {
    const labels = labelsOf(shared.length === 0 ? attributes : [...shared, ...attributes]);
    if (labels === undefined) return "an attribute key is not a valid label name";
    const reserved = family.kind === "summary" ? "quantile" : family.kind === "gauge" ||
        family.kind === "counter"
      ? undefined
      : "le";
    if (reserved !== undefined && Object.hasOwn(labels, reserved)) {
      return `attribute "${reserved}" is reserved for this type`;
    }
    for (const name in labels) {
      // `otel.metric.overflow` itself marks a sender's overflow series (see #ingestPoint);
      // another name that legacy scrapers read as it would pass for the receiver's.
      if (
        name !== OVERFLOW_LABEL_NAME &&
        escapeName(name, "underscores", "label") === OVERFLOW_LABEL_ESCAPED
      ) {
        return `attribute "${name}" is read as "${OVERFLOW_LABEL_NAME}", reserved for the overflow series`;
      }
    }
    return { labels, key: seriesKey(labels) };
  }

  /** Takes the first point of a series (or puts it in the overflow series past the caps). */
  #ingestNew(
    family: Family,
    point: OtlpPointBase,
    labels: Labels,
    key: string,
    rawKey: string,
    resource: string,
    delta: boolean,
    now: number,
  ): string | undefined {
    // A series that ended stays ended: nothing to remove.
    if ((point.flags & FLAG_NO_RECORDED_VALUE) !== 0) return undefined;
    // The key as sent is kept beside the labels: counted in the budget as well.
    const labelCharacters = charactersOf(labels) + rawKey.length;
    const full = family.series.size >= this.#options.maxSeriesPerMetric ||
      this.#seriesCount >= this.#options.maxSeries ||
      this.#labelCharacters + labelCharacters > this.#options.maxLabelCharacters;
    if (full) return this.#overflow(family, key, point, delta, now);
    const update = pointUpdate(family.kind, point, labels, undefined, delta);
    if (typeof update === "string") return update;
    family.series.set(key, {
      resource,
      point: update.point,
      start: point.startTimeUnixNano,
      time: point.timeUnixNano,
      value: update.value,
      delta,
      seenAt: now,
      labelCharacters,
      rawKey,
    });
    family.rawKeys.set(rawKey, key);
    this.#seriesCount++;
    this.#labelCharacters += labelCharacters;
    return undefined;
  }

  /**
   * A point of a new series past the caps: it goes into the family's one overflow series
   * (`overflow.ts`), which adds up what such series record.
   */
  #overflow(
    family: Family,
    key: string,
    point: OtlpPointBase,
    delta: boolean,
    now: number,
  ): string | undefined {
    const values = pointUpdate(family.kind, point, OVERFLOW_LABELS, undefined, delta);
    if (typeof values === "string") return values;
    const overflow = family.overflow ??= {
      // One overflow series per family at most: bounded by `maxMetrics`. The series it
      // follows are bounded by the caps and, with their keys, by the label budget.
      values: new OverflowSeries(
        family.kind,
        OVERFLOW_LABELS,
        Math.min(this.#options.maxSeriesPerMetric, this.#options.maxSeries),
      ),
      seenAt: now,
      counted: false,
    };
    const isNewKey = family.kind !== "gauge" && !overflow.values.follows(key);
    if (isNewKey && this.#labelCharacters + key.length > this.#options.maxLabelCharacters) {
      return `series cap reached, and the receiver holds ${this.#options.maxLabelCharacters} ` +
        `characters of labels already (maxLabelCharacters)`;
    }
    const reason = overflow.values.add(key, values.point, point.timeUnixNano, delta);
    if (reason !== undefined) {
      return `series cap reached (${this.#options.maxSeriesPerMetric} per metric, ` +
        `${this.#options.maxSeries} in all), and ${reason}`;
    }
    if (isNewKey && overflow.values.follows(key)) this.#labelCharacters += key.length;
    if (!overflow.counted) {
      overflow.counted = true;
      this.#seriesCount++;
    }
    overflow.seenAt = now;
    return undefined;
  }

  /** Drops series (and targets) not written for `expireAfterMs`. */
  #expire(now: number): void {
    if (now < this.#nextSweepAt) return;
    const limit = now - this.#options.expireAfterMs;
    // The oldest write that stays: nothing expires before it has aged `expireAfterMs`.
    let oldest = Infinity;
    for (const family of this.#families.values()) {
      for (const [key, series] of family.series) {
        if (series.seenAt <= limit) this.#remove(family, key, series);
        else if (series.seenAt < oldest) oldest = series.seenAt;
      }
      if (family.overflow !== undefined && family.overflow.seenAt > limit) {
        oldest = Math.min(oldest, family.overflow.seenAt);
      } else if (family.overflow !== undefined) {
        if (family.overflow.counted) this.#seriesCount--;
        this.#labelCharacters -= family.overflow.values.keyCharacters;
        family.overflow = undefined;
      }
      if (family.series.size === 0 && family.overflow === undefined) this.#forget(family);
    }
    for (const [key, target] of this.#targets) {
      if (target.seenAt > limit) {
        oldest = Math.min(oldest, target.seenAt);
        continue;
      }
      this.#targets.delete(key);
      this.#targetLabels.delete(target.labelsKey);
      this.#labelCharacters -= target.labelCharacters;
    }
    this.#nextSweepAt = oldest + this.#options.expireAfterMs;
  }

  #remove(family: Family, key: string, series: Series): void {
    family.series.delete(key);
    family.rawKeys.delete(series.rawKey);
    this.#seriesCount--;
    this.#labelCharacters -= series.labelCharacters;
  }

  /** Snapshots of every family held (after dropping what expired). */
  collect(): MetricFamily[] {
    this.#expire(this.#options.now());
    const families: MetricFamily[] = [];
    if (this.#targets.size > 0) {
      families.push({
        type: "info",
        name: "target",
        help: "Target metadata",
        points: [...this.#targets.values()].map((target) => ({ labels: target.labels })),
      });
    }
    for (const family of this.#families.values()) {
      const points = [];
      for (const series of family.series.values()) points.push(series.point);
      if (family.overflow?.counted) points.push(family.overflow.values.point);
      const type = family.kind === "native" ? "histogram" : family.kind;
      const base = { type, name: family.name, help: family.help };
      families.push(
        (family.unit === undefined ? { ...base, points } : {
          ...base,
          unit: family.unit,
          points,
        }) as MetricFamily,
      );
    }
    return families;
  }

  /** Forgets everything. */
  clear(): void {
    this.#families.clear();
    this.#claimed.clear();
    this.#targets.clear();
    this.#targetLabels.clear();
    this.#seriesCount = 0;
    this.#nextSweepAt = Infinity;
    this.#labelCharacters = 0;
  }
}

function addReason(result: IngestResult, reason: string): void {
  if (result.reasons.length < MAX_REASONS && !result.reasons.includes(reason)) {
    result.reasons.push(reason);
  }
}

/** Attributes as sent, joined: equal for the same attributes in the same order. */
function rawKeyOf(attributes: Attributes, prefix: string): string {
  let key = prefix;
  // Length-prefixed, so no name or value can pass for another split.
  for (const [name, value] of attributes) {
    key += name.length + ":" + name + value.length + ":" + value;
  }
  return key;
}

/** Characters of label names and values (UTF-16 units: what the strings hold). */
function charactersOf(labels: Labels): number {
  let characters = 0;
  for (const name in labels) characters += name.length + labels[name].length;
  return characters;
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Attributes as labels, or `undefined` when a key or value cannot be a label: what passes
 * meets every label rule of the exposition checks (`exposition/validate.ts`), so that the
 * received families need no check at scrape time. Keys are non-empty (the decoders drop empty
 * ones), `attributeLabels` renames those starting with `__` and joins those the `underscores`
 * escaping writes alike; a clash under another escaping (`a.b` and `U__a_2e_b` under `values`)
 * is refused here.
 */
function labelsOf(attributes: Attributes): Labels | undefined {
  for (const [key, value] of attributes) {
    if (CONTROL.test(key) || !isWellFormed(key) || !isWellFormed(value)) return undefined;
  }
  const labels = attributeLabels(attributes);
  return escapedNameClash(Object.keys(labels)) === undefined ? labels : undefined;
}
