// The RemoteWriter sends one Prometheus staleness marker (StaleNaN, 0x7ff0000000000002) for each
// series its previous write sent that is gone now, with the labels it was sent with; the
// one-shot remoteWrite sends none.
import assert from "node:assert/strict";
import { Counter, Histogram, Registry, remoteWrite, RemoteWriter } from "../../mod.ts";
import { decodeMessage } from "../support/protobuf.ts";
import { snappyDecompress } from "../support/snappy.ts";
import { fakeReceiver } from "../support/remote_write_receiver.ts";

const STALE_NAN_BITS = 0x7ff0000000000002n;

/** Each series of a request: its labels as `name=value` text and its sample value's bits. */
function seriesOf(compressed: Uint8Array): { labels: string; bits: bigint }[] {
  const text = new TextDecoder();
  return decodeMessage(snappyDecompress(compressed)).filter((field) => field.field === 1).map(
    (field) => {
      const fields = decodeMessage(field.value as Uint8Array);
      const labels = fields.filter((f) => f.field === 1).map((f) => {
        const [name, value] = decodeMessage(f.value as Uint8Array).map((part) =>
          text.decode(part.value as Uint8Array)
        );
        return `${name}=${value}`;
      }).join(",");
      const sample = fields.find((f) => f.field === 2);
      let bits = -1n;
      if (sample !== undefined) {
        const value = decodeMessage(sample.value as Uint8Array).find((f) => f.field === 1)!;
        const bytes = value.value as Uint8Array;
        bits = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
      }
      return { labels, bits };
    },
  );
}

