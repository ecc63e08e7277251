// `traceExemplars`: the active sampled span's ids as exemplars, read from a fake OpenTelemetry
// JS API registered globally the way `@opentelemetry/api` registers one.
import assert from "node:assert/strict";
import { Counter, Histogram, instrumentHandler, Registry } from "../../mod.ts";
import { activeTraceLabels, resetTraceContextCache } from "../../src/otel/trace_context.ts";

const API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";

interface FakeSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

/** A registered global context manager whose active span the test sets. */
class FakeOtel {
  span: { spanContext(): FakeSpanContext } | undefined;
  throws = false;

  constructor() {
    const context = {
      active: () => {
        if (this.throws) throw new Error("context manager failed");
        return { getValue: (key: symbol) => key === SPAN_KEY ? this.span : undefined };
      },
    };
    (globalThis as Record<symbol, unknown>)[API_KEY] = { version: "1.9.0", context };
    resetTraceContextCache();
  }

  enter(traceId = TRACE, spanId = SPAN, traceFlags = 1): void {
    const spanContext = { traceId, spanId, traceFlags };
    this.span = { spanContext: () => spanContext };
  }

  [Symbol.dispose](): void {
    delete (globalThis as Record<symbol, unknown>)[API_KEY];
    resetTraceContextCache();
  }
}

const exemplarOf = (trace: string, span: string) => `# {span_id="${span}",trace_id="${trace}"}`;

/** The one sample line of `text` that starts with `start` and holds every one of `parts`. */
function lineOf(text: string, start: string, ...parts: string[]): string {
  const lines = text.split("\n").filter((line) =>
    line.startsWith(start) && parts.every((part) => line.includes(part))
  );
  assert.equal(lines.length, 1, `one line ${start} with ${parts.join(", ")} in:\n${text}`);
  return lines[0];
}

Deno.test("the lookup reads the registered global: sampled spans only, valid ids only", () => {
  using otel = new FakeOtel();
  assert.equal(activeTraceLabels(), undefined);
  otel.enter();
  assert.deepEqual(activeTraceLabels(), { trace_id: TRACE, span_id: SPAN });
  otel.enter(TRACE, SPAN, 0); // not sampled
  assert.equal(activeTraceLabels(), undefined);
  otel.enter("0".repeat(32), SPAN); // invalid trace id
  assert.equal(activeTraceLabels(), undefined);
  otel.enter(TRACE, "XYZ"); // not hex
  assert.equal(activeTraceLabels(), undefined);
  otel.enter(TRACE, SPAN, 3); // sampled plus another flag
  assert.deepEqual(activeTraceLabels(), { trace_id: TRACE, span_id: SPAN });
  otel.throws = true;
  assert.equal(activeTraceLabels(), undefined);
});

Deno.test("a counter with traceExemplars keeps the span's ids; without the option, none", async () => {
  using otel = new FakeOtel();
  const registry = new Registry();
  const traced = new Counter({ name: "traced", help: "h", registry, traceExemplars: true });
  const labelled = new Counter({
    name: "labelled",
    help: "h",
    labelNames: ["a"],
    registry,
    traceExemplars: true,
  });
  const plain = new Counter({ name: "plain", help: "h", registry });
  traced.inc(); // no span yet
  otel.enter();
  traced.inc(2);
  labelled.labels("x").inc(3);
  labelled.incWith({ a: "y" }, 4);
  plain.inc();
  const text = await registry.metrics({ format: "openmetrics" }) as string;
  assert.match(text, new RegExp(`^traced_total 3\\.0 ${exemplarOf(TRACE, SPAN)} 2\\.0 \\d`, "m"));
  assert.match(
    text,
    new RegExp(`^labelled_total\\{a="x"\\} 3\\.0 ${exemplarOf(TRACE, SPAN)} 3`, "m"),
  );
  assert.match(
    text,
    new RegExp(`^labelled_total\\{a="y"\\} 4\\.0 ${exemplarOf(TRACE, SPAN)} 4`, "m"),
  );
  assert.match(text, /^plain_total 1\.0$/m);
});

Deno.test("an unsampled span, a failing context manager or no registration: counted, no exemplar", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "c", help: "h", registry, traceExemplars: true });
  const histogram = new Histogram({ name: "h", help: "h", registry, traceExemplars: true });
  {
    using otel = new FakeOtel();
    otel.enter(TRACE, SPAN, 0);
    counter.inc();
    histogram.observe(0.2);
    otel.enter();
    otel.throws = true;
    counter.inc();
    histogram.observe(0.2);
  }
  counter.inc(); // nothing registered
  histogram.observe(0.2);
  const text = await registry.metrics({ format: "openmetrics" }) as string;
  assert.match(text, /^c_total 3\.0$/m);
  assert.match(text, /^h_count 3\.0$/m);
  assert.doesNotMatch(text, /trace_id/);
});

