import assert from "node:assert/strict";
import { Registry, remoteWrite } from "../../mod.ts";
import { fakeReceiver, seriesLines } from "../support/remote_write_receiver.ts";
import { otlpHandler } from "../../src/http/otlp.ts";
import { attr, counter, encodeOtlpProtobuf, oneResource, otlpRequest } from "../support/otlp.ts";
import { startHttpServer } from "../../src/http/server.ts";

const S = 1_000_000_000;

function clockAt(start: number) {
  const clock = { now: start };
  return { clock, now: () => clock.now };
}

Deno.test("OTLP handler: status codes and bodies as OTLP/HTTP says", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, maxBodyBytes: 1000 });
  const post = (body: BodyInit, headers: Record<string, string>) =>
    handle(new Request("http://x/v1/metrics", { method: "POST", body, headers }));

  const get = await handle(new Request("http://x/v1/metrics"));
  assert.equal(get.status, 405);
  await get.body?.cancel();

  const text = await post("hello", { "content-type": "text/plain" });
  assert.equal(text.status, 415);
  assert.equal(text.headers.get("content-type"), "application/x-protobuf");
  // google.rpc.Status { code: 3, message: … }
  const status = new Uint8Array(await text.arrayBuffer());
  assert.deepEqual([...status.subarray(0, 2)], [0x08, 3]);

  const badJson = await post("{", { "content-type": "application/json" });
  assert.equal(badJson.status, 400);
  assert.equal((await badJson.json()).code, 3);

  const badProto = await post(new Uint8Array([0x0a, 0x05, 0x01]), {
    "content-type": "application/x-protobuf",
  });
  assert.equal(badProto.status, 400);
  await badProto.body?.cancel();

  const big = await post(new Uint8Array(2000), { "content-type": "application/x-protobuf" });
  assert.equal(big.status, 413);
  await big.body?.cancel();

  // A gzip bomb stops at the limit after decompression.
  const zeros = new Blob([new Uint8Array(100_000)]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  const bomb = await post(new Uint8Array(await new Response(zeros).arrayBuffer()), {
    "content-type": "application/x-protobuf",
    "content-encoding": "gzip",
  });
  assert.equal(bomb.status, 413);
  await bomb.body?.cancel();

  const ok = await handle(
    await otlpRequest(oneResource([counter("c", 1, S, 2 * S)]), "json", true),
  );
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("content-type"), "application/json");
  assert.deepEqual(await ok.json(), {});
  assert.match(await registry.metrics(), /^c_total 1\.0$/m);
});

Deno.test("OTLP handler: too many requests at once get 429 with Retry-After", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, maxConcurrentRequests: 1 });
  let release: () => void = () => {};
  const slow = new ReadableStream<Uint8Array>({
    start(controller) {
      release = () => controller.close();
    },
  });
  const first = handle(
    new Request("http://x/v1/metrics", {
      method: "POST",
      body: slow,
      headers: { "content-type": "application/x-protobuf" },
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 10));
  const second = await handle(await otlpRequest(oneResource([])));
  assert.equal(second.status, 429);
  assert.equal(second.headers.get("retry-after"), "1");
  await second.body?.cancel();
  release();
  assert.equal((await first).status, 200);
});

Deno.test("OTLP handler: malformed protobuf never throws (random and truncated bodies)", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  const valid = encodeOtlpProtobuf(oneResource([counter("c", 1, S, 2 * S, {
    attributes: [attr("k", "v")],
  })]));
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let i = 0; i < 300; i++) {
    const body = valid.slice(0, Math.floor(random() * valid.length));
    for (let j = 0; j < 3; j++) body[Math.floor(random() * body.length)] = random() * 256;
    const response = await handle(
      new Request("http://x/v1/metrics", {
        method: "POST",
        body,
        headers: { "content-type": "application/x-protobuf" },
      }),
    );
    assert.ok(response.status === 200 || response.status === 400, String(response.status));
    await response.body?.cancel();
  }
  // Deep nesting of attribute values is refused (400), not recursed into.
  let value: unknown = { stringValue: "leaf" };
  for (let i = 0; i < 200; i++) value = { arrayValue: { values: [value] } };
  for (const encoding of ["protobuf", "json"] as const) {
    const deep = await handle(
      await otlpRequest(oneResource([counter("c", 1, S, 2 * S)], [{ key: "k", value }]), encoding),
    );
    assert.equal(deep.status, 400, encoding);
    await deep.body?.cancel();
  }
  await registry.metrics();
});

