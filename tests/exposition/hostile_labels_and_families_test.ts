// Audit of issue 11, items 6 and 7, at the entry points their own tests leave out: lone
// surrogates in constant labels, default labels, remote-write labels, the middleware's labels,
// labelled summaries, enums and end(labels); and hostile families from a plain MetricsSource
// (not a Registry) served by metricsHandler or sent by remoteWrite.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  instrumentHandler,
  type MetricFamily,
  metricsHandler,
  type MetricsSource,
  pushToGateway,
  Registry,
  remoteWrite,
  Summary,
  writeToTextfile,
} from "../../mod.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { decodeWriteRequest, seriesLines } from "../support/remote_write_receiver.ts";

Deno.test("audit: lone surrogates in constLabels, defaultLabels, summaries, enums, end(labels) and the middleware are one series", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu\ud800" } });
  const requests = new Counter({
    name: "requests",
    help: "h",
    labelNames: ["path"],
    constLabels: { version: "1\udc00" },
    registry,
  });
  requests.labels("/a\ud800").inc();
  requests.labels("/a\udbff").inc();
  const sizes = new Summary({ name: "sizes", help: "h", labelNames: ["path"], registry });
  sizes.labels("/a\ud800").observe(1);
  sizes.labels("/a\udbff").observe(2);
  const phase = new Enum({
    name: "phase",
    help: "h",
    labelNames: ["path"],
    states: ["a", "b"],
    registry,
  });
  phase.labels("/a\ud800").state("a");
  phase.labels("/a\udbff").state("b");
  const seconds = new Gauge({ name: "seconds", help: "h", labelNames: ["path"], registry });
  seconds.startTimer()({ path: "/a\ud800" });
  seconds.labels("/a\udbff").set(5);
  assert.equal(
    (await registry.metrics()).split("\n").filter((line) => !line.startsWith("#")).join("\n"),
    [
      'requests_total{path="/a\ufffd",region="eu\ufffd",version="1\ufffd"} 2.0',
      'sizes_count{path="/a\ufffd",region="eu\ufffd"} 2.0',
      'sizes_sum{path="/a\ufffd",region="eu\ufffd"} 3.0',
      'phase{path="/a\ufffd",phase="a",region="eu\ufffd"} 0.0',
      'phase{path="/a\ufffd",phase="b",region="eu\ufffd"} 1.0',
      'seconds{path="/a\ufffd",region="eu\ufffd"} 5.0',
      "",
    ].join("\n"),
  );

  const http = new Registry();
  const app = instrumentHandler((_request: Request) => new Response("ok"), {
    registry: http,
    route: (request) => new URL(request.url).searchParams.get("r") ?? "other",
    labels: { service: "api\ud800" },
  });
  await (await app(new Request("http://localhost/?r=%2Fx"))).text();
  await (await app(new Request("http://localhost/?r=%2Fx"))).text();
  assert.equal(
    await http.getSampleValue("http_requests_total", {
      method: "GET",
      route: "/x",
      service: "api\ufffd",
      status: "200",
    }),
    2,
  );
});

Deno.test("audit: remote write's labels option makes lone surrogates well-formed", async () => {
  const registry = new Registry();
  new Counter({ name: "jobs", help: "h", registry }).inc();
  let sent: Uint8Array | undefined;
  await remoteWrite("http://rw.invalid/api/v1/write", {
    registry,
    labels: { job: "batch", instance: "host\ud800" },
    fetch: (_url: string, init: RequestInit) => {
      sent = init.body as Uint8Array;
      return Promise.resolve(new Response(null, { status: 204 }));
    },
  });
  const request = snappyDecompress(sent!);
  const utf8 = new TextEncoder();
  const contains = (needle: Uint8Array) =>
    request.some((_, i) => needle.every((byte, j) => request[i + j] === byte));
  assert.ok(contains(utf8.encode("host\ufffd")), "U+FFFD as UTF-8 (EF BF BD)");
});

