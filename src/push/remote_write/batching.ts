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
  readonly from: number;
  readonly to: number;
  readonly families: readonly number[];
  readonly bytes: number;
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
  const requests: RequestPlan[] = [];
  const oversized: number[] = [];
  const metadata = encoded.metadata;
  const hasSeries = new Uint8Array(metadata.length);
  let from = 0;
  let bytes = 0;
  let families: number[] = [];
  let inRequest = new Set<number>();
  const close = (to: number) => {
    if (to > from || families.length > 0) {
      requests.push({ from, to, families: families.sort((a, b) => a - b), bytes });
    }
    from = to;
    bytes = 0;
    families = [];
    inRequest = new Set();
  };
  let start = 0;
  for (let i = 0; i < encoded.count; i++) {
    const end = encoded.ends[i];
    const size = end - start;
    start = end;
    const family = encoded.families[i];
    if (family >= 0) hasSeries[family] = 1;
    if (size > maxBytes) {
      close(i);
      oversized.push(i);
      from = i + 1;
      continue;
    }
    if (i > from && (i - from >= maxSeries || bytes + size > maxBytes)) close(i);
    bytes += size;
    if (family >= 0 && !inRequest.has(family) && bytes + metadata[family].length <= maxBytes) {
      bytes += metadata[family].length;
      families.push(family);
      inRequest.add(family);
    }
  }
  close(encoded.count);
  if (requests.length === 0) requests.push({ from: 0, to: 0, families: [], bytes: 0 });
  for (let f = 0; f < metadata.length; f++) {
    if (hasSeries[f] === 1) continue;
    const size = metadata[f].length;
    const k = requests.findIndex((request) => request.bytes + size <= maxBytes);
    if (k < 0) continue;
    const request = requests[k];
    requests[k] = {
      ...request,
      families: [...request.families, f].sort((a, b) => a - b),
      bytes: request.bytes + size,
    };
  }
  return { requests, oversized };
}
