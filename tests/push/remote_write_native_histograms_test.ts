// Remote write carries native histograms (a TimeSeries named after the histogram, with one prompb
// `Histogram`) and exemplars (`TimeSeries.exemplars`), read from storage and from snapshots
// alike; both can be left out.
import assert from "node:assert/strict";
import { Counter, Histogram, type MetricFamily, Registry } from "../../mod.ts";
import {
  encodeCompressedWriteRequest,
  encodeWriteRequest,
  remoteWriteLabels,
  type WriteOptions,
} from "../support/remote_write_encoding.ts";
import { gather, remoteWrite } from "../../src/push/remote_write/write.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { decodeMessage } from "../support/protobuf.ts";
import { decodeWriteRequest, seriesLines } from "../support/remote_write_receiver.ts";

const TIMESTAMP = 1_700_000_000_123;

/** The request for `registry`, from storage, checked equal to the one from its snapshot. */
async function requestOf(registry: Registry, options: WriteOptions = {}) {
  const labels = remoteWriteLabels({ job: "t" });
  const items = await gather(registry);
  assert.ok(items.some((item) => "storage" in item));
  const families: MetricFamily[] = await registry.collect();
  const flat = encodeWriteRequest(items, labels, TIMESTAMP, options).slice();
  assert.deepEqual(encodeWriteRequest(families, labels, TIMESTAMP, options), flat);
  const block = encodeCompressedWriteRequest(items, labels, TIMESTAMP, options).slice();
  assert.deepEqual(snappyDecompress(block), flat);
  assert.deepEqual(encodeCompressedWriteRequest(families, labels, TIMESTAMP, options), block);
  return { bytes: flat, decoded: decodeWriteRequest(flat) };
}

/** Schema 0 (bucket i holds 2^(i-1) < |v| ≤ 2^i): 1 → 0, 2 → 1, -3 → -2, 0.5 → -1, 0 → zero. */
function smallNative(registry: Registry): Histogram {
  const histogram = new Histogram({
    name: "nh",
    help: "native",
    native: { bucketFactor: 2 },
    registry,
  });
  for (const value of [1, 2, -3, 0, 0.5]) histogram.observe(value);
  return histogram;
}

Deno.test("remote write native: golden bytes of a small native histogram's series", async () => {
  const registry = new Registry();
  smallNative(registry);
  const { bytes, decoded } = await requestOf(registry);
  // The classic series as before (native alone: only the +Inf bucket), then the native one.
  assert.deepEqual(seriesLines(decoded), [
    'nh_bucket{job="t",le="+Inf"} 5',
    'nh_count{job="t"} 5',
    'nh_sum{job="t"} 0.5',
    'nh{job="t"} ',
  ]);
  const native = decodeMessage(bytes).filter((field) => field.field === 1)[3].value as Uint8Array;
  // prompb: TimeSeries{labels 1, histograms 4}; Histogram{count_int 1, sum 3, zero_threshold 5,
  // zero_count_int 6, negative_spans 8, negative_deltas 9 (packed sint64), positive_spans 11,
  // positive_deltas 12, timestamp 15}; BucketSpan{offset 1 (sint32), length 2}.
  // deno-fmt-ignore
  const expected = [
    0x0a, 0x0e, 0x0a, 0x08, ...new TextEncoder().encode("__name__"), 0x12, 0x02, 0x6e, 0x68,
    0x0a, 0x08, 0x0a, 0x03, 0x6a, 0x6f, 0x62, 0x12, 0x01, 0x74,
    0x22, 49,
    0x08, 0x05, // count_int 5
    0x19, 0, 0, 0, 0, 0, 0, 0xe0, 0x3f, // sum 0.5
    0x29, 0, 0, 0, 0, 0, 0, 0xf0, 0x37, // zero_threshold 2^-128
    0x30, 0x01, // zero_count_int 1
    0x42, 0x04, 0x08, 0x04, 0x10, 0x01, // negative span: offset 2 (zigzag 4), length 1
    0x4a, 0x01, 0x02, // negative deltas [1]
    0x5a, 0x04, 0x08, 0x01, 0x10, 0x03, // positive span: offset -1 (zigzag 1), length 3
    0x62, 0x03, 0x02, 0x00, 0x00, // positive deltas [1, 0, 0]
    0x78, 0xfb, 0xd0, 0x95, 0xff, 0xbc, 0x31, // timestamp 1700000000123
  ];
  assert.deepEqual([...native], expected);
  const series = decoded.series[3];
  assert.deepEqual(series.labels, [["__name__", "nh"], ["job", "t"]]);
  assert.deepEqual(series.samples, []);
  assert.deepEqual(series.histograms, [{
    fields: [1, 3, 5, 6, 8, 9, 11, 12, 15],
    countInt: 5,
    sum: 0.5,
    schema: 0,
    zeroThreshold: 2 ** -128,
    zeroCountInt: 1,
    negativeSpans: [{ offset: 2, length: 1 }],
    negativeDeltas: [1],
    positiveSpans: [{ offset: -1, length: 3 }],
    positiveDeltas: [1, 0, 0],
    resetHint: 0,
    timestamp: TIMESTAMP,
  }]);
  // The metadata stays one histogram entry.
  assert.deepEqual(decoded.metadata, [{ type: 3, name: "nh", help: "native", unit: "" }]);
});

