// aggregateWorkers over a BroadcastChannel: several aggregators in this isolate, then real Web
// Workers (4 × 1000 increments, one terminated mid-run), then programs that end once the aggregator is closed.
import assert from "node:assert/strict";
import { Counter, Gauge, Registry } from "../../mod.ts";
import { renderText } from "../../src/exposition/mod.ts";
import {
  aggregateWorkers,
  type AggregateWorkersOptions,
  type WorkerAggregator,
} from "../../src/workers/mod.ts";
import { run, sleep, waitFor } from "../support/process.ts";
import { valueOf } from "../support/workers_support.ts";

let channelCount = 0;
/** A channel name no other test uses, so leftover messages never cross tests. */
function uniqueChannel(): string {
  return `workers-test-${Deno.pid}-${++channelCount}-${crypto.randomUUID()}`;
}

/** One in-process "worker": its own registry, counter, gauges and aggregator. */
function makeWorker(channelName: string, workerId: string, options: { timeoutMs?: number } = {}) {
  const registry = new Registry();
  const jobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
  const up = new Gauge({ name: "up_workers", help: "alive", aggregate: "livesum", registry });
  const ever = new Gauge({ name: "ever_workers", help: "ever", aggregate: "sum", registry });
  up.set(1);
  ever.set(1);
  const cluster = aggregateWorkers({
    registry,
    channelName,
    workerId,
    publishIntervalMs: 50,
    timeoutMs: options.timeoutMs ?? 500,
  });
  return { registry, jobs, cluster };
}

/** A worker with `jobs` done and a fast heartbeat (20 ms). */
function workerWithJobs(
  channelName: string,
  jobs: number,
  options: AggregateWorkersOptions,
): WorkerAggregator {
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "jobs", registry }).inc(jobs);
  return aggregateWorkers({ registry, channelName, publishIntervalMs: 20, ...options });
}

/** A worker with `jobs` done that retires peers fast: dead after 100 ms of silence, retired at 150. */
function fastRetiringWorker(channelName: string, jobs: number): WorkerAggregator {
  return workerWithJobs(channelName, jobs, {
    workerId: "collector",
    deadAfterMs: 100,
    retireAfterMs: 150,
  });
}

/** A source collecting `registry` whose collections block from `stick()` until `release()`. */
function blockableSource(registry: Registry) {
  let release = () => {};
  const blocked = new Promise<void>((resolve) => (release = resolve));
  let stuck = false;
  const source = {
    collect: async () => {
      if (stuck) await blocked;
      return await registry.collect();
    },
  };
  return { source, stick: () => (stuck = true), release: () => release() };
}

/**
 * A peer whose collection takes 30 ms (holding the counts of when it started) and is counted;
 * it publishes only when asked.
 */
function slowCountingPeer(channelName: string) {
  const registry = new Registry();
  const peerJobs = new Counter({ name: "jobs_total", help: "jobs done", registry });
  let count = 0;
  const source = {
    collect: async () => {
      count++;
      const families = await registry.collect(); // the counts when collection starts
      await sleep(30);
      return families;
    },
  };
  const peer = aggregateWorkers({
    registry: source,
    channelName,
    workerId: "peer",
    publishIntervalMs: 60_000,
  });
  return { peer, peerJobs, collections: { count: () => count, reset: () => (count = 0) } };
}

async function waitForPeers(cluster: WorkerAggregator, count: number): Promise<void> {
  await waitFor(() => cluster.peers().filter((peer) => peer.live).length === count, {
    timeoutMs: 5000,
    intervalMs: 10,
    what: `${count} live peers of ${cluster.workerId}`,
  });
}

