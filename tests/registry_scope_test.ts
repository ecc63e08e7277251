// new Registry({ defaultLabels, prefix }) and registry.getSampleValue(): exact bytes in both
// formats and in a Pushgateway push body.
import assert from "node:assert/strict";
import {
  type Collector,
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  pushToGateway,
  Registry,
  remoteWrite,
  Summary,
} from "../mod.ts";
import { decodeWriteRequest, seriesLines } from "./support/remote_write_receiver.ts";
import { snappyDecompress } from "./support/snappy.ts";

/** A custom collector, as users write them: its labels object is kept between scrapes. */
const QUEUE_FAMILIES: MetricFamily[] = [{
  type: "gauge",
  name: "queue_depth",
  help: "jobs waiting",
  points: [{ labels: { queue: "mail" }, value: 3 }, {
    labels: { queue: "sms", region: "us-2" },
    value: 1,
  }],
}];
const queueCollector: Collector = { collect: () => QUEUE_FAMILIES };

function scopedRegistry(options: ConstructorParameters<typeof Registry>[0]): Registry {
  const registry = new Registry(options);
  new Counter({ name: "orders_total", help: "orders", labelNames: ["kind"], registry })
    .labels("book").inc(2);
  new Histogram({ name: "latency_seconds", help: "latency", buckets: [0.5], registry }).observe(
    0.2,
  );
  new Enum({ name: "phase", help: "phase", states: ["idle", "busy"], registry });
  registry.register(queueCollector);
  return registry;
}

const DEFAULTS = { region: "eu-1", version: "1.4.2" };

Deno.test("default labels on every sample, text format; a series' own label wins", async () => {
  const registry = scopedRegistry({ defaultLabels: DEFAULTS });
  assert.equal(
    await registry.metrics(),
    `# HELP orders_total orders
# TYPE orders_total counter
orders_total{kind="book",region="eu-1",version="1.4.2"} 2.0
# HELP latency_seconds latency
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.5",region="eu-1",version="1.4.2"} 1.0
latency_seconds_bucket{le="+Inf",region="eu-1",version="1.4.2"} 1.0
latency_seconds_count{region="eu-1",version="1.4.2"} 1.0
latency_seconds_sum{region="eu-1",version="1.4.2"} 0.2
# HELP phase phase
# TYPE phase gauge
phase{phase="idle",region="eu-1",version="1.4.2"} 1.0
phase{phase="busy",region="eu-1",version="1.4.2"} 0.0
# HELP queue_depth jobs waiting
# TYPE queue_depth gauge
queue_depth{queue="mail",region="eu-1",version="1.4.2"} 3.0
queue_depth{queue="sms",region="us-2",version="1.4.2"} 1.0
`,
  );
});

Deno.test("default labels in OpenMetrics, _created included", async () => {
  const registry = scopedRegistry({ defaultLabels: { region: "eu-1" } });
  const text = (await registry.metrics({ format: "openmetrics" }))
    .replace(/_created(\{[^}]*\}) \S+/g, "_created$1 T");
  assert.equal(
    text,
    `# HELP orders orders
# TYPE orders counter
orders_total{kind="book",region="eu-1"} 2.0
orders_created{kind="book",region="eu-1"} T
# HELP latency_seconds latency
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.5",region="eu-1"} 1.0
latency_seconds_bucket{le="+Inf",region="eu-1"} 1.0
latency_seconds_count{region="eu-1"} 1.0
latency_seconds_sum{region="eu-1"} 0.2
latency_seconds_created{region="eu-1"} T
# HELP phase phase
# TYPE phase stateset
phase{phase="idle",region="eu-1"} 1.0
phase{phase="busy",region="eu-1"} 0.0
# HELP queue_depth jobs waiting
# TYPE queue_depth gauge
queue_depth{queue="mail",region="eu-1"} 3.0
queue_depth{queue="sms",region="us-2"} 1.0
# EOF
`,
  );
});

Deno.test("default labels and prefix reach the Pushgateway body", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu-1" }, prefix: "batch_" });
  new Gauge({ name: "rows", help: "rows done", registry }).set(42);
  let body = "";
  await pushToGateway("http://127.0.0.1:9/", {
    job: "nightly",
    registry,
    fetch: (_url, init) => {
      body = typeof init.body === "string"
        ? init.body
        : new TextDecoder().decode(init.body as Uint8Array);
      return Promise.resolve(new Response(null, { status: 200 }));
    },
  });
  assert.equal(
    body,
    '# HELP batch_rows rows done\n# TYPE batch_rows gauge\nbatch_rows{region="eu-1"} 42.0\n',
  );
});

Deno.test("constant and default labels together reach the Pushgateway body and remote write", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu-1" } });
  new Counter({
    name: "jobs_total",
    help: "jobs",
    labelNames: ["kind"],
    constLabels: { app: "etl" },
    registry,
  }).labels("copy").inc(3);
  const sent: (string | Uint8Array)[] = [];
  const fetch = (_url: string | URL, init: RequestInit) => {
    sent.push(init.body as string | Uint8Array);
    return Promise.resolve(new Response(null, { status: 200 }));
  };
  await pushToGateway("http://127.0.0.1:9/", { job: "nightly", registry, fetch });
  const pushed = typeof sent[0] === "string" ? sent[0] : new TextDecoder().decode(sent[0]);
  assert.equal(
    pushed,
    '# HELP jobs_total jobs\n# TYPE jobs_total counter\njobs_total{app="etl",kind="copy",region="eu-1"} 3.0\n',
  );
  await remoteWrite("http://127.0.0.1:9/api/v1/write", {
    registry,
    labels: { job: "nightly" },
    fetch,
  });
  const written = decodeWriteRequest(snappyDecompress(sent[1] as Uint8Array));
  assert.deepEqual(seriesLines(written).filter((line) => line.startsWith("jobs_total{")), [
    'jobs_total{app="etl",job="nightly",kind="copy",region="eu-1"} 3',
  ]);
});

