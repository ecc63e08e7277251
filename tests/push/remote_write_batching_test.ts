// Remote write splits a write into requests of at most `maxSeriesPerRequest` series and
// `maxBytesPerRequest` bytes (before compression), each compressed on its own; a failure
// part-way says how many series were written; a series too large for any request is not sent.
import assert from "node:assert/strict";
import {
  Counter,
  Gauge,
  Registry,
  remoteWrite,
  RemoteWriteError,
  RemoteWriter,
} from "../../mod.ts";
import { encodeWrite } from "../../src/push/remote_write/encoder.ts";
import {
  encodeWriteRequest,
  remoteWriteLabels,
  settingsOf,
} from "../support/remote_write_encoding.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { decodeMessage } from "../support/protobuf.ts";
import { seededRandom } from "../support/random.ts";
import { decodeWriteRequest, fakeReceiver, seriesLines } from "../support/remote_write_receiver.ts";

function counters(count: number, valueLength = 4): Registry {
  const registry = new Registry();
  const counter = new Counter({
    name: "jobs",
    help: "jobs run",
    labelNames: ["id", "note"],
    registry,
  });
  for (let i = 0; i < count; i++) counter.labels(String(i), "n".repeat(valueLength)).inc(i);
  return registry;
}

/** Every series line of every request, and each request's decompressed size. */
function received(receiver: ReturnType<typeof fakeReceiver>) {
  const sizes = receiver.requests.map((request) => snappyDecompress(request.bytes).length);
  const perRequest = receiver.requests.map((_, i) => receiver.decoded(i));
  return { sizes, perRequest, lines: perRequest.flatMap(seriesLines) };
}

