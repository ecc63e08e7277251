// Audit of issue 11, item 7 on the worker paths: families that arrive in a BroadcastChannel
// message or a snapshot file are as untrusted as a custom collector's. Served the documented way
// (`metricsHandler({ registry: cluster })`, `remoteWrite(url, { registry: collector })`), with
// no Registry in between, a bad family must be dropped and reported, never exposed.
import assert from "node:assert/strict";
import { Counter, type MetricFamily, metricsHandler, Registry, remoteWrite } from "../../mod.ts";
import {
  aggregateWorkers,
  directoryCollector,
  publishToDirectory,
  type WorkerAggregator,
} from "../../src/workers/mod.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { sleep, waitFor, which } from "../support/process.ts";
import { promtoolCheckMetrics } from "../support/python.ts";

/** What a hostile or broken peer sends: one good family and four that no exposition may carry. */
const HOSTILE: readonly MetricFamily[] = [
  { type: "gauge", name: "good", help: "fine", points: [{ labels: {}, value: 1 }] },
  { type: "counter", name: "negative", help: "", points: [{ labels: {}, value: -5 }] },
  {
    type: "gauge",
    name: "evil\n# TYPE evil counter",
    help: "",
    points: [{ labels: {}, value: 1 }],
  },
  { type: "gauge", name: "bad_label", help: "", points: [{ labels: { "a\nb": "1" }, value: 1 }] },
  {
    type: "gauge",
    name: "twins",
    help: "",
    points: [{ labels: { a: "\ud800" }, value: 1 }, { labels: { a: "\udbff" }, value: 2 }],
  },
];
const DROPPED = ["negative", "evil\n# TYPE evil counter", "bad_label", "twins"];

/** The families named in InvalidFamilyError-like reports, sorted. */
function droppedNames(errors: Error[]): string[] {
  return errors.map((error) => (error as Error & { family?: string }).family ?? error.message)
    .sort();
}

function localRegistry(): Registry {
  const registry = new Registry();
  new Counter({ name: "jobs", help: "jobs run", registry }).inc(2);
  return registry;
}

async function scrape(handle: (request: Request) => Promise<Response>): Promise<string> {
  const response = await handle(new Request("http://localhost/metrics"));
  assert.equal(response.status, 200);
  return await response.text();
}

/**
 * Runs `test` with an aggregator of `localRegistry()` that has heard one snapshot message, sent
 * by a bare BroadcastChannel as a hostile or broken peer would, carrying `snapshot`.
 */
async function withHostilePeer(
  snapshot: string,
  onError: ((error: Error) => void) | undefined,
  test: (cluster: WorkerAggregator) => Promise<void>,
): Promise<void> {
  const channelName = `audit-${crypto.randomUUID()}`;
  const cluster = aggregateWorkers({
    registry: localRegistry(),
    channelName,
    workerId: "local",
    timeoutMs: 100,
    publishIntervalMs: 60_000,
    onError,
  });
  const evil = new BroadcastChannel(channelName);
  try {
    evil.postMessage({
      protocol: "deno-prometheus-workers/1",
      kind: "snapshot",
      from: "evil",
      instance: "evil-instance",
      sequence: 1,
      snapshot,
    });
    await waitFor(() => cluster.peers().length === 1, { what: "the peer to be heard" });
    await test(cluster);
  } finally {
    evil.close();
    cluster[Symbol.dispose]();
    await sleep(20);
  }
}

Deno.test("audit: a hostile BroadcastChannel peer, served by metricsHandler: bad families dropped and reported once", () =>
  withHostilePeer(JSON.stringify(HOSTILE), undefined, async (cluster) => {
    const errors: Error[] = [];
    const handle = metricsHandler({
      registry: cluster,
      onError: (error) => errors.push(error as Error),
    });
    for (let i = 0; i < 2; i++) {
      assert.equal(
        await scrape(handle),
        "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 2.0\n" +
          '# HELP good fine\n# TYPE good gauge\ngood{worker="evil"} 1.0\n',
      );
    }
    assert.deepEqual(droppedNames(errors), [...DROPPED].sort(), "each once, not once per scrape");
  }));

