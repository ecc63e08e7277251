/**
 * Remote-write requests as tests compare them: the one `WriteRequest` of a write without limits
 * (as sent, and uncompressed), and the extra labels as `remoteWrite` validates them.
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

/** The one request of a write without limits, as sent: Snappy-compressed. */
export function encodeCompressedWriteRequest(
  items: readonly WriteItem[],
  labels: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array {
  return encodeWrite(items, settingsOf(labels, options), timestampMs).requests[0].body;
}

/** The one request of a write without limits, uncompressed (by the strict test decoder). */
export function encodeWriteRequest(
  items: readonly WriteItem[],
  labels: ExtraLabels,
  timestampMs: number,
  options: WriteOptions = {},
): Uint8Array {
  return snappyDecompress(encodeCompressedWriteRequest(items, labels, timestampMs, options));
}