Deno.test("aggregators in one isolate: any of them answers with every worker's counts", async () => {
  const channelName = uniqueChannel();
  const workers = ["a", "b", "c"].map((id) => makeWorker(channelName, id));
  try {
    for (const { cluster } of workers) await waitForPeers(cluster, 2);
    workers.forEach(({ jobs }, i) => jobs.inc(10 ** i)); // 1 + 10 + 100
    for (const { cluster } of workers) {
      const families = await cluster.collect();
      assert.equal(valueOf(families, "jobs"), 111);
      assert.equal(valueOf(families, "up_workers"), 3);
    }
    // The names filter works on the merged view, with sample names too.
    const only = await workers[1].cluster.collect({ names: ["jobs_total"] });
    assert.deepEqual(only.map((family) => family.name), ["jobs"]);
  } finally {
    for (const { cluster } of workers) cluster[Symbol.dispose]();
  }
});

Deno.test("a worker that closes keeps its counts; live gauges drop it at once", async () => {
  const channelName = uniqueChannel();
  const [a, b] = ["a", "b"].map((id) => makeWorker(channelName, id));
  try {
    await waitForPeers(a.cluster, 1);
    a.jobs.inc(2);
    b.jobs.inc(5);
    await b.cluster.close();
    await waitFor(() => a.cluster.peers().every((peer) => !peer.live), { intervalMs: 10 });
    const families = await a.cluster.collect();
    assert.equal(valueOf(families, "jobs"), 7);
    assert.equal(valueOf(families, "up_workers"), 1, "livesum drops the closed worker");
    assert.equal(valueOf(families, "ever_workers"), 2, "sum keeps it");
    await assert.rejects(() => b.cluster.collect(), /worker b is closed/);
  } finally {
    a.cluster[Symbol.dispose]();
    b.cluster[Symbol.dispose]();
  }
});

Deno.test("a stuck worker cannot stall a scrape: its last published snapshot is used", async () => {
  const channelName = uniqueChannel();
  const fast = makeWorker(channelName, "fast", { timeoutMs: 200 });
  // The stuck worker answers its first collections, then never again.
  const stuckRegistry = new Registry();
  const stuckJobs = new Counter({ name: "jobs_total", help: "jobs done", registry: stuckRegistry });
  stuckJobs.inc(40);
  const { source, stick, release } = blockableSource(stuckRegistry);
  const slow = aggregateWorkers({ registry: source, channelName, workerId: "slow" });
  try {
    await waitForPeers(fast.cluster, 1);
    await waitFor(async () => valueOf(await fast.cluster.collect(), "jobs") === 40);
    stick();
    stuckJobs.inc(1); // Never published: the stuck worker cannot answer any more.
    fast.jobs.inc(2);
    // The stuck worker is released only in `finally`: a scrape that waited for it never ends.
    let guard: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("the scrape waited for the stuck worker")), 30_000);
    });
    try {
      const families = await Promise.race([fast.cluster.collect(), stalled]);
      assert.equal(valueOf(families, "jobs"), 42, "the stuck worker's last snapshot counts");
    } finally {
      clearTimeout(guard);
    }
  } finally {
    release();
    fast.cluster[Symbol.dispose]();
    slow[Symbol.dispose]();
    await sleep(10); // Let the released collection settle.
  }
});

Deno.test("dead peers are retired: folded once; a new worker reusing the id counts as new", async () => {
  const channelName = uniqueChannel();
  const collector = fastRetiringWorker(channelName, 1);
  const peerRegistry = new Registry();
  const peerJobs = new Counter({ name: "jobs_total", help: "jobs", registry: peerRegistry });
  // A peer that falls silent without a goodbye (like a terminated worker).
  const peer = aggregateWorkers({ registry: peerRegistry, channelName, workerId: "peer" });
  try {
    peerJobs.inc(9);
    await waitForPeers(collector, 1);
    assert.equal(valueOf(await collector.collect(), "jobs"), 10);
    peer[Symbol.dispose]();
    await waitFor(() => collector.peers().length === 0, { what: "the peer retired" });
    assert.equal(valueOf(await collector.collect(), "jobs"), 10, "its counts are kept");
    // A new worker reusing the retired id is another worker (its own counts start at 0).
    const againRegistry = new Registry();
    new Counter({ name: "jobs_total", help: "jobs", registry: againRegistry }).inc(2);
    const again = aggregateWorkers({ registry: againRegistry, channelName, workerId: "peer" });
    await waitForPeers(collector, 1);
    assert.equal(valueOf(await collector.collect(), "jobs"), 12);
    again[Symbol.dispose]();
  } finally {
    collector[Symbol.dispose]();
    peer[Symbol.dispose]();
  }
});

