/**
 * Idle expiry of a metric's series (`expireAfterMs`), for `SeriesTable`.
 *
 * The hot path of a child reads no clock and writes nothing for expiry: each metric type names
 * a number of a series that changes with every update (a counter's total, a histogram's or a
 * summary's count, a gauge's update count), and a sweep compares it with what it saw at its
 * last pass. A series whose number has not changed for `expireAfterMs` is removed like
 * `remove()` removes one, and the table then compacts its storage at once, so that every child
 * still held sees its store replaced on its next use; the table brings an expired series back
 * for it (from zero, with a new creation time) instead of detaching it as after `remove()`.
 * The metric keeps no history for that: each replaced store, which lives only while a child
 * holds it, remembers which of its series expired. A child left unused while its series first
 * moved to a newer store and then went cannot tell how it went: it brings it back.
 *
 * A sweep runs when a scrape collects the metric (before it reads anything) and, so that memory
 * comes back when nobody scrapes, from a timer that does not keep the program alive, armed only
 * while the metric has series that may expire. A series therefore leaves between
 * `expireAfterMs` and `expireAfterMs` plus one sweep period (a quarter of it) after its last
 * update; a series first seen by a sweep counts as updated then.
 *
 * @module
 */

import type { SeriesStore } from "./series_store.ts";
import { unrefTimer } from "../platform.ts";

/** What a sweep works on: the metric's table (see `SeriesTable`). */
export interface ExpiringSeries {
  /** The store of the live series. */
  readonly store: SeriesStore;
  /** The live slots whose series may expire (the overflow series never does). */
  expirableSlots(): number[];
  /** Removes the series at these slots and compacts (see the module documentation). */
  expireSlots(slots: readonly number[]): void;
}

/** A number of the series at `slot` that changes with every update (see the module doc). */
export type ActivityOf = (store: SeriesStore, slot: number) => number;

/** What a replaced store of an expiring metric remembers (see `SeriesExpiry.revives`). */
interface ReplacedStore {
  /** Where each slot went (the array the store keeps anyway), -1 for a series gone. */
  readonly forwarding: Int32Array;
  /** The slots that went because they expired. */
  readonly expired: ReadonlySet<number>;
}

/**
 * The monotonic clock in milliseconds: idleness is a duration, so a step of the wall clock
 * must neither expire a series updated a moment ago nor hold an idle one back.
 */
const monotonicMs = (): number => performance.now();

/** The milliseconds clock of sweeps; tests replace it (see `useExpiryClock`). */
let clock: () => number = monotonicMs;

/**
 * Replaces the clock sweeps read (for tests: a model test moves time by hand); `undefined`
 * restores the monotonic clock.
 */
export function useExpiryClock(replacement: (() => number) | undefined): void {
  clock = replacement ?? monotonicMs;
}

/** The expiry of one metric's series: see the module documentation. */
export class SeriesExpiry {
  /** Milliseconds without an update after which a series is removed. */
  readonly expireAfterMs: number;
  readonly #period: number;
  readonly #activityOf: ActivityOf;
  /** Per slot, the activity number the last sweep saw. */
  #seen = new Float64Array(8);
  /** Per slot, when that number last changed (NaN: no sweep saw the series yet). */
  #since = new Float64Array(8).fill(NaN);
  #nextSweepAt = -Infinity;
  #timerArmed = false;
  /** The slots the sweep in progress expires (for `compacted`). */
  #expiring: ReadonlySet<number> = new Set();
  /** Per replaced store: where its slots went, and which of them expired. */
  readonly #replaced = new WeakMap<SeriesStore, ReplacedStore>();
  readonly #table: WeakRef<ExpiringSeries>;

  /** The expiry of `table`'s series. */
  constructor(table: ExpiringSeries, expireAfterMs: number, activityOf: ActivityOf) {
    this.expireAfterMs = expireAfterMs;
    this.#period = Math.max(1, expireAfterMs / 4);
    this.#activityOf = activityOf;
    this.#table = new WeakRef(table);
  }

  /** A series was made at `slot`: no sweep saw it yet; arms the timer. */
  added(slot: number): void {
    if (slot >= this.#since.length) {
      const capacity = slot + Math.max(8, slot >> 2);
      const seen = new Float64Array(capacity);
      seen.set(this.#seen);
      this.#seen = seen;
      const since = new Float64Array(capacity).fill(NaN);
      since.set(this.#since);
      this.#since = since;
    }
    this.#since[slot] = NaN;
    if (!this.#timerArmed) this.#armTimer();
  }

  /** The table compacted `oldStore` away: each old slot went to `forwarding[slot]` (-1: gone). */
  compacted(oldStore: SeriesStore, forwarding: Int32Array, liveCount: number): void {
    this.#replaced.set(oldStore, { forwarding, expired: this.#expiring });
    this.#expiring = new Set();
    const capacity = Math.max(8, liveCount);
    const seen = new Float64Array(capacity);
    const since = new Float64Array(capacity).fill(NaN);
    for (let slot = 0; slot < forwarding.length; slot++) {
      const to = forwarding[slot];
      if (to < 0) continue;
      seen[to] = this.#seen[slot];
      since[to] = this.#since[slot];
    }
    this.#seen = seen;
    this.#since = since;
  }

  /**
   * Whether a handle whose series at `slot` of the replaced `oldStore` is gone brings it back
   * (it expired, or it moved on before it went: see the module documentation) rather than
   * detach (it was removed by `remove()` or `clear()`).
   */
  revives(oldStore: SeriesStore, slot: number): boolean {
    const replaced = this.#replaced.get(oldStore);
    return replaced === undefined || replaced.forwarding[slot] >= 0 ||
      replaced.expired.has(slot);
  }

  /** Sweeps when the last sweep is a period old (a scrape calls it before reading). */
  sweepIfDue(): void {
    const now = clock();
    if (now >= this.#nextSweepAt) this.#sweep(now);
  }

  #sweep(now: number): void {
    const table = this.#table.deref();
    if (table === undefined) return;
    this.#nextSweepAt = now + this.#period;
    const store = table.store;
    const seen = this.#seen;
    const since = this.#since;
    const expired: number[] = [];
    for (const slot of table.expirableSlots()) {
      const activity = this.#activityOf(store, slot);
      // NaN (a gauge's value function) is never equal: such a series never expires.
      if (!(since[slot] >= -Infinity) || activity !== seen[slot]) {
        seen[slot] = activity;
        since[slot] = now;
      } else if (now - since[slot] >= this.expireAfterMs) {
        expired.push(slot);
      }
    }
    if (expired.length === 0) return;
    this.#expiring = new Set(expired);
    table.expireSlots(expired);
  }

  /** Arms the sweep timer (unref'd: it never keeps the program alive). */
  #armTimer(): void {
    this.#timerArmed = true;
    const self = new WeakRef(this);
    const timer = setTimeout(() => {
      const expiry = self.deref();
      if (expiry !== undefined) expiry.#fire();
    }, this.#period);
    unrefTimer(timer);
  }

  /** The timer's sweep; armed again while series remain that may expire. */
  #fire(): void {
    this.#timerArmed = false;
    const table = this.#table.deref();
    if (table === undefined) return;
    this.sweepIfDue();
    if (table.expirableSlots().length > 0) this.#armTimer();
  }
}
