/**
 * One view of the metrics of every isolate of `deno serve --parallel` and every Web Worker of a
 * program, over a `BroadcastChannel` (which Deno delivers across all isolates of one process).
 *
 * Every worker calls {@linkcode aggregateWorkers} once. Each aggregator then
 * - publishes its registry's snapshot on the channel every `publishIntervalMs` (a heartbeat),
 *   on every collection request of a peer, and on `close()`;
 * - remembers the last snapshot of every peer it heard from;
 * - on `collect()` (what `/metrics` calls), asks every peer for a fresh snapshot, waits until all
 *   known live peers answered or `timeoutMs` passed (a stuck worker cannot stall a scrape: its
 *   last published snapshot is used instead), and merges them with its own by the rules of
 *   {@linkcode mergeSnapshots}. Concurrent scrapes share collections: a scrape joins the next
 *   one to start (never one already under way, which could miss its increments). A peer likewise
 *   answers the requests that arrive while it collects with one collection after it, so a burst
 *   of scrapes, on one worker or several, costs each peer about two collections.
 *
 * Peers are told apart by a random instance id in every message, so two workers given the same
 * `workerId` are both counted; the first message of a second worker using an id already seen
 * (this worker's own included) is reported to `onError`. Each sender numbers its snapshots in
 * the order it started collecting them, so a slow answer never replaces a fresher one.
 *
 * A peer is dead once it said goodbye (`close()`) or has been silent for `deadAfterMs`; its
 * counters, histograms and summaries stay counted, `live*` gauges, info and state sets drop it.
 * After `retireAfterMs` of silence (`deadAfterMs` after a goodbye) its data is folded into one
 * retired snapshot. Should a peer retired for silence (not one that said goodbye) speak again —
 * an isolate blocked for long, not dead — only what it added since its retirement counts: the
 * data of the last 32 such peers is kept for that; older ones are ignored if they speak again,
 * rather than counted twice.
 *
 * Memory does not grow with the number of workers that ever lived: the ids of the last 10 000
 * retired peers are remembered, and of older ones only the latest time one of them started.
 * Every snapshot carries the time its sender started, and a peer not known here that started
 * no later than that horizon is ignored — it may be a forgotten retired one. A worker announces
 * itself as it starts, so only a worker first heard from after more than 10 000 younger ones
 * retired meanwhile is ignored wrongly (visible as its missing counts).
 *
 * The open channel keeps the program running until `close()`: runtimes offer no public way to
 * un-ref a `BroadcastChannel`, and none of their private ones is read here.
 *
 * @module
 */

import type { MetricFamily } from "../model.ts";
import {
  type CollectOptions,
  defaultRegistry,
  familyGate,
  hasCollect,
  type MetricsSource,
  selectFamilies,
} from "../registry.ts";
import { decodeFamilies, encodeSnapshot } from "./codec.ts";
import {
  DEFAULT_WORKER_LABEL,
  mergeSnapshots,
  subtractBaseline,
  type WorkerSnapshot,
} from "./merge.ts";
import { MergedSeriesChoice } from "./merge_caps.ts";
import {
  isMessage,
  type Message,
  PROTOCOL,
  type Reply,
  type SnapshotMessage,
  startedMsOf,
} from "./broadcast/protocol.ts";
import { CollectionSharing } from "./collection_sharing.ts";
import { RetiredPeers } from "./broadcast/retired_peers.ts";
import { collectWithin, OWN_COLLECTION_DEADLINE_MS } from "./deadline.ts";
import { unrefTimer } from "../platform.ts";
import { positiveMs } from "../validation.ts";

/** Options of {@linkcode aggregateWorkers}. */
export interface AggregateWorkersOptions {
  /** What this worker exposes; defaults to `defaultRegistry`. */
  readonly registry?: MetricsSource;
  /** The `BroadcastChannel` name shared by the workers (default `"deno-prometheus-workers"`). */
  readonly channelName?: string;
  /** How long `collect()` waits for peers' fresh snapshots, in milliseconds (default 500). */
  readonly timeoutMs?: number;
  /** How often this worker publishes its snapshot, in milliseconds (default 1000). */
  readonly publishIntervalMs?: number;
  /** A peer silent for this long is dead, in milliseconds (default 3 × `publishIntervalMs`). */
  readonly deadAfterMs?: number;
  /**
   * A dead peer's data is folded into the retired snapshot after this long, in milliseconds
   * (default 600000, ten minutes); should it speak again, only its increments since count.
   */
  readonly retireAfterMs?: number;
  /** This worker's identity in the `worker` label (default: 8 random hex digits). */
  readonly workerId?: string;
  /** The label that tells workers apart in `all` gauges and state sets (default `worker`). */
  readonly workerLabel?: string;
  /**
   * Called once per offending worker when another worker uses the same `workerId` (the default
   * prints one line with `console.error`).
   */
  readonly onError?: (error: Error) => void;
}

