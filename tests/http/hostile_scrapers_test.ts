// The /metrics handler and server under hung or slow collectors, impatient or vanishing clients,
// concurrent scrapes and malformed requests: every wait has a deadline and nothing is logged
// per request.
import assert from "node:assert/strict";
import {
  Counter,
  type MetricFamily,
  metricsHandler,
  type MetricsSource,
  Registry,
  startHttpServer,
} from "../../mod.ts";
import { scrapeDeadlineMs } from "../../src/http/scrape_wait.ts";
import * as gzipModule from "../../src/encoding/gzip.ts";
import { waitFor } from "../support/process.ts";

/** Fails the test when `promise` takes longer than `ms`: a bound on a hang, not a timing check. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A source whose collections wait until released, counting how often it was asked. */
function gatedSource(): MetricsSource & { calls: number; release(): void } {
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => release = resolve);
  const source = {
    calls: 0,
    async collect(): Promise<MetricFamily[]> {
      source.calls++;
      await gate;
      return [{ type: "gauge", name: "up", help: "up", points: [{ labels: {}, value: 1 }] }];
    },
    release(): void {
      release();
      gate = new Promise<void>((resolve) => release = resolve);
    },
  };
  return source;
}

/** A source whose collection never settles. */
const hungSource: MetricsSource = { collect: () => new Promise<never>(() => {}) };

function request(headers: Record<string, string> = {}, init: RequestInit = {}): Request {
  return new Request("http://localhost/metrics", { headers, ...init });
}

Deno.test("scrape deadline: Prometheus' timeout header less a margin, else the option", () => {
  const table: [string | null, number][] = [
    [null, 10_000],
    ["10", 9_500],
    ["1", 900],
    ["0.5", 450],
    [" 2.5 ", 2_250],
    ["", 10_000],
    ["soon", 10_000],
    ["0", 10_000],
    ["-3", 10_000],
    ["Infinity", 10_000],
    ["1e9", 299_500],
  ];
  for (const [header, expected] of table) {
    assert.equal(scrapeDeadlineMs(header, 10_000), expected, String(header));
  }
});

Deno.test("a hung collector: 503 with a one-line reason at the deadline, reported once per streak", async () => {
  const reported: unknown[] = [];
  const handle = metricsHandler({
    registry: hungSource,
    scrapeTimeoutMs: 200,
    onError: (error) => reported.push(error),
  });
  for (let i = 0; i < 2; i++) {
    const response = await within(5_000, handle(request()), "a scrape of a hung collector");
    assert.equal(response.status, 503);
    assert.equal(
      await response.text(),
      "collecting metrics took longer than 0.2 s (the scrape timeout)\n",
    );
  }
  assert.equal(reported.length, 1, "one report for the streak, not one per scrape");
  assert.match(String((reported[0] as Error).message), /took longer than 0\.2 s/);
});

Deno.test("the X-Prometheus-Scrape-Timeout-Seconds header sets the deadline", async () => {
  const handle = metricsHandler({ registry: hungSource, scrapeTimeoutMs: 120_000, onError() {} });
  const response = await within(
    5_000,
    handle(request({ "x-prometheus-scrape-timeout-seconds": "0.3" })),
    "a scrape with a 0.3 s timeout",
  );
  assert.equal(response.status, 503);
  assert.equal(
    await response.text(),
    "collecting metrics took longer than 0.27 s (the scrape timeout)\n",
  );
});

Deno.test("after a timed-out collection, the next scrape collects afresh", async () => {
  let hang = true;
  const source: MetricsSource = {
    collect: () =>
      hang ? new Promise<never>(() => {}) : [
        { type: "gauge", name: "up", help: "up", points: [{ labels: {}, value: 1 }] },
      ],
  };
  const handle = metricsHandler({ registry: source, scrapeTimeoutMs: 150, onError() {} });
  assert.equal((await within(5_000, handle(request()), "a hung scrape")).status, 503);
  hang = false;
  const recovered = await within(5_000, handle(request()), "the next scrape");
  assert.equal(recovered.status, 200);
  assert.match(await recovered.text(), /^up 1\.0$/m);
});

Deno.test("a client that goes away stops waiting", async () => {
  const handle = metricsHandler({ registry: hungSource, scrapeTimeoutMs: 120_000, onError() {} });
  const client = new AbortController();
  const pending = handle(request({}, { signal: client.signal }));
  setTimeout(() => client.abort(), 50);
  const response = await within(5_000, pending, "a scrape whose client left");
  assert.equal(response.status, 503);
  assert.equal(await response.text(), "the client went away before the metrics were ready\n");
});