Deno.test("a peer retired while only blocked counts, when it speaks again, just its new increments", async () => {
  const channelName = uniqueChannel();
  const collector = fastRetiringWorker(channelName, 1);
  // A peer whose collections block (an isolate busy for long), then resume.
  const peerRegistry = new Registry();
  const peerJobs = new Counter({ name: "jobs_total", help: "jobs", registry: peerRegistry });
  peerJobs.inc(9);
  const { source, stick, release } = blockableSource(peerRegistry);
  const peer = aggregateWorkers({
    registry: source,
    channelName,
    workerId: "peer",
    publishIntervalMs: 20,
  });
  try {
    await waitForPeers(collector, 1);
    assert.equal(valueOf(await collector.collect(), "jobs"), 10);
    stick();
    await waitFor(() => collector.peers().length === 0, { what: "the silent peer retired" });
    assert.equal(valueOf(await collector.collect(), "jobs"), 10, "its counts are kept");
    peerJobs.inc(5);
    release(); // it speaks again
    await waitForPeers(collector, 1);
    for (let scrape = 0; scrape < 3; scrape++) {
      assert.equal(valueOf(await collector.collect(), "jobs"), 15, "9 kept + 5 new, none twice");
    }
  } finally {
    release();
    collector[Symbol.dispose]();
    peer[Symbol.dispose]();
    await sleep(10);
  }
});

Deno.test("two workers sharing a workerId: both counted, reported once each", async () => {
  const channelName = uniqueChannel();
  const reports: string[] = [];
  const onError = (error: Error) => reports.push(error.message);
  const twin = (jobs: number) => workerWithJobs(channelName, jobs, { workerId: "w", onError });
  const first = twin(3);
  const second = twin(4);
  const scraper = aggregateWorkers({ registry: new Registry(), channelName, workerId: "s" });
  try {
    await waitForPeers(scraper, 2);
    await sleep(200); // ten heartbeats each: still one report per worker that sees a twin
    assert.equal(valueOf(await scraper.collect(), "jobs"), 7, "neither twin hides the other");
    assert.equal(valueOf(await first.collect(), "jobs"), 7);
    assert.equal(reports.length, 2, reports.join("\n"));
    assert.equal(
      reports[0],
      'aggregateWorkers: two workers use the workerId "w"; both are counted, but their `all` ' +
        "gauges and state sets collide: give each worker its own id",
    );
  } finally {
    first[Symbol.dispose]();
    second[Symbol.dispose]();
    scraper[Symbol.dispose]();
  }
});

Deno.test("20 concurrent scrapes share rounds, and each includes the increments made before it", async () => {
  const channelName = uniqueChannel();
  const scraper = makeWorker(channelName, "scraper");
  // A peer whose collection takes a while and counts how often it runs.
  const { peer, peerJobs, collections } = slowCountingPeer(channelName);
  try {
    await waitForPeers(scraper.cluster, 1);
    await sleep(100); // the peer's announcements are done
    collections.reset();
    const scrapes: Promise<number | undefined>[] = [];
    for (let i = 1; i <= 20; i++) {
      peerJobs.inc();
      scraper.jobs.inc();
      scrapes.push(scraper.cluster.collect().then((families) => valueOf(families, "jobs")));
      if (i % 5 === 0) await sleep(10); // some arrive while a round is under way
    }
    const seen = await Promise.all(scrapes);
    seen.forEach((jobs, i) => {
      assert.ok(
        jobs! >= 2 * (i + 1),
        `scrape ${i + 1} saw ${jobs}, made before it: ${2 * (i + 1)}`,
      );
    });
    const count = collections.count();
    assert.ok(count <= 3, `the peer collected ${count} times for 20 scrapes`);
  } finally {
    scraper.cluster[Symbol.dispose]();
    peer[Symbol.dispose]();
    await sleep(50); // Let the peer's last collection settle.
  }
});

