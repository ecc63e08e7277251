// Every sender takes any MetricsSource, not only a Registry: a worker aggregator (two workers in
// this isolate over a BroadcastChannel) and a directory collector (two publishers in a temp dir)
// are pushed to a Pushgateway, by a Pusher, and remote-written, and the bytes sent are the
// merged view those sources expose.
import assert from "node:assert/strict";
import {
  type Auth,
  Counter,
  type HttpServerOptions,
  type MetricsSource,
  Pusher,
  pushToGateway,
  Registry,
  remoteWrite,
} from "../../mod.ts";
import { renderText } from "../../src/exposition/mod.ts";
import { aggregateWorkers, directoryCollector, publishToDirectory } from "../../src/workers/mod.ts";
import type { BasicAuth, BearerAuth, FetchFunction } from "../../src/push/mod.ts";
import { decodeWriteRequest, seriesLines } from "../support/remote_write_receiver.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { waitFor } from "../support/process.ts";

/** A `fetch` that records each request's URL and body and answers `status`. */
function capturingFetch(status = 200) {
  const sent: { url: string; headers: Headers; body: Uint8Array }[] = [];
  const fetch: FetchFunction = (url, init) => {
    const headers = new Headers(init.headers);
    sent.push({ url, headers, body: new Uint8Array(init.body as Uint8Array) });
    return Promise.resolve(new Response(null, { status }));
  };
  return { fetch, sent };
}

function registryWithJobs(jobs: number): Registry {
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "jobs done", registry }).inc(jobs);
  return registry;
}

/** Two aggregators on a fresh channel (3 and 4 jobs), once `first` hears `second`. */
async function twoWorkers() {
  const channelName = `push-sources-${Deno.pid}-${crypto.randomUUID()}`;
  const options = { channelName, publishIntervalMs: 50, timeoutMs: 2_000 };
  const first = aggregateWorkers({ registry: registryWithJobs(3), workerId: "a", ...options });
  const second = aggregateWorkers({ registry: registryWithJobs(4), workerId: "b", ...options });
  const dispose = () => {
    first[Symbol.dispose]();
    second[Symbol.dispose]();
  };
  try {
    await waitFor(() => first.peers().some((peer) => peer.worker === "b" && peer.live), {
      timeoutMs: 5_000,
      intervalMs: 10,
      what: "worker a hearing worker b",
    });
  } catch (error) {
    dispose();
    throw error;
  }
  return { first, [Symbol.dispose]: dispose };
}

/** The `jobs_total` line of a text body. */
function jobsLine(text: string): string | undefined {
  return text.split("\n").find((line) => line.startsWith("jobs_total "));
}

Deno.test("pushToGateway pushes a WorkerAggregator's merged view", async () => {
  const workers = await twoWorkers();
  try {
    const { fetch, sent } = capturingFetch();
    await pushToGateway("http://127.0.0.1:1", {
      job: "workers",
      registry: workers.first,
      fetch,
      gzip: false,
    });
    assert.equal(sent.length, 1);
    assert.equal(sent[0].url, "http://127.0.0.1:1/metrics/job/workers");
    const body = new TextDecoder().decode(sent[0].body);
    assert.equal(jobsLine(body), "jobs_total 7.0");
    assert.equal(body, renderText(await workers.first.collect()));
  } finally {
    workers[Symbol.dispose]();
  }
});

Deno.test("a Pusher pushes a DirectoryCollector's merged view", async () => {
  const dir = await Deno.makeTempDir();
  const a = publishToDirectory({ dir, registry: registryWithJobs(3), workerId: "a" });
  const b = publishToDirectory({ dir, registry: registryWithJobs(4), workerId: "b" });
  try {
    await a.flush();
    await b.flush();
    const { fetch, sent } = capturingFetch();
    const source = directoryCollector({ dir });
    const pusher = new Pusher({
      gateway: "http://127.0.0.1:1",
      job: "processes",
      registry: source,
      fetch,
      gzip: false,
      onError: () => {},
    });
    assert.equal(await pusher.pushNow(), true);
    assert.equal(sent.length, 1);
    const body = new TextDecoder().decode(sent[0].body);
    assert.equal(jobsLine(body), "jobs_total 7.0");
    assert.equal(body, renderText(await source.collect()));
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("remoteWrite writes a WorkerAggregator's merged view", async () => {
  const workers = await twoWorkers();
  try {
    const { fetch, sent } = capturingFetch(204);
    await remoteWrite("http://127.0.0.1:1/api/v1/write", {
      registry: workers.first,
      labels: { job: "workers" },
      fetch,
    });
    assert.equal(sent.length, 1);
    const lines = seriesLines(decodeWriteRequest(snappyDecompress(sent[0].body)));
    assert.ok(lines.includes('jobs_total{job="workers"} 7'), lines.join("\n"));
  } finally {
    workers[Symbol.dispose]();
  }
});

Deno.test("a push source without collect() is a TypeError naming the URL", async () => {
  const notASource = {} as MetricsSource;
  await assert.rejects(
    pushToGateway("http://127.0.0.1:1", { job: "x", registry: notASource }),
    {
      name: "TypeError",
      message: "registry for http://127.0.0.1:1/metrics/job/x must have a collect() method",
    },
  );
  assert.throws(
    () => new Pusher({ gateway: "http://127.0.0.1:1", job: "x", registry: notASource }),
    {
      name: "TypeError",
      message:
        "registry of the pusher for http://127.0.0.1:1/metrics/job/x must have a collect() method",
    },
  );
});

Deno.test("one auth type: the server's credentials and the senders' are the same values", async () => {
  const basic: BasicAuth = { username: "prometheus", password: "s3cret:ü" };
  const bearer: BearerAuth = { bearerToken: "t0ken" };
  const serverOptions: HttpServerOptions[] = [{ auth: basic }, { auth: bearer }];
  const pushAuths: Auth[] = serverOptions.map((options) => options.auth as Auth);
  const { fetch, sent } = capturingFetch();
  const registry = registryWithJobs(1);
  for (const auth of pushAuths) {
    await pushToGateway("http://127.0.0.1:1", { job: "x", registry, auth, fetch });
    await remoteWrite("http://127.0.0.1:1/api/v1/write", {
      registry,
      labels: { job: "x" },
      auth,
      fetch,
    });
  }
  const basicHeader = "Basic " + btoa(
    String.fromCharCode(...new TextEncoder().encode("prometheus:s3cret:ü")),
  );
  assert.deepEqual(sent.map((request) => request.headers.get("authorization")), [
    basicHeader,
    basicHeader,
    "Bearer t0ken",
    "Bearer t0ken",
  ]);
});