Deno.test("concurrent scrapes share one collection, rendering and gzip body", async () => {
  const source = gatedSource();
  const handle = metricsHandler({ registry: source });
  const compressedBefore = gzipModule.compressedBodies;
  const plain = [handle(request()), handle(request()), handle(request())];
  const zipped = [
    handle(request({ "accept-encoding": "gzip" })),
    handle(request({ "accept-encoding": "gzip" })),
  ];
  source.release();
  const plainBodies = await Promise.all(plain.map(async (r) => await (await r).text()));
  const zippedBodies = await Promise.all(
    zipped.map(async (r) => new Uint8Array(await (await r).arrayBuffer())),
  );
  assert.equal(source.calls, 1, "one collection for five concurrent scrapes");
  assert.deepEqual(plainBodies, Array(3).fill("# HELP up up\n# TYPE up gauge\nup 1.0\n"));
  assert.deepEqual(zippedBodies[0], zippedBodies[1]);
  assert.equal(gzipModule.compressedBodies - compressedBefore, 1, "one gzip for two scrapes");

  // Once it is done, the next scrape collects again.
  const later = handle(request());
  source.release();
  await (await later).text();
  assert.equal(source.calls, 2);
});

Deno.test("scrapes with different name[] filters do not share a collection", async () => {
  const source = gatedSource();
  const handle = metricsHandler({ registry: source });
  const all = handle(request());
  const some = handle(new Request("http://localhost/metrics?name[]=up"));
  source.release();
  await (await all).text();
  await (await some).text();
  assert.equal(source.calls, 2);
});

Deno.test("maxConcurrentScrapes: beyond it, 503 at once; the others complete", async () => {
  const source = gatedSource();
  const handle = metricsHandler({ registry: source, maxConcurrentScrapes: 2 });
  const first = handle(request());
  const second = handle(request());
  const refused = await within(5_000, handle(request()), "a scrape beyond the bound");
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal(await refused.text(), "too many scrapes in progress (at most 2); try again later\n");
  source.release();
  assert.equal((await first).status, 200);
  assert.equal((await second).status, 200);
  await (await first).body?.cancel();
  await (await second).body?.cancel();
  // Capacity is given back.
  const again = handle(request());
  source.release();
  assert.equal((await again).status, 200);
  await (await again).body?.cancel();
});

/** A registry whose plain text is streamed (several chunks), not answered whole. */
function largeRegistry(): Registry {
  const registry = new Registry();
  const counter = new Counter({
    name: "big_total",
    help: "h",
    labelNames: ["id"],
    registry,
    maxSeries: Infinity,
  });
  for (let i = 0; i < 20_000; i++) counter.labels(`series-${i}`).inc(i);
  return registry;
}

Deno.test("maxConcurrentScrapes: a streamed body holds its place until it is read or cancelled", async () => {
  const handle = metricsHandler({
    registry: largeRegistry(),
    maxConcurrentScrapes: 1,
    compression: false,
  });
  const streamed = await handle(request());
  assert.equal(streamed.headers.get("content-length"), null, "streamed, not whole");
  // Its body is not read yet: the one place is still taken.
  assert.equal((await handle(request())).status, 503);
  await streamed.text();
  const next = await handle(request());
  assert.equal(next.status, 200, "reading to the end gives the place back");
  assert.equal((await handle(request())).status, 503);
  await next.body!.cancel();
  const last = await handle(request());
  assert.equal(last.status, 200, "cancelling gives the place back");
  await last.body!.cancel();
});

Deno.test("a streamed body not read within the scrape deadline is cut off and gives its place back", async () => {
  const handle = metricsHandler({
    registry: largeRegistry(),
    maxConcurrentScrapes: 1,
    compression: false,
    scrapeTimeoutMs: 200,
  });
  const stalled = await handle(request());
  const reader = stalled.body!.getReader();
  await reader.read(); // one chunk, then the reader stalls
  await waitFor(async () => {
    const response = await handle(request());
    await response.body?.cancel();
    return response.status === 200;
  }, { timeoutMs: 5_000, what: "the stalled body's place to be given back" });
  await assert.rejects(
    async () => {
      for (let part = await reader.read(); !part.done; part = await reader.read()) {
        // read what was queued before the cut
      }
    },
    /not read to its end within \d+ ms; cut off/,
  );
});

Deno.test("malformed Host header: 400 from the handler, nothing reported", async () => {
  const reported: unknown[] = [];
  const handle = metricsHandler({ registry: new Registry(), onError: (e) => reported.push(e) });
  for (const host of ["a b", "a/b", "[::1", "a\tb"]) {
    const response = await handle(request({ host }));
    assert.equal(response.status, 400, host);
    assert.equal(await response.text(), "bad request: malformed Host header or URL\n");
  }
  assert.deepEqual(reported, []);
});