Deno.test("OTLP store: a retried cumulative request is idempotent; an older one changes nothing", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  const send = async (value: number, time: number, start = S) => {
    const response = await handle(
      await otlpRequest(oneResource([counter("c", value, start, time)])),
    );
    await response.body?.cancel();
  };
  await send(5, 2 * S);
  await send(5, 2 * S);
  await send(9, 3 * S);
  await send(5, 2 * S); // a late retry of the first
  assert.match(await registry.metrics(), /^c_total 9\.0$/m);
  // A changed start time is a reset, with the new start as _created.
  await send(2, 11 * S, 10 * S);
  const text = await registry.metrics({ format: "openmetrics" });
  assert.match(text, /^c_total 2\.0$/m);
  assert.match(text, /^c_created 10\.0$/m);
});

Deno.test("OTLP store: monotonic delta sums accumulate; a retried delta is not counted twice", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  const delta = (value: number, start: number, time: number) => ({
    name: "d",
    sum: {
      aggregationTemporality: 1,
      isMonotonic: true,
      dataPoints: [{ asInt: value, startTimeUnixNano: start, timeUnixNano: time }],
    },
  });
  for (const [value, start, time] of [[3, 1, 2], [4, 2, 3], [4, 2, 3], [1, 3, 4]]) {
    const response = await handle(
      await otlpRequest(oneResource([delta(value, start * S, time * S)])),
    );
    await response.body?.cancel();
  }
  const text = await registry.metrics({ format: "openmetrics" });
  assert.match(text, /^d_total 8\.0$/m);
  assert.match(text, /^d_created 1\.0$/m);
});

Deno.test("OTLP store: series expire by default after five minutes, targets too", async () => {
  const registry = new Registry();
  const { clock, now } = clockAt(1_000_000);
  const handle = otlpHandler({ registry, now });
  const response = await handle(
    await otlpRequest(oneResource([counter("c", 1, S, 2 * S)], [attr("service.name", "a")])),
  );
  await response.body?.cancel();
  clock.now += 299_000;
  assert.match(await registry.metrics(), /c_total/);
  clock.now += 1_000;
  assert.equal(await registry.metrics(), "");
  assert.equal(handle.collector.seriesCount, 0);
});

Deno.test("OTLP store: past the series cap, counters and gauges overflow into one series", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, maxSeriesPerMetric: 2 });
  const point = (k: string, value: number, time: number) => ({
    asDouble: value,
    startTimeUnixNano: S,
    timeUnixNano: time * S,
    attributes: [attr("k", k)],
  });
  const send = async (points: unknown[]) => {
    const response = await handle(
      await otlpRequest(oneResource([{
        name: "c",
        sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points },
      }, { name: "h", histogram: { aggregationTemporality: 2, dataPoints: [] } }])),
    );
    return new Uint8Array(await response.arrayBuffer());
  };
  await send([point("a", 1, 2), point("b", 1, 2), point("c", 5, 2), point("d", 1, 2)]);
  await send([point("c", 7, 3), point("d", 1, 3)]);
  const text = await registry.metrics();
  assert.match(text, /^c_total\{k="a"\} 1\.0$/m);
  assert.match(text, /^c_total\{otel_metric_overflow="true"\} 8\.0$/m);
  assert.doesNotMatch(text, /k="c"/);
  assert.equal(handle.collector.seriesCount, 3);
});

