/**
 * Writes one snapshot family (`MetricFamily`: a custom collector's, a merged worker's, a
 * summary's…) in a text format: the lines of Prometheus text 0.0.4 or of OpenMetrics 1.0
 * (without the closing `# EOF`, which the render adds once), into a `ChunkWriter` (the byte
 * render) or, for `renderText` and `renderOpenMetrics`, which return strings, into a
 * `StringSink` (the same lines, never encoded and decoded back). Metrics read from storage are
 * written by the cursors of `storage_cursors.ts` with the same headers, label text rules
 * (`format.ts`) and exemplar text.
 *
 * @module
 */

import type { Exemplar, MetricFamily, StateSetPoint, SummaryPoint } from "../model.ts";
import { type EscapingScheme, isLegacyMetricName } from "../validation.ts";
import { DEFAULT_ESCAPING } from "./escaping.ts";
import { escapeFamily } from "./escaping.ts";

/** Where the lines go: a `ChunkWriter` (as UTF-8) or a `StringSink`. */
export interface LineSink {
  /** Appends `text` (usually many lines joined). */
  encode(text: string): void;
}

/**
 * Lines gathered as strings. Each batch is one flat string; the batches are appended to each
 * other (a rope of a few hundred pieces, not of every line), which is flattened once, by
 * whoever reads the text.
 */
export class StringSink implements LineSink {
  #text = "";

  encode(text: string): void {
    this.#text += text;
  }

  /** Everything appended. */
  finish(): string {
    return this.#text;
  }
}

/**
 * Renders snapshot families as text 0.0.4, or as OpenMetrics (ending with `# EOF`) when
 * `openMetrics`: `renderText` and `renderOpenMetrics`.
 */
export function familiesText(
  families: readonly MetricFamily[],
  openMetrics: boolean,
  escaping: EscapingScheme = DEFAULT_ESCAPING,
): string {
  const sink = new StringSink();
  for (const family of families) writeFamily(sink, family, openMetrics, escaping);
  if (openMetrics) sink.encode("# EOF\n");
  return sink.finish();
}
import {
  escapeHelpOpenMetrics,
  escapeHelpText,
  escapeLabelValue,
  formatBounds,
  formatFloat,
  formatLabels,
  formatLabelsSplit,
  formatMetricName,
  hasSum,
  seriesText,
} from "./format.ts";

/** The `# TYPE` of each family type in the text format 0.0.4. */
const TEXT_TYPES: Record<MetricFamily["type"], string> = {
  counter: "counter",
  gauge: "gauge",
  unknown: "untyped",
  histogram: "histogram",
  summary: "summary",
  info: "gauge",
  stateset: "gauge",
};

/**
 * The `# HELP`, `# TYPE` (and in OpenMetrics `# UNIT`) lines of a family whose names are
 * already escaped. The text format names a counter's lines after `x_total` and an info's after
 * `x_info`, and has no units.
 */
export function familyHeader(family: MetricFamily, openMetrics: boolean): string {
  const name = family.name;
  const quoted = !isLegacyMetricName(name);
  if (openMetrics) {
    const written = formatMetricName(name, quoted);
    const unit = family.unit !== undefined && family.unit !== ""
      ? "# UNIT " + written + " " + family.unit + "\n"
      : "";
    return "# HELP " + written + " " + escapeHelpOpenMetrics(family.help) + "\n# TYPE " +
      written + " " + family.type + "\n" + unit;
  }
  const sampleName = family.type === "counter"
    ? name + "_total"
    : family.type === "info"
    ? name + "_info"
    : name;
  const written = formatMetricName(sampleName, quoted);
  return "# HELP " + written + " " + escapeHelpText(family.help) + "\n# TYPE " + written + " " +
    TEXT_TYPES[family.type] + "\n";
}

/** ` # {trace_id="abc"} 0.5 1700000000.123`, or nothing without an exemplar. */
export function formatExemplar(exemplar: Exemplar | undefined): string {
  if (exemplar === undefined) return "";
  return " # " + (formatLabels(exemplar.labels) || "{}") + " " + formatFloat(exemplar.value) +
    (exemplar.timestamp === undefined ? "" : " " + String(exemplar.timestamp));
}

/**
 * Writes `given` (names escaped as `escaping` says first) in OpenMetrics when `openMetrics`,
 * else in the text format 0.0.4 (which has no `_created` lines nor exemplars).
 */