Deno.test("RemoteWriter staleness: a removed series gets one StaleNaN with its labels, once", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["path"], registry });
  counter.labels("/a").inc(1);
  counter.labels("/b").inc(2);
  const writer = new RemoteWriter({ url: receiver.url, registry, labels: { job: "s" } });
  try {
    assert.equal(await writer.flush(), true);
    assert.deepEqual(seriesOf(receiver.requests[0].bytes).map((s) => s.labels), [
      "__name__=hits_total,job=s,path=/a",
      "__name__=hits_total,job=s,path=/b",
    ]);
    counter.remove("/a");
    assert.equal(await writer.flush(), true);
    const second = seriesOf(receiver.requests[1].bytes);
    assert.deepEqual(second.map((s) => s.labels), [
      "__name__=hits_total,job=s,path=/b",
      "__name__=hits_total,job=s,path=/a",
    ]);
    assert.equal(second[1].bits, STALE_NAN_BITS);
    assert.notEqual(second[0].bits, STALE_NAN_BITS);
    // Once: the next write has no marker.
    assert.equal(await writer.flush(), true);
    const third = seriesOf(receiver.requests[2].bytes);
    assert.deepEqual(third.map((s) => s.labels), ["__name__=hits_total,job=s,path=/b"]);
    // A series that comes back is sent as usual, and marked again when it goes again.
    counter.labels("/a").inc(5);
    assert.equal(await writer.flush(), true);
    counter.clear();
    assert.equal(await writer.flush(), true);
    const fifth = seriesOf(receiver.requests[4].bytes);
    assert.equal(fifth.length, 2);
    assert.ok(fifth.every((s) => s.bits === STALE_NAN_BITS));
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: every series of a removed histogram, native one included", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const histogram = new Histogram({
    name: "lat",
    help: "l",
    labelNames: ["route"],
    buckets: [1],
    native: true,
    registry,
  });
  histogram.labels("/x").observe(0.5);
  histogram.labels("/y").observe(2);
  const writer = new RemoteWriter({ url: receiver.url, registry, labels: { job: "s" } });
  try {
    await writer.flush();
    // `lat_bucket` ×2, `_count`, `_sum` and the native series, per route.
    assert.equal(seriesOf(receiver.requests[0].bytes).length, 10);
    histogram.remove("/x");
    await writer.flush();
    const markers = seriesOf(receiver.requests[1].bytes).filter((s) => s.bits === STALE_NAN_BITS);
    assert.deepEqual(markers.map((s) => s.labels), [
      "__name__=lat_bucket,job=s,le=1.0,route=/x",
      "__name__=lat_bucket,job=s,le=+Inf,route=/x",
      "__name__=lat_count,job=s,route=/x",
      "__name__=lat_sum,job=s,route=/x",
      "__name__=lat,job=s,route=/x",
    ]);
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: the marker carries the exact UTF-8 bytes of non-ASCII labels", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "sales", help: "s", labelNames: ["currency"], registry });
  // "€" is E2 82 AC and "‚" E2 80 9A in UTF-8: bytes 0x80–0x9F, which Windows-1252 remaps.
  for (const currency of ["€", "‚", "ü", "日本"]) counter.labels(currency).inc();
  const writer = new RemoteWriter({ url: receiver.url, registry, labels: { job: "s" } });
  try {
    await writer.flush();
    counter.clear();
    await writer.flush();
    const markers = seriesOf(receiver.requests[1].bytes);
    assert.deepEqual(markers.map((s) => s.labels), [
      "__name__=sales_total,currency=€,job=s",
      "__name__=sales_total,currency=‚,job=s",
      "__name__=sales_total,currency=ü,job=s",
      "__name__=sales_total,currency=日本,job=s",
    ]);
    assert.ok(markers.every((s) => s.bits === STALE_NAN_BITS));
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("remoteWrite (one-shot) sends no staleness markers", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["path"], registry });
  counter.labels("/a").inc(1);
  try {
    await remoteWrite(receiver.url, { registry, labels: { job: "s" } });
    counter.remove("/a");
    await remoteWrite(receiver.url, { registry, labels: { job: "s" } });
    assert.deepEqual(seriesOf(receiver.requests[1].bytes), []);
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: markers read back from later requests keep their bits once the encoder is hot", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["path"], registry });
  for (let i = 0; i < 300; i++) counter.labels(`/${i}`).inc(i);
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    labels: { job: "s" },
    maxSeriesPerRequest: 100,
  });
  try {
    // Many writes first: an optimized encoder must still write the marker's exact NaN.
    for (let i = 0; i < 40; i++) assert.equal(await writer.flush(), true);
    const before = receiver.requests.length;
    // Series of the first and of the third request of the previous write, and the first of the
    // second (moved there when the first request was full).
    counter.remove("/5");
    counter.remove("/100");
    counter.remove("/250");
    assert.equal(await writer.flush(), true);
    const markers = receiver.requests.slice(before).flatMap((request) => seriesOf(request.bytes))
      .filter((series) => Number.isNaN(Number(series.bits)) || series.bits >> 52n === 0x7ffn);
    assert.deepEqual(markers.map((s) => s.labels), [
      "__name__=hits_total,job=s,path=/5",
      "__name__=hits_total,job=s,path=/100",
      "__name__=hits_total,job=s,path=/250",
    ]);
    assert.ok(markers.every((s) => s.bits === STALE_NAN_BITS), markers.map((s) => s.bits).join());
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: a write that fails while encoding leaves no trace in the next markers", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["job", "path"], registry });
  counter.labels("s", "/a").inc();
  counter.labels("s", "/b").inc();
  // A metric whose series has no job label: the write fails after the counter was encoded.
  const orphan = new Counter({ name: "orphan", help: "o", registry });
  orphan.inc();
  const errors: Error[] = [];
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    onError: (error) => errors.push(error),
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal(await writer.flush(), false);
    assert.ok(errors.every((error) => error instanceof TypeError), String(errors[0]));
    registry.unregister(orphan);
    assert.equal(await writer.flush(), true);
    counter.remove("s", "/a");
    assert.equal(await writer.flush(), true);
    const markers = seriesOf(receiver.requests.at(-1)!.bytes).filter((s) =>
      s.bits === STALE_NAN_BITS
    );
    assert.deepEqual(markers.map((s) => s.labels), ["__name__=hits_total,job=s,path=/a"]);
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: a sent body it cannot read back costs one write's markers, not every later write", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["path"], registry });
  counter.labels("/a").inc();
  counter.labels("/b").inc();
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    labels: { job: "s" },
    onError: () => {},
    // A fetch that spoils each body once it is sent (the writer keeps them to read labels back).
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      (init?.body as Uint8Array).fill(0xff);
      return response;
    },
  });
  try {
    assert.equal(await writer.flush(), true);
    counter.remove("/b");
    assert.equal(await writer.flush(), false); // the marker's labels cannot be read back
    assert.equal(await writer.flush(), true);
    assert.equal(await writer.flush(), true);
  } finally {
    await writer.stop();
    await receiver.close();
  }
});

Deno.test("RemoteWriter staleness: a write given up while gathering leaves the memory of the last write", async () => {
  const receiver = fakeReceiver();
  const registry = new Registry();
  const counter = new Counter({ name: "hits", help: "h", labelNames: ["path"], registry });
  counter.labels("/a").inc();
  counter.labels("/b").inc();
  let release: (() => void) | undefined;
  registry.register({
    collect: () =>
      release === undefined ? [] : new Promise((resolve) => {
        release = () => resolve([]);
      }),
  });
  const writer = new RemoteWriter({
    url: receiver.url,
    registry,
    labels: { job: "s" },
    timeoutMs: 200,
    onError: () => {},
  });
  try {
    assert.equal(await writer.flush(), true);
    release = () => {}; // the next gathering waits for its collector
    assert.equal(await writer.flush(), false); // timed out while gathering
    counter.remove("/b");
    const late = release;
    release = undefined;
    late(); // the given-up write's gathering ends now
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await writer.flush(), true);
    const markers = seriesOf(receiver.requests.at(-1)!.bytes).filter((s) =>
      s.bits === STALE_NAN_BITS
    );
    assert.deepEqual(markers.map((s) => s.labels), ["__name__=hits_total,job=s,path=/b"]);
  } finally {
    await writer.stop();
    await receiver.close();
  }
});