Deno.test("requests of several scrapers at once are answered together: two collections, not five", async () => {
  const channelName = uniqueChannel();
  const scrapers = [1, 2, 3, 4, 5].map((i) =>
    aggregateWorkers({ registry: new Registry(), channelName, workerId: `scraper${i}` })
  );
  const { peer, peerJobs, collections } = slowCountingPeer(channelName);
  try {
    await Promise.all(scrapers.map((scraper) => waitForPeers(scraper, 5)));
    await sleep(100); // the announcements are answered
    collections.reset();
    peerJobs.inc(3);
    const seen = await Promise.all(scrapers.map((scraper) => scraper.collect()));
    for (const families of seen) assert.equal(valueOf(families, "jobs"), 3);
    const count = collections.count();
    assert.ok(count <= 2, `the peer collected ${count} times for 5 requests`);
  } finally {
    for (const scraper of scrapers) scraper[Symbol.dispose]();
    peer[Symbol.dispose]();
    await sleep(50); // Let the peer's last collection settle.
  }
});

Deno.test("bad options are clear errors", () => {
  assert.throws(() => aggregateWorkers({ timeoutMs: -1 }), {
    name: "RangeError",
    message: "aggregateWorkers: timeoutMs must be a positive number of milliseconds, got -1",
  });
  assert.throws(
    () => aggregateWorkers({ registry: {} as Registry }),
    { name: "TypeError", message: "aggregateWorkers: registry must have a collect() method" },
  );
  assert.throws(() => aggregateWorkers({ workerLabel: "not\na label" }), TypeError);
  assert.throws(() => aggregateWorkers({ workerId: "" }), TypeError);
  assert.throws(() => aggregateWorkers({ onError: 1 as unknown as () => void }), TypeError);
});

// --- real Web Workers ---

interface WorkerReply {
  kind: "ready" | "done" | "closed";
  total?: number;
}

/** A Web Worker running tests/support/workers_fixture_worker.ts, with a promise per reply. */
function spawnWorker(channelName: string, workerId: string) {
  const worker = new Worker(new URL("../support/workers_fixture_worker.ts", import.meta.url), {
    type: "module",
  });
  const replies: WorkerReply[] = [];
  const waiters: ((reply: WorkerReply) => void)[] = [];
  worker.onmessage = (event: MessageEvent<WorkerReply>) => {
    const waiter = waiters.shift();
    if (waiter) waiter(event.data);
    else replies.push(event.data);
  };
  const next = (): Promise<WorkerReply> => {
    const reply = replies.shift();
    return reply ? Promise.resolve(reply) : new Promise((resolve) => waiters.push(resolve));
  };
  const ask = async (command: Record<string, unknown>): Promise<WorkerReply> => {
    worker.postMessage(command);
    return await next();
  };
  return { worker, workerId, ask, start: () => ask({ kind: "start", channelName, workerId }) };
}

Deno.test("Web Workers: 4 workers × 1000 increments → every scrape shows 4000", async () => {
  const channelName = uniqueChannel();
  const main = aggregateWorkers({ registry: new Registry(), channelName, workerId: "main" });
  const workers = [1, 2, 3, 4].map((i) => spawnWorker(channelName, `w${i}`));
  try {
    await Promise.all(workers.map((worker) => worker.start()));
    await waitForPeers(main, 4);
    const done = await Promise.all(
      workers.map((worker) => worker.ask({ kind: "work", increments: 1000 })),
    );
    assert.deepEqual(done.map((reply) => reply.total), [1000, 1000, 1000, 1000]);
    for (let scrape = 0; scrape < 5; scrape++) {
      const families = await main.collect();
      assert.equal(valueOf(families, "jobs"), 4000, renderText(families));
      assert.equal(valueOf(families, "workers_up"), 4);
    }
    await Promise.all(workers.map((worker) => worker.ask({ kind: "close" })));
  } finally {
    for (const { worker } of workers) worker.terminate();
    main[Symbol.dispose]();
  }
});

