/**
 * Splitting one write's encoded series into requests of at most `maxSeries` series and
 * `maxBytes` bytes (before compression, metadata included).
 *
 * @module
 */

import type { EncodedSeries } from "./encoder.ts";

/** The limits of one request: series, and bytes before compression. */
export interface RequestLimits {
  readonly maxSeries: number;
  readonly maxBytes: number;
}

/** One request: series `[from, to)`, the metadata of `families` (ascending), its length. */
export interface RequestPlan {
  from: number;
  to: number;
  families: number[];
  bytes: number;
}

/** The requests of one write, and the series too large for any (never sent). */
export interface BatchPlan {
  readonly requests: readonly RequestPlan[];
  readonly oversized: readonly number[];
}

/**
 * Packs the series in order into requests within `limits`, with each family's metadata in the
 * requests holding its series where it fits (it is advisory: no series waits for it), and in
 * the first request with room for a family without series. An empty write is one request.
 */
export function planRequests(encoded: EncodedSeries, limits: RequestLimits): BatchPlan {
  const { maxSeries, maxBytes } = limits;
  const { metadata, ends, families } = encoded;
  const requests: RequestPlan[] = [];
  const oversized: number[] = [];
  const hasSeries = new Uint8Array(metadata.length);
  let request = { from: 0, to: 0, families: [] as number[], bytes: 0 };
  const close = (to: number) => {
    request.to = to;
    if (to > request.from || request.families.length > 0) requests.push(request);
    request = { from: to, to, families: [], bytes: 0 };
  };
  for (let i = 0; i < encoded.count; i++) {
    const size = ends[i] - (i === 0 ? 0 : ends[i - 1]);
    const family = families[i];
    if (family >= 0) hasSeries[family] = 1;
    if (size > maxBytes) {
      close(i);
      oversized.push(i);
      request.from = i + 1;
    } else {
      if (i > request.from && (i - request.from >= maxSeries || request.bytes + size > maxBytes)) {
        close(i);
      }
      request.bytes += size;
      // A family's series are contiguous: its metadata is the request's last one, if in.
      const metadataSize = family < 0 ? 0 : metadata[family].length;
      const fits = request.bytes + metadataSize <= maxBytes;
      if (family >= 0 && request.families.at(-1) !== family && fits) {
        request.bytes += metadataSize;
        request.families.push(family);
      }
    }
  }
  close(encoded.count);
  if (requests.length === 0) requests.push(request);
  for (let f = 0; f < metadata.length; f++) {
    const size = metadata[f].length;
    const fits = requests.find((request) => request.bytes + size <= maxBytes);
    if (hasSeries[f] === 1 || fits === undefined) continue;
    fits.families.push(f);
    fits.families.sort((a, b) => a - b);
    fits.bytes += size;
  }
  return { requests, oversized };
}
