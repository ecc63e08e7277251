import assert from "node:assert/strict";
import { Counter, Registry } from "../../mod.ts";
import { otlpHandler } from "../../src/http/otlp.ts";
import { attr, counter, oneResource, otlpRequest } from "../support/otlp.ts";
import { hasPromtool, promtoolCheckMetrics } from "../support/python.ts";

const S = 1_000_000_000;

async function receive(
  registry: Registry,
  request: unknown,
  encoding: "protobuf" | "json" = "protobuf",
) {
  const handle = otlpHandler({ registry, now: () => 1000 });
  const response = await handle(await otlpRequest(request, encoding));
  assert.equal(response.status, 200);
  return handle;
}

for (const encoding of ["protobuf", "json"] as const) {
  Deno.test(`OTLP ${encoding}: sums, gauges and units as the compatibility spec names them`, async () => {
    const registry = new Registry();
    await receive(
      registry,
      oneResource(
        [
          { ...counter("http.requests", 7, 1 * S, 2 * S), unit: "{request}" },
          {
            name: "queue.fill",
            unit: "1",
            gauge: { dataPoints: [{ asDouble: 0.5, timeUnixNano: 2 * S }] },
          },
          {
            name: "memory.used",
            unit: "By",
            sum: {
              aggregationTemporality: 2,
              isMonotonic: false,
              dataPoints: [{ asInt: 42, timeUnixNano: 2 * S }],
            },
          },
          { ...counter("net.io", 3, 1 * S, 2 * S), unit: "By/s" },
          { ...counter("already_total", 1, 1 * S, 2 * S) },
        ],
        [attr("service.name", "shop")],
        { name: "app", version: "1.2" },
      ),
      encoding,
    );
    const text = await registry.metrics({ format: "openmetrics" });
    const scope = 'otel_scope_name="app",otel_scope_version="1.2",service_name="shop"';
    assert.equal(
      text,
      [
        "# HELP target Target metadata",
        "# TYPE target info",
        'target_info{service_name="shop"} 1.0',
        "# HELP http_requests ",
        "# TYPE http_requests counter",
        `http_requests_total{${scope}} 7.0`,
        `http_requests_created{${scope}} 1.0`,
        "# HELP queue_fill_ratio ",
        "# TYPE queue_fill_ratio gauge",
        "# UNIT queue_fill_ratio ratio",
        `queue_fill_ratio{${scope}} 0.5`,
        "# HELP memory_used_bytes ",
        "# TYPE memory_used_bytes gauge",
        "# UNIT memory_used_bytes bytes",
        `memory_used_bytes{${scope}} 42.0`,
        "# HELP net_io_bytes_per_second ",
        "# TYPE net_io_bytes_per_second counter",
        "# UNIT net_io_bytes_per_second bytes_per_second",
        `net_io_bytes_per_second_total{${scope}} 3.0`,
        `net_io_bytes_per_second_created{${scope}} 1.0`,
        "# HELP already ",
        "# TYPE already counter",
        `already_total{${scope}} 1.0`,
        `already_created{${scope}} 1.0`,
        "# EOF",
        "",
      ].join("\n"),
    );
    // UTF-8 kept for a scraper that allows it.
    const utf8 = await registry.metrics({ format: "openmetrics", escaping: "allow-utf-8" });
    assert.match(
      utf8,
      /\{"http\.requests_total",otel_scope_name="app",.*"service\.name"="shop"\} 7\.0/,
    );
  });
}

Deno.test("OTLP: attribute keys that meet after translation are joined with ';' in key order", async () => {
  const registry = new Registry();
  await receive(
    registry,
    oneResource([counter("c", 1, S, 2 * S, {
      attributes: [attr("a_b", "second"), attr("a.b", "first"), attr("__x", "r")],
    })]),
  );
  const text = await registry.metrics();
  assert.match(text, /^c_total\{a_b="first;second",key__x="r"\} 1\.0$/m);
});

