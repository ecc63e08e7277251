/**
 * The labels of remote-write series: the labels added to every series (`labels` of a write,
 * validated and pre-encoded once), and how a point's own labels merge with them in name order.
 *
 * @module
 */

import { ProtoWriter } from "../../encoding/protobuf.ts";
import { escapeName, validateLabelName } from "../../validation.ts";

// Field numbers of prometheus/prompb: TimeSeries.labels, Label.name, Label.value.
const SERIES_LABELS = 1, LABEL_NAME = 1, LABEL_VALUE = 2;

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
  for (const name of Object.keys(labels)) {
    try {
      validateLabelName(name);
    } catch (error) {
      throw new TypeError(`labels for ${url}: ${(error as Error).message}`);
    }
    if (typeof labels[name] !== "string") {
      throw new TypeError(
        `label "${name}" for ${url} must be a string, got ${typeof labels[name]}`,
      );
    }
    escaped[escapeName(name, "underscores", "label")] = labels[name];
  }
  // An empty value is no label at all (Prometheus' data model): nothing to add.
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

/** A `Label` message as a `TimeSeries.labels` field (tag and length included). */
export function labelMessage(name: string, value: string): Uint8Array {
  const writer = new ProtoWriter(name.length + value.length * 3 + 8);
  writeLabel(writer, SERIES_LABELS, name, value);
  return writer.finish();
}

const EMPTY = new Uint8Array(0);

/** The encoded `Label`s of a label dictionary's values, by the dictionary's value array. */
const encodedCache = new WeakMap<readonly string[], { name: string; labels: Uint8Array[] }>();

/**
 * The `Label` message of each of `values` (a label dictionary's, by id) as the label `name`,
 * empty for an empty value (no label): each distinct value encoded once, kept with the
 * dictionary (which only grows) and extended when it grew.
 */
export function encodedValues(name: string, values: readonly string[]): readonly Uint8Array[] {
  let cached = encodedCache.get(values);
  if (cached?.name !== name) encodedCache.set(values, cached = { name, labels: [] });
  const labels = cached.labels;
  for (let id = labels.length; id < values.length; id++) {
    labels.push(values[id] === "" ? EMPTY : labelMessage(name, values[id]));
  }
  return labels;
}

export function writeLabel(out: ProtoWriter, field: number, name: string, value: string): void {
  const label = out.begin(field);
  out.string(LABEL_NAME, name);
  out.string(LABEL_VALUE, value);
  out.end(label);
}

/**
 * How a point's own labels (keys in their order, without the one named `extraName`) merge with
 * the extra labels in code-unit order: `steps[k]` is an own label's name (its value read per
 * point) or an extra label's message; `__name__` goes before step `nameAt`, the extra label
 * (`le`, `quantile`, a state set's name) before step `extraAt`.
 */
export interface MergePlan {
  readonly keys: readonly string[];
  readonly extraName: string | undefined;
  readonly ownNames: readonly (string | undefined)[];
  /** For an own label, the extra label of the same name (used when the own value is empty). */
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
  let i = 0;
  let j = 0;
  while (i < own.length || j < extra.names.length) {
    if (j >= extra.names.length || (i < own.length && own[i] <= extra.names[j])) {
      const name = own[i++];
      ownNames.push(name);
      added.push(name === extra.names[j] ? extra.encoded[j++] : undefined);
      names.push(name);
    } else {
      const name = extra.names[j];
      // The extra label of the point's samples (`le`, …) replaces an added one of its name.
      if (name !== extraName) {
        ownNames.push(undefined);
        added.push(extra.encoded[j]);
        names.push(name);
      }
      j++;
    }
  }
  const after = (label: string | undefined) => {
    if (label === undefined) return names.length;
    const k = names.findIndex((name) => name > label);
    return k < 0 ? names.length : k;
  };
  return {
    keys,
    extraName,
    ownNames,
    added,
    nameAt: after("__name__"),
    extraAt: after(extraName),
    jobAt: ownNames.indexOf("job"),
  };
}
