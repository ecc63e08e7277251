/**
 * How long a scrape waits for its body, and the wait itself: bounded by the deadline, the
 * client staying and the server running.
 *
 * @module
 */

import type { Body, SharedCollection } from "./shared_collection.ts";

/** How long a scrape waits before it starts watching for its client going away. */
const CLIENT_WATCH_DELAY_MS = 200;
/** The longest wait a scrape-timeout header may ask for: a bound, even for an odd header. */
export const MAX_SCRAPE_TIMEOUT_MS = 300_000;
/** The margin kept from the scraper's timeout: a tenth of it, at most this. */
const MAX_SCRAPE_TIMEOUT_MARGIN_MS = 500;

/**
 * How long a scrape may wait, in ms: the scraper's own timeout less a margin when it sent one,
 * else the configured default.
 */
export function scrapeDeadlineMs(header: string | null, defaultMs: number): number {
  if (header === null) return defaultMs;
  const seconds = Number(header.trim());
  if (header.trim() === "" || !Number.isFinite(seconds) || seconds <= 0) return defaultMs;
  const timeoutMs = Math.min(seconds * 1000, MAX_SCRAPE_TIMEOUT_MS);
  return timeoutMs - Math.min(timeoutMs / 10, MAX_SCRAPE_TIMEOUT_MARGIN_MS);
}

/** Seconds, as a reason line shows them (`9.5 s`). */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** What waiting for a body came to. */
export type Outcome =
  | { readonly kind: "body"; readonly body: Body }
  | { readonly kind: "failed"; readonly error: unknown; readonly collection: SharedCollection }
  | { readonly kind: "timeout" }
  | { readonly kind: "gone" }
  | { readonly kind: "stopping" };

/**
 * Waits for `body` at most `deadlineMs`, and no longer than the client stays (`request.signal`)
 * or the server runs (`stopSignal`). Leaves no timer or listener behind.
 *
 * The client's signal is looked at only once the wait has lasted `CLIENT_WATCH_DELAY_MS`:
 * in `Deno.serve`, merely reading `request.signal` prints a one-time warning about its legacy
 * abort behaviour, which a quick scrape has no reason to cause.
 */
export function waitForBody(
  body: Promise<Body>,
  collection: SharedCollection,
  deadlineMs: number,
  request: Request,
  stopSignal: AbortSignal | undefined,
): Promise<Outcome> {
  if (stopSignal?.aborted) return Promise.resolve({ kind: "stopping" });
  return new Promise<Outcome>((resolve) => {
    let clientSignal: AbortSignal | undefined;
    const onGone = () => finish({ kind: "gone" });
    const onStop = () => finish({ kind: "stopping" });
    const timer = setTimeout(() => finish({ kind: "timeout" }), deadlineMs);
    const watchTimer = setTimeout(() => {
      clientSignal = request.signal;
      if (clientSignal.aborted) onGone();
      else clientSignal.addEventListener("abort", onGone, { once: true });
    }, Math.min(CLIENT_WATCH_DELAY_MS, deadlineMs));
    let settled = false;
    function finish(outcome: Outcome): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(watchTimer);
      clientSignal?.removeEventListener("abort", onGone);
      stopSignal?.removeEventListener("abort", onStop);
      resolve(outcome);
    }
    stopSignal?.addEventListener("abort", onStop, { once: true });
    body.then(
      (bytes) => finish({ kind: "body", body: bytes }),
      (error) => finish({ kind: "failed", error, collection }),
    );
  });
}
