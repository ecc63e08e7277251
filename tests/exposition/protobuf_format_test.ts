// The protobuf exposition format, read back with the test-only decoder: every type, created
// timestamps, exemplars, native buckets; negotiation; the handler, registries and worker
// aggregators serving it.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  metricsHandler,
  Registry,
  Summary,
} from "../../mod.ts";
import {
  negotiateFormat,
  PROTOBUF_CONTENT_TYPE,
  renderProtobuf,
  type SummaryPoint,
} from "../../src/exposition/mod.ts";
import { aggregateWorkers } from "../../src/workers/mod.ts";
import { waitFor } from "../support/process.ts";
import {
  decodeMessage,
  type RawField,
  splitDelimited,
  toDouble,
  toText,
  unzigzag,
} from "../support/protobuf.ts";

/** A decoded message as plain data: field number → values (numbers, strings or sub-messages). */
type Decoded = Record<number, unknown[]>;

/** Decodes `bytes` with the given schema: which fields are messages, strings, doubles, sint. */
function decode(bytes: Uint8Array, path = ""): Decoded {
  const out: Decoded = {};
  for (const field of decodeMessage(bytes)) {
    const key = `${path}${field.field}`;
    (out[field.field] ??= []).push(value(field, key));
  }
  return out;
}

// Field kinds by path in MetricFamily (dotted field numbers).
const MESSAGES = new Set([
  "4", // metric
  "4.1", // label
  "4.2", // gauge
  "4.3", // counter
  "4.3.2", // counter exemplar
  "4.3.2.1", // its labels
  "4.3.2.3", // its timestamp
  "4.3.3", // counter created
  "4.4", // summary
  "4.4.3", // quantile
  "4.4.4", // summary created
  "4.5", // untyped
  "4.7", // histogram
  "4.7.3", // bucket
  "4.7.3.3", // bucket exemplar
  "4.7.3.3.1",
  "4.7.3.3.3",
  "4.7.9", // negative span
  "4.7.12", // positive span
  "4.7.15", // histogram created
]);
const STRINGS = new Set([
  "1",
  "2",
  "4.1.1",
  "4.1.2",
  "4.3.2.1.1",
  "4.3.2.1.2",
  "4.7.3.3.1.1",
  "4.7.3.3.1.2",
]);
const SINT = new Set(["4.7.5", "4.7.10", "4.7.13", "4.7.9.1", "4.7.12.1"]);

function value(field: RawField, key: string): unknown {
  if (field.wireType === 0) return Number(SINT.has(key) ? unzigzag(field.value) : field.value);
  if (field.wireType === 1) return toDouble(field.value);
  if (field.wireType === 2) {
    if (MESSAGES.has(key)) return decode(field.value, key + ".");
    if (STRINGS.has(key)) return toText(field.value);
  }
  throw new Error(`unexpected field ${key}`);
}

function families(bytes: Uint8Array): Decoded[] {
  return splitDelimited(bytes).map((message) => decode(message));
}

/** `{ name: value }` of a metric's label pairs. */
function labelsOf(metric: Decoded): Record<string, string> {
  return Object.fromEntries(
    ((metric[1] ?? []) as Decoded[]).map((pair) => [pair[1][0], pair[2][0]]),
  );
}

Deno.test("protobuf: counters (with _total, created timestamp, exemplar), gauges, untyped", () => {
  const bytes = renderProtobuf([
    {
      type: "counter",
      name: "jobs",
      help: "jobs run",
      points: [{
        labels: { queue: "a", b: "x" },
        value: 3,
        created: 1700000000.25,
        exemplar: { labels: { trace_id: "t1" }, value: 1, timestamp: 1700000001 },
      }],
    },
    { type: "gauge", name: "temp", help: "t", points: [{ labels: {}, value: -1.5 }] },
    { type: "unknown", name: "misc", help: "", points: [{ labels: {}, value: 7 }] },
  ]);
  const [counter, gauge, misc] = families(bytes);
  assert.deepEqual([counter[1], counter[2], counter[3]], [["jobs_total"], ["jobs run"], [0]]);
  const metric = counter[4][0] as Decoded;
  // Label pairs sorted by name.
  assert.deepEqual((metric[1] as Decoded[]).map((pair) => pair[1][0]), ["b", "queue"]);
  const value = metric[3][0] as Decoded;
  assert.equal(value[1][0], 3);
  const exemplar = value[2][0] as Decoded;
  assert.deepEqual(labelsOf(exemplar), { trace_id: "t1" });
  assert.deepEqual(exemplar[3][0], { 1: [1700000001] });
  // Created: google.protobuf.Timestamp { seconds, nanos }.
  assert.deepEqual(value[3][0], { 1: [1700000000], 2: [250000000] });
  assert.deepEqual([gauge[1][0], gauge[3][0], ((gauge[4][0] as Decoded)[2][0] as Decoded)[1][0]], [
    "temp",
    1,
    -1.5,
  ]);
  assert.deepEqual([misc[3][0], ((misc[4][0] as Decoded)[5][0] as Decoded)[1][0]], [3, 7]);
});

