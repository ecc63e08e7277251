// `deno serve --parallel` end to end: N requests spread over the isolates, then every scrape —
// whichever isolate answers it — reports exactly N. Also the README's examples/parallel_serve.ts
// with DENO_JOBS=4.
import assert from "node:assert/strict";
import { freePort, type ManagedProcess, startProcess, waitFor } from "../support/process.ts";
import { sample } from "../support/workers_support.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A fresh connection per request, so the kernel spreads them over the isolates' listeners. */
function unpooledClient(): Deno.HttpClient {
  return Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
}

/**
 * Starts `deno serve --parallel` with `jobs` isolates and waits until each of them answered a
 * request to `probePath` (isolates start one after the other). `workerOf` reads which isolate
 * answered.
 */
async function startParallelServe(
  client: Deno.HttpClient,
  module: string,
  jobs: number,
  probePath: string,
  workerOf: (response: Response, body: string) => string | undefined,
  env: Record<string, string> = {},
): Promise<{ base: string; server: ManagedProcess }> {
  const port = freePort();
  const server = startProcess(
    Deno.execPath(),
    ["serve", "--parallel", "--port", String(port), "--allow-net", "--allow-env", module],
    { cwd: ROOT, env: { DENO_JOBS: String(jobs), ...env } },
  );
  const base = `http://127.0.0.1:${port}`;
  const seen = new Set<string>();
  try {
    await waitFor(() => new RegExp(`with ${jobs} threads`).test(server.output()), {
      timeoutMs: 30_000,
      what: `${module} listening with ${jobs} threads`,
    });
    await waitFor(async () => {
      const response = await fetch(base + probePath, { client });
      const worker = workerOf(response, await response.text());
      if (response.ok && worker !== undefined) seen.add(worker);
      return seen.size === jobs;
    }, { timeoutMs: 20_000, intervalMs: 5, what: `answers from all ${jobs} isolates` });
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { base, server };
}

/** The worker id in the example's answer, `hello from worker <id>`. */
function helloFrom(body: string): string | undefined {
  return body.match(/^hello from worker ([0-9a-f]{8})\n$/)?.[1];
}

/** Sends `count` requests to `url`, `concurrency` at a time; returns the workers that answered. */
async function hammer(
  client: Deno.HttpClient,
  url: string,
  count: number,
  concurrency = 8,
): Promise<Set<string>> {
  const workers = new Set<string>();
  let sent = 0;
  const lane = async () => {
    while (sent < count) {
      sent++;
      const response = await fetch(url, { client });
      await response.text();
      assert.equal(response.status, 200);
      workers.add(response.headers.get("x-worker") ?? "?");
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return workers;
}

Deno.test("deno serve --parallel (DENO_JOBS=2): every scrape reports exactly N", async () => {
  const client = unpooledClient();
  const { base, server } = await startParallelServe(
    client,
    "tests/support/workers_serve_fixture.ts",
    2,
    "/metrics",
    (response) => response.headers.get("x-worker") ?? undefined,
    { CHANNEL: `serve-test-${crypto.randomUUID()}` },
  ).catch((error) => {
    client.close();
    throw error;
  });
  try {
    const requests = 300;
    const workersThatWorked = await hammer(client, `${base}/work`, requests);
    assert.equal(workersThatWorked.size, 2, "the requests were spread over both isolates");
    const workersThatScraped = new Set<string>();
    // Which isolate accepts a connection is the kernel's choice: scrape (each answer exact)
    // until both have answered, at least 24 times and at most 200.
    for (let scrape = 0; scrape < 200; scrape++) {
      if (scrape >= 24 && workersThatScraped.size === 2) break;
      const response = await fetch(`${base}/metrics`, { client });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      workersThatScraped.add(response.headers.get("x-worker") ?? "?");
      assert.equal(sample(text, "jobs_total"), requests, text);
      assert.equal(sample(text, "job_duration_seconds_count"), requests, text);
      assert.equal(sample(text, 'job_duration_seconds_bucket{le="+Inf"}'), requests, text);
    }
    assert.equal(workersThatScraped.size, 2, "scrapes were answered by both isolates");
  } finally {
    client.close();
    await server.stop();
  }
});

Deno.test('examples/parallel_serve.ts with DENO_JOBS=4: http_requests_total{path="/"} is N at every scrape', async () => {
  const client = unpooledClient();
  // The probe requests count under path="/ready", not path="/".
  const { base, server } = await startParallelServe(
    client,
    "examples/parallel_serve.ts",
    4,
    "/ready",
    (_response, body) => helloFrom(body),
  ).catch((error) => {
    client.close();
    throw error;
  });
  try {
    const requests = 200;
    const workers = new Set<string>();
    for (let i = 0; i < requests; i++) {
      const response = await fetch(`${base}/`, { client });
      const body = await response.text();
      const worker = helloFrom(body);
      assert.ok(worker, body);
      workers.add(worker);
    }
    assert.ok(workers.size >= 2, `requests reached ${workers.size} of the 4 isolates`);
    for (let scrape = 0; scrape < 12; scrape++) {
      const response = await fetch(`${base}/metrics`, { client });
      const text = await response.text();
      assert.equal(sample(text, 'http_requests_total{path="/"}'), requests, text);
    }
  } finally {
    client.close();
    await server.stop();
  }
});