Deno.test("OTLP: explicit histograms are classic histograms with per-bucket exemplars", async () => {
  const registry = new Registry();
  await receive(
    registry,
    oneResource([{
      name: "latency",
      unit: "ms",
      histogram: {
        aggregationTemporality: 2,
        dataPoints: [{
          startTimeUnixNano: S,
          timeUnixNano: 2 * S,
          count: 4,
          sum: 30,
          bucketCounts: [1, 2, 1],
          explicitBounds: [5, 10],
          exemplars: [
            { asDouble: 7, timeUnixNano: 2 * S, traceId: "ab".repeat(16), spanId: "cd".repeat(8) },
            { asDouble: 9, timeUnixNano: 2 * S, traceId: "ef".repeat(16), spanId: "cd".repeat(8) },
          ],
        }],
      },
    }]),
  );
  const text = await registry.metrics({ format: "openmetrics" });
  assert.equal(
    text,
    [
      "# HELP latency_milliseconds ",
      "# TYPE latency_milliseconds histogram",
      "# UNIT latency_milliseconds milliseconds",
      'latency_milliseconds_bucket{le="5.0"} 1.0',
      `latency_milliseconds_bucket{le="10.0"} 3.0 # {span_id="${"cd".repeat(8)}",trace_id="${
        "ef".repeat(16)
      }"} 9.0 2`,
      'latency_milliseconds_bucket{le="+Inf"} 4.0',
      "latency_milliseconds_count 4.0",
      "latency_milliseconds_sum 30.0",
      "latency_milliseconds_created 1.0",
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("OTLP: exponential histograms are native histograms; scale 10 is merged to 8, -5 refused", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, now: () => 1000 });
  const point = (scale: number, name: string) => ({
    name,
    exponentialHistogram: {
      aggregationTemporality: 2,
      dataPoints: [{
        timeUnixNano: 2 * S,
        count: 6,
        sum: 10,
        scale,
        zeroCount: 1,
        positive: { offset: 0, bucketCounts: [1, 1, 1, 1] },
        negative: { offset: -1, bucketCounts: [1] },
      }],
    },
  });
  const response = await handle(
    await otlpRequest(oneResource([point(1, "fine"), point(10, "finer"), point(-5, "coarse")])),
  );
  const body = new Uint8Array(await response.arrayBuffer());
  assert.equal(response.status, 200);
  // partial_success { rejected_data_points: 1, error_message: "... scale -5 ..." }
  assert.equal(body[0], 0x0a);
  assert.equal(body[2], 0x08);
  assert.equal(body[3], 1);
  assert.match(new TextDecoder().decode(body), /scale -5 is below -4/);
  const families = await registry.collect();
  const fine = families.find((f) => f.name === "fine")!;
  // deno-lint-ignore no-explicit-any
  const p = fine.points[0] as any;
  assert.equal(p.schema, 1);
  assert.deepEqual(p.positiveSpans, [{ offset: 1, length: 4 }]);
  assert.deepEqual(p.positiveDeltas, [1, 0, 0, 0]);
  assert.deepEqual(p.negativeSpans, [{ offset: 0, length: 1 }]);
  assert.equal(p.zeroThreshold, 1e-128);
  assert.equal(p.count, 6);
  // deno-lint-ignore no-explicit-any
  const finer = families.find((f) => f.name === "finer")!.points[0] as any;
  // Indices 0..3 at scale 10 are all in bucket 0 at scale 8, Prometheus index 1.
  assert.equal(finer.schema, 8);
  assert.deepEqual(finer.positiveSpans, [{ offset: 1, length: 1 }]);
  assert.deepEqual(finer.positiveDeltas, [4]);
  assert.equal(families.find((f) => f.name === "coarse"), undefined);
});

Deno.test("OTLP: summaries keep their quantiles; a negative quantile value is refused alone", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, now: () => 1000 });
  const response = await handle(
    await otlpRequest(
      oneResource([{
        name: "rpc",
        unit: "s",
        summary: {
          dataPoints: [
            {
              attributes: [attr("k", "a")],
              timeUnixNano: 2 * S,
              count: 3,
              sum: 1.5,
              quantileValues: [{ quantile: 0.99, value: 0.9 }, { quantile: 0.5, value: 0.4 }],
            },
            {
              attributes: [attr("k", "b")],
              timeUnixNano: 2 * S,
              count: 3,
              sum: 1.5,
              quantileValues: [{ quantile: 0.5, value: -1 }],
            },
          ],
        },
      }]),
      "json",
    ),
  );
  assert.deepEqual(await response.json(), {
    partialSuccess: {
      rejectedDataPoints: "1",
      errorMessage: 'metric "rpc": the value of quantile 0.5 is negative',
    },
  });
  assert.equal(
    await registry.metrics(),
    [
      "# HELP rpc_seconds ",
      "# TYPE rpc_seconds summary",
      'rpc_seconds{k="a",quantile="0.5"} 0.4',
      'rpc_seconds{k="a",quantile="0.99"} 0.9',
      'rpc_seconds_count{k="a"} 3.0',
      'rpc_seconds_sum{k="a"} 1.5',
      "",
    ].join("\n"),
  );
});