Deno.test("protobuf: summaries with quantiles and created; info and state sets as untyped", async () => {
  const registry = new Registry();
  const summary = new Summary({ name: "size_bytes", help: "sizes", percentiles: [0.5], registry });
  summary.observe(10);
  summary.observe(30);
  new Info({ name: "build", help: "b", registry }).info({ version: "1" });
  new Enum({ name: "mode", help: "m", states: ["on", "off"], registry }).state("off");
  const [sizes, build, mode] = families(await registry.metrics({ format: "protobuf" }));
  const s = (sizes[4][0] as Decoded)[4][0] as Decoded;
  assert.equal(sizes[3][0], 2);
  assert.deepEqual([s[1][0], s[2][0]], [2, 40]);
  const [quantile] = s[3] as Decoded[];
  assert.equal(quantile[1][0], 0.5);
  const snapshot = (await registry.collect())[0].points[0] as SummaryPoint;
  assert.equal(quantile[2][0], snapshot.quantiles[0].value);
  assert.ok((s[4][0] as Decoded)[1][0] as number > 1_600_000_000, "created seconds");
  assert.deepEqual([build[1][0], build[3][0]], ["build_info", 3]);
  assert.deepEqual(labelsOf(build[4][0] as Decoded), { version: "1" });
  assert.deepEqual(
    (mode[4] as Decoded[]).map((m) => [labelsOf(m).mode, (m[5][0] as Decoded)[1][0]]),
    [["on", 0], ["off", 1]],
  );
});

Deno.test("protobuf: classic buckets without +Inf unless it has an exemplar; native spans", () => {
  const point = {
    labels: {},
    upperBounds: [1, 2, Infinity],
    bucketCounts: [1, 1, 3],
    count: 3,
    sum: 101.5,
    created: 1700000000,
    exemplars: [undefined, undefined, { labels: { id: "x" }, value: 100 }],
    schema: -1,
    zeroThreshold: 0.5,
    zeroCount: 1,
    positiveSpans: [{ offset: 2, length: 2 }],
    positiveDeltas: [1, -1],
    negativeSpans: [{ offset: -3, length: 1 }],
    negativeDeltas: [2],
  };
  const family: MetricFamily = { type: "histogram", name: "h", help: "h", points: [point] };
  const h = (families(renderProtobuf([family]))[0][4][0] as Decoded)[7][0] as Decoded;
  assert.deepEqual([h[1][0], h[2][0]], [3, 101.5]);
  const buckets = h[3] as Decoded[];
  assert.deepEqual(buckets.map((b) => [b[1][0], b[2][0]]), [[1, 1], [1, 2], [3, Infinity]]);
  assert.deepEqual(labelsOf(buckets[2][3][0] as Decoded), { id: "x" });
  assert.deepEqual([h[5][0], h[6][0], h[7][0]], [-1, 0.5, 1]);
  assert.deepEqual(h[9], [{ 1: [-3], 2: [1] }]);
  assert.deepEqual(h[10], [2]);
  assert.deepEqual(h[12], [{ 1: [2], 2: [2] }]);
  assert.deepEqual(h[13], [1, -1]);
  assert.deepEqual(h[15], [{ 1: [1700000000] }]);
  // Without the exemplar, +Inf is left out (the count implies it).
  const plain = { ...point, exemplars: undefined };
  const h2 = (families(renderProtobuf([{ ...family, points: [plain] }]))[0][4][0] as Decoded)[7][
    0
  ] as Decoded;
  assert.equal((h2[3] as Decoded[]).length, 2);
});

Deno.test("negotiateFormat: protobuf when named and not outweighed", () => {
  const prometheusNative =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited," +
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75," +
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
  const table: [string, string][] = [
    [prometheusNative, "protobuf"],
    ["application/vnd.google.protobuf", "protobuf"],
    ["application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily", "protobuf"],
    // Other framings or messages are not what we write.
    [
      "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
      "text",
    ],
    ["application/vnd.google.protobuf;proto=other.Message;encoding=delimited", "text"],
    // Wildcards never pick bytes.
    ["*/*", "text"],
    ["application/*", "openmetrics"],
    // Outweighed, or equal weight but listed later.
    ["application/vnd.google.protobuf;q=0.5,text/plain;version=0.0.4", "text"],
    ["text/plain;version=0.0.4,application/vnd.google.protobuf", "text"],
    ["application/vnd.google.protobuf;q=0", "text"],
  ];
  for (const [accept, expected] of table) assert.equal(negotiateFormat(accept), expected, accept);
});