export function writeFamily(
  writer: LineSink,
  given: MetricFamily,
  openMetrics: boolean,
  escaping: EscapingScheme,
): void {
  const family = escapeFamily(given, escaping);
  const name = family.name;
  // Only under `allow-utf-8` can a name still be outside the legacy alphabet here.
  const quoted = !isLegacyMetricName(name);
  writer.encode(familyHeader(family, openMetrics));
  const out = new LineBatch(writer);
  const line = (sampleName: string, labelText: string, value: number, tail = ""): void => {
    out.add(seriesText(sampleName, labelText, quoted) + " " + formatFloat(value) + tail + "\n");
  };
  switch (family.type) {
    case "counter":
      for (const point of family.points) {
        const labelText = formatLabels(point.labels);
        if (!openMetrics) {
          line(name + "_total", labelText, point.value);
          continue;
        }
        line(name + "_total", labelText, point.value, formatExemplar(point.exemplar));
        if (point.created !== undefined) {
          line(name + "_created", labelText, point.created);
        }
      }
      break;
    case "gauge":
    case "unknown":
      for (const point of family.points) {
        line(name, formatLabels(point.labels), point.value);
      }
      break;
    case "histogram":
      for (const point of family.points) {
        const { before, after } = formatLabelsSplit(point.labels, "le");
        const bucketPrefix = seriesText(name + "_bucket", before, quoted);
        const closing = after + " ";
        const boundTexts = formatBounds(point.upperBounds);
        const bucketCounts = point.bucketCounts;
        const exemplars = openMetrics ? point.exemplars : undefined;
        for (let i = 0; i < boundTexts.length; i++) {
          out.add(
            bucketPrefix + boundTexts[i] + closing + formatFloat(bucketCounts[i]) +
              (exemplars === undefined ? "" : formatExemplar(exemplars[i])) + "\n",
          );
        }
        const labelText = formatLabels(point.labels);
        line(name + "_count", labelText, point.count);
        if (hasSum(point)) line(name + "_sum", labelText, point.sum);
        if (openMetrics && point.created !== undefined) {
          line(name + "_created", labelText, point.created);
        }
      }
      break;
    case "summary":
      for (const point of family.points) {
        writeQuantileLines(out, name, point, quoted);
        const labelText = formatLabels(point.labels);
        line(name + "_count", labelText, point.count);
        line(name + "_sum", labelText, point.sum);
        if (openMetrics && point.created !== undefined) {
          line(name + "_created", labelText, point.created);
        }
      }
      break;
    case "info":
      for (const point of family.points) line(name + "_info", formatLabels(point.labels), 1);
      break;
    case "stateset":
      for (const point of family.points) writeStateLines(out, name, point, quoted);
      break;
  }
  out.flush();
}

/**
 * Lines on their way into a sink: gathered and written a thousand at a time as one flat
 * string (`join`), which a `ChunkWriter` encodes natively, rather than each line walked by
 * code units or kept as a rope of small pieces.
 */
class LineBatch {
  readonly #writer: LineSink;
  readonly #lines: string[] = [];

  constructor(writer: LineSink) {
    this.#writer = writer;
  }

  add(line: string): void {
    const lines = this.#lines;
    lines.push(line);
    if (lines.length >= 1024) this.flush();
  }

  flush(): void {
    if (this.#lines.length === 0) return;
    this.#writer.encode(this.#lines.join(""));
    this.#lines.length = 0;
  }
}

/** A summary series' quantile samples, `name{…,quantile="0.5"} value` (both formats). */
function writeQuantileLines(
  out: LineBatch,
  name: string,
  point: SummaryPoint,
  quoted: boolean,
): void {
  if (point.quantiles.length === 0) return;
  const { before, after } = formatLabelsSplit(point.labels, "quantile");
  const prefix = seriesText(name, before, quoted);
  for (const { quantile, value } of point.quantiles) {
    out.add(prefix + formatFloat(quantile) + after + " " + formatFloat(value) + "\n");
  }
}

/**
 * A state set series' samples, one per state with the state in the label named after the
 * family, 1 for the current state and 0 for the others (both formats).
 */
function writeStateLines(
  out: LineBatch,
  name: string,
  point: StateSetPoint,
  quoted: boolean,
): void {
  const { before, after } = formatLabelsSplit(point.labels, name);
  const prefix = seriesText(name, before, quoted);
  for (const state of point.states) {
    out.add(prefix + escapeLabelValue(state.name) + after + (state.enabled ? " 1.0\n" : " 0.0\n"));
  }
}