Deno.test("OTLP store: two resources keep their series apart by service labels", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  for (const instance of ["i-1", "i-2"]) {
    const response = await handle(
      await otlpRequest(
        oneResource([counter("c", 1, S, 2 * S)], [
          attr("service.name", "api"),
          attr("service.instance.id", instance),
          attr("host.name", "h"),
        ]),
      ),
    );
    await response.body?.cancel();
  }
  const text = await registry.metrics();
  assert.match(text, /^c_total\{service_instance_id="i-1",service_name="api"\} 1\.0$/m);
  assert.match(text, /^c_total\{service_instance_id="i-2",service_name="api"\} 1\.0$/m);
  assert.match(
    text,
    /^target_info\{host_name="h",service_instance_id="i-1",service_name="api"\} 1\.0$/m,
  );
  // Without the labels, a second resource cannot overwrite the first's series.
  const single = new Registry();
  const strict = otlpHandler({ registry: single, resourceLabels: [] });
  const answers = [];
  for (const instance of ["i-1", "i-2"]) {
    const response = await strict(
      await otlpRequest(
        oneResource([counter("c", instance === "i-1" ? 1 : 9, S, 2 * S)], [
          attr("service.instance.id", instance),
        ]),
        "json",
      ),
    );
    answers.push(await response.json());
  }
  assert.deepEqual(answers[0], {});
  assert.equal(answers[1].partialSuccess.rejectedDataPoints, "1");
  assert.match(await single.metrics(), /^c_total 1\.0$/m);
});

Deno.test("startHttpServer({ otlp: true }) mounts the receiver at /v1/metrics behind auth", async () => {
  const registry = new Registry();
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry,
    otlp: true,
    auth: { bearerToken: "s3cret" },
  });
  const base = `http://127.0.0.1:${server.port}`;
  const request = await otlpRequest(oneResource([counter("c", 3, S, 2 * S)]));
  const body = new Uint8Array(await request.arrayBuffer());
  const denied = await fetch(`${base}/v1/metrics`, {
    method: "POST",
    body,
    headers: request.headers,
  });
  assert.equal(denied.status, 401);
  await denied.body?.cancel();
  const headers = new Headers(request.headers);
  headers.set("authorization", "Bearer s3cret");
  const accepted = await fetch(`${base}/v1/metrics`, { method: "POST", body, headers });
  assert.equal(accepted.status, 200);
  await accepted.body?.cancel();
  const scrape = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer s3cret" } });
  assert.match(await scrape.text(), /^c_total 3\.0$/m);
});

Deno.test("OTLP store: the label-character budget bounds what senders can make it keep", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, maxLabelCharacters: 200 });
  const points = Array.from({ length: 10 }, (_, i) => ({
    asDouble: 1,
    startTimeUnixNano: S,
    timeUnixNano: 2 * S,
    attributes: [attr("k", String(i).repeat(40))],
  }));
  const response = await handle(
    await otlpRequest(
      oneResource([{
        name: "g",
        gauge: { dataPoints: points },
      }]),
      "json",
    ),
  );
  assert.deepEqual(await response.json(), {});
  // Two series fit in 200 characters (41 of labels and 46 of attributes as sent, each); the
  // others went into the overflow series.
  assert.equal(handle.collector.seriesCount, 3);
  assert.match(await registry.metrics(), /^g\{otel_metric_overflow="true"\} 1\.0$/m);
});

Deno.test("OTLP store: a sender's overflow series goes into the overflow series; a look-alike label is refused", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, resourceLabels: [], scopeLabels: false });
  // An SDK past its own cap sends its overflow series: attribute otel.metric.overflow=true.
  const send = async (value: number, time: number, key: string) =>
    await (await handle(
      await otlpRequest(
        oneResource([counter("c", value, S, time, { attributes: [attr(key, "true")] })]),
        "json",
      ),
    )).json();
  assert.deepEqual(await send(3, 2 * S, "otel.metric.overflow"), {});
  assert.deepEqual(await send(5, 3 * S, "otel.metric.overflow"), {});
  const text = await registry.metrics();
  // One overflow series, as a built-in metric's would be written, holding the sender's total.
  assert.deepEqual(text.split("\n").filter((line) => line.startsWith("c_total")), [
    'c_total{otel_metric_overflow="true"} 5.0',
  ]);
  const refused = await send(1, 4 * S, "otel_metric_overflow");
  assert.equal(refused.partialSuccess.rejectedDataPoints, "1");
  assert.match(refused.partialSuccess.errorMessage, /reserved for the overflow series/);
});