Deno.test("remote write native: spans with gaps, negative deltas, schema and labels as the classic series", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "gaps_seconds",
    help: "g",
    labelNames: ["route", "Upper"],
    buckets: [1, 10],
    native: { bucketFactor: 1.1, zeroThreshold: 0 },
    registry,
  });
  const child = histogram.labels("/a", "U");
  // Schema 3: 1 → index 0, 1.5 → 5, 4 → 16 (three times), -0.001 → negative -79 (twice).
  const observed = [1, 1.5, 4, 4, 4, -0.001, -0.001];
  for (const value of observed) child.observe(value);
  const { decoded } = await requestOf(registry);
  const lines = seriesLines(decoded);
  assert.equal(lines.length, 3 + 2 + 1);
  const native = decoded.series[5];
  // Sorted as the classic series: an upper-case name sorts before `__name__`.
  assert.deepEqual(native.labels, [
    ["Upper", "U"],
    ["__name__", "gaps_seconds"],
    ["job", "t"],
    ["route", "/a"],
  ]);
  assert.deepEqual(
    native.labels.filter(([name]) => name !== "__name__"),
    decoded.series[3].labels.filter(([name]) => name !== "__name__"),
  );
  const [h] = native.histograms;
  assert.equal(h.schema, 3);
  assert.equal(h.countInt, 7);
  assert.equal(h.sum, observed.reduce((sum, value) => sum + value, 0));
  // A zero threshold of 0 and an empty zero bucket: no zero_threshold field; zero_count_int
  // (a oneof) still there.
  assert.equal(h.zeroThreshold, 0);
  assert.equal(h.zeroCountInt, 0);
  assert.deepEqual(h.fields, [1, 3, 4, 6, 8, 9, 11, 11, 11, 12, 15]);
  assert.deepEqual(h.positiveSpans, [{ offset: 0, length: 1 }, { offset: 4, length: 1 }, {
    offset: 10,
    length: 1,
  }]);
  assert.deepEqual(h.positiveDeltas, [1, 0, 2]);
  assert.deepEqual(h.negativeSpans, [{ offset: -79, length: 1 }]);
  assert.deepEqual(h.negativeDeltas, [2]);
  // Counts going down: negative deltas (zigzag).
  child.observe(1);
  child.observe(1);
  child.observe(1);
  const after = (await requestOf(registry)).decoded.series[5].histograms[0];
  assert.deepEqual(after.positiveDeltas, [4, -3, 2]);
});

Deno.test("remote write native: every native series of a labelled histogram, the classic ones kept", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "lat",
    help: "l",
    labelNames: ["code"],
    buckets: [0.5],
    native: true,
    registry,
  });
  histogram.labels("200").observe(0.25);
  histogram.labels("500").observe(-2);
  histogram.labels("404");
  const { decoded } = await requestOf(registry);
  assert.deepEqual(seriesLines(decoded), [
    'lat_bucket{code="200",job="t",le="0.5"} 1',
    'lat_bucket{code="200",job="t",le="+Inf"} 1',
    'lat_count{code="200",job="t"} 1',
    'lat_sum{code="200",job="t"} 0.25',
    'lat{code="200",job="t"} ',
    'lat_bucket{code="500",job="t",le="0.5"} 1',
    'lat_bucket{code="500",job="t",le="+Inf"} 1',
    'lat_count{code="500",job="t"} 1',
    'lat_sum{code="500",job="t"} -2',
    'lat{code="500",job="t"} ',
    'lat_bucket{code="404",job="t",le="0.5"} 0',
    'lat_bucket{code="404",job="t",le="+Inf"} 0',
    'lat_count{code="404",job="t"} 0',
    'lat_sum{code="404",job="t"} 0',
    'lat{code="404",job="t"} ',
  ]);
  const empty = decoded.series[14].histograms[0];
  // No observation: count 0 and zero count 0 are still sent (oneofs), no buckets.
  assert.equal(empty.countInt, 0);
  assert.equal(empty.zeroCountInt, 0);
  assert.deepEqual(empty.positiveSpans, []);
  assert.deepEqual(decoded.series[9].histograms[0].negativeDeltas, [1]);
});

