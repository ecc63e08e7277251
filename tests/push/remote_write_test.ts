// Remote write 1.0: what goes on the wire (decoded back from snappy + protobuf), golden bytes of a
// small request, the series naming of every metric type, labels, metadata, and how failures of
// the receiver become RemoteWriteErrors — against a local receiver each test controls.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  PushError,
  Registry,
  remoteWrite,
  RemoteWriteError,
  Summary,
} from "../../mod.ts";
import { ProtoWriter } from "../../src/encoding/protobuf.ts";
import { freePort } from "../support/process.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { decodeWriteRequest, fakeReceiver, seriesLines } from "../support/remote_write_receiver.ts";

// --- the request ----------------------------------------------------------------------------

Deno.test("remote write: golden bytes of a small request, headers and method", async () => {
  const receiver = fakeReceiver();
  try {
    const registry = new Registry();
    new Counter({ name: "jobs", help: "jobs run", registry }).inc(3);
    const before = Date.now();
    await remoteWrite(receiver.url, { registry, labels: { job: "cli" } });
    const after = Date.now();
    const [request] = receiver.requests;
    assert.equal(request.method, "POST");
    assert.equal(request.path, "/api/v1/write");
    assert.equal(request.headers.get("content-encoding"), "snappy");
    assert.equal(request.headers.get("content-type"), "application/x-protobuf");
    assert.equal(request.headers.get("x-prometheus-remote-write-version"), "0.1.0");

    const body = snappyDecompress(request.bytes);
    const timestamp = decodeWriteRequest(body).series[0].samples[0].timestamp;
    assert.ok(timestamp >= before && timestamp <= after, `${timestamp}`);
    // The expected WriteRequest, written field by field from prompb's numbers.
    const ts = varint(timestamp);
    const label = (name: string, value: string) => [
      0x0a,
      name.length + value.length + 4,
      0x0a,
      name.length,
      ...ascii(name),
      0x12,
      value.length,
      ...ascii(value),
    ];
    const sample = [0x12, 9 + 1 + ts.length, 0x09, ...float64(3), 0x10, ...ts];
    const series = [...label("__name__", "jobs_total"), ...label("job", "cli"), ...sample];
    const metadata = [0x08, 1, 0x12, 10, ...ascii("jobs_total"), 0x22, 8, ...ascii("jobs run")];
    // The family's metadata first, then its series.
    const expected = [0x1a, metadata.length, ...metadata, 0x0a, series.length, ...series];
    assert.deepEqual([...body], expected);
    // And the compressed body is the request as one snappy block (the preamble is its length).
    assert.equal(request.bytes[0], expected.length);
  } finally {
    await receiver.close();
  }
});

function ascii(text: string): number[] {
  return [...new TextEncoder().encode(text)];
}

function float64(value: number): number[] {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return [...bytes];
}

function varint(value: number): number[] {
  const writer = new ProtoWriter();
  writer.varint(value);
  return [...writer.finish()];
}

