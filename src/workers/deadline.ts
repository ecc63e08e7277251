/**
 * A bound on how long a worker waits for its own registry's collection: a custom collector
 * that never settles must not stop heartbeats, answers, writes or `close()` for good.
 *
 * @module
 */

/** How long a worker waits for its own collection: the default deadline of a scrape. */
export const OWN_COLLECTION_DEADLINE_MS = 10_000;

/**
 * `source.collect()`, or a rejection naming `what` once `deadlineMs` passed. The collection
 * still running then is left to itself (its later failure goes unhandled nowhere).
 */
export function collectWithin<T>(
  source: { collect(): Promise<T> | T },
  deadlineMs: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Inside an async function a collector that throws synchronously rejects like any other.
  const collection = (async () => await source.collect())();
  collection.catch(() => {}); // Past the deadline nobody awaits it.
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: the collection did not settle within ${deadlineMs} ms`)),
      deadlineMs,
    );
  });
  return Promise.race([collection, expired]).finally(() => clearTimeout(timer));
}
