// The byte renderer (src/exposition/byte_render.ts, storage_cursors.ts) against the snapshot path: the same registry,
// after the same seeded random operations, rendered both ways must give identical bytes, in
// both text formats, under every escaping scheme, with and without `_created` lines.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type MetricFamily,
  Registry,
  type RegistryOptions,
  Summary,
} from "../../mod.ts";
import { type EscapingScheme, renderOpenMetrics, renderText } from "../../src/exposition/mod.ts";
import { renderRegistryBytes, startByteRender } from "../../src/exposition/registry_render.ts";
import { withoutCreated } from "../../src/exposition/created.ts";
import { CHUNK_SIZE } from "../../src/exposition/byte_writer.ts";
import { seededRandom as random } from "../support/random.ts";

// `dots` rewrites legacy names too, so it is always rendered from snapshots (see
// tests/exposition/escaping_schemes_test.ts).
const SCHEMES: EscapingScheme[] = ["underscores", "values", "allow-utf-8"];
const FORMATS = ["text", "openmetrics"] as const;

/** The snapshot path's text: what `registry.metrics()` gives. */
async function viaSnapshots(
  registry: Registry,
  format: "text" | "openmetrics",
  escaping: EscapingScheme,
  createdSeries = true,
  names?: string[],
): Promise<string> {
  let families: MetricFamily[] = await registry.collect(names === undefined ? {} : { names });
  if (!createdSeries) families = families.map(withoutCreated);
  return format === "text" ? renderText(families, escaping) : renderOpenMetrics(families, escaping);
}

async function viaBytes(
  registry: Registry,
  format: "text" | "openmetrics",
  escaping: EscapingScheme,
  createdSeries = true,
  names?: string[],
): Promise<string> {
  const bytes = await renderRegistryBytes(registry, {
    format,
    escaping,
    createdSeries,
    ...(names === undefined ? {} : { names }),
  });
  assert.ok(bytes !== undefined);
  return new TextDecoder().decode(bytes);
}

async function assertSameBothWays(registry: Registry, label: string, names?: string[]) {
  for (const format of FORMATS) {
    for (const escaping of SCHEMES) {
      for (const created of [true, false]) {
        const expected = await viaSnapshots(registry, format, escaping, created, names);
        const actual = await viaBytes(registry, format, escaping, created, names);
        if (actual !== expected) {
          let i = 0;
          while (actual[i] === expected[i]) i++;
          assert.fail(
            `${label} ${format}/${escaping}/created=${created}: differ at ${i}:\n` +
              `ours:     ${JSON.stringify(actual.slice(Math.max(0, i - 80), i + 80))}\n` +
              `expected: ${JSON.stringify(expected.slice(Math.max(0, i - 80), i + 80))}`,
          );
        }
      }
    }
  }
}

const VALUES = [
  "GET",
  "POST",
  "a\\b",
  'say "hi"',
  "line\nbreak",
  "ünï",
  "日本",
  "",
  "x".repeat(300),
];
const NUMBERS = [0, 1, 2.5, 0.001, 1e-7, 123456789, 4095, 4096, 1e21, 0.1 + 0.2, 7];

Deno.test("byte render equals the snapshot render over random operations", async () => {
  for (let seed = 1; seed <= 12; seed++) {
    const next = random(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)];
    const registry = new Registry();
    const constLabels = seed % 3 === 0 ? { region: 'eu "1" Zürich', zone: "b" } : undefined;
    const utf8 = seed % 4 === 0;
    const counter = new Counter({
      name: utf8 ? "http.requests" : "requests",
      help: "requests\\served\nhere",
      labelNames: utf8 ? ["method", "route.name"] : ["method", "route"],
      constLabels,
      registry,
    });
    const plain = new Counter({ name: "plain_total", help: "no labels", registry, unit: "" });
    const gauge = new Gauge({ name: "temperature", help: "t", labelNames: ["room"], registry });
    const histogram = new Histogram({
      name: "latency_seconds",
      help: "latency",
      labelNames: ["code", "method", "zzz"],
      constLabels,
      native: seed % 2 === 0,
      registry,
    });
    const negative = new Histogram({
      name: "delta",
      help: "no sum",
      buckets: [-1, 0, 1],
      registry,
    });
    const unlabelledHistogram = new Histogram({ name: "unl", help: "u", registry });
    const summary = new Summary({ name: "sizes", help: "s", labelNames: ["k"], registry });
    new Info({ name: "build", help: "b", registry }).info({ version: "1.0" });
    const state = new Enum({ name: "mode", help: "m", states: ["a", "b"], registry });
    state.state("b");
    for (let op = 0; op < 300; op++) {
      const method = pick(VALUES);
      const route = pick(VALUES);
      switch (Math.floor(next() * 9)) {
        case 0:
          counter.labels(method, route).inc(pick(NUMBERS));
          break;
        case 1:
          counter.labels(method, route).inc(1, next() < 0.5 ? { trace_id: "t" + op } : undefined);
          break;
        case 2:
          plain.inc(pick(NUMBERS));
          break;
        case 3:
          gauge.labels(route).set(next() < 0.5 ? pick(NUMBERS) : -pick(NUMBERS));
          break;
        case 4:
          histogram.labels(pick(VALUES), method, route).observe(
            pick(NUMBERS),
            next() < 0.3 ? { "trace.id": "h" + op } : undefined,
          );
          break;
        case 5:
          negative.observe(next() * 4 - 2);
          unlabelledHistogram.observe(next());
          break;
        case 6:
          summary.labels(method).observe(pick(NUMBERS));
          break;
        case 7:
          if (next() < 0.3) counter.remove(method, route);
          break;
        case 8:
          if (next() < 0.05) gauge.clear();
          break;
      }
    }
    await assertSameBothWays(registry, `seed ${seed}`);
    await assertSameBothWays(registry, `seed ${seed} name[]`, ["latency_seconds_bucket", "mode"]);
  }
});