Deno.test("remote write: every type named as a text-format scrape stores it; labels sorted", async () => {
  const receiver = fakeReceiver();
  try {
    const registry = new Registry();
    new Counter({ name: "requests", help: "requests served", labelNames: ["path"], registry })
      .labels({ path: "/a" }).inc(2);
    new Gauge({ name: "queue_depth", help: "jobs waiting", registry }).set(-1.5);
    const histogram = new Histogram({
      name: "latency_seconds",
      help: "latency",
      labelNames: ["route"],
      buckets: [0.1, 1],
      registry,
    });
    histogram.labels({ route: "r" }).observe(0.05);
    histogram.labels({ route: "r" }).observe(0.5);
    const summary = new Summary({
      name: "size_bytes",
      help: "sizes",
      percentiles: [0.5],
      registry,
    });
    summary.observe(10);
    new Info({ name: "build", help: "build info", registry }).info({ version: "1.2" });
    new Enum({ name: "phase", help: "phase", states: ["idle", "busy"], registry }).state("busy");
    registry.register({
      collect: () => [{
        type: "unknown",
        name: "legacy",
        help: "",
        points: [{ labels: { Zone: "z", job: "own" }, value: 7 }],
      }],
    });

    await remoteWrite(receiver.url, { registry, labels: { job: "j", instance: "i-1" } });
    const request = receiver.decoded();
    assert.deepEqual(seriesLines(request), [
      'requests_total{instance="i-1",job="j",path="/a"} 2',
      'queue_depth{instance="i-1",job="j"} -1.5',
      'latency_seconds_bucket{instance="i-1",job="j",le="0.1",route="r"} 1',
      'latency_seconds_bucket{instance="i-1",job="j",le="1.0",route="r"} 2',
      'latency_seconds_bucket{instance="i-1",job="j",le="+Inf",route="r"} 2',
      'latency_seconds_count{instance="i-1",job="j",route="r"} 2',
      'latency_seconds_sum{instance="i-1",job="j",route="r"} 0.55',
      'size_bytes{instance="i-1",job="j",quantile="0.5"} 10',
      'size_bytes_count{instance="i-1",job="j"} 1',
      'size_bytes_sum{instance="i-1",job="j"} 10',
      'build_info{instance="i-1",job="j",version="1.2"} 1',
      'phase{instance="i-1",job="j",phase="idle"} 0',
      'phase{instance="i-1",job="j",phase="busy"} 1',
      // The series' own job wins over the added one, as with Prometheus' external_labels.
      'legacy{Zone="z",instance="i-1",job="own"} 7',
    ]);
    // Label names sorted in code-unit order, `__name__` where it falls (after "Zone").
    for (const { labels } of request.series) {
      const names = labels.map(([name]) => name);
      assert.deepEqual(names, [...names].sort(), `${names}`);
    }
    assert.deepEqual(request.series.at(-1)!.labels.map(([n]) => n), [
      "Zone",
      "__name__",
      "instance",
      "job",
    ]);
    // One timestamp for the whole request.
    const timestamps = new Set(request.series.flatMap((s) => s.samples.map((x) => x.timestamp)));
    assert.equal(timestamps.size, 1);
    assert.ok(request.series.every((s) => s.samples.length === 1));
    assert.deepEqual(request.metadata, [
      { type: 1, name: "requests_total", help: "requests served", unit: "" },
      { type: 2, name: "queue_depth", help: "jobs waiting", unit: "" },
      { type: 3, name: "latency_seconds", help: "latency", unit: "" },
      { type: 5, name: "size_bytes", help: "sizes", unit: "" },
      { type: 2, name: "build_info", help: "build info", unit: "" },
      { type: 2, name: "phase", help: "phase", unit: "" },
      { type: 0, name: "legacy", help: "", unit: "" },
    ]);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: non-ASCII, long and ill-formed label values are encoded as UTF-8", async () => {
  const receiver = fakeReceiver();
  try {
    const long = "x".repeat(200);
    const source = {
      collect: (): MetricFamily[] => [{
        type: "gauge",
        name: "g",
        help: "",
        points: [
          { labels: { city: "Zürich", job: "j" }, value: 1 },
          { labels: { job: "j", note: long }, value: 2 },
          { labels: { job: "j", path: "/a\ud800" }, value: 3 },
        ],
      }],
    };
    await remoteWrite(receiver.url, { registry: source });
    assert.deepEqual(seriesLines(receiver.decoded()), [
      'g{city="Zürich",job="j"} 1',
      `g{job="j",note="${long}"} 2`,
      'g{job="j",path="/a\ufffd"} 3',
    ]);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: an empty label value is no label, as a scrape stores it", async () => {
  const receiver = fakeReceiver();
  try {
    const source = {
      collect: (): MetricFamily[] => [{
        type: "gauge",
        name: "g",
        help: "",
        points: [
          { labels: { a: "", zone: "" }, value: 1 },
          { labels: { a: "x", zone: "own" }, value: 2 },
        ],
      }],
    };
    await remoteWrite(receiver.url, { registry: source, labels: { job: "j", zone: "eu", b: "" } });
    assert.deepEqual(seriesLines(receiver.decoded()), [
      'g{job="j",zone="eu"} 1',
      'g{a="x",job="j",zone="own"} 2',
    ]);
    await assert.rejects(
      remoteWrite(receiver.url, { registry: source, labels: { job: "" } }),
      { name: "TypeError", message: /has no job label/ },
    );
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: names outside the legacy alphabet go with underscores", async () => {
  const receiver = fakeReceiver();
  try {
    const registry = new Registry();
    new Counter({
      name: "http.server.requests",
      help: "requests",
      labelNames: ["http.method"],
      registry,
    }).labels("GET").inc(2);
    await remoteWrite(receiver.url, { registry, labels: { job: "j", "service.name": "api" } });
    assert.deepEqual(seriesLines(receiver.decoded()), [
      'http_server_requests_total{http_method="GET",job="j",service_name="api"} 2',
    ]);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: units travel in metadata; a source is anything with collect()", async () => {
  const receiver = fakeReceiver();
  try {
    const source = {
      collect: () => [{
        type: "gauge" as const,
        name: "disk_free_bytes",
        help: "free",
        unit: "bytes",
        points: [{ labels: { job: "host" }, value: 1e12 }],
      }],
    };
    await remoteWrite(receiver.url, { registry: source });
    const request = receiver.decoded();
    assert.deepEqual(seriesLines(request), ['disk_free_bytes{job="host"} 1000000000000']);
    assert.deepEqual(request.metadata, [
      { type: 2, name: "disk_free_bytes", help: "free", unit: "bytes" },
    ]);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: job is required, from labels or on every series; bad options are TypeErrors", async () => {
  const receiver = fakeReceiver();
  try {
    const registry = new Registry();
    new Gauge({ name: "g", help: "g", registry }).set(1);
    await assert.rejects(
      remoteWrite(receiver.url, { registry }),
      { name: "TypeError", message: /a series of "g" has no job label: give remote write labels/ },
    );
    await assert.rejects(
      remoteWrite(receiver.url, { registry, labels: { "bad\nname": "x", job: "j" } }),
      { name: "TypeError", message: /labels for http:.*: invalid label name "bad\\nname"/ },
    );
    await assert.rejects(
      remoteWrite(receiver.url, { registry, labels: { job: 1 as unknown as string } }),
      { name: "TypeError", message: /label "job" in labels for .* must be a string/ },
    );
    await assert.rejects(remoteWrite("ftp://x/", { registry }), TypeError);
    await assert.rejects(
      remoteWrite(receiver.url, { registry, labels: { job: "j" }, timeoutMs: -1 }),
      RangeError,
    );
    assert.equal(receiver.requests.length, 0);
  } finally {
    await receiver.close();
  }
});

// --- failures -------------------------------------------------------------------------------

function registryWithJob(): Registry {
  const registry = new Registry();
  new Gauge({ name: "rw_value", help: "v", registry }).set(1);
  return registry;
}

async function failureOf(url: string, extra: Record<string, unknown> = {}): Promise<unknown> {
  return await remoteWrite(url, { registry: registryWithJob(), labels: { job: "t" }, ...extra })
    .then(() => undefined, (error) => error);
}

Deno.test("remote write: 5xx and 429 are retryable RemoteWriteErrors; 4xx are not", async () => {
  const receiver = fakeReceiver();
  try {
    for (
      const [status, body, retryable] of [
        [500, "tsdb is on fire", true],
        [503, "", true],
        [429, "slow down", true],
        [400, "out of order sample", false],
        [401, "unauthorized", false],
        [413, "too large", false],
      ] as const
    ) {
      receiver.answer(() => new Response(body, { status }));
      const error = await failureOf(receiver.url);
      assert.ok(error instanceof RemoteWriteError, `${status}: ${error}`);
      assert.ok(error instanceof PushError);
      assert.equal(error.name, "RemoteWriteError");
      assert.equal(error.status, status);
      assert.equal(error.retryable, retryable, `${status}`);
      assert.equal(error.gatewayMessage, body);
      assert.equal(error.method, "POST");
      assert.equal(error.url, receiver.url);
      assert.match(error.message, new RegExp(`^POST ${receiver.url} failed: HTTP ${status}`));
      if (body !== "") assert.ok(error.message.endsWith(`: ${body}`), error.message);
    }
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: a Retry-After (seconds or date) travels with a retryable error", async () => {
  const receiver = fakeReceiver();
  try {
    receiver.answer(() =>
      new Response("slow down", { status: 429, headers: { "retry-after": "7" } })
    );
    const seconds = await failureOf(receiver.url);
    assert.ok(seconds instanceof RemoteWriteError);
    assert.equal(seconds.retryAfterMs, 7000);
    const date = new Date(Date.now() + 60_000).toUTCString();
    receiver.answer(() => new Response("", { status: 503, headers: { "retry-after": date } }));
    const dated = await failureOf(receiver.url);
    assert.ok(dated instanceof RemoteWriteError);
    assert.ok(
      dated.retryAfterMs! > 55_000 && dated.retryAfterMs! <= 60_000,
      `${dated.retryAfterMs}`,
    );
    receiver.answer(() => new Response("", { status: 400, headers: { "retry-after": "7" } }));
    const refused = await failureOf(receiver.url);
    assert.ok(refused instanceof RemoteWriteError);
    assert.equal(refused.retryAfterMs, undefined, "not retryable: no wait to honour");
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: network failures and timeouts are retryable; the caller's abort is not", async () => {
  const refused = await failureOf(`http://127.0.0.1:${freePort()}/api/v1/write`);
  assert.ok(refused instanceof RemoteWriteError && refused.retryable, `${refused}`);
  assert.equal(refused.status, undefined);

  const receiver = fakeReceiver();
  receiver.answer(() => receiver.hang());
  try {
    const timedOut = await failureOf(receiver.url, { timeoutMs: 200 });
    assert.ok(timedOut instanceof RemoteWriteError && timedOut.retryable);
    assert.match(timedOut.message, /timed out after 200 ms$/);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("shutting down")), 50);
    const aborted = await failureOf(receiver.url, { signal: controller.signal });
    assert.ok(aborted instanceof RemoteWriteError && !aborted.retryable);
    assert.match(aborted.message, /was aborted$/);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write: redirects are not followed; credentials never show in errors", async () => {
  const elsewhere = fakeReceiver();
  const receiver = fakeReceiver(() => Response.redirect(elsewhere.url, 307));
  try {
    const withUrlAuth = receiver.url.replace("http://", "http://alice:s3cret@");
    const error = await failureOf(withUrlAuth);
    assert.ok(error instanceof RemoteWriteError, `${error}`);
    assert.equal(error.status, 307);
    assert.equal(error.retryable, false);
    assert.ok(!error.message.includes("s3cret") && !error.url.includes("s3cret"), error.message);
    assert.equal(
      receiver.requests[0].headers.get("authorization"),
      `Basic ${btoa("alice:s3cret")}`,
    );
    await failureOf(receiver.url, { auth: { bearerToken: "s3cret" }, headers: { "X-Org": "7" } });
    assert.equal(receiver.requests[1].headers.get("authorization"), "Bearer s3cret");
    assert.equal(receiver.requests[1].headers.get("x-org"), "7");
    assert.equal(elsewhere.requests.length, 0);
  } finally {
    await receiver.close();
    await elsewhere.close();
  }
});

Deno.test("remote write: a collector's error passes through; a custom fetch is used", async () => {
  const bug = new Error("sensor offline");
  const registry = new Registry();
  registry.register({
    collect: () => {
      throw bug;
    },
  });
  const seen: string[] = [];
  const fetch = (url: string, init: RequestInit) => {
    seen.push(`${init.method} ${url}`);
    return Promise.resolve(new Response(null, { status: 204 }));
  };
  const error = await remoteWrite("http://rw.invalid/api/v1/write", {
    registry,
    labels: { job: "t" },
    fetch,
  }).then(() => undefined, (e) => e);
  assert.equal(error, bug);
  await remoteWrite("http://rw.invalid/api/v1/write", {
    registry: registryWithJob(),
    labels: { job: "t" },
    fetch,
  });
  assert.deepEqual(seen, ["POST http://rw.invalid/api/v1/write"]);
});

Deno.test("remote write: a wall-clock step back does not stretch the write's deadline", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "steps", help: "h", labelNames: ["k"], registry });
  counter.labels({ k: "a" }).inc();
  counter.labels({ k: "b" }).inc();
  const realNow = Date.now;
  const receiver = fakeReceiver();
  // The first request is taken, then the clock steps back an hour and the second never answers.
  receiver.answer(() => {
    Date.now = () => realNow() - 3_600_000;
    receiver.answer(() => receiver.hang());
    return new Response(null, { status: 204 });
  });
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const write = remoteWrite(receiver.url, {
      registry,
      labels: { job: "t" },
      timeoutMs: 300,
      maxSeriesPerRequest: 1,
    }).then(() => undefined, (error) => error);
    const stretched = new Promise((resolve) => {
      guard = setTimeout(() => resolve("still waiting after 10 s"), 10_000);
    });
    const error = await Promise.race([write, stretched]);
    assert.ok(error instanceof RemoteWriteError && error.retryable, String(error));
    assert.match(error.message, /timed out after \d+ ms \(request 2 of 2; 1 of 2 series/);
  } finally {
    clearTimeout(guard);
    Date.now = realNow;
    await receiver.close();
  }
});
