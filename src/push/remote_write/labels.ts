/**
 * The labels of remote-write series as `Label` messages: those added to every series of a write
 * (validated and encoded once), and the plan of how a series' own labels merge with them.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import type { LabelSets } from "../../metrics/label_sets.ts";
import { escapeName, validateLabelName } from "../../validation.ts";

/** Labels sorted by name, each as its `Label` message (no label has an empty value). */
export interface ExtraLabels {
  readonly names: readonly string[];
  readonly encoded: readonly Uint8Array[];
}

const EMPTY = new Uint8Array(0);

/** The extra labels of requests to `url`, validated, escaped (underscores) and sorted. */
export function extraLabels(labels: Readonly<Record<string, string>>, url: string): ExtraLabels {
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError(`labels for ${url} must be an object of label names to string values`);
  }
  const escaped: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`labels for ${url}: ${(error as Error).message}`);
    }
    if (typeof value !== "string") {
      throw new TypeError(`label "${name}" for ${url} must be a string, got ${typeof value}`);
    }
    escaped[escapeName(name, "underscores", "label")] = value;
  }
  return sortedLabels(escaped);
}

/** {@linkcode extraLabels} for tests and benchmarks. */
export function remoteWriteLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  return extraLabels(labels, "remote write");
}

/** `labels` sorted and encoded; an empty value is no label at all (Prometheus' data model). */
function sortedLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  const names = Object.keys(labels).sort(byCodeUnits).filter((name) => labels[name] !== "");
  return { names, encoded: names.map((name) => labelMessage(name, labels[name])) };
}

export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A `Label` message as the field `field` (by default `TimeSeries.labels`), tag included. */
export function writeLabel(out: ProtoWriter, name: string, value: string, field = 1): void {
  const label = out.begin(field);
  out.string(1, name);
  out.string(2, value);
  out.end(label);
}

const labelWriter = new ProtoWriter(256);

/** The `Label` message of `name="value"`, or no bytes for an empty value. */
export function labelMessage(name: string, value: string): Uint8Array {
  if (value === "") return EMPTY;
  labelWriter.reset();
  writeLabel(labelWriter, name, value);
  return labelWriter.finish();
}

/** The `Label`s of a label dictionary's values (empty for ""), kept while it lives. */
const encodedCache = new WeakMap<readonly string[], { name: string; labels: Uint8Array[] }>();

/** The `Label` of each of `values` as the label `name`: each value encoded once, ever. */
export function encodedValues(name: string, values: readonly string[]): readonly Uint8Array[] {
  let cached = encodedCache.get(values);
  if (cached?.name !== name) encodedCache.set(values, cached = { name, labels: [] });
  const labels = cached.labels;
  for (let id = labels.length; id < values.length; id++) {
    labels.push(labelMessage(name, values[id]));
  }
  return labels;
}

/**
 * The labels of a series in name order, as pieces: piece k is the own label `own[k]` if it has
 * a value, else `fixed[k]` (an extra label, or no bytes). Piece `nameAt` is `__name__`, piece
 * `sampleLabelAt` the label of the sample itself (`le`, `quantile`, a state), if any.
 */
export interface LabelPlan {
  readonly keys: readonly string[];
  readonly sampleLabel: string | undefined;
  readonly own: readonly (string | undefined)[];
  readonly fixed: readonly Uint8Array[];
  readonly nameAt: number;
  readonly sampleLabelAt: number;
  readonly jobAt: number;
}

/** How own labels named `keys` merge with `extra`, `__name__` and `sampleLabel`. */
export function labelPlan(
  keys: readonly string[],
  extra: ExtraLabels,
  sampleLabel?: string,
): LabelPlan {
  const all = new Set([...keys, ...extra.names, "__name__", sampleLabel ?? "__name__"]);
  const names = [...all].sort(byCodeUnits);
  return {
    keys,
    sampleLabel,
    own: names.map((name) => keys.includes(name) && name !== sampleLabel ? name : undefined),
    fixed: names.map((name) =>
      name === sampleLabel ? EMPTY : extra.encoded[extra.names.indexOf(name)] ?? EMPTY
    ),
    nameAt: names.indexOf("__name__"),
    sampleLabelAt: sampleLabel === undefined ? -1 : names.indexOf(sampleLabel),
    jobAt: names.indexOf("job"),
  };
}

/**
 * The plan of a stored metric's series (own labels, then its constant and the registry's
 * default labels before the extra ones), and `fill(slot, pieces)`, which writes a series' own
 * pieces.
 */
export function storedLabelPlan(
  labels: LabelSets,
  defaults: Readonly<Record<string, string>> | undefined,
  extra: ExtraLabels,
  sampleLabel: string | undefined,
) {
  const own = labels.shape.labelNames;
  const constant: Record<string, string> = { ...defaults, ...labels.shape.constLabels };
  for (const name of own) delete constant[name];
  const fixed = new Map(extra.names.map((name, i) => [name, extra.encoded[i]]));
  for (const [name, value] of Object.entries(constant)) {
    if (value !== "") fixed.set(name, labelMessage(name, value));
  }
  const names = [...fixed.keys()].sort(byCodeUnits);
  const plan = labelPlan(
    own,
    { names, encoded: names.map((name) => fixed.get(name)!) },
    sampleLabel,
  );
  const positions = plan.own.map((name) => name === undefined ? -1 : own.indexOf(name));
  const values = labels.valuesByPosition.map((values, p) => encodedValues(own[p], values));
  const { seriesIds, width } = labels;
  return {
    plan,
    fill(slot: number, pieces: Uint8Array[]): void {
      for (let k = 0; k < positions.length; k++) {
        const p = positions[k];
        const value = p < 0 ? plan.fixed[k] : values[p][seriesIds[slot * width + p]];
        pieces[k] = value.length === 0 ? plan.fixed[k] : value;
      }
    },
  };
}