Deno.test("remote write native: nativeHistograms: false leaves the native series out", async () => {
  const registry = new Registry();
  smallNative(registry);
  const { decoded } = await requestOf(registry, { nativeHistograms: false });
  assert.deepEqual(seriesLines(decoded), [
    'nh_bucket{job="t",le="+Inf"} 5',
    'nh_count{job="t"} 5',
    'nh_sum{job="t"} 0.5',
  ]);
  assert.ok(decoded.series.every((series) => series.histograms.length === 0));
});

Deno.test("remote write exemplars: a counter's and a bucket's exemplar go with their series", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "jobs", help: "j", labelNames: ["k"], registry });
  const histogram = new Histogram({ name: "lat", help: "l", buckets: [1, 2], registry });
  counter.labels("a").inc(2, { trace_id: "abc", span_id: "s1" });
  counter.labels("b").inc();
  histogram.observe(1.5, { trace_id: "def" });
  histogram.observe(0.5);
  const { decoded } = await requestOf(registry);
  const exemplarsOf = (line: string) => {
    const index = seriesLines(decoded).indexOf(line);
    assert.ok(index >= 0, line);
    return decoded.series[index].exemplars;
  };
  const counterExemplar = (await registry.collect())[0].points[0] as {
    exemplar: { timestamp: number };
  };
  const ms = Math.round(counterExemplar.exemplar.timestamp * 1000);
  // Labels sorted by name; the value the exemplar's; its own timestamp in milliseconds.
  assert.deepEqual(exemplarsOf('jobs_total{job="t",k="a"} 2'), [
    { labels: [["span_id", "s1"], ["trace_id", "abc"]], value: 2, timestamp: ms },
  ]);
  assert.deepEqual(exemplarsOf('jobs_total{job="t",k="b"} 1'), []);
  assert.deepEqual(exemplarsOf('lat_bucket{job="t",le="1.0"} 1'), []);
  const [bucket] = exemplarsOf('lat_bucket{job="t",le="2.0"} 2');
  assert.deepEqual(bucket.labels, [["trace_id", "def"]]);
  assert.equal(bucket.value, 1.5);
  assert.ok(Math.abs(bucket.timestamp - Date.now()) < 60_000);
  for (
    const line of ['lat_bucket{job="t",le="+Inf"} 2', 'lat_count{job="t"} 2', 'lat_sum{job="t"} 2']
  ) {
    assert.deepEqual(exemplarsOf(line), []);
  }
  // exemplars: false: the same series, without them.
  const without = (await requestOf(registry, { exemplars: false })).decoded;
  assert.deepEqual(seriesLines(without), seriesLines(decoded));
  assert.ok(without.series.every((series) => series.exemplars.length === 0));
});

Deno.test("remote write exemplars: from a snapshot without a timestamp, with a UTF-8 label name", () => {
  const families: MetricFamily[] = [{
    type: "counter",
    name: "c",
    help: "c",
    points: [{
      labels: { a: "1" },
      value: 3,
      exemplar: { labels: { "trace.id": "x", b: "" }, value: 1 },
    }],
  }];
  for (const encode of [encodeWriteRequest, encodeCompressedWriteRequest]) {
    let bytes: Uint8Array = encode(families, remoteWriteLabels({ job: "t" }), TIMESTAMP);
    if (encode === encodeCompressedWriteRequest) bytes = snappyDecompress(bytes);
    const [series] = decodeWriteRequest(bytes).series;
    // No timestamp: the request's, as a scrape stamps it; escaped as names are; empty: no label.
    assert.deepEqual(series.exemplars, [
      { labels: [["trace_id", "x"]], value: 1, timestamp: TIMESTAMP },
    ]);
  }
});

Deno.test("remoteWrite: the exemplars and nativeHistograms options reach the request", async () => {
  const registry = new Registry();
  smallNative(registry);
  new Counter({ name: "c", help: "c", registry }).inc(1, { trace_id: "t" });
  const bodies: Uint8Array[] = [];
  const fetch = async (_url: string | URL | Request, init?: RequestInit) => {
    bodies.push(snappyDecompress(new Uint8Array(await new Response(init!.body).arrayBuffer())));
    return new Response(null, { status: 204 });
  };
  const url = "http://receiver.test/api/v1/write";
  await remoteWrite(url, { registry, labels: { job: "t" }, fetch });
  await remoteWrite(url, {
    registry,
    labels: { job: "t" },
    fetch,
    exemplars: false,
    nativeHistograms: false,
  });
  const [all, none] = bodies.map(decodeWriteRequest);
  assert.equal(all.series.filter((series) => series.histograms.length > 0).length, 1);
  assert.equal(all.series.filter((series) => series.exemplars.length > 0).length, 1);
  assert.equal(none.series.length, all.series.length - 1);
  assert.ok(
    none.series.every((series) => series.exemplars.length + series.histograms.length === 0),
  );
  for (const bad of [{ exemplars: "no" }, { nativeHistograms: 0 }]) {
    await assert.rejects(
      remoteWrite(url, { registry, labels: { job: "t" }, fetch, ...bad } as never),
      TypeError,
    );
  }
});

