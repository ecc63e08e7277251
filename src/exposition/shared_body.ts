/**
 * A response body rendered chunk by chunk as readers pull it, and shared by the scrapes that
 * share one collection (see `src/http/shared_collection.ts`): each reader gets its own stream
 * over the same chunks, and the render goes on at the pace of the fastest one.
 *
 * @module
 */

import { concatChunks } from "./byte_writer.ts";
import type { ByteRender } from "./byte_render.ts";
import { unrefTimer } from "../platform.ts";

/** What a reader's stream tells, and how long it may take. */
export interface StreamOptions {
  /** Hears of a render that fails midway (the stream then errors: the client sees a cut body). */
  readonly onError: (error: unknown) => void;
  /** Called once when the stream is over: read to its end, cancelled, failed or cut off. */
  readonly onEnd?: () => void;
  /**
   * Milliseconds the stream may take to be read to its end; past them it errors (the client
   * sees a cut-off body) and is over. No limit when left out.
   */
  readonly deadlineMs?: number;
}

/** A body rendered lazily by a {@linkcode ByteRender}, read by one or more streams. */
export class SharedBody {
  readonly #render: ByteRender;
  /** The chunks rendered so far; a chunk every reader has read may be let go (`undefined`). */
  readonly #chunks: (Uint8Array<ArrayBuffer> | undefined)[] = [];
  #complete = false;
  #readers = 0;
  /** Set once no more readers can join: chunks are then let go as soon as all have read them. */
  #sealed = false;
  #dropped = 0;

  /** Renders the first chunks at once, so that a failure shows before any answer is sent. */
  constructor(render: ByteRender) {
    this.#render = render;
    this.#renderMore();
  }

  /** Whether the whole body is rendered. */
  get complete(): boolean {
    return this.#complete;
  }

  #renderMore(): void {
    const chunks = this.#render.next();
    if (chunks !== undefined) this.#chunks.push(...chunks);
    if (chunks === undefined || this.#render.over) this.#complete = true;
  }

  /** No reader joins any more: with one reader left, chunks go as soon as it has read them. */
  seal(): void {
    this.#sealed = true;
  }

  /** The whole body as one array (rendering the rest; one copy). */
  whole(): Uint8Array<ArrayBuffer> {
    while (!this.#complete) this.#renderMore();
    if (this.#dropped > 0) throw new Error("the body was streamed already");
    const chunks = this.#chunks as Uint8Array<ArrayBuffer>[];
    return chunks.length === 1 ? chunks[0] : concatChunks(chunks);
  }

  /**
   * A new stream of the body, which renders further chunks as it is read (see
   * {@linkcode StreamOptions} for what it tells and how long it may take).
   */
  stream(options: StreamOptions): ReadableStream<Uint8Array<ArrayBuffer>> {
    if (this.#dropped > 0) throw new Error("the body was streamed already");
    const { onError, onEnd, deadlineMs } = options;
    this.#readers++;
    let position = 0;
    let done = false;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const leave = () => {
      if (!done) {
        done = true;
        this.#readers--;
        clearTimeout(deadline);
        onEnd?.();
      }
    };
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      start: (controller) => {
        if (deadlineMs === undefined) return;
        // A reader that stalls (or a response nobody reads) is cut off rather than holding
        // the body, and whatever counts it, for ever. The timer keeps no program alive.
        deadline = setTimeout(() => {
          if (done) return;
          leave();
          controller.error(
            new Error(
              `the body was not read to its end within ${Math.round(deadlineMs)} ms; cut off`,
            ),
          );
        }, deadlineMs);
        unrefTimer(deadline);
      },
      pull: (controller) => {
        try {
          while (position >= this.#chunks.length && !this.#complete) this.#renderMore();
        } catch (error) {
          leave();
          onError(error);
          controller.error(error);
          return;
        }
        if (position < this.#chunks.length) {
          const chunk = this.#chunks[position]!;
          if (this.#sealed && this.#readers === 1) {
            this.#chunks[position] = undefined;
            this.#dropped++;
          }
          position++;
          controller.enqueue(chunk);
        } else {
          leave();
          controller.close();
        }
      },
      cancel: leave,
    }, { highWaterMark: 0 });
  }
}