async function withHostileFile(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "audit-workers-" });
  try {
    const now = Date.now();
    await Deno.writeTextFile(
      `${dir}/snapshot-${Deno.pid}-abcdef.json`,
      JSON.stringify({
        format: "deno-prometheus-snapshot/1",
        pid: Deno.pid, // this process: alive, so never retired meanwhile
        worker: "w1",
        startedAtMs: now,
        writtenAtMs: now,
        sequence: 1,
        intervalMs: 60_000,
        final: false,
        families: HOSTILE,
      }),
    );
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("audit: a hostile snapshot file, served by metricsHandler: bad families dropped and reported once", () =>
  withHostileFile(async (dir) => {
    const errors: Error[] = [];
    const collector = directoryCollector({ dir, exposeReadErrors: false, onError: () => {} });
    const handle = metricsHandler({
      registry: collector,
      onError: (error) => errors.push(error as Error),
    });
    for (let i = 0; i < 2; i++) {
      assert.equal(
        await scrape(handle),
        '# HELP good fine\n# TYPE good gauge\ngood{pid="w1"} 1.0\n',
      );
    }
    assert.deepEqual(droppedNames(errors), [...DROPPED].sort(), "each once, not once per scrape");
    // What is left is valid for promtool (when it is installed).
    if (which("promtool") !== undefined) {
      const result = await promtoolCheckMetrics(await scrape(handle));
      assert.equal(result.code, 0, result.stdout + result.stderr);
    }
  }));

Deno.test("audit: remote write from a directory collector sends none of a hostile file's bad families", () =>
  withHostileFile(async (dir) => {
    let sent: Uint8Array | undefined;
    const fetch = (_url: string, init: RequestInit) => {
      sent = init.body as Uint8Array;
      return Promise.resolve(new Response(null, { status: 204 }));
    };
    await remoteWrite("http://rw.invalid/api/v1/write", {
      registry: directoryCollector({ dir, exposeReadErrors: false, onError: () => {} }),
      labels: { job: "audit" },
      fetch,
    });
    const request = new TextDecoder().decode(snappyDecompress(sent!));
    assert.match(request, /good/);
    assert.doesNotMatch(request, /negative|evil|bad_label|a_b|twins/);
  }));

Deno.test("audit: a peer snapshot that cannot be decoded is reported, not silently ignored", async () => {
  const errors: Error[] = [];
  const undecodable = JSON.stringify([{
    type: "histogram",
    name: "no_inf",
    help: "",
    points: [{ labels: {}, upperBounds: [1], bucketCounts: [1], count: 1, sum: 1 }],
  }]);
  await withHostilePeer(undecodable, (error) => errors.push(error), async (cluster) => {
    for (let i = 0; i < 2; i++) {
      assert.equal(
        await scrape(metricsHandler({ registry: cluster })),
        "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 2.0\n",
      );
    }
  });
  assert.equal(errors.length, 1, errors.map((error) => error.message).join("\n"));
  assert.match(errors[0].message, /worker "evil".*no_inf/);
});

Deno.test("audit: a FIFO named .retire.lock never blocks a scrape; the retirement failure is reported once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-workers-" });
  const registry = new Registry();
  new Counter({ name: "jobs", help: "h", registry }).inc(4);
  const exited = publishToDirectory({ dir, registry, workerId: "b", onError: () => {} });
  try {
    await exited.flush();
    await exited.close(); // final: its file would be retired at the next scrape
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/.retire.lock`] }).output();
    assert.equal(mkfifo.code, 0, "mkfifo");
    const reports: string[] = [];
    const exporter = directoryCollector({ dir, onError: (error) => reports.push(error.message) });
    for (let scrape = 0; scrape < 3; scrape++) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the scrape hangs on the FIFO")), 5_000);
      });
      try {
        const families = await Promise.race([exporter.collect(), hung]);
        const jobs = families.find((family) => family.name === "jobs");
        assert.deepEqual(jobs?.points.map((point) => (point as { value: number }).value), [4]);
      } finally {
        clearTimeout(timer);
      }
    }
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0], /cannot retire .*\.retire\.lock is not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