/** A MetricsSource that is not a Registry, as `metricsHandler` and `remoteWrite` accept. */
const hostileSource: MetricsSource = {
  collect: (): MetricFamily[] => [
    { type: "gauge", name: "good", help: "fine", points: [{ labels: {}, value: 1 }] },
    { type: "counter", name: "negative", help: "", points: [{ labels: {}, value: -5 }] },
    {
      type: "gauge",
      name: "twins",
      help: "",
      points: [{ labels: { a: "\ud800" }, value: 1 }, { labels: { a: "\udbff" }, value: 2 }],
    },
  ],
};

Deno.test({
  name: "audit: metricsHandler over a plain MetricsSource drops a negative counter and twin series",
  async fn() {
    const errors: unknown[] = [];
    const handle = metricsHandler({ registry: hostileSource, onError: (e) => errors.push(e) });
    const response = await handle(new Request("http://localhost/metrics"));
    assert.equal(await response.text(), "# HELP good fine\n# TYPE good gauge\ngood 1.0\n");
    assert.equal(errors.length, 2);
  },
});

Deno.test("pushToGateway and writeToTextfile over a plain MetricsSource drop bad families too", async () => {
  let body = "";
  await pushToGateway("http://127.0.0.1:9/", {
    job: "audit",
    registry: hostileSource,
    fetch: (_url, init) => {
      body = typeof init.body === "string"
        ? init.body
        : new TextDecoder().decode(init.body as Uint8Array);
      return Promise.resolve(new Response(null, { status: 200 }));
    },
  });
  assert.equal(body, "# HELP good fine\n# TYPE good gauge\ngood 1.0\n");
  const dir = await Deno.makeTempDir();
  try {
    await writeToTextfile(`${dir}/m.prom`, hostileSource);
    assert.equal(await Deno.readTextFile(`${dir}/m.prom`), body);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "audit: remoteWrite from a plain MetricsSource sends no negative counter or twin series",
  async fn() {
    let sent: Uint8Array | undefined;
    await remoteWrite("http://rw.invalid/api/v1/write", {
      registry: hostileSource,
      labels: { job: "audit" },
      fetch: (_url: string, init: RequestInit) => {
        sent = init.body as Uint8Array;
        return Promise.resolve(new Response(null, { status: 204 }));
      },
    }).catch(() => {});
    const request = new TextDecoder().decode(snappyDecompress(sent!));
    assert.match(request, /good/);
    assert.doesNotMatch(request, /negative|twins/);
  },
});

Deno.test({
  name: "audit: default labels never make two series of a custom family print the same labels",
  async fn() {
    const registry = new Registry({ defaultLabels: { region: "eu" } });
    registry.register({
      collect: (): MetricFamily[] => [{
        type: "gauge",
        name: "custom",
        help: "h",
        points: [{ labels: {}, value: 1 }, { labels: { region: "eu" }, value: 2 }],
      }],
    });
    const errors: unknown[] = [];
    const text = await registry.metrics({ onError: (error) => errors.push(error) });
    const lines = text.split("\n").filter((line) => line.startsWith("custom{"));
    assert.equal(new Set(lines.map((line) => line.split(" ")[0])).size, lines.length, text);
    assert.equal(errors.length, 1, "the clash is reported");
  },
});

Deno.test("audit: default labels, constant labels and the prefix reach remote write (issue 15)", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu-1" }, prefix: "batch_" });
  new Counter({ name: "jobs", help: "h", constLabels: { team: "a" }, registry }).inc(3);
  registry.register({
    collect: (): MetricFamily[] => [{
      type: "gauge",
      name: "queue",
      help: "h",
      points: [{ labels: {}, value: 1 }, { labels: { region: "us-2" }, value: 2 }],
    }],
  });
  let sent: Uint8Array | undefined;
  await remoteWrite("http://rw.invalid/api/v1/write", {
    registry,
    labels: { job: "audit" },
    fetch: (_url: string, init: RequestInit) => {
      sent = init.body as Uint8Array;
      return Promise.resolve(new Response(null, { status: 204 }));
    },
  });
  assert.deepEqual(seriesLines(decodeWriteRequest(snappyDecompress(sent!))), [
    'batch_jobs_total{job="audit",region="eu-1",team="a"} 3',
    'batch_queue{job="audit",region="eu-1"} 1',
    'batch_queue{job="audit",region="us-2"} 2',
  ]);
});
