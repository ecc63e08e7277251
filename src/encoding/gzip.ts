/**
 * gzip for response bodies: `node:zlib` where the runtime ships it (Deno, Bun, Node, workerd with
 * `nodejs_compat`), the Web `CompressionStream` everywhere else. `node:zlib` is imported lazily,
 * on the first compressed answer, so that importing the library never fails on a runtime
 * without it.
 *
 * @module
 */

/** Compresses `bytes` to a gzip member at `level` (ignored by the Web fallback). */
type GzipFunction = (
  bytes: Uint8Array<ArrayBuffer>,
  level: number,
) => Promise<Uint8Array<ArrayBuffer>>;

/** The slice of `node:zlib` we use. */
interface NodeZlib {
  gzip(
    bytes: Uint8Array,
    options: { level: number },
    callback: (error: Error | null, result: Uint8Array) => void,
  ): void;
}

/** The gzip level used when none is given: see `compressionLevel` in `MetricsHandlerOptions`. */
export const DEFAULT_COMPRESSION_LEVEL = 1;

/** gzip through the Web Compression Streams API (always level 6 in practice). */
async function gzipWithCompressionStream(
  bytes: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const compressed = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(compressed).arrayBuffer());
}

function gzipWithZlib(zlib: NodeZlib): GzipFunction {
  return (bytes, level) =>
    new Promise((resolve, reject) => {
      zlib.gzip(bytes, { level }, (error, result) => {
        if (error !== null) reject(error);
        // A Node Buffer is a Uint8Array view (perhaps on a larger pool): keep exactly its bytes.
        else {
          resolve(
            new Uint8Array(
              result.buffer,
              result.byteOffset,
              result.byteLength,
            ) as Uint8Array<ArrayBuffer>,
          );
        }
      });
    });
}

/** Which implementation to use, decided once, on first use. */
let implementation: Promise<GzipFunction> | undefined;

/** Finds `node:zlib`, or falls back to `CompressionStream` when the runtime has none. */
async function chooseImplementation(): Promise<GzipFunction> {
  try {
    // A specifier held in a variable keeps bundlers for runtimes without `node:` modules
    // (workerd without nodejs_compat) from failing the build on it; it is resolved only here.
    const specifier = "node:zlib";
    const zlib = await import(specifier) as NodeZlib;
    if (typeof zlib?.gzip === "function") return gzipWithZlib(zlib);
  } catch {
    // No node:zlib here: the Web API below is part of every runtime we support.
  }
  return gzipWithCompressionStream;
}

/** How many bodies were gzipped so far: lets tests see that concurrent scrapes share one. */
export let compressedBodies = 0;

/**
 * gzips `bytes` at `level` (1 fastest … 9 smallest) with the fastest implementation the runtime
 * offers. The level is honoured by `node:zlib` only; `CompressionStream` has a fixed level.
 */
export async function gzip(
  bytes: Uint8Array<ArrayBuffer>,
  level: number = DEFAULT_COMPRESSION_LEVEL,
): Promise<Uint8Array<ArrayBuffer>> {
  implementation ??= chooseImplementation();
  compressedBodies++;
  return (await implementation)(bytes, level);
}

/** For tests: forces the Web fallback (`true`) or returns to automatic choice (`false`). */
export function useCompressionStreamForTesting(force: boolean): void {
  implementation = force ? Promise.resolve(gzipWithCompressionStream) : undefined;
}