Deno.test("remote write batching: 5,000 series go as 2,000 + 2,000 + 1,000, each block on its own", async () => {
  const receiver = fakeReceiver();
  try {
    await remoteWrite(receiver.url, { registry: counters(5_000), labels: { job: "b" } });
    const { perRequest, lines } = received(receiver);
    assert.deepEqual(perRequest.map((request) => request.series.length), [2_000, 2_000, 1_000]);
    assert.equal(new Set(lines).size, 5_000);
    for (let i = 0; i < 5_000; i++) {
      assert.ok(lines.includes(`jobs_total{id="${i}",job="b",note="nnnn"} ${i}`));
    }
    // Every request carries the metadata of the family whose series it holds.
    for (const request of perRequest) {
      assert.deepEqual(request.metadata, [{
        type: 1,
        name: "jobs_total",
        help: "jobs run",
        unit: "",
      }]);
    }
    // One timestamp for the whole write.
    const stamps = new Set(perRequest.flatMap((r) => r.series.map((s) => s.samples[0].timestamp)));
    assert.equal(stamps.size, 1);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write batching: no request exceeds maxBytesPerRequest when label values are long", async () => {
  const receiver = fakeReceiver();
  try {
    const limit = 20_000;
    await remoteWrite(receiver.url, {
      registry: counters(300, 500),
      labels: { job: "b" },
      maxBytesPerRequest: limit,
    });
    const { sizes, lines } = received(receiver);
    assert.ok(sizes.length >= 8, `${sizes.length} requests`);
    for (const size of sizes) assert.ok(size <= limit, `${size} > ${limit}`);
    assert.equal(new Set(lines).size, 300);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write batching: a failure part-way rejects saying how many series were written", async () => {
  let calls = 0;
  const receiver = fakeReceiver(() =>
    new Response(++calls === 3 ? "overloaded" : null, { status: calls === 3 ? 503 : 204 })
  );
  try {
    const error = await assert.rejects(
      remoteWrite(receiver.url, { registry: counters(5_000), labels: { job: "b" } }),
      (error: unknown) => {
        assert.ok(error instanceof RemoteWriteError);
        assert.equal(error.status, 503);
        assert.equal(error.retryable, true);
        assert.match(error.message, /request 3 of 3; 4000 of 5000 series were written/);
        return true;
      },
    );
    assert.equal(error, undefined);
    assert.equal(receiver.requests.length, 3);
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write batching: a series larger than the byte limit is not sent, the rest is, and the write rejects", async () => {
  const receiver = fakeReceiver();
  try {
    const registry = counters(10);
    new Gauge({ name: "huge", help: "h", labelNames: ["blob"], registry })
      .labels("x".repeat(5_000)).set(1);
    await assert.rejects(
      remoteWrite(receiver.url, { registry, labels: { job: "b" }, maxBytesPerRequest: 2_000 }),
      (error: unknown) => {
        assert.ok(error instanceof RemoteWriteError);
        assert.equal(error.retryable, false);
        assert.match(
          error.message,
          /1 series were not sent.*maxBytesPerRequest \(2000 bytes\).*"huge"/,
        );
        assert.match(error.message, /10 of 11 series were written/);
        return true;
      },
    );
    const { sizes, lines } = received(receiver);
    for (const size of sizes) assert.ok(size <= 2_000);
    assert.equal(lines.length, 10);
    assert.ok(lines.every((line) => !line.startsWith("huge")));
  } finally {
    await receiver.close();
  }
});

Deno.test("remote write batching: the limits are checked", () => {
  const url = "http://127.0.0.1:9/api/v1/write";
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(
      () => new RemoteWriter({ url, labels: { job: "b" }, maxSeriesPerRequest: bad }),
      RangeError,
    );
    assert.throws(
      () => new RemoteWriter({ url, labels: { job: "b" }, maxBytesPerRequest: bad }),
      RangeError,
    );
  }
  assert.throws(
    () => new RemoteWriter({ url, labels: { job: "b" }, maxSeriesPerRequest: "10" as never }),
    TypeError,
  );
});

Deno.test("remote write batching: the RemoteWriter sends fresh values in full after a failure part-way", async () => {
  let calls = 0;
  const receiver = fakeReceiver(() => new Response(null, { status: ++calls === 2 ? 500 : 204 }));
  const registry = counters(0);
  const gauge = new Gauge({ name: "g", help: "g", labelNames: ["i"], registry });
  for (let i = 0; i < 25; i++) gauge.labels(String(i)).set(i);
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    labels: { job: "b" },
    maxSeriesPerRequest: 10,
    onError: () => {},
  });
  try {
    assert.equal(await writer.flush(), false);
    // The second request failed: the third was never sent.
    assert.equal(receiver.requests.length, 2);
    for (let i = 0; i < 25; i++) gauge.labels(String(i)).set(100 + i);
    assert.equal(await writer.flush(), true);
    const lines = receiver.requests.slice(2).map((_, k) => receiver.decoded(2 + k)).flatMap(
      seriesLines,
    );
    assert.equal(lines.length, 25);
    for (let i = 0; i < 25; i++) assert.ok(lines.includes(`g{i="${i}",job="b"} ${100 + i}`));
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("remote write batching: random series sizes and limits — every series once, in order, within both limits", () => {
  const random = seededRandom(7);
  for (let round = 0; round < 50; round++) {
    const points = Array.from({ length: Math.floor(random() * 200) }, (_, i) => ({
      labels: { v: "x".repeat(Math.floor(random() * random() * 400)), i: String(i) },
      value: i,
    }));
    const families = [
      { type: "gauge" as const, name: "a", help: "a".repeat(Math.floor(random() * 50)), points },
      { type: "counter" as const, name: "empty", help: "", points: [] },
    ];
    const limits = {
      maxSeries: 1 + Math.floor(random() * 30),
      maxBytes: 100 + Math.floor(random() * 2_000),
    };
    const labels = remoteWriteLabels({ job: "j" });
    const write = encodeWrite(families, { ...settingsOf(labels), ...limits }, 1);
    const sent: number[] = [];
    for (const request of write.requests) {
      const body = snappyDecompress(request.body);
      assert.ok(request.series <= limits.maxSeries);
      assert.ok(body.length <= limits.maxBytes, `${body.length} > ${limits.maxBytes}`);
      const decoded = decodeWriteRequest(body);
      assert.equal(decoded.series.length, request.series);
      sent.push(...decoded.series.map((series) => Number(new Map(series.labels).get("i"))));
    }
    // The series left out are exactly those larger than a request on their own.
    const request = encodeWriteRequest(families, labels, 1);
    const sizes = seriesSizes(request);
    const whole = decodeWriteRequest(request).series;
    const fits = whole.filter((_, i) => sizes[i] <= limits.maxBytes);
    assert.deepEqual(sent, fits.map((series) => Number(new Map(series.labels).get("i"))));
    assert.equal(write.oversized.count, whole.length - fits.length);
    assert.equal(write.series, fits.length);
  }
});

/** The bytes of the `TimeSeries` field of each series of a request (tag and length included). */
function seriesSizes(request: Uint8Array): number[] {
  return decodeMessage(request).filter((field) => field.field === 1).map((field) => {
    const length = (field.value as Uint8Array).length;
    return 1 + (length < 128 ? 1 : length < 16_384 ? 2 : 3) + length;
  });
}

Deno.test("remote write batching: each request carries the metadata of the families it holds series of, markers none", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const a = new Counter({ name: "a", help: "a", labelNames: ["i"], registry });
  const b = new Gauge({ name: "b", help: "b", labelNames: ["i"], registry });
  for (let i = 0; i < 3; i++) a.labels(String(i)).inc();
  for (let i = 0; i < 4; i++) b.labels(String(i)).set(i);
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    labels: { job: "m" },
    maxSeriesPerRequest: 3,
  });
  const summary = (from: number) =>
    receiver.requests.slice(from).map((_, k) => {
      const request = receiver.decoded(from + k);
      const names = request.series.map((series) => new Map(series.labels).get("__name__"));
      return [request.metadata.map((m) => m.name).join(","), names.join(",")];
    });
  try {
    assert.equal(await writer.flush(), true);
    // A full request takes no more metadata; a family's metadata starts each request it goes on in.
    assert.deepEqual(summary(0), [
      ["a_total", "a_total,a_total,a_total"],
      ["b", "b,b,b"],
      ["b", "b"],
    ]);
    // b's series end: its markers follow every family of the write; a request of markers alone
    // carries no family's metadata.
    b.clear();
    const before = receiver.requests.length;
    assert.equal(await writer.flush(), true);
    assert.deepEqual(summary(before), [
      ["a_total", "a_total,a_total,a_total"],
      ["b", "b,b,b"],
      ["", "b"],
    ]);
  } finally {
    await writer.stop();
    await receiver.close();
  }
});
