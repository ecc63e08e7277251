// The RemoteWriter: interval writes, a final write on stop, flush() for serverless, backoff on
// retryable failures only, no overlapping writes, increasing timestamps, health counters and —
// in a child process — flushOnSignals.
import assert from "node:assert/strict";
import { Gauge, Registry, RemoteWriteError, RemoteWriter } from "../../mod.ts";
import { sleep, waitFor } from "../support/process.ts";
import { fakeReceiver, seriesLines } from "../support/remote_write_receiver.ts";

function gaugeRegistry(): { registry: Registry; gauge: Gauge } {
  const registry = new Registry();
  const gauge = new Gauge({ name: "writer_test_value", help: "v", registry });
  return { registry, gauge };
}

Deno.test("RemoteWriter: invalid options are TypeError/RangeError at construction", () => {
  const base = { url: "http://127.0.0.1:9090/api/v1/write", labels: { job: "j" } };
  assert.throws(() => new RemoteWriter(null as never), TypeError);
  assert.throws(() => new RemoteWriter({ ...base, url: "ftp://x" }), TypeError);
  assert.throws(() => new RemoteWriter({ ...base, intervalMs: 0 }), {
    name: "RangeError",
    message:
      "intervalMs of the RemoteWriter for http://127.0.0.1:9090/api/v1/write must be a positive number of milliseconds, got 0",
  });
  assert.throws(() => new RemoteWriter({ ...base, timeoutMs: Infinity }), RangeError);
  assert.throws(
    () => new RemoteWriter({ ...base, backoff: { initialMs: 500, maxMs: 100 } }),
    /backoff.maxMs \(100\) .* must not be smaller than backoff.initialMs \(500\)/,
  );
  assert.throws(() => new RemoteWriter({ ...base, labels: { "a\nb": "x" } }), TypeError);
  assert.throws(
    () => new RemoteWriter({ ...base, registry: { collect: () => [] }, healthMetrics: true }),
    /healthMetrics: true .* needs a Registry/,
  );
});