Deno.test("remote write native: buckets and exemplars are read when the request is gathered", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "h",
    help: "h",
    buckets: [1],
    native: { bucketFactor: 2 },
    registry,
  });
  const counter = new Counter({ name: "c", help: "c", registry });
  histogram.observe(0.5, { trace_id: "first" });
  counter.inc(1, { trace_id: "first" });
  const gathering = registry.collect();
  // After the call: not in this request (a bucket's exemplars change in place).
  histogram.observe(0.5, { trace_id: "second" });
  histogram.observe(-4);
  counter.inc(1, { trace_id: "second" });
  const decoded = decodeWriteRequest(
    encodeWriteRequest(await gathering, remoteWriteLabels({ job: "t" }), TIMESTAMP),
  );
  const lines = seriesLines(decoded);
  const traceOf = (line: string) => decoded.series[lines.indexOf(line)].exemplars[0].labels;
  assert.deepEqual(traceOf('c_total{job="t"} 1'), [["trace_id", "first"]]);
  assert.deepEqual(traceOf('h_bucket{job="t",le="1.0"} 1'), [["trace_id", "first"]]);
  const native = decoded.series[lines.indexOf('h{job="t"} ')].histograms[0];
  assert.equal(native.countInt, 1);
  assert.deepEqual(native.negativeSpans, []);
  assert.deepEqual(native.positiveDeltas, [1]);
});

Deno.test("remote write native: plain snapshots (no pre-encoded labels) encode alike, compressed or not", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "p",
    help: "p",
    labelNames: ["Zone", "route"],
    buckets: [0.1, 1, 10],
    native: true,
    registry,
  });
  const counter = new Counter({ name: "q", help: "q", labelNames: ["route"], registry });
  for (let i = 0; i < 300; i++) {
    const route = `/r/${i % 37}`;
    const exemplar = i % 7 === 0 ? { trace_id: String(i) } : undefined;
    histogram.labels(i % 2 ? "eu" : "US", route).observe((i % 13) - 4 + i / 1000, exemplar);
    counter.labels(route).inc(1, exemplar);
  }
  const labels = remoteWriteLabels({ job: "t", instance: "i" });
  const families = await registry.collect();
  // A copy: the same values, without the label sources of the metric's series.
  const plain: MetricFamily[] = structuredClone(families);
  const flat = encodeWriteRequest(families, labels, TIMESTAMP).slice();
  assert.deepEqual(encodeWriteRequest(plain, labels, TIMESTAMP), flat);
  assert.deepEqual(
    snappyDecompress(encodeCompressedWriteRequest(plain, labels, TIMESTAMP)),
    flat,
  );
  const decoded = decodeWriteRequest(flat);
  assert.equal(decoded.series.filter((series) => series.histograms.length > 0).length, 74);
  assert.ok(decoded.series.filter((series) => series.exemplars.length > 0).length >= 37 + 10);
});

Deno.test("remote write native: a native histogram copies the bytes it shares with the one before", async () => {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "alike",
    help: "a",
    labelNames: ["route"],
    native: true,
    registry,
  });
  for (let i = 0; i < 500; i++) {
    const child = histogram.labels(`/route/${i}`);
    // The same buckets, counts that differ: the same length, or not.
    for (let k = 0; k < 20; k++) child.observe(0.001 * (k + 1) * (k % 3 === 0 ? -1 : 1));
    for (let k = 0; k < i % 4; k++) child.observe(0.5);
  }
  const labels = remoteWriteLabels({ job: "t" });
  const items = await registry.collect();
  const flat = encodeWriteRequest(items, labels, TIMESTAMP);
  const block = encodeCompressedWriteRequest(items, labels, TIMESTAMP);
  assert.deepEqual(snappyDecompress(block), flat);
  const nativeBytes = decodeMessage(flat).filter((field) => field.field === 1)
    .map((field) => (field.value as Uint8Array).length).filter((_, i) => i % 4 === 3)
    .reduce((sum, length) => sum + length, 0);
  // Written out as literals, the native series alone would make the block larger than they are
  // (about 1.1 times); copied where alike, the whole block is about half of them.
  assert.ok(block.length < nativeBytes * 0.7, `${block.length} B for ${nativeBytes} B of natives`);
});