/** What an aggregator knows of one peer. */
export interface PeerStatus {
  /** The peer's `workerId`. */
  readonly worker: string;
  /** Whether it is alive: it has not said goodbye and was heard from within `deadAfterMs`. */
  readonly live: boolean;
  /** When it was last heard from, in milliseconds since the Unix epoch. */
  readonly lastSeenMs: number;
}

/** The most requests waiting for one answer; beyond, the oldest go unanswered (they time out). */
const MAX_WAITING_REQUESTS = 1000;

interface Peer {
  /** The peer's `workerId`. */
  readonly worker: string;
  /** When the peer started, as it said (see `RetiredPeers`). */
  readonly startedMs: number;
  /** The latest snapshot received, as sent, and its sequence number. */
  snapshot: string;
  sequence: number;
  /** The latest snapshot that parsed, and its text (to parse each text once). */
  parsed: { readonly snapshot: string; readonly families: readonly MetricFamily[] } | undefined;
  lastSeenMs: number;
  exited: boolean;
  /** What the retired data already holds of a peer that spoke again after its retirement. */
  baseline?: readonly MetricFamily[];
}

interface PendingRequest {
  readonly waitingFor: Set<string>;
  readonly done: () => void;
}

/**
 * One worker's end of the aggregation: publishes this worker's snapshot and, on `collect()`,
 * returns the merged view of all workers. Made by {@linkcode aggregateWorkers}.
 */