Deno.test("OTLP: received series reach every format and remote write like any collector", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  const response = await handle(
    await otlpRequest(oneResource([{
      name: "lat",
      unit: "s",
      exponentialHistogram: {
        aggregationTemporality: 2,
        dataPoints: [{
          timeUnixNano: 2 * S,
          count: 2,
          sum: 3,
          scale: 0,
          positive: { offset: 0, bucketCounts: [1, 1] },
        }],
      },
    }, counter("c", 4, S, 2 * S)])),
  );
  await response.body?.cancel();
  const protobuf = await registry.metrics({ format: "protobuf" });
  assert.ok(protobuf.length > 0);
  assert.match(new TextDecoder().decode(protobuf), /lat_seconds/);
  const receiver = fakeReceiver();
  try {
    await remoteWrite(receiver.url, { registry, labels: { job: "j" } });
    const request = receiver.decoded();
    assert.ok(seriesLines(request).includes('c_total{job="j"} 4'), seriesLines(request).join());
    const native = request.series.find((series) =>
      series.labels.some(([name, value]) => name === "__name__" && value === "lat_seconds")
    );
    assert.equal(native?.histograms[0].schema, 0);
    assert.deepEqual(native?.histograms[0].positiveSpans, [{ offset: 1, length: 2 }]);
  } finally {
    await receiver.close();
  }
  assert.match(await registry.metrics(), /^c_total 4\.0$/m);
});

Deno.test("OTLP store: the same attributes in another order are the same series", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry });
  const attributes = [attr("a", "1"), attr("b", "2")];
  for (const [order, time] of [[attributes, 2], [[...attributes].reverse(), 3]] as const) {
    const response = await handle(
      await otlpRequest(oneResource([counter("c", time, S, time * S, { attributes: order })])),
    );
    await response.body?.cancel();
  }
  assert.equal(handle.collector.seriesCount, 1);
  assert.match(await registry.metrics(), /^c_total\{a="1",b="2"\} 3\.0$/m);
});