Deno.test("RemoteWriter: writes at start, every interval, and once more on stop", async () => {
  const receiver = fakeReceiver();
  try {
    const { registry, gauge } = gaugeRegistry();
    gauge.set(1);
    const writer = new RemoteWriter({
      url: receiver.url,
      registry,
      labels: { job: "w" },
      intervalMs: 100,
    });
    writer.start();
    assert.equal(writer.running, true);
    await waitFor(() => receiver.requests.length >= 3, {
      timeoutMs: 5000,
      intervalMs: 10,
      what: "three writes",
    });
    gauge.set(2);
    await writer.stop();
    assert.equal(writer.running, false);
    const count = receiver.requests.length;
    assert.deepEqual(seriesLines(receiver.decoded(0)), ['writer_test_value{job="w"} 1']);
    assert.deepEqual(seriesLines(receiver.decoded()), ['writer_test_value{job="w"} 2']);
    await sleep(250);
    assert.equal(receiver.requests.length, count, "no write after stop");
    // Timestamps strictly increase from write to write.
    const timestamps = receiver.requests.map((_, i) =>
      receiver.decoded(i).series[0].samples[0].timestamp
    );
    for (let i = 1; i < timestamps.length; i++) {
      assert.ok(timestamps[i] > timestamps[i - 1], `${timestamps}`);
    }
    assert.ok(writer.lastSuccess instanceof Date);
    assert.equal(writer.consecutiveFailures, 0);
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: flush() writes without start and never rejects; await using stops", async () => {
  const receiver = fakeReceiver();
  try {
    const { registry, gauge } = gaugeRegistry();
    gauge.set(5);
    {
      await using writer = new RemoteWriter({
        url: receiver.url,
        registry,
        labels: { job: "fn" },
        onError: () => {},
      });
      assert.equal(await writer.flush(), true);
      // Two flushes in a row get distinct timestamps even within one millisecond.
      assert.equal(await writer.flush(), true);
      const [a, b] = [0, 1].map((i) => receiver.decoded(i).series[0].samples[0].timestamp);
      assert.ok(b > a, `${a} then ${b}`);
      receiver.answer(() => new Response("nope", { status: 500 }));
      assert.equal(await writer.flush(), false);
      assert.equal(writer.consecutiveFailures, 1);
      receiver.answer(() => new Response(null, { status: 204 }));
      writer.start();
    }
    // Disposal made the final write.
    await waitFor(() => receiver.requests.length >= 5, {
      timeoutMs: 2000,
      intervalMs: 10,
      what: "the final write",
    });
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: retryable failures back off quickly; a 4xx waits for the interval", async () => {
  const receiver = fakeReceiver(() => new Response("overloaded", { status: 503 }));
  try {
    const errors: Error[] = [];
    const writer = new RemoteWriter({
      url: receiver.url,
      registry: gaugeRegistry().registry,
      labels: { job: "w" },
      intervalMs: 2000,
      backoff: { initialMs: 20, maxMs: 40 },
      onError: (error) => errors.push(error),
    });
    writer.start();
    // Retries at 10..40 ms pace: five long before the interval would allow them (8 s).
    await waitFor(() => receiver.requests.length >= 5, {
      timeoutMs: 3000,
      intervalMs: 10,
      what: "five quick retries",
    });
    assert.ok(errors.every((e) => e instanceof RemoteWriteError && e.retryable));
    receiver.answer(() => new Response("out of order sample", { status: 400 }));
    await waitFor(() => errors.some((e) => (e as RemoteWriteError).status === 400), {
      timeoutMs: 2000,
      intervalMs: 5,
      what: "the first 400",
    });
    const after400 = receiver.requests.length;
    await sleep(600);
    // A refused write is not retried sooner than the interval.
    assert.equal(receiver.requests.length, after400);
    await writer.stop();
    assert.equal(writer.failuresTotal, errors.length);
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: a 429's Retry-After holds retries back (up to the backoff cap)", async () => {
  const receiver = fakeReceiver(() =>
    new Response("slow down", { status: 429, headers: { "retry-after": "1" } })
  );
  try {
    const writer = new RemoteWriter({
      url: receiver.url,
      registry: gaugeRegistry().registry,
      labels: { job: "w" },
      intervalMs: 60_000,
      backoff: { initialMs: 10, maxMs: 5_000 },
      onError: () => {},
    });
    writer.start();
    await waitFor(() => receiver.requests.length === 1, { timeoutMs: 2000, intervalMs: 5 });
    // Without Retry-After the retry would come within 10 ms; the receiver asked for 1 s.
    await sleep(600);
    assert.equal(receiver.requests.length, 1);
    await waitFor(() => receiver.requests.length === 2, { timeoutMs: 3000, intervalMs: 10 });
    const gap = receiver.requests[1].at - receiver.requests[0].at;
    assert.ok(gap >= 900, `retried after ${gap.toFixed(0)} ms`);
    receiver.answer(() => new Response(null, { status: 204 }));
    await writer.stop();
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: never two writes in flight against a slow receiver", async () => {
  const receiver = fakeReceiver(async () => {
    await sleep(150);
    return new Response(null, { status: 204 });
  });
  try {
    const writer = new RemoteWriter({
      url: receiver.url,
      registry: gaugeRegistry().registry,
      labels: { job: "w" },
      intervalMs: 20,
    });
    writer.start();
    const flushes = [writer.flush(), writer.flush(), writer.flush()];
    await sleep(500);
    await writer.stop();
    assert.deepEqual(await Promise.all(flushes), [true, true, true]);
    assert.equal(receiver.maxInFlight, 1);
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: default logging is one line per failure streak and one on recovery", async () => {
  const receiver = fakeReceiver(() => new Response("down", { status: 500 }));
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    const writer = new RemoteWriter({
      url: receiver.url.replace("http://", "http://u:s3cret@"),
      registry: gaugeRegistry().registry,
      labels: { job: "w" },
      intervalMs: 30,
      backoff: { initialMs: 10, maxMs: 20 },
    });
    writer.start();
    await waitFor(() => writer.consecutiveFailures >= 4, { timeoutMs: 3000, intervalMs: 10 });
    receiver.answer(() => new Response(null, { status: 204 }));
    await waitFor(() => writer.consecutiveFailures === 0, { timeoutMs: 3000, intervalMs: 10 });
    await writer.stop();
  } finally {
    console.error = original;
    await receiver.close();
  }
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.match(
    lines[0],
    /^RemoteWriter: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/write failed: HTTP 500 Internal Server Error: down \(retrying/,
  );
  assert.match(lines[1], /^RemoteWriter: writing to .* works again after \d+ failed attempts$/);
  assert.ok(lines.every((line) => !line.includes("s3cret")));
});

Deno.test("RemoteWriter: health metrics in another registry follow failures and successes", async () => {
  const receiver = fakeReceiver(() => new Response("x", { status: 500 }));
  try {
    const health = new Registry();
    const writer = new RemoteWriter({
      url: receiver.url,
      registry: gaugeRegistry().registry,
      labels: { job: "w" },
      healthMetrics: { registry: health },
      onError: () => {},
    });
    await writer.flush();
    await writer.flush();
    let text = await health.metrics();
    assert.match(text, /^remote_writer_consecutive_failures 2\.0$/m);
    assert.match(text, /^remote_writer_failures_total 2\.0$/m);
    assert.match(text, /^remote_writer_last_success_timestamp_seconds 0\.0$/m);
    receiver.answer(() => new Response(null, { status: 204 }));
    await writer.flush();
    text = await health.metrics();
    assert.match(text, /^remote_writer_consecutive_failures 0\.0$/m);
    assert.match(text, /^remote_writer_failures_total 2\.0$/m);
    assert.doesNotMatch(text, /^remote_writer_last_success_timestamp_seconds 0\.0$/m);
  } finally {
    await receiver.close();
  }
});

// --- the process: signals -------------------------------------------------------------------

const CHILD = `
import { Gauge, Registry, RemoteWriter } from ${
  JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
};
const [url] = Deno.args;
const registry = new Registry();
const value = new Gauge({ name: "writer_test_value", help: "v", registry });
value.set(1);
const writer = new RemoteWriter({
  url, registry, labels: { job: "child" }, intervalMs: 600000,
  keepAlive: true, flushOnSignals: true,
  // The first write carries 1; once it is sent, the value is 2 for the write on the signal.
  fetch: async (...args) => {
    const response = await fetch(...args);
    value.set(2);
    return response;
  },
});
writer.start();
`;

Deno.test("RemoteWriter process: flushOnSignals writes once more on SIGTERM, exits 143", async () => {
  const receiver = fakeReceiver();
  const dir = await Deno.makeTempDir({ prefix: "remote_writer_child_" });
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, CHILD);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-config", "--allow-net=127.0.0.1", script, receiver.url],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    let done = false;
    try {
      await waitFor(() => receiver.requests.length === 1, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: "the first write",
      });
      child.kill("SIGTERM");
      const result = await output;
      done = true;
      assert.equal(result.code, 143, new TextDecoder().decode(result.stderr));
      assert.deepEqual(
        [0, 1].map((i) => seriesLines(receiver.decoded(i))[0]),
        ['writer_test_value{job="child"} 1', 'writer_test_value{job="child"} 2'],
      );
    } finally {
      if (!done) {
        child.kill("SIGKILL");
        await output;
      }
    }
  } finally {
    await receiver.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RemoteWriter: a collector that throws is reported as itself, sends nothing, and the writer goes on", async () => {
  const receiver = fakeReceiver();
  try {
    const { registry, gauge } = gaugeRegistry();
    gauge.set(1);
    const bug = new Error("sensor offline");
    let broken = true;
    registry.register({
      collect: () => {
        if (broken) throw bug;
        return [];
      },
    });
    const errors: Error[] = [];
    const writer = new RemoteWriter({
      url: receiver.url,
      registry,
      labels: { job: "w" },
      onError: (error) => errors.push(error),
    });
    assert.equal(await writer.flush(), false);
    assert.deepEqual(errors, [bug]);
    assert.equal(receiver.requests.length, 0);
    broken = false;
    assert.equal(await writer.flush(), true);
    assert.deepEqual(seriesLines(receiver.decoded()), ['writer_test_value{job="w"} 1']);
  } finally {
    await receiver.close();
  }
});

Deno.test("RemoteWriter: without Deno (Workers, Bun) it works; flushOnSignals is refused clearly", async () => {
  const deno = globalThis.Deno;
  const sent: string[] = [];
  const options = {
    url: "http://rw.invalid/api/v1/write",
    registry: gaugeRegistry().registry,
    labels: { job: "edge" },
    fetch: (url: string) => {
      sent.push(url);
      return Promise.resolve(new Response(null, { status: 204 }));
    },
  };
  // deno-lint-ignore no-explicit-any
  delete (globalThis as any).Deno;
  try {
    assert.throws(() => new RemoteWriter({ ...options, flushOnSignals: true }), {
      name: "Error",
      message: /^RemoteWriter flushOnSignals is Deno-only: it needs the Deno namespace/,
    });
    const writer = new RemoteWriter(options);
    assert.equal(await writer.flush(), true);
  } finally {
    globalThis.Deno = deno;
  }
  assert.deepEqual(sent, ["http://rw.invalid/api/v1/write"]);
});
