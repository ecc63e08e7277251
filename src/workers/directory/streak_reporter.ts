/**
 * Reporting each problem of the directory mode once per streak.
 *
 * @module
 */

/** The `onError` option checked; the default prints one line with `console.error`. */
export function checkOnError(where: string, onError: unknown): (error: Error) => void {
  if (onError === undefined) return (error) => console.error(error.message);
  if (typeof onError !== "function") {
    throw new TypeError(`${where}: onError must be a export function`);
  }
  return onError as (error: Error) => void;
}

/**
 * Reports each problem once per streak: a key reported stays quiet until `clear(key)` (the
 * thing worked again). Keys are files or operations; their number is bounded by the directory.
 */
export class StreakReporter {
  readonly #failing = new Set<string>();
  constructor(readonly onError: (error: Error) => void) {}

  report(key: string, error: unknown): void {
    if (this.#failing.has(key)) return;
    if (this.#failing.size >= 10_000) this.#failing.clear();
    this.#failing.add(key);
    const reported = error instanceof Error ? error : new Error(String(error));
    try {
      this.onError(reported);
    } catch {
      // A throwing onError must not break a scrape or a write.
    }
  }

  clear(key: string): void {
    this.#failing.delete(key);
  }

  /** Forgets the keys for which `keep` says no (files gone from the directory). */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.#failing) if (!keep(key)) this.#failing.delete(key);
  }
}