Deno.test("metricsHandler serves protobuf bytes, gzipped when asked; registry.metrics returns bytes", async () => {
  const registry = new Registry();
  new Counter({ name: "hits", help: "hits", registry }).inc(2);
  const direct = await registry.metrics({ format: "protobuf" });
  assert.ok(direct instanceof Uint8Array);
  assert.equal(typeof await registry.metrics(), "string");
  const handle = metricsHandler({ registry });
  const accept =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";
  const response = await handle(new Request("http://x/metrics", { headers: { accept } }));
  assert.equal(response.headers.get("content-type"), PROTOBUF_CONTENT_TYPE);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), direct);
  const gzipped = await handle(
    new Request("http://x/metrics", { headers: { accept, "accept-encoding": "gzip" } }),
  );
  assert.equal(gzipped.headers.get("content-encoding"), "gzip");
  const unzipped = gzipped.body!.pipeThrough(new DecompressionStream("gzip"));
  assert.deepEqual(new Uint8Array(await new Response(unzipped).arrayBuffer()), direct);
  const forced = await metricsHandler({ registry, format: "protobuf" })(new Request("http://x/"));
  assert.equal(forced.headers.get("content-type"), PROTOBUF_CONTENT_TYPE);
  await forced.body?.cancel();
});

Deno.test("worker aggregators serve merged native histograms (different schemas) over protobuf", async () => {
  const channelName = `native-test-${crypto.randomUUID()}`;
  const workers = [1.1, 2].map((bucketFactor, i) => {
    const registry = new Registry();
    const h = new Histogram({ name: "lat_seconds", help: "l", native: { bucketFactor }, registry });
    h.observe(i === 0 ? 0.3 : 3);
    return aggregateWorkers({ registry, channelName, workerId: String(i), publishIntervalMs: 50 });
  });
  try {
    await waitFor(() => workers.every((w) => w.peers().some((peer) => peer.live)), {
      timeoutMs: 5000,
      intervalMs: 10,
      what: "both aggregators see each other",
    });
    const response = await metricsHandler({ registry: workers[0], format: "protobuf" })(
      new Request("http://x/metrics"),
    );
    const [family] = families(new Uint8Array(await response.arrayBuffer()));
    const h = (family[4][0] as Decoded)[7][0] as Decoded;
    // Schema 0 (the coarser); 0.3 in bucket -1 (¼, ½], 3 in bucket 2 (2, 4].
    assert.deepEqual([h[1][0], h[5][0]], [2, 0]);
    assert.deepEqual(h[12], [{ 1: [-1], 2: [4] }]);
    assert.deepEqual(h[13], [1, -1, 0, 1]);
  } finally {
    for (const worker of workers) worker[Symbol.dispose]();
  }
});

Deno.test("protobuf: every family of a registry decodes, all fields accounted for", async () => {
  const registry = new Registry();
  new Gauge({ name: "g", help: "g", registry }).set(1);
  const h = new Histogram({ name: "n_seconds", help: "n", native: true, buckets: [1], registry });
  h.observe(0.5, { trace_id: "z" });
  const decoded = families(await registry.metrics({ format: "protobuf" }));
  assert.deepEqual(decoded.map((f) => f[1][0]), ["g", "n_seconds"]);
  const histogram = (decoded[1][4][0] as Decoded)[7][0] as Decoded;
  assert.deepEqual(Object.keys(histogram).map(Number), [1, 2, 3, 5, 6, 7, 12, 13, 15]);
  assert.deepEqual(labelsOf((histogram[3][0] as Decoded)[3][0] as Decoded), { trace_id: "z" });
});

Deno.test("protobuf: an empty native histogram with zero threshold 0 gets one empty span", async () => {
  const registry = new Registry();
  new Histogram({ name: "idle_seconds", help: "i", native: { zeroThreshold: 0 }, registry });
  new Histogram({ name: "busy_seconds", help: "b", native: true, registry });
  const [idle, busy] = families(await registry.metrics({ format: "protobuf" })).map((family) =>
    (family[4][0] as Decoded)[7][0] as Decoded
  );
  // Otherwise it would look like a classic histogram to Prometheus.
  assert.deepEqual([idle[6][0], idle[12], idle[13]], [0, [{ 1: [0], 2: [0] }], undefined]);
  // A non-zero threshold marks it already.
  assert.deepEqual([busy[6][0], busy[12]], [2 ** -128, undefined]);
});