export class WorkerAggregator implements MetricsSource, Disposable, AsyncDisposable {
  /** This worker's identity: its value of the worker label. */
  readonly workerId: string;
  readonly #registry: MetricsSource;
  readonly #channel: BroadcastChannel;
  readonly #timeoutMs: number;
  readonly #deadAfterMs: number;
  readonly #retireAfterMs: number;
  readonly #workerLabel: string;
  /** Series lifecycle: which label sets the capped merged view keeps, stable across scrapes. */
  readonly #mergedSeries = new MergedSeriesChoice();
  readonly #onError: (error: Error) => void;
  /** Peers' families are untrusted: checked before they leave this aggregator. */
  readonly #gate = familyGate();
  /** Workers whose latest snapshot could not be decoded (reported once per streak). */
  readonly #undecodable = new Set<string>();
  /** This aggregator's random id, carried by every message it sends. */
  readonly #instance = crypto.randomUUID();
  /** Peers by instance id. */
  readonly #peers = new Map<string, Peer>();
  /** When this aggregator started: sent with every snapshot. */
  readonly #startedMs = Date.now();
  /** The merged data of retired peers, and which ones must not count again. */
  readonly #retired: RetiredPeers;
  #sequence = 0;
  /** The merged collection under way, and the next one that scrapes arriving meanwhile share. */
  readonly #collections = new CollectionSharing(
    () => this.#collectEveryWorker(),
    () => this.#checkOpen(),
  );
  readonly #pending = new Map<number, PendingRequest>();
  #nextRequestId = 1;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closed = false;
  #heartbeatRunning = false;
  /** Requests that arrived while an answer was being collected: the next answer serves them. */
  #waitingRequests: Reply[] = [];
  #answering = false;

  /** Internal: use {@linkcode aggregateWorkers}. */
  constructor(options: AggregateWorkersOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new TypeError("aggregateWorkers() takes an options object, e.g. { registry }");
    }
    const registry = options.registry ?? defaultRegistry;
    if (!hasCollect(registry)) {
      throw new TypeError("aggregateWorkers: registry must have a collect() method");
    }
    const workerId = options.workerId ?? crypto.randomUUID().slice(0, 8);
    if (typeof workerId !== "string" || workerId === "") {
      throw new TypeError("aggregateWorkers: workerId must be a non-empty string");
    }
    const channelName = options.channelName ?? "deno-prometheus-workers";
    if (typeof channelName !== "string" || channelName === "") {
      throw new TypeError("aggregateWorkers: channelName must be a non-empty string");
    }
    const publishIntervalMs = positiveMs(
      options.publishIntervalMs,
      "aggregateWorkers: publishIntervalMs",
      1000,
    );
    this.#timeoutMs = positiveMs(options.timeoutMs, "aggregateWorkers: timeoutMs", 500);
    this.#deadAfterMs = positiveMs(
      options.deadAfterMs,
      "aggregateWorkers: deadAfterMs",
      3 * publishIntervalMs,
    );
    this.#retireAfterMs = positiveMs(
      options.retireAfterMs,
      "aggregateWorkers: retireAfterMs",
      600_000,
    );
    this.#workerLabel = options.workerLabel ?? DEFAULT_WORKER_LABEL;
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TypeError("aggregateWorkers: onError must be a function");
    }
    this.#onError = options.onError ?? ((error) => console.error(error.message));
    // Fails now rather than at the first scrape when the label name is invalid.
    mergeSnapshots([], { workerLabel: this.#workerLabel });
    this.workerId = workerId;
    this.#registry = registry;
    this.#retired = new RetiredPeers(this.#workerLabel);

    // Open until close(): like an open server, an open channel keeps the program running.
    this.#channel = new BroadcastChannel(channelName);
    this.#channel.onmessage = (event) => this.#receive(event.data);
    this.#heartbeat = setInterval(() => this.#tick(), publishIntervalMs);
    unrefTimer(this.#heartbeat);
    // Announce ourselves, and ask the workers already running to do the same (request 0 has no
    // waiter): afterwards both sides know each other before the first scrape.
    void this.publish();
    this.#post({
      protocol: PROTOCOL,
      kind: "request",
      from: workerId,
      instance: this.#instance,
      requestId: 0,
    });
  }

  /**
   * Returns the merged families of every worker: this one's fresh, each live peer's as it
   * answered within `timeoutMs` (or its last published one), and the kept data of dead peers.
   * Families named in `options.names` only, when given.
   */
  async collect(options: CollectOptions = {}): Promise<MetricFamily[]> {
    this.#checkOpen();
    // Scrapes sharing a collection share its families: each gets its own list (made by the gate).
    const families = await this.#gate(
      await this.#collections.join(),
      options.onError ?? this.#onError,
    );
    return selectFamilies(families, options);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error(`aggregateWorkers: worker ${this.workerId} is closed`);
  }

  /** Asks every live peer, collects our own, waits for the answers or `timeoutMs`; merges. */
  async #collectEveryWorker(): Promise<MetricFamily[]> {
    const requestId = this.#nextRequestId++;
    const waitingFor = new Set(this.#livePeerIds());
    let done = () => {};
    const answered = new Promise<void>((resolve) => (done = resolve));
    if (waitingFor.size === 0) done();
    else this.#pending.set(requestId, { waitingFor, done });
    this.#post({
      protocol: PROTOCOL,
      kind: "request",
      from: this.workerId,
      instance: this.#instance,
      requestId,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const own = await collectWithin(
        this.#registry,
        OWN_COLLECTION_DEADLINE_MS,
        `aggregateWorkers: worker ${this.workerId}`,
      );
      // This timer is short-lived and cleared below; it may keep the program alive meanwhile.
      const timedOut = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.#timeoutMs);
      });
      await Promise.race([answered, timedOut]);
      return this.#merge(own);
    } finally {
      clearTimeout(timer);
      this.#pending.delete(requestId);
    }
  }

  /**
   * Publishes this worker's snapshot now (it is also published every `publishIntervalMs`):
   * call it after a burst of work when the worker may be terminated before the next heartbeat.
   */
  async publish(): Promise<void> {
    await this.#publishSnapshot();
  }

  /** What this worker knows of its peers, for diagnostics. */
  peers(): PeerStatus[] {
    const now = Date.now();
    return [...this.#peers.values()].map((peer) => ({
      worker: peer.worker,
      live: this.#isLive(peer, now),
      lastSeenMs: peer.lastSeenMs,
    }));
  }

  /**
   * Publishes a last snapshot marked final (peers then count this worker as exited at once,
   * keeping its counters), and stops: timers cleared, channel closed. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#publishSnapshot(undefined, true);
    } finally {
      this.#stop();
    }
  }

  /** Closes after publishing a final snapshot; see {@linkcode WorkerAggregator.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops at once, without a final snapshot (peers keep the last published one). */
  [Symbol.dispose](): void {
    this.#stop();
  }

  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#channel.onmessage = null;
    this.#channel.close();
    for (const pending of this.#pending.values()) pending.done();
    this.#pending.clear();
  }

  #post(message: Message): void {
    if (this.#closed) return;
    try {
      this.#channel.postMessage(message);
    } catch {
      // The channel closed under us (close() during a pending answer): nothing left to tell.
    }
  }

  async #publishSnapshot(
    replyTo?: SnapshotMessage["replyTo"],
    final?: boolean,
  ): Promise<void> {
    const sequence = ++this.#sequence;
    let families: readonly MetricFamily[];
    try {
      families = await collectWithin(
        this.#registry,
        OWN_COLLECTION_DEADLINE_MS,
        `aggregateWorkers: worker ${this.workerId}`,
      );
    } catch {
      // A failing or hung collector fails the scrapes that include this worker, not the peers;
      // a hung one delays a heartbeat, an answer or the goodbye by the deadline only.
      return;
    }
    let snapshot: string;
    try {
      snapshot = encodeSnapshot(families);
    } catch {
      return; // A custom collector's odd value; the scrapes on this worker still show it.
    }
    const message: SnapshotMessage = {
      protocol: PROTOCOL,
      kind: "snapshot",
      from: this.workerId,
      instance: this.#instance,
      startedMs: this.#startedMs,
      sequence,
      snapshot,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(final ? { final: true } : {}),
    };
    this.#post(message);
  }

  /**
   * Answers a request with a collection started after it arrived: requests arriving while one
   * is being collected are answered together by the next, so a burst of requests from several
   * peers costs two collections, not one each.
   */
  #answer(request: Reply): void {
    this.#waitingRequests.push(request);
    if (this.#waitingRequests.length > MAX_WAITING_REQUESTS) this.#waitingRequests.shift();
    if (this.#answering) return;
    this.#answering = true;
    void (async () => {
      try {
        while (this.#waitingRequests.length > 0 && !this.#closed) {
          await this.#publishSnapshot(this.#waitingRequests.splice(0));
        }
      } finally {
        this.#answering = false;
      }
    })();
  }

  #receive(data: unknown): void {
    if (!isMessage(data) || data.instance === this.#instance) return;
    if (data.kind === "request") {
      this.#answer({ instance: data.instance, requestId: data.requestId });
      return;
    }
    if (typeof data.snapshot !== "string" || typeof data.sequence !== "number") return;
    const known = this.#peers.get(data.instance);
    let baseline = known?.baseline;
    if (known === undefined) {
      const admission = this.#retired.admit(data.instance, startedMsOf(data));
      // A retired peer, or one started before peers retired and forgotten since: counted
      // already, or impossible to tell from one that was.
      if (admission.kind === "refused") return;
      if (admission.kind === "resumed") baseline = admission.baseline; // only what it adds now
      else this.#checkUnique(data.from);
    }
    if (known !== undefined && data.sequence <= known.sequence) {
      known.lastSeenMs = Date.now(); // A slow answer, older than what we hold: keep ours.
    } else {
      this.#peers.set(data.instance, {
        worker: data.from,
        startedMs: known?.startedMs ?? startedMsOf(data),
        snapshot: data.snapshot,
        sequence: data.sequence,
        parsed: known?.parsed,
        lastSeenMs: Date.now(),
        exited: data.final === true,
        baseline,
      });
    }
    // Answered even by an older snapshot: the one we hold is newer still, so it too was
    // collected after our request arrived.
    const reply = Array.isArray(data.replyTo)
      ? data.replyTo.find((candidate) => candidate?.instance === this.#instance)
      : undefined;
    if (reply !== undefined) {
      const pending = this.#pending.get(reply.requestId);
      if (pending !== undefined) {
        pending.waitingFor.delete(data.instance);
        if (pending.waitingFor.size === 0) pending.done();
      }
    }
  }

  /** Reports a new peer whose `workerId` is already taken, by us or by another live peer. */
  #checkUnique(worker: string): void {
    const now = Date.now();
    const taken = worker === this.workerId ||
      [...this.#peers.values()].some((peer) => peer.worker === worker && this.#isLive(peer, now));
    if (!taken) return;
    const error = new Error(
      `aggregateWorkers: two workers use the workerId ${JSON.stringify(worker)}; both are ` +
        `counted, but their \`all\` gauges and state sets collide: give each worker its own id`,
    );
    try {
      this.#onError(error);
    } catch {
      // A throwing onError must not break message delivery.
    }
  }

  #isLive(peer: Peer, now: number): boolean {
    return !peer.exited && now - peer.lastSeenMs <= this.#deadAfterMs;
  }

  #livePeerIds(): string[] {
    const now = Date.now();
    return [...this.#peers].filter(([, peer]) => this.#isLive(peer, now)).map(([id]) => id);
  }

  /** The peer's latest snapshot that parses (a malformed one is ignored, the previous kept). */
  #familiesOf(peer: Peer): readonly MetricFamily[] {
    if (peer.parsed?.snapshot !== peer.snapshot) {
      try {
        const families = decodeFamilies(
          JSON.parse(peer.snapshot),
          `worker ${JSON.stringify(peer.worker)}`,
        );
        peer.parsed = { snapshot: peer.snapshot, families };
        this.#undecodable.delete(peer.worker);
      } catch (error) {
        // Not a snapshot this version understands: keep the last good one, and say so once.
        if (!this.#undecodable.has(peer.worker)) {
          if (this.#undecodable.size >= 10_000) this.#undecodable.clear();
          this.#undecodable.add(peer.worker);
          try {
            this.#onError(
              new Error(
                `aggregateWorkers: a snapshot was refused (${(error as Error).message}); ` +
                  `the last good one of that worker, if any, is used`,
              ),
            );
          } catch {
            // A throwing onError must not break a scrape.
          }
        }
      }
    }
    return peer.parsed?.families ?? [];
  }

  /** The peer's families, less what the retired data already holds of it. */
  #sinceBaseline(peer: Peer): readonly MetricFamily[] {
    const families = this.#familiesOf(peer);
    return peer.baseline === undefined ? families : subtractBaseline(families, peer.baseline);
  }

  #merge(own: readonly MetricFamily[]): MetricFamily[] {
    const now = Date.now();
    const snapshots: WorkerSnapshot[] = [{ worker: this.workerId, live: true, families: own }];
    for (const peer of this.#peers.values()) {
      snapshots.push({
        worker: peer.worker,
        live: this.#isLive(peer, now),
        families: this.#sinceBaseline(peer),
      });
    }
    snapshots.push({
      worker: "retired",
      live: false,
      merged: true,
      families: this.#retired.families,
    });
    return mergeSnapshots(snapshots, {
      workerLabel: this.#workerLabel,
      mergedSeries: this.#mergedSeries,
    });
  }

  #tick(): void {
    // A heartbeat while the previous one is still collecting is skipped rather than queued.
    if (!this.#heartbeatRunning) {
      this.#heartbeatRunning = true;
      this.#publishSnapshot().finally(() => (this.#heartbeatRunning = false));
    }
    const now = Date.now();
    for (const [instance, peer] of this.#peers) {
      const silentMs = now - peer.lastSeenMs;
      if (!(peer.exited ? silentMs > this.#deadAfterMs : silentMs > this.#retireAfterMs)) continue;
      try {
        this.#retired.retire(
          instance,
          peer.worker,
          peer.startedMs,
          this.#sinceBaseline(peer),
          peer.exited ? undefined : { lastFamilies: this.#familiesOf(peer) },
        );
      } catch {
        continue; // Conflicting definitions: the scrapes report it; keep the peer as it is.
      }
      this.#peers.delete(instance);
    }
  }
}