Deno.test("prefix: exposed names carry it; metrics are registered and looked up without it", async () => {
  const registry = new Registry({ prefix: "mylib_" });
  const requests = new Counter({ name: "requests_total", help: "requests", registry });
  requests.inc();
  new Info({ name: "build", help: "build", registry }).info({ version: "2" });
  assert.equal(
    await registry.metrics(),
    `# HELP mylib_requests_total requests
# TYPE mylib_requests_total counter
mylib_requests_total 1.0
# HELP mylib_build_info build
# TYPE mylib_build_info gauge
mylib_build_info{version="2"} 1.0
`,
  );
  assert.equal(registry.getMetric("requests_total"), requests);
  // The names filter (`?name[]=`) is about what is exposed.
  assert.deepEqual(
    (await registry.collect({ names: ["mylib_requests_total"] })).map((f) => f.name),
    ["mylib_requests"],
  );
  assert.deepEqual(await registry.collect({ names: ["requests_total"] }), []);
});

Deno.test("without options, collect() hands on the collectors' own families untouched", async () => {
  const family = queueCollector.collect() as readonly unknown[];
  const stable: Collector = { collect: () => family as never };
  for (const registry of [new Registry(), new Registry({}), new Registry({ defaultLabels: {} })]) {
    registry.register(stable);
    const [collected] = await registry.collect();
    assert.equal(collected, family[0], "the very same object: no copy, same bytes");
  }
});

Deno.test("bad registry options are TypeErrors naming the problem", () => {
  assert.throws(() => new Registry({ prefix: "x\n" }), {
    name: "TypeError",
    message: /invalid metric name "x\\n"/,
  });
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new Registry({ prefix: 3 }), /prefix must be a string/);
  assert.throws(
    () => new Registry({ defaultLabels: { "bad\nname": "x" } }),
    /invalid label name "bad\\nname"/,
  );
  assert.throws(() => new Registry({ defaultLabels: { __x: "x" } }), /reserved/);
  assert.throws(() => new Registry({ defaultLabels: { le: "x" } }), /cannot hold "le"/);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new Registry({ defaultLabels: { a: 1 } }), /value of "a" must be a string/);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new Registry("x"), TypeError);
});

Deno.test("getSampleValue: every sample name, exact labels, undefined when absent", async () => {
  const registry = new Registry();
  const requests = new Counter({
    name: "requests_total",
    help: "requests",
    labelNames: ["method"],
    registry,
  });
  requests.labels("GET").inc(3);
  new Gauge({ name: "temperature", help: "t", registry }).set(21.5);
  const latency = new Histogram({ name: "latency", help: "l", buckets: [0.1, 1], registry });
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(7);
  const sizes = new Summary({ name: "sizes", help: "s", percentiles: [0.5], registry });
  sizes.observe(10);
  new Info({ name: "build", help: "b", registry }).info({ version: "2" });
  new Enum({ name: "phase", help: "p", states: ["idle", "busy"], registry }).state("busy");

  assert.equal(await registry.getSampleValue("requests_total", { method: "GET" }), 3);
  assert.equal(await registry.getSampleValue("requests_total", { method: "PUT" }), undefined);
  assert.equal(
    await registry.getSampleValue("requests_total"),
    undefined,
    "labels must match exactly",
  );
  assert.equal(await registry.getSampleValue("requests", { method: "GET" }), undefined);
  const created = await registry.getSampleValue("requests_created", { method: "GET" });
  assert.ok(Math.abs(created! - Date.now() / 1000) < 60, `created ${created}`);
  assert.equal(await registry.getSampleValue("temperature"), 21.5);
  assert.equal(await registry.getSampleValue("latency_bucket", { le: "0.1" }), 1);
  assert.equal(await registry.getSampleValue("latency_bucket", { le: "1.0" }), 2);
  assert.equal(await registry.getSampleValue("latency_bucket", { le: "+Inf" }), 3);
  assert.equal(await registry.getSampleValue("latency_bucket", { le: "1" }), undefined);
  assert.equal(await registry.getSampleValue("latency_count"), 3);
  assert.equal(await registry.getSampleValue("latency_sum"), 7.55);
  assert.equal(await registry.getSampleValue("sizes", { quantile: "0.5" }), 10);
  assert.equal(await registry.getSampleValue("sizes_count"), 1);
  assert.equal(await registry.getSampleValue("sizes_sum"), 10);
  assert.equal(await registry.getSampleValue("build_info", { version: "2" }), 1);
  assert.equal(await registry.getSampleValue("phase", { phase: "busy" }), 1);
  assert.equal(await registry.getSampleValue("phase", { phase: "idle" }), 0);
  assert.equal(await registry.getSampleValue("nothing_here"), undefined);
  // @ts-expect-error: wrong type on purpose
  await assert.rejects(() => registry.getSampleValue(3), TypeError);
});

Deno.test("getSampleValue sees what is exposed: the prefix and default labels included", async () => {
  const registry = new Registry({ prefix: "app_", defaultLabels: { region: "eu-1" } });
  new Counter({ name: "jobs_total", help: "jobs", registry }).inc();
  assert.equal(await registry.getSampleValue("app_jobs_total", { region: "eu-1" }), 1);
  assert.equal(await registry.getSampleValue("app_jobs_total"), undefined);
  assert.equal(await registry.getSampleValue("jobs_total", { region: "eu-1" }), undefined);
});
