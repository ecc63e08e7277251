/**
 * A test-only Snappy block decoder: strict (throws on any malformed element, an offset before
 * the start, or a length that disagrees with the preamble), so that round trips prove the
 * compressor in `src/encoding/snappy.ts` writes valid blocks. Also lists the elements of a
 * block, so tests can check that matches were found (not only literals written).
 */

/** One element of a block. */
export type SnappyElement =
  | { readonly kind: "literal"; readonly length: number }
  | {
    readonly kind: "copy1" | "copy2" | "copy4";
    readonly length: number;
    readonly offset: number;
  };

/** Decodes a Snappy block; throws on malformed input. */
export function snappyDecompress(block: Uint8Array): Uint8Array {
  return decode(block).output;
}

/** The elements of a Snappy block, in order. */
export function snappyElements(block: Uint8Array): SnappyElement[] {
  return decode(block).elements;
}

function decode(block: Uint8Array): { output: Uint8Array; elements: SnappyElement[] } {
  let at = 0;
  let length = 0;
  for (let shift = 0;; shift += 7) {
    if (at >= block.length || shift > 28) throw new Error("snappy: bad length preamble");
    const byte = block[at++];
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  const output = new Uint8Array(length);
  const elements: SnappyElement[] = [];
  let o = 0;
  while (at < block.length) {
    const tag = block[at++];
    const type = tag & 3;
    if (type === 0) {
      let n = tag >>> 2;
      if (n >= 60) {
        const extra = n - 59;
        if (at + extra > block.length) throw new Error("snappy: truncated literal length");
        n = 0;
        for (let i = 0; i < extra; i++) n += block[at + i] * 2 ** (8 * i);
        at += extra;
      }
      const literal = n + 1;
      if (at + literal > block.length) throw new Error("snappy: truncated literal");
      if (o + literal > length) throw new Error("snappy: literal past the declared length");
      output.set(block.subarray(at, at + literal), o);
      at += literal;
      o += literal;
      elements.push({ kind: "literal", length: literal });
      continue;
    }
    let copyLength: number;
    let offset: number;
    let kind: "copy1" | "copy2" | "copy4";
    if (type === 1) {
      if (at + 1 > block.length) throw new Error("snappy: truncated copy1");
      copyLength = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | block[at++];
      kind = "copy1";
    } else if (type === 2) {
      if (at + 2 > block.length) throw new Error("snappy: truncated copy2");
      copyLength = (tag >>> 2) + 1;
      offset = block[at] | (block[at + 1] << 8);
      at += 2;
      kind = "copy2";
    } else {
      if (at + 4 > block.length) throw new Error("snappy: truncated copy4");
      copyLength = (tag >>> 2) + 1;
      offset = (block[at] | (block[at + 1] << 8) | (block[at + 2] << 16)) + block[at + 3] * 2 ** 24;
      at += 4;
      kind = "copy4";
    }
    if (offset === 0 || offset > o) throw new Error(`snappy: bad offset ${offset} at output ${o}`);
    if (o + copyLength > length) throw new Error("snappy: copy past the declared length");
    // Byte by byte: a copy may overlap what it writes (offset < length repeats a pattern).
    for (let i = 0; i < copyLength; i++, o++) output[o] = output[o - offset];
    elements.push({ kind, length: copyLength, offset });
  }
  if (o !== length) throw new Error(`snappy: decoded ${o} bytes, preamble says ${length}`);
  return { output, elements };
}
