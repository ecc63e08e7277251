/**
 * Concurrent scrapes of one aggregator or directory collector share collections: a scrape joins
 * the collection that starts next, never one already under way (which could miss the increments
 * made before the scrape arrived). At most one collection runs at a time, so a collection that
 * hangs (a hung file system) never has others pile up behind it.
 *
 * @module
 */

/** The collection under way and the next one, which scrapes arriving meanwhile share. */
export class CollectionSharing<T> {
  readonly #collect: () => Promise<T>;
  /** Throws when no collection may start any more (the aggregator is closed). */
  readonly #checkOpen: () => void;
  #underWay: Promise<T> | undefined;
  #next: Promise<T> | undefined;

  constructor(collect: () => Promise<T>, checkOpen: () => void) {
    this.#collect = collect;
    this.#checkOpen = checkOpen;
  }

  /**
   * The result of a collection that starts no earlier than now: a new one when none is under
   * way, else the one that follows it, shared by every caller arriving meanwhile.
   */
  join(): Promise<T> {
    if (this.#underWay === undefined) {
      const collection = this.#collect().finally(() => {
        this.#underWay = undefined;
      });
      this.#underWay = collection;
      return collection;
    }
    if (this.#next === undefined) {
      this.#next = this.#underWay.catch(() => {}).then(() => {
        this.#next = undefined;
        this.#checkOpen();
        return this.join();
      });
    }
    return this.#next;
  }
}