/**
 * Turns on aggregation across the isolates of `deno serve --parallel` or the Web Workers of a
 * program: call it once in every worker (at module top level), and serve the returned
 * aggregator instead of the registry. Whichever worker answers `/metrics` returns the merged
 * view of all of them. Its `BroadcastChannel` keeps the program running until `close()` (or
 * `Symbol.dispose`), as an open server does: a server or a worker never notices, a script that
 * should end closes it (its timers alone never keep a program alive). This worker's own
 * collection is awaited at most 10 seconds: past it the scrape fails and a heartbeat, answer
 * or goodbye is skipped, so a hung collector stops nothing for good.
 *
 * @example A module for `DENO_JOBS=4 deno serve --parallel --allow-net app.ts`
 * ```ts
 * import { Counter, metricsHandler } from "@deno-prom/client";
 * import { aggregateWorkers } from "@deno-prom/client/workers";
 * const requests = new Counter({ name: "http_requests_total", help: "requests", labelNames: ["path"] });
 * const cluster = aggregateWorkers(); // every worker: defaultRegistry, shared over a BroadcastChannel
 * const serveMetrics = metricsHandler({ registry: cluster });
 * const app = {
 *   fetch(request: Request): Response | Promise<Response> {
 *     const path = new URL(request.url).pathname;
 *     if (path === "/metrics") return serveMetrics(request);
 *     requests.labels({ path }).inc();
 *     return new Response("hello\n");
 *   },
 * };
 * export default app;
 * cluster[Symbol.dispose](); // (only so this example ends; a server keeps it open)
 * ```
 */
export function aggregateWorkers(options: AggregateWorkersOptions = {}): WorkerAggregator {
  return new WorkerAggregator(options);
}
