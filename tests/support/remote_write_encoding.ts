/**
 * Remote-write requests as tests compare them: one uncompressed `WriteRequest` of a write
 * without limits, and the extra labels as `remoteWrite` validates them.
 */
import {
  encodeWrite,
  type ExtraLabels,
  extraLabels,
  type WriteItem,
} from "../../src/push/remote_write/encoder.ts";
import { snappyDecompress } from "./snappy.ts";

/** What else than samples a request carries (both default to true). */
export interface WriteOptions {
  readonly exemplars?: boolean;
  readonly nativeHistograms?: boolean;
}

/** The extra labels `{ labels }` gives a write. */
export function remoteWriteLabels(labels: Readonly<Record<string, string>>): ExtraLabels {
  return extraLabels(labels, "remote write");
}

/** The settings of a write without limits. */
export function settingsOf(labels: ExtraLabels, options: WriteOptions = {}) {
  return {
    labels,
    exemplars: options.exemplars ?? true,
    nativeHistograms: options.nativeHistograms ?? true,
    maxSeries: Infinity,
    maxBytes: Infinity,
  };
}

/** The one request of a write without limits, uncompressed. */
export function encodeWriteRequest(
  items: readonly WriteItem[],
  labels: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array {
  const { requests } = encodeWrite(items, settingsOf(labels, options), timestampMs);
  return snappyDecompress(requests[0].body);
}