/** Sends a raw HTTP/1.1 request and returns the whole answer. */
async function rawRequest(port: number, text: string): Promise<string> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await connection.write(new TextEncoder().encode(text));
    const chunks: string[] = [];
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (let n = await connection.read(buffer); n !== null; n = await connection.read(buffer)) {
      chunks.push(decoder.decode(buffer.subarray(0, n), { stream: true }));
    }
    return chunks.join("");
  } finally {
    connection.close();
  }
}

Deno.test("malformed Host header on the server: 400, no stack trace logged", async () => {
  const logged: unknown[][] = [];
  const originalError = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    await using server = startHttpServer({
      port: 0,
      hostname: "127.0.0.1",
      registry: new Registry(),
    });
    const cases = [["/metrics", "a b"], ["/healthz", "a b"], ["/other", "[::1"], [
      "/metrics",
      "x:99999",
    ], ["/metrics", "a/b"]];
    for (const [path, host] of cases) {
      const answer = await rawRequest(
        server.port,
        `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      assert.match(answer, /^HTTP\/1\.1 400 /, `${path} with Host: ${host}`);
      assert.match(answer, /bad request: malformed Host header or URL\n$/);
    }
  } finally {
    console.error = originalError;
  }
  assert.deepEqual(logged, []);
});

Deno.test("shutdown() resolves promptly with a hung collector; the waiting scrape gets 503", async () => {
  let asked = false;
  const source: MetricsSource = {
    collect: () => {
      asked = true;
      return new Promise<never>(() => {});
    },
  };
  const server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: source,
    scrapeTimeoutMs: 120_000,
    onError() {},
  });
  const scrape = fetch(server.url);
  while (!asked) await new Promise((resolve) => setTimeout(resolve, 10));
  await within(5_000, server.shutdown(), "shutdown with a hung collector");
  const response = await scrape;
  assert.equal(response.status, 503);
  assert.equal(await response.text(), "the metrics server is shutting down\n");
  await within(5_000, server.finished, "finished");
});

Deno.test("path with a query or a hash, and auth: null, are clear TypeErrors", () => {
  for (const path of ["/m?x=1", "/metrics#top", "/m?"]) {
    assert.throws(() => startHttpServer({ port: 0, path }), {
      name: "TypeError",
      message: new RegExp(
        `path must be a path only, without "\\?" or "#".*got ${
          JSON.stringify(path).replace(/[?]/g, "\\?")
        }`,
      ),
    });
  }
  assert.throws(
    // @ts-expect-error: null on purpose
    () => startHttpServer({ port: 0, auth: null }),
    {
      name: "TypeError",
      message:
        /^startHttpServer\(\): auth must be \{ username, password \} or \{ bearerToken \}, got null/,
    },
  );
});

Deno.test("new options: RangeErrors for bad numbers, TypeErrors for bad shapes", () => {
  const bad: [Record<string, unknown>, string, RegExp][] = [
    [{ compressionLevel: 0 }, "RangeError", /compressionLevel must be an integer from 1 to 9/],
    [{ compressionLevel: 2.5 }, "RangeError", /compressionLevel must be an integer from 1 to 9/],
    [{ scrapeTimeoutMs: 0 }, "RangeError", /scrapeTimeoutMs must be a number of ms above 0/],
    [{ scrapeTimeoutMs: NaN }, "RangeError", /scrapeTimeoutMs must be a number of ms above 0/],
    [{ maxConcurrentScrapes: 0 }, "RangeError", /maxConcurrentScrapes must be an integer of 1/],
    [{ selfMetrics: {} }, "TypeError", /selfMetrics must be true or a Registry/],
    [
      { selfMetrics: true, registry: { collect: () => [] } },
      "TypeError",
      /selfMetrics: true registers in `registry`, which is not a Registry/,
    ],
  ];
  for (const [options, name, message] of bad) {
    assert.throws(() => metricsHandler(options), { name, message }, JSON.stringify(options));
  }
});

async function gzipped(handle: (request: Request) => Promise<Response>): Promise<Uint8Array> {
  const response = await handle(request({ "accept-encoding": "gzip" }));
  assert.equal(response.headers.get("content-encoding"), "gzip");
  return new Uint8Array(await response.arrayBuffer());
}

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return await new Response(stream).text();
}

Deno.test("compressionLevel: node:zlib honours it; every level round-trips", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "requests_total",
    help: "requests",
    labelNames: ["route"],
    registry,
  });
  for (let i = 0; i < 2_000; i++) counter.labels(`/route/${i}`).inc(i);
  const plain = await registry.metrics();
  const fastest = await gzipped(metricsHandler({ registry, compressionLevel: 1 }));
  const byDefault = await gzipped(metricsHandler({ registry }));
  const smallest = await gzipped(metricsHandler({ registry, compressionLevel: 9 }));
  const level2 = await gzipped(metricsHandler({ registry, compressionLevel: 2 }));
  for (const body of [fastest, byDefault, smallest]) assert.equal(await gunzip(body), plain);
  // The default is level 1 (the fastest): the same bytes as asking for it, not level 2's.
  assert.deepEqual(byDefault, fastest, "the default level is 1");
  assert.notDeepEqual(byDefault, level2, "level 2 compresses differently");
  // The gzip header's XFL byte says which end of the scale zlib was asked for.
  assert.equal(fastest[8], 4, "level 1: XFL 'fastest'");
  assert.equal(smallest[8], 2, "level 9: XFL 'maximum compression'");
  assert.ok(smallest.length < fastest.length, "level 9 is smaller than level 1");
});

Deno.test("gzip falls back to CompressionStream where node:zlib is absent", async () => {
  gzipModule.useCompressionStreamForTesting(true);
  try {
    const registry = new Registry();
    new Counter({ name: "jobs_total", help: "jobs", registry }).inc();
    const body = await gzipped(metricsHandler({ registry, compressionLevel: 1 }));
    assert.equal(await gunzip(body), await registry.metrics());
  } finally {
    gzipModule.useCompressionStreamForTesting(false);
  }
});

Deno.test("selfMetrics: true counts scrapes by code, in flight, and their duration", async () => {
  const registry = new Registry();
  const handle = metricsHandler({ registry, selfMetrics: true, onError() {} });
  await (await handle(request())).text();
  await (await handle(request({}, { method: "POST" }))).text();
  const text = await (await handle(request())).text();
  const lines = text.split("\n");
  for (
    const line of [
      "# TYPE promhttp_metric_handler_requests_total counter",
      'promhttp_metric_handler_requests_total{code="200"} 1.0',
      'promhttp_metric_handler_requests_total{code="500"} 0.0',
      'promhttp_metric_handler_requests_total{code="503"} 0.0',
      'promhttp_metric_handler_requests_total{code="405"} 1.0',
      "# TYPE promhttp_metric_handler_requests_in_flight gauge",
      "promhttp_metric_handler_requests_in_flight 1.0",
      "# TYPE promhttp_metric_handler_request_duration_seconds histogram",
      "promhttp_metric_handler_request_duration_seconds_count 2.0",
    ]
  ) {
    assert.ok(lines.includes(line), `missing ${line}:\n${text}`);
  }
  // A second handler on the same registry shares the metrics rather than clashing.
  const other = metricsHandler({ registry, selfMetrics: true });
  await (await other(request())).text();
  const after = await registry.metrics();
  assert.match(after, /^promhttp_metric_handler_requests_total\{code="200"\} 3\.0$/m);
});

Deno.test("selfMetrics on startHttpServer", async () => {
  const registry = new Registry();
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry,
    selfMetrics: true,
  });
  await (await fetch(server.url)).text();
  const text = await (await fetch(server.url)).text();
  assert.match(text, /^promhttp_metric_handler_requests_total\{code="200"\} 1\.0$/m);
  assert.match(text, /^promhttp_metric_handler_requests_in_flight 1\.0$/m);
});

Deno.test("selfMetrics: a registry of its own, apart from what is exposed", async () => {
  const exposed = new Registry();
  const own = new Registry();
  const handle = metricsHandler({ registry: exposed, selfMetrics: own, scrapeTimeoutMs: 100 });
  assert.equal(await (await handle(request())).text(), "");
  assert.match(await own.metrics(), /^promhttp_metric_handler_requests_total\{code="200"\} 1\.0$/m);
  assert.equal(await exposed.metrics(), "");
});

/** Open descriptors of this process (Linux), or undefined where /proc is not there. */
function openDescriptors(): number | undefined {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch {
    return undefined;
  }
}

Deno.test({
  name: "abandoned scrapes of a hung collector give their sockets back",
  ignore: openDescriptors() === undefined,
  async fn() {
    await using server = startHttpServer({
      port: 0,
      hostname: "127.0.0.1",
      registry: hungSource,
      scrapeTimeoutMs: 120_000,
      onError() {},
    });
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      await (await fetch(`http://127.0.0.1:${server.port}/healthz`, { client })).text();
      const before = openDescriptors()!;
      const abandoned = Array.from({ length: 30 }, async () => {
        try {
          await fetch(server.url, { client, signal: AbortSignal.timeout(100) });
        } catch {
          // The scraper gave up, as Prometheus does at its scrape timeout.
        }
      });
      await Promise.all(abandoned);
      await waitFor(() => openDescriptors()! <= before + 2, {
        what: `descriptors back to ${before} (now ${openDescriptors()})`,
        timeoutMs: 10_000,
      });
    } finally {
      client.close();
    }
  },
});
