/**
 * Sizes of HTTP bodies for `instrumentHandler({ bodySizes: true })`, through public Web APIs
 * only: a declared `Content-Length`, or the bytes of a response body counted as they pass.
 *
 * @module
 */

// Deno defines `ReadableStream` as a lazy getter on the global object: read it once here.
const ReadableStreamClass: typeof ReadableStream = ReadableStream;

/**
 * The `Content-Length` of `headers` as a number of bytes, or -1 when absent or not a
 * non-negative integer.
 *
 * @example
 * ```ts
 * import { contentLengthOf } from "./body_sizes.ts";
 * contentLengthOf(new Headers({ "content-length": "42" })); // 42
 * ```
 */
export function contentLengthOf(headers: Headers): number {
  const text = headers.get("content-length");
  if (text === null || text === "") return -1;
  const bytes = Number(text);
  return Number.isSafeInteger(bytes) && bytes >= 0 ? bytes : -1;
}

/**
 * `body`, passed through chunk by chunk, calling `done(bytes)` once with the bytes that went
 * through when it ends, fails or is cancelled (for instance when the client goes away). It pulls
 * only when its reader pulls, and takes `body`'s reader only at the first pull, so that building
 * it locks nothing.
 *
 * @example
 * ```ts
 * import { countedBody } from "./body_sizes.ts";
 * const counted = countedBody(new Response("hello").body!, (bytes) => console.log(bytes));
 * await new Response(counted).text(); // logs 5
 * ```
 */
export function countedBody(
  body: ReadableStream<Uint8Array>,
  done: (bytes: number) => void,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let bytes = 0;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    done(bytes);
  };
  return new ReadableStreamClass<Uint8Array>({
    async pull(controller) {
      try {
        reader ??= body.getReader();
        const chunk = await reader.read();
        if (chunk.done) {
          finish();
          controller.close();
          return;
        }
        bytes += chunk.value?.byteLength ?? 0;
        controller.enqueue(chunk.value);
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader === undefined ? body.cancel(reason) : reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
