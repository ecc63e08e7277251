/**
 * The labels of remote-write series as `Label` messages: those added to every series of a write
 * (validated and encoded once), and the plan of how a series' own labels merge with them.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import type { LabelSets } from "../../metrics/label_sets.ts";
import { escapeName, labelEntries } from "../../validation.ts";

/** Labels by name, each as its `Label` message (no label has an empty value). */
export type ExtraLabels = ReadonlyMap<string, Uint8Array>;

const EMPTY = new Uint8Array(0);

/** The extra labels of requests to `url`, validated and escaped (underscores). */
export function extraLabels(labels: Readonly<Record<string, string>>, url: string): ExtraLabels {
  const escaped = new Map<string, Uint8Array>();
  for (const [name, value] of labelEntries(labels, "labels", `for ${url}`)) {
    const escapedName = escapeName(name, "underscores", "label");
    escaped.set(escapedName, labelMessage(escapedName, value));
  }
  // An empty value is no label at all (Prometheus' data model).
  for (const [name, label] of escaped) if (label.length === 0) escaped.delete(name);
  return escaped;
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
  for (let id = cached.labels.length; id < values.length; id++) {
    cached.labels.push(labelMessage(name, values[id]));
  }
  return cached.labels;
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

/** How own labels named `keys` merge with `extra`, `__name__` and the sample's own label. */
export function labelPlan(keys: readonly string[], extra: ExtraLabels, sample?: string): LabelPlan {
  const all = new Set([...keys, ...extra.keys(), "__name__", sample ?? "__name__"]);
  const names = [...all].sort();
  return {
    keys,
    sampleLabel: sample,
    own: names.map((name) => keys.includes(name) && name !== sample ? name : undefined),
    fixed: names.map((name) => name === sample ? EMPTY : extra.get(name) ?? EMPTY),
    nameAt: names.indexOf("__name__"),
    sampleLabelAt: sample === undefined ? -1 : names.indexOf(sample),
    jobAt: names.indexOf("job"),
  };
}

/**
 * The plan of a stored metric's series (its constant labels and the registry's default ones
 * before the extra ones), and `fill(slot, pieces)`, which lays out a series' own labels.
 */
export function storedLabelPlan(
  labels: LabelSets,
  defaults: Readonly<Record<string, string>> | undefined,
  extra: ExtraLabels,
  sampleLabel: string | undefined,
) {
  const own = labels.shape.labelNames;
  const fixed = new Map(extra);
  for (const [name, value] of Object.entries({ ...defaults, ...labels.shape.constLabels })) {
    if (value !== "" && !own.includes(name)) fixed.set(name, labelMessage(name, value));
  }
  const plan = labelPlan(own, fixed, sampleLabel);
  const positions = plan.own.map((name) => name === undefined ? -1 : own.indexOf(name));
  const values = labels.valuesByPosition.map((values, p) => encodedValues(own[p], values));
  const { seriesIds, width } = labels;
  return {
    plan,
    fill(slot: number, pieces: Uint8Array[]): void {
      for (let k = 0; k < positions.length; k++) {
        const p = positions[k];
        const value = p < 0 ? EMPTY : values[p][seriesIds[slot * width + p]];
        pieces[k] = value.length === 0 ? plan.fixed[k] : value;
      }
    },
  };
}