Deno.test("OTLP store: histograms and summaries past the cap add up in the overflow series", async () => {
  const registry = new Registry();
  // Two series of their own; the overflow series follows up to two others.
  const handle = otlpHandler({ registry, maxSeriesPerMetric: 2 });
  const classic = (k: string, counts: number[], time: number) => ({
    attributes: [attr("k", k)],
    startTimeUnixNano: S,
    timeUnixNano: time * S,
    count: counts.reduce((a, b) => a + b, 0),
    sum: counts.reduce((a, b) => a + b, 0) * 2,
    bucketCounts: counts,
    explicitBounds: [1, 10],
  });
  const native = (k: string, scale: number, counts: number[], time: number) => ({
    attributes: [attr("k", k)],
    startTimeUnixNano: S,
    timeUnixNano: time * S,
    count: counts.reduce((a, b) => a + b, 0),
    sum: 5,
    scale,
    positive: { offset: 0, bucketCounts: counts },
  });
  const summary = (k: string, count: number, time: number) => ({
    attributes: [attr("k", k)],
    startTimeUnixNano: S,
    timeUnixNano: time * S,
    count,
    sum: count,
    quantileValues: [{ quantile: 0.5, value: 1 }],
  });
  const send = async (
    time: number,
    classics: unknown[],
    natives: unknown[],
    summaries: unknown[],
  ) => {
    const response = await handle(
      await otlpRequest(
        oneResource([
          { name: "h", histogram: { aggregationTemporality: 2, dataPoints: classics } },
          { name: "n", exponentialHistogram: { aggregationTemporality: 2, dataPoints: natives } },
          { name: "s", summary: { dataPoints: summaries } },
        ]),
        "json",
      ),
    );
    assert.deepEqual(await response.json(), {}, `round ${time}`);
  };
  await send(
    2,
    ["a", "a2"].map((k) => classic(k, [1, 0, 0], 2))
      .concat([classic("b", [1, 1, 0], 2), classic("c", [0, 0, 2], 2)]),
    ["a", "a2"].map((k) => native(k, 1, [1], 2))
      .concat([native("b", 2, [1, 1, 1, 1], 2), native("c", 1, [0, 3], 2)]),
    ["a", "a2"].map((k) => summary(k, 1, 2)).concat([summary("b", 2, 2), summary("c", 3, 2)]),
  );
  // b grows by one in each bucket; c restarts (a count that went down counts whole).
  await send(
    3,
    [classic("b", [2, 2, 1], 3), classic("c", [0, 0, 1], 3)],
    [native("b", 2, [2, 1, 1, 1], 3)],
    [summary("b", 4, 3)],
  );
  const families = await registry.collect();
  // deno-lint-ignore no-explicit-any
  const overflowOf = (name: string): any =>
    families.find((f) => f.name === name)!.points.find((p) =>
      p.labels["otel.metric.overflow"] === "true"
    );
  // b: [2, 2, 1] (its latest), c: [0, 0, 2] + [0, 0, 1] after its reset; cumulative.
  assert.deepEqual(overflowOf("h").bucketCounts, [2, 4, 8]);
  assert.equal(overflowOf("h").count, 8);
  assert.equal(overflowOf("h").sum, 16);
  // Native: b at scale 2 merged down to scale 1 with c; b's second point adds one observation.
  const n = overflowOf("n");
  assert.equal(n.schema, 1);
  assert.equal(n.count, 8);
  assert.deepEqual(n.positiveSpans, [{ offset: 1, length: 2 }]);
  assert.deepEqual(n.positiveDeltas, [3, 2]);
  assert.deepEqual(overflowOf("s"), {
    labels: { "otel.metric.overflow": "true" },
    count: 7,
    sum: 7,
    quantiles: [],
  });
  // What the scrape shows passes every exposition check.
  await registry.metrics({ format: "openmetrics", onError: (error) => assert.fail(error.message) });
});

Deno.test("startHttpServer({ otlp }): the receiver leaves the registry when the server stops", async () => {
  const registry = new Registry();
  const server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry, otlp: true });
  assert.equal(registry.collectors.length, 1);
  await server.shutdown();
  assert.equal(registry.collectors.length, 0);
  // Nor does a server that could not listen leave one behind.
  await using taken = startHttpServer({ port: 0, hostname: "127.0.0.1" });
  assert.throws(() =>
    startHttpServer({ port: taken.port, hostname: "127.0.0.1", registry, otlp: true })
  );
  assert.equal(registry.collectors.length, 0);
});

Deno.test("OTLP handler: JSON of the wrong shape is a 400, never a throw", async () => {
  const handle = otlpHandler({ registry: new Registry() });
  const bodies = [
    "null",
    "5",
    '{"resourceMetrics":5}',
    '{"resourceMetrics":[null]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"1.5"}]}}]}]}]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","gauge":{"dataPoints":[{"attributes":[{"key":7}]}]}}]}]}]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","histogram":{"dataPoints":[{"bucketCounts":"x"}]}}]}]}]}',
    '{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":{"kvlistValue":{"values":5}}}]}}]}',
  ];
  for (const body of bodies) {
    const response = await handle(
      new Request("http://x/v1/metrics", {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      }),
    );
    assert.equal(response.status, 400, body);
    assert.equal((await response.json()).code, 3);
  }
});

Deno.test("OTLP handler: an internal failure is a fixed 500 for the sender, the error goes to onError", async () => {
  const errors: unknown[] = [];
  const handle = otlpHandler({
    registry: new Registry(),
    now: () => {
      throw new Error("secret internal detail");
    },
    onError: (error) => errors.push(error),
  });
  const response = await handle(
    await otlpRequest(oneResource([counter("c", 1, S, 2 * S)]), "json", false),
  );
  assert.equal(response.status, 500);
  const body = await response.json();
  assert.equal(body.code, 13);
  assert.equal(body.message, "internal error");
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /secret internal detail/);
});