Deno.test("Web Workers: one terminated mid-run keeps its counted increments; live gauges drop it", async () => {
  const channelName = uniqueChannel();
  const main = aggregateWorkers({
    registry: new Registry(),
    channelName,
    workerId: "main",
    publishIntervalMs: 100,
    deadAfterMs: 400,
  });
  const workers = [1, 2, 3, 4].map((i) => spawnWorker(channelName, `w${i}`));
  const [victim, ...survivors] = workers;
  try {
    await Promise.all(workers.map((worker) => worker.start()));
    await waitForPeers(main, 4);
    // The victim does half its work (and publishes it), then is terminated without a goodbye.
    assert.equal((await victim.ask({ kind: "work", increments: 500 })).total, 500);
    victim.worker.terminate();
    const partial = await Promise.all(
      survivors.map((worker) => worker.ask({ kind: "work", increments: 1000 })),
    );
    assert.deepEqual(partial.map((reply) => reply.total), [1000, 1000, 1000]);

    const whileSilent = await main.collect();
    assert.equal(valueOf(whileSilent, "jobs"), 3500, renderText(whileSilent));

    await waitFor(() => main.peers().some((peer) => peer.worker === "w1" && !peer.live), {
      what: "the terminated worker declared dead",
    });
    for (let scrape = 0; scrape < 3; scrape++) {
      const families = await main.collect();
      assert.equal(valueOf(families, "jobs"), 3500, "counted increments are not lost");
      assert.equal(valueOf(families, "workers_up"), 3, "livesum drops the dead worker");
      assert.equal(valueOf(families, "workers_ever"), 4, "sum keeps its last value");
      const seen = families.find((family) => family.name === "worker_seen");
      assert.deepEqual(
        seen?.points.map((point) => point.labels.worker).sort(),
        ["w2", "w3", "w4"],
        "liveall drops it",
      );
    }
    await Promise.all(survivors.map((worker) => worker.ask({ kind: "close" })));
  } finally {
    for (const { worker } of workers) worker.terminate();
    main[Symbol.dispose]();
  }
});

/** Runs `body` in a fresh program that imports Counter and aggregateWorkers. */
function runProgram(body: string) {
  const script = `
    import { Counter } from ${JSON.stringify(new URL("../../mod.ts", import.meta.url).href)};
    import { aggregateWorkers } from ${
    JSON.stringify(new URL("../../src/workers/mod.ts", import.meta.url).href)
  };
    ${body}
  `;
  return run(Deno.execPath(), ["eval", script], { timeoutMs: 30_000 });
}

Deno.test("a closed aggregator lets the program end by itself", async () => {
  const { code, stdout, stderr } = await runProgram(`
    new Counter({ name: "x_total", help: "x" }).inc();
    const cluster = aggregateWorkers();
    console.log((await cluster.collect()).length);
    await cluster.close();
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "1");
});

Deno.test("an open aggregator keeps the program running until close(), as documented", async () => {
  // The un-ref'd timer fires only if something else keeps the program running: the channel.
  const { code, stdout, stderr } = await runProgram(`
    const cluster = aggregateWorkers();
    Deno.unrefTimer(setTimeout(() => {
      console.log("still running");
      cluster.close();
    }, 100));
  `);
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "still running");
});

Deno.test("examples/web_workers.ts: the main thread serves the jobs of all four workers", async () => {
  const { code, stdout, stderr } = await run(Deno.execPath(), [
    "run",
    "--allow-net",
    "--allow-read",
    "examples/web_workers.ts",
    "--jobs",
    "250",
  ], { cwd: new URL("../..", import.meta.url).pathname });
  assert.equal(code, 0, stderr);
  assert.match(
    stdout,
    /^serving the metrics of every worker at http:\/\/127\.0\.0\.1:\d+\/metrics$/m,
  );
  assert.match(stdout, /^jobs_processed_total 1000\.0$/m);
  assert.match(stdout, /^job_duration_seconds_count 1000\.0$/m);
});