Deno.test("OTLP: a name the registry's own metrics use is refused, the registry's metric kept", async () => {
  const registry = new Registry();
  const own = new Counter({ name: "jobs_total", help: "mine", registry });
  own.inc(5);
  const handle = otlpHandler({ registry, now: () => 1000 });
  const response = await handle(
    await otlpRequest(oneResource([counter("jobs", 1, S, 2 * S)]), "json"),
  );
  const answer = await response.json();
  assert.equal(answer.partialSuccess.rejectedDataPoints, "1");
  assert.match(answer.partialSuccess.errorMessage, /is a metric of the registry already/);
  assert.match(await registry.metrics(), /^jobs_total 5\.0$/m);
});

Deno.test("OTLP: non-monotonic delta sums and delta histograms are dropped and reported", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, now: () => 1000 });
  const response = await handle(
    await otlpRequest(
      oneResource([
        {
          name: "updown",
          sum: { aggregationTemporality: 1, dataPoints: [{ asInt: 1, timeUnixNano: S }] },
        },
        {
          name: "h",
          histogram: {
            aggregationTemporality: 1,
            dataPoints: [{ timeUnixNano: S, count: 1, sum: 1, bucketCounts: [1] }],
          },
        },
      ]),
      "json",
    ),
  );
  const answer = await response.json();
  assert.equal(answer.partialSuccess.rejectedDataPoints, "2");
  assert.equal(await registry.metrics(), "");
});

Deno.test("OTLP: two metrics a legacy scraper would read as one name: the second is refused", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, now: () => 1000 });
  const response = await handle(
    await otlpRequest(
      oneResource([
        counter("queue.size", 1, S, 2 * S),
        counter("queue_size", 2, S, 2 * S),
        { name: "queue.size_total", gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: S }] } },
      ]),
      "json",
    ),
  );
  const answer = await response.json();
  assert.equal(answer.partialSuccess.rejectedDataPoints, "2");
  assert.match(
    answer.partialSuccess.errorMessage,
    /"queue_size", as metric "queue.size" does already/,
  );
  assert.equal(
    await registry.metrics({ onError: (error) => assert.fail(error.message) }),
    "# HELP queue_size_total \n# TYPE queue_size_total counter\nqueue_size_total 1.0\n",
  );
});

Deno.test({
  name: "OTLP: what the receiver exposes passes promtool check metrics",
  ignore: !hasPromtool(),
  async fn() {
    const registry = new Registry();
    await receive(
      registry,
      oneResource(
        [
          {
            ...counter("http.requests", 7, 1 * S, 2 * S),
            description: "requests",
            unit: "{request}",
          },
          {
            name: "queue.fill",
            description: "fill",
            unit: "1",
            gauge: { dataPoints: [{ asDouble: 0.5, timeUnixNano: 2 * S }] },
          },
          {
            name: "latency",
            description: "latency",
            unit: "s",
            histogram: {
              aggregationTemporality: 2,
              dataPoints: [{
                timeUnixNano: 2 * S,
                count: 3,
                sum: 3,
                bucketCounts: [1, 2],
                explicitBounds: [5],
                attributes: [attr("http.route", "/a")],
              }],
            },
          },
          {
            name: "rpc",
            description: "rpc",
            unit: "s",
            summary: {
              dataPoints: [{
                timeUnixNano: 2 * S,
                count: 1,
                sum: 1,
                quantileValues: [{ quantile: 0.5, value: 1 }],
              }],
            },
          },
        ],
        [attr("service.name", "shop"), attr("host.name", "h")],
        { name: "app" },
      ),
    );
    const result = await promtoolCheckMetrics(await registry.metrics());
    // (A unit other than a base unit, `ms` say, would pass the check with a lint remark.)
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout + result.stderr, "", "promtool printed lint problems");
  },
});

Deno.test("OTLP: non-string attribute values are labels as the attribute spec writes them", async () => {
  for (const encoding of ["protobuf", "json"] as const) {
    const registry = new Registry();
    await receive(
      registry,
      oneResource([counter("c", 1, S, 2 * S, {
        attributes: [
          { key: "i", value: { intValue: -3 } },
          { key: "b", value: { boolValue: true } },
          { key: "d", value: { doubleValue: 1.5 } },
          { key: "a", value: { arrayValue: { values: [{ stringValue: "x" }, { intValue: 2 }] } } },
        ],
      })]),
      encoding,
    );
    assert.match(
      await registry.metrics(),
      /^c_total\{a="\[\\"x\\",2\]",b="true",d="1.5",i="-3"\} 1\.0$/m,
      encoding,
    );
  }
});
