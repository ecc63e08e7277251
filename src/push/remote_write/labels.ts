/**
 * The labels of remote-write series: those added to every series of a write (validated and
 * encoded once), and how a series' own labels merge with them in name order.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import type { LabelSets } from "../../metrics/label_sets.ts";
import { escapeName, validateLabelName } from "../../validation.ts";

/** The labels added to every series of a request, sorted, each as its `Label` message. */
export interface ExtraLabels {
  readonly names: readonly string[];
  readonly encoded: readonly Uint8Array[];
  readonly hasJob: boolean;
}

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
  // An empty value is no label at all (Prometheus' data model).
  const names = Object.keys(escaped).sort(byCodeUnits).filter((name) => escaped[name] !== "");
  const encoded = names.map((name) => labelMessage(name, escaped[name]));
  return { names, encoded, hasJob: names.includes("job") };
}

/** {@linkcode extraLabels} for tests and benchmarks. */
export function remoteWriteLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  return extraLabels(labels, "remote write");
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

export function labelMessage(name: string, value: string): Uint8Array {
  const writer = new ProtoWriter(name.length + value.length * 3 + 8);
  writeLabel(writer, name, value);
  return writer.finish();
}

/** The `Label`s of a label dictionary's values (empty for ""), kept while it lives. */
const encodedCache = new WeakMap<readonly string[], { name: string; labels: Uint8Array[] }>();

/** The `Label` of each of `values` as the label `name`: each value encoded once, ever. */
export function encodedValues(name: string, values: readonly string[]): readonly Uint8Array[] {
  let cached = encodedCache.get(values);
  if (cached?.name !== name) encodedCache.set(values, cached = { name, labels: [] });
  const labels = cached.labels;
  for (let id = labels.length; id < values.length; id++) {
    labels.push(values[id] === "" ? new Uint8Array(0) : labelMessage(name, values[id]));
  }
  return labels;
}

/**
 * How own labels (`keys`, but the one named `extraName`) merge with the extra labels in name
 * order: step k is own label `ownNames[k]` or, when undefined, the extra label `added[k]`
 * (which also stands in for an own label of its name with an empty value). `__name__` goes
 * before step `nameAt`, the label named `extraName` (`le`, `quantile`, a state) before `extraAt`.
 */
export interface MergePlan {
  readonly keys: readonly string[];
  readonly extraName: string | undefined;
  readonly ownNames: readonly (string | undefined)[];
  readonly added: readonly (Uint8Array | undefined)[];
  readonly nameAt: number;
  readonly extraAt: number;
  /** The step of an own label named `job`, or -1. */
  readonly jobAt: number;
}

export function mergePlan(
  keys: readonly string[],
  extra: ExtraLabels,
  extraName: string | undefined,
): MergePlan {
  const own = keys.filter((name) => name !== extraName).sort(byCodeUnits);
  const ownNames: (string | undefined)[] = [];
  const added: (Uint8Array | undefined)[] = [];
  const names: string[] = [];
  for (let i = 0, j = 0; i < own.length || j < extra.names.length;) {
    if (j >= extra.names.length || (i < own.length && own[i] <= extra.names[j])) {
      ownNames.push(own[i]);
      added.push(own[i] === extra.names[j] ? extra.encoded[j++] : undefined);
      names.push(own[i++]);
    } else if (extra.names[j] === extraName) {
      j++; // the sample's own label replaces an extra one of its name
    } else {
      ownNames.push(undefined);
      added.push(extra.encoded[j]);
      names.push(extra.names[j++]);
    }
  }
  const before = (label: string | undefined) => {
    const k = label === undefined ? -1 : names.findIndex((name) => name > label);
    return k < 0 ? names.length : k;
  };
  const jobAt = ownNames.indexOf("job");
  return {
    keys,
    extraName,
    ownNames,
    added,
    nameAt: before("__name__"),
    extraAt: before(extraName),
    jobAt,
  };
}

/**
 * The merge plan of a stored metric's labels (own, constant and default ones, as a snapshot
 * has them), and, for the series at `slot` (set by `at`), step k's own `Label` by `labelOf`.
 */
export function storedLabels(
  labels: LabelSets,
  defaults: Readonly<Record<string, string>> | undefined,
  extra: ExtraLabels,
  extraName: string | undefined,
) {
  const own = labels.shape.labelNames;
  const constant: Record<string, string> = { ...defaults, ...labels.shape.constLabels };
  for (const name of own) delete constant[name];
  const plan = mergePlan([...own, ...Object.keys(constant)], extra, extraName);
  const positions = plan.ownNames.map((name) => name === undefined ? -1 : own.indexOf(name));
  const fixed = plan.ownNames.map((name) =>
    name === undefined || !Object.hasOwn(constant, name)
      ? undefined
      : encodedValues(name, [constant[name]])[0]
  );
  const values = labels.valuesByPosition.map((values, p) => encodedValues(own[p], values));
  const { seriesIds, width } = labels;
  let start = 0;
  return {
    plan,
    labelOf: (k: number) => {
      const position = positions[k];
      return position < 0 ? fixed[k] : values[position][seriesIds[start + position]];
    },
    at: (slot: number) => start = slot * width,
  };
}