Deno.test("a histogram with traceExemplars keeps the span's ids in the observed bucket", async () => {
  using otel = new FakeOtel();
  const registry = new Registry();
  const histogram = new Histogram({
    name: "h",
    help: "h",
    buckets: [1, 2],
    labelNames: ["a"],
    registry,
    traceExemplars: true,
  });
  otel.enter();
  histogram.labels("x").observe(1.5);
  otel.enter(TRACE, "00f067aa0ba902b7");
  histogram.observeWith({ a: "y" }, 0.5);
  histogram.labels("x").observe(7, { trace_id: "given" }); // an explicit exemplar wins
  const text = await registry.metrics({ format: "openmetrics" }) as string;
  const bucket = (a: string, le: string) => lineOf(text, "h_bucket", `a="${a}"`, `le="${le}"`);
  assert.ok(bucket("x", "2.0").includes(`} 1.0 ${exemplarOf(TRACE, SPAN)} 1.5 `));
  assert.ok(bucket("x", "+Inf").includes('} 2.0 # {trace_id="given"} 7.0 '));
  assert.ok(bucket("y", "1.0").includes(`} 1.0 ${exemplarOf(TRACE, "00f067aa0ba902b7")} 0.5 `));
  assert.ok(!bucket("y", "2.0").includes("#"));
});

Deno.test("a native histogram with traceExemplars keeps the span's ids (+Inf bucket)", () => {
  using otel = new FakeOtel();
  const histogram = new Histogram({
    name: "n",
    help: "h",
    native: true,
    registry: null,
    traceExemplars: true,
  });
  otel.enter();
  histogram.observe(0.25);
  const [point] = histogram.collect()[0].points;
  assert.equal(point.count, 1);
  assert.ok(point.zeroThreshold !== undefined || point.schema !== undefined, "native state kept");
  assert.deepEqual(point.exemplars?.map((exemplar) => exemplar?.labels), [
    { trace_id: TRACE, span_id: SPAN },
  ]);
  assert.equal(point.exemplars?.[0]?.value, 0.25);
});

Deno.test("one span updating a series keeps its first exemplar; the next span replaces it", () => {
  using otel = new FakeOtel();
  const counter = new Counter({ name: "c", help: "h", registry: null, traceExemplars: true });
  otel.enter();
  counter.inc(1);
  const first = counter.collect()[0].points[0].exemplar;
  counter.inc(5);
  assert.equal(counter.collect()[0].points[0].exemplar, first);
  otel.enter(TRACE, "00f067aa0ba902b7");
  counter.inc(5);
  const next = counter.collect()[0].points[0].exemplar;
  assert.deepEqual(next?.labels, { trace_id: TRACE, span_id: "00f067aa0ba902b7" });
  assert.equal(next?.value, 5);
});

Deno.test("instrumentHandler with traceExemplars: the request's span, when its response is returned", async () => {
  using otel = new FakeOtel();
  const registry = new Registry();
  const handle = instrumentHandler(async (_request: Request) => {
    await null;
    return new Response(new Blob(["body"]).stream());
  }, { registry, traceExemplars: true, bodySizes: true });
  otel.enter();
  const response = await handle(new Request("http://localhost/"));
  otel.enter(TRACE, "00f067aa0ba902b7"); // another request's span, while this body is read
  await response.text();
  const text = await registry.metrics({ format: "openmetrics" }) as string;
  const exemplar = exemplarOf(TRACE, SPAN);
  assert.ok(lineOf(text, "http_requests_total").includes(`} 1.0 ${exemplar} 1.0 `));
  // In the bucket of the duration, whichever that is.
  const buckets = text.split("\n").filter((line) =>
    line.startsWith("http_request_duration_seconds_bucket") && line.includes(" # ")
  );
  assert.equal(buckets.length, 1, text);
  assert.ok(buckets[0].includes(`} 1.0 ${exemplar} `), buckets[0]);
  const plain = new Registry();
  await instrumentHandler((_request: Request) => new Response("ok"), { registry: plain })(
    new Request("http://localhost/"),
  );
  assert.doesNotMatch(await plain.metrics({ format: "openmetrics" }) as string, /trace_id/);
});