Deno.test("byte render: a body of many chunks equals the snapshot render", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "many_total",
    help: "many",
    labelNames: ["id", "path"],
    registry,
  });
  const histogram = new Histogram({ name: "h", help: "h", labelNames: ["id"], registry });
  for (let i = 0; i < 5000; i++) {
    counter.labels(String(i), "/a/" + (i % 17)).inc(i * 1.5);
    histogram.labels(String(i % 700)).observe(i / 1000);
  }
  const render = await startByteRender(registry, { format: "text" });
  assert.ok(render !== undefined);
  const first = render.next()!;
  assert.ok(first.length >= 1 && first[0].byteLength <= CHUNK_SIZE);
  await assertSameBothWays(registry, "large");
});

Deno.test("byte render: built-in metrics are not collected; custom collectors are", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "direct", help: "d", registry });
  counter.inc(3);
  counter.collect = () => {
    throw new Error("collect() must not be called on the direct path");
  };
  let customCalls = 0;
  registry.register({
    collect: () => {
      customCalls++;
      return [{ type: "gauge", name: "custom", help: "c", points: [{ labels: {}, value: 1 }] }];
    },
  });
  const render = await startByteRender(registry, { format: "text" });
  assert.ok(render !== undefined);
  assert.equal(render.fromSnapshots, 1);
  assert.equal(
    new TextDecoder().decode(new Uint8Array(render.rest().flatMap((chunk) => [...chunk]))),
    "# HELP direct_total d\n# TYPE direct_total counter\ndirect_total 3.0\n" +
      "# HELP custom c\n# TYPE custom gauge\ncustom 1.0\n",
  );
  assert.equal(customCalls, 1);
});

Deno.test("byte render: a custom family clashing with a metric is dropped as by collect()", async () => {
  const registry = new Registry();
  new Counter({ name: "jobs", help: "j", registry }).inc();
  registry.register({
    collect: () => [
      { type: "gauge", name: "jobs_total", help: "clash", points: [{ labels: {}, value: 1 }] },
      { type: "counter", name: "bad", help: "neg", points: [{ labels: {}, value: -1 }] },
    ],
  });
  const errors: string[] = [];
  const bytes = await renderRegistryBytes(registry, {
    format: "text",
    onError: (error) => errors.push(error.message),
  });
  assert.equal(
    new TextDecoder().decode(bytes),
    "# HELP jobs_total j\n# TYPE jobs_total counter\njobs_total 1.0\n",
  );
  assert.equal(errors.length, 2);
});

Deno.test("byte render: a registry's prefix and default labels are written from storage", async () => {
  const cases: RegistryOptions[] = [
    { prefix: "app_" },
    { defaultLabels: { env: "prod", a: "first", method: "ignored", b: "ignored too" } },
    { prefix: "app_", defaultLabels: { zone: 'z"1' } },
  ];
  for (const options of cases) {
    const registry = new Registry(options);
    new Counter({ name: "jobs", help: "j", registry }).inc();
    const requests = new Counter({
      name: "requests",
      help: "r",
      labelNames: ["method"],
      constLabels: { b: "const" },
      registry,
    });
    requests.labels("GET").inc(2);
    requests.labels("P\nUT").inc();
    const latency = new Histogram({
      name: "latency",
      help: "l",
      labelNames: ["method"],
      buckets: [0.1, 1],
      registry,
    });
    latency.labels("GET").observe(0.5);
    new Gauge({ name: "up", help: "u", registry }).set(1);
    new Summary({ name: "size", help: "s", registry }).observe(3);
    const render = await startByteRender(registry, { format: "text" });
    assert.equal(render.fromSnapshots, 1, JSON.stringify(options));
    await assertSameBothWays(registry, JSON.stringify(options));
  }
});

