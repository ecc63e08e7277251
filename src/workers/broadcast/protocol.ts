/**
 * The messages aggregators exchange over their `BroadcastChannel` (see `../broadcast.ts`), and
 * the check that a received value is one of them.
 *
 * @module
 */

/** The protocol tag every message carries; messages without it are ignored. */
export const PROTOCOL = "deno-prometheus-workers/1";

/** A worker's snapshot: a heartbeat, an answer to a request, or its goodbye. */
export interface SnapshotMessage {
  readonly protocol: typeof PROTOCOL;
  readonly kind: "snapshot";
  readonly from: string;
  /** The sending aggregator's random id: unique even when two workers share a `workerId`. */
  readonly instance: string;
  /**
   * When the sending aggregator was made (`Date.now()`): how a receiver that forgot which
   * workers it retired still refuses them (see `RetiredPeers`). Absent from older senders,
   * which then count as started at the dawn of time.
   */
  readonly startedMs?: number;
  /** Increases with every collection the sender starts: an older snapshot never wins. */
  readonly sequence: number;
  /**
   * The families as JSON text: every peer receives a copy of every message, and a string costs
   * them nothing until the one collecting parses it.
   */
  readonly snapshot: string;
  /** Set when answering collection requests: each requester's instance and request. */
  readonly replyTo?: readonly Reply[];
  /** Set by `close()`: the sender is gone. */
  readonly final?: boolean;
}

/** Whom a snapshot answers. */
export interface Reply {
  readonly instance: string;
  readonly requestId: number;
}

/** A collection request: every peer answers with a fresh snapshot. */
export interface RequestMessage {
  readonly protocol: typeof PROTOCOL;
  readonly kind: "request";
  readonly from: string;
  readonly instance: string;
  readonly requestId: number;
}

export type Message = SnapshotMessage | RequestMessage;

/** Whether `data`, as received from the channel, is a message of this protocol. */
export function isMessage(data: unknown): data is Message {
  if (data === null || typeof data !== "object") return false;
  const message = data as Partial<Message>;
  return message.protocol === PROTOCOL && typeof message.from === "string" &&
    typeof message.instance === "string" &&
    (message.kind === "snapshot" || message.kind === "request");
}

/** The start time of a snapshot's sender; the earliest possible when it did not say. */
export function startedMsOf(message: SnapshotMessage): number {
  const startedMs = message.startedMs;
  return typeof startedMs === "number" && !Number.isNaN(startedMs) ? startedMs : -Infinity;
}