Deno.test("byte render: a gauge with a value function is rendered from its snapshot", async () => {
  const registry = new Registry();
  const gauge = new Gauge({ name: "queue", help: "q", labelNames: ["q"], registry });
  gauge.labels("a").set(2);
  gauge.labels("b").setFunction(() => 7);
  const render = await startByteRender(registry, { format: "openmetrics" });
  assert.equal(render?.fromSnapshots, 1);
  await assertSameBothWays(registry, "gauge functions");
});

Deno.test("OpenMetrics without _created lines (createdSeries: false)", async () => {
  const registry = new Registry();
  new Counter({ name: "jobs", help: "j", registry }).inc();
  const bytes = await renderRegistryBytes(registry, {
    format: "openmetrics",
    createdSeries: false,
  });
  assert.equal(
    new TextDecoder().decode(bytes),
    "# HELP jobs j\n# TYPE jobs counter\njobs_total 1.0\n# EOF\n",
  );
  const text = await registry.metrics({ format: "openmetrics", createdSeries: false });
  assert.equal(text, "# HELP jobs j\n# TYPE jobs counter\njobs_total 1.0\n# EOF\n");
});

Deno.test("handler: a large body is streamed as it is rendered, without Content-Length", async () => {
  const { metricsHandler } = await import("../../mod.ts");
  const registry = new Registry();
  const counter = new Counter({
    name: "big",
    help: "b",
    labelNames: ["id"],
    registry,
    maxSeries: Infinity,
  });
  for (let i = 0; i < 20_000; i++) counter.labels(String(i)).inc();
  const handle = metricsHandler({ registry });
  const response = await handle(new Request("http://localhost/metrics"));
  assert.equal(response.headers.get("content-length"), null);
  const reader = response.body!.getReader();
  const first = await reader.read();
  assert.ok(first.value !== undefined && first.value.byteLength <= CHUNK_SIZE);
  // The last series is written after the first chunk left: it shows a change made now.
  counter.labels("19999").inc(41);
  const parts = [first.value];
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    parts.push(part.value);
  }
  const text = new TextDecoder().decode(new Uint8Array(parts.flatMap((part) => [...part])));
  assert.ok(text.endsWith('big_total{id="19999"} 42.0\n'));
  assert.equal(text, await registry.metrics());
  // HEAD renders the whole body for its length.
  const head = await handle(new Request("http://localhost/metrics", { method: "HEAD" }));
  assert.equal(head.headers.get("content-length"), String(new TextEncoder().encode(text).length));
  // gzip: the whole body, compressed, with its length.
  const zipped = await handle(
    new Request("http://localhost/metrics", { headers: { "accept-encoding": "gzip" } }),
  );
  assert.ok(zipped.headers.get("content-length") !== null);
  const unzipped = await new Response(
    zipped.body!.pipeThrough(new DecompressionStream("gzip")),
  ).text();
  assert.equal(unzipped, text);
});

Deno.test("handler: createdSeries: false leaves out _created in OpenMetrics", async () => {
  const { metricsHandler } = await import("../../mod.ts");
  const registry = new Registry();
  new Counter({ name: "jobs", help: "j", registry }).inc();
  const openMetrics = { headers: { accept: "application/openmetrics-text; version=1.0.0" } };
  const without = await metricsHandler({ registry, createdSeries: false })(
    new Request("http://localhost/metrics", openMetrics),
  );
  assert.equal(await without.text(), "# HELP jobs j\n# TYPE jobs counter\njobs_total 1.0\n# EOF\n");
  const withCreated = await metricsHandler({ registry })(
    new Request("http://localhost/metrics", openMetrics),
  );
  assert.match(await withCreated.text(), /\njobs_created [0-9.e+]+\n# EOF\n$/);
  assert.throws(
    () => metricsHandler({ registry, createdSeries: "no" as unknown as boolean }),
    TypeError,
  );
});

Deno.test("ChunkWriter.number writes what formatFloat writes, across chunk boundaries", async () => {
  const { ChunkWriter } = await import("../../src/exposition/byte_writer.ts");
  const { formatFloat } = await import("../../src/exposition/format.ts");
  const writer = new ChunkWriter();
  const values = [0, -0, 1, 9, 4095, 4096, 9999, 10_000, 99_999, 100_000, 999_999, 1e6, 0.5, -3];
  values.push(1e21, NaN, Infinity, -Infinity, 2.5e-7, 123456.5, -4096);
  for (let i = 0; i < 120_000; i += 7) values.push(i);
  let expected = "";
  for (const value of values) {
    writer.number(value);
    writer.byte(10);
    expected += formatFloat(value) + "\n";
  }
  const chunks = writer.take(true);
  assert.ok(chunks.length > 1);
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  assert.equal(new TextDecoder().decode(bytes), expected);
});
