// The /metrics handler and content negotiation, called directly with Request objects.
import assert from "node:assert/strict";
import {
  Counter,
  Gauge,
  Histogram,
  type MetricFamily,
  metricsHandler,
  type MetricsSource,
  Registry,
} from "../../mod.ts";
import {
  negotiateFormat,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
} from "../../src/exposition/mod.ts";
import { acceptsGzip } from "../../src/exposition/negotiate.ts";

const PROMETHEUS_ACCEPT =
  "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

function request(init: RequestInit & { path?: string } = {}): Request {
  return new Request(`http://localhost${init.path ?? "/metrics"}`, init);
}

function sampleRegistry(): Registry {
  const registry = new Registry();
  const jobs = new Counter({ name: "jobs_total", help: "jobs run", registry });
  jobs.inc(3);
  const queue = new Gauge({ name: "queue_depth", help: "jobs waiting", registry });
  queue.set(7);
  new Histogram({ name: "job_duration_seconds", help: "duration", buckets: [1, 10], registry })
    .observe(2);
  return registry;
}

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

Deno.test("negotiateFormat: Accept header table", () => {
  const table: [string | null | undefined, "text" | "openmetrics", string][] = [
    [PROMETHEUS_ACCEPT, "openmetrics", "Prometheus 2.42's real header"],
    [
      "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4",
      "text",
      "text preferred by q",
    ],
    [
      "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
      "openmetrics",
      "Prometheus 2.2x header (0.0.1)",
    ],
    ["application/openmetrics-text", "openmetrics", "bare OpenMetrics"],
    ["Application/OpenMetrics-Text; Version=1.0.0", "openmetrics", "case-insensitive"],
    ["application/openmetrics-text;q=0,*/*", "text", "q=0 means not acceptable"],
    ["application/openmetrics-text;q=0", "text", "nothing acceptable falls back to text"],
    ["application/openmetrics-text;version=2.0.0", "text", "a version we do not write"],
    ["text/plain;version=0.0.4", "text", "text 0.0.4"],
    ["text/plain", "text", "plain text"],
    ["*/*", "text", "curl"],
    ["application/*", "openmetrics", "only OpenMetrics is acceptable"],
    ["application/*,text/*", "text", "wildcards alone prefer nothing: text"],
    [
      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      "text",
      "a browser",
    ],
    ["application/openmetrics-text,text/plain", "openmetrics", "equal q: listed first wins"],
    ["text/plain,application/openmetrics-text", "text", "equal q: listed first wins (text)"],
    ["application/openmetrics-text,*/*", "openmetrics", "explicit beats wildcard at equal q"],
    ["text/plain;q=0,*/*", "openmetrics", "text refused, wildcard allows OpenMetrics"],
    ["application/openmetrics-text;q=abc", "text", "unreadable q is skipped"],
    ["application/openmetrics-text;q=0.001", "openmetrics", "tiny but non-zero q"],
    ["", "text", "empty header"],
    [null, "text", "no header"],
    [undefined, "text", "undefined"],
    [",,;;,", "text", "garbage"],
  ];
  for (const [accept, expected, why] of table) {
    assert.equal(negotiateFormat(accept), expected, `${why}: ${JSON.stringify(accept)}`);
  }
});

Deno.test("acceptsGzip: Accept-Encoding table", () => {
  const table: [string | null, boolean][] = [
    ["gzip", true],
    ["gzip, deflate, br", true],
    ["deflate, gzip;q=0.5", true],
    ["x-gzip", true],
    ["GZIP", true],
    ["*", true],
    ["gzip;q=0", false],
    ["gzip;q=0, *", false],
    ["*;q=0", false],
    ["identity", false],
    ["br", false],
    ["", false],
    [null, false],
  ];
  for (const [header, expected] of table) {
    assert.equal(acceptsGzip(header), expected, JSON.stringify(header));
  }
});

Deno.test("GET without Accept: 200, text 0.0.4, exact body and headers", async () => {
  const response = await metricsHandler({ registry: sampleRegistry() })(request());
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.equal(response.headers.get("vary"), "Accept-Encoding, Accept");
  assert.equal(response.headers.get("content-encoding"), null);
  const body = await response.text();
  assert.equal(
    response.headers.get("content-length"),
    String(new TextEncoder().encode(body).length),
  );
  assert.equal(
    body,
    [
      "# HELP jobs_total jobs run",
      "# TYPE jobs_total counter",
      "jobs_total 3.0",
      "# HELP queue_depth jobs waiting",
      "# TYPE queue_depth gauge",
      "queue_depth 7.0",
      "# HELP job_duration_seconds duration",
      "# TYPE job_duration_seconds histogram",
      'job_duration_seconds_bucket{le="1.0"} 0.0',
      'job_duration_seconds_bucket{le="10.0"} 1.0',
      'job_duration_seconds_bucket{le="+Inf"} 1.0',
      "job_duration_seconds_count 1.0",
      "job_duration_seconds_sum 2.0",
      "",
    ].join("\n"),
  );
});

Deno.test("GET with Prometheus' Accept: OpenMetrics 1.0 content type and body", async () => {
  const registry = sampleRegistry();
  const response = await metricsHandler({ registry })(
    request({ headers: { accept: PROMETHEUS_ACCEPT } }),
  );
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), OPENMETRICS_CONTENT_TYPE);
  assert.equal(
    response.headers.get("content-type"),
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
  );
  assert.equal(await response.text(), await registry.metrics({ format: "openmetrics" }));
});

Deno.test("format option forces a format whatever the Accept header says", async () => {
  const registry = sampleRegistry();
  const forcedText = await metricsHandler({ registry, format: "text" })(
    request({ headers: { accept: PROMETHEUS_ACCEPT } }),
  );
  assert.equal(forcedText.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.equal(forcedText.headers.get("vary"), "Accept-Encoding");
  assert.equal(await forcedText.text(), await registry.metrics({ format: "text" }));

  const forcedOpenMetrics = await metricsHandler({ registry, format: "openmetrics" })(request());
  assert.equal(forcedOpenMetrics.headers.get("content-type"), OPENMETRICS_CONTENT_TYPE);
  assert.ok((await forcedOpenMetrics.text()).endsWith("# EOF\n"));

  const negotiated = await metricsHandler({ registry, format: "negotiate" })(
    request({ headers: { accept: "text/plain" } }),
  );
  assert.equal(negotiated.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  await negotiated.body?.cancel();
});

Deno.test("gzip: compressed when accepted, round-trips to the plain body", async () => {
  const registry = sampleRegistry();
  const handle = metricsHandler({ registry });
  for (const format of ["text", "openmetrics"] as const) {
    const accept = format === "openmetrics" ? PROMETHEUS_ACCEPT : "text/plain";
    const response = await handle(
      request({ headers: { accept, "accept-encoding": "gzip, deflate" } }),
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-encoding"), "gzip");
    assert.equal(response.headers.get("vary"), "Accept-Encoding, Accept");
    const compressed = new Uint8Array(await response.arrayBuffer());
    assert.equal(response.headers.get("content-length"), String(compressed.byteLength));
    assert.deepEqual([...compressed.subarray(0, 2)], [0x1f, 0x8b], "gzip magic bytes");
    assert.equal(await gunzip(compressed), await registry.metrics({ format }));
  }
});

Deno.test("gzip: not used when refused, absent, or disabled", async () => {
  const registry = sampleRegistry();
  for (const acceptEncoding of [undefined, "identity", "gzip;q=0", "br"]) {
    const headers: Record<string, string> = acceptEncoding === undefined
      ? {}
      : { "accept-encoding": acceptEncoding };
    const response = await metricsHandler({ registry })(request({ headers }));
    assert.equal(response.headers.get("content-encoding"), null, String(acceptEncoding));
    assert.equal(await response.text(), await registry.metrics());
  }
  const disabled = await metricsHandler({ registry, compression: false })(
    request({ headers: { "accept-encoding": "gzip" } }),
  );
  assert.equal(disabled.headers.get("content-encoding"), null);
  assert.equal(await disabled.text(), await registry.metrics());
});

Deno.test("name[] keeps only the named families (family or sample names)", async () => {
  const handle = metricsHandler({ registry: sampleRegistry() });
  const one = await (await handle(request({ path: "/metrics?name[]=queue_depth" }))).text();
  assert.equal(one, "# HELP queue_depth jobs waiting\n# TYPE queue_depth gauge\nqueue_depth 7.0\n");

  const two = await (await handle(
    request({ path: "/metrics?name[]=jobs_total&name[]=job_duration_seconds_bucket" }),
  )).text();
  assert.match(two, /^jobs_total 3\.0$/m);
  assert.match(two, /^job_duration_seconds_count 1\.0$/m);
  assert.doesNotMatch(two, /queue_depth/);

  const encoded = await (await handle(request({ path: "/metrics?name%5B%5D=jobs_total" }))).text();
  assert.match(encoded, /^jobs_total 3\.0$/m);
  assert.doesNotMatch(encoded, /queue_depth/);

  const none = await handle(request({ path: "/metrics?name[]=no_such_metric" }));
  assert.equal(none.status, 200);
  assert.equal(await none.text(), "");

  const otherParams = await (await handle(request({ path: "/metrics?foo=bar" }))).text();
  assert.match(otherParams, /queue_depth 7\.0/, "unrelated query parameters do not filter");
});

Deno.test("HEAD: same status and headers as GET, no body", async () => {
  const registry = sampleRegistry();
  const handle = metricsHandler({ registry });
  const headerSets: Record<string, string>[] = [
    {},
    { accept: PROMETHEUS_ACCEPT, "accept-encoding": "gzip" },
  ];
  for (const headers of headerSets) {
    const get = await handle(request({ headers }));
    const getBody = new Uint8Array(await get.arrayBuffer());
    const head = await handle(request({ method: "HEAD", headers }));
    assert.equal(head.status, 200);
    assert.equal(head.body, null);
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"));
    assert.equal(head.headers.get("content-encoding"), get.headers.get("content-encoding"));
    assert.equal(head.headers.get("content-length"), String(getBody.byteLength));
  }
});

Deno.test("other methods: 405 with Allow: GET, HEAD", async () => {
  const handle = metricsHandler({ registry: sampleRegistry() });
  for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const response = await handle(request({ method }));
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
    assert.match(await response.text(), new RegExp(`${method} not allowed`));
  }
});

const COLLECTION_FAILED = "error collecting metrics; see the server's log for details\n";

Deno.test("a throwing collector gives 500 without its message (secrets stay in onError); the next scrape works", async () => {
  const registry = sampleRegistry();
  let failuresLeft = 1;
  registry.register({
    collect(): MetricFamily[] {
      if (failuresLeft-- > 0) {
        throw new Error("postgres://admin:hunter2@db unreachable\nstack details");
      }
      return [{
        type: "gauge",
        name: "db_up",
        help: "db reachable",
        points: [{ labels: {}, value: 1 }],
      }];
    },
  });
  const reported: unknown[] = [];
  const handle = metricsHandler({ registry, onError: (error) => reported.push(error) });

  const failed = await handle(request({ headers: { "accept-encoding": "gzip" } }));
  assert.equal(failed.status, 500);
  assert.equal(failed.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(failed.headers.get("content-encoding"), null);
  const body = await failed.text();
  assert.equal(body, COLLECTION_FAILED);
  assert.doesNotMatch(body, /hunter2|postgres/);
  assert.equal(reported.length, 1);
  assert.equal(
    (reported[0] as Error).message,
    "postgres://admin:hunter2@db unreachable\nstack details",
  );

  const recovered = await handle(request());
  assert.equal(recovered.status, 200);
  assert.match(await recovered.text(), /^db_up 1\.0$/m);
});

Deno.test("a rejecting async collector gives 500; HEAD of it has no body; recovery", async () => {
  const registry = new Registry();
  let broken = true;
  const collector = {
    collect(): Promise<MetricFamily[]> {
      return broken ? Promise.reject(new TypeError("x".repeat(500))) : Promise.resolve([]);
    },
  };
  registry.register(collector);
  const handle = metricsHandler({ registry, onError: () => {} });
  const failed = await handle(request());
  assert.equal(failed.status, 500);
  assert.equal(await failed.text(), COLLECTION_FAILED);

  const head = await handle(request({ method: "HEAD" }));
  assert.equal(head.status, 500);
  assert.equal(head.body, null);

  broken = false;
  const recovered = await handle(request());
  assert.equal(recovered.status, 200);
  assert.equal(await recovered.text(), "");
});

Deno.test("a throwing onError does not break the 500 answer; non-Error throws are reported", async () => {
  const registry = new Registry();
  registry.register({
    collect(): MetricFamily[] {
      throw "plain string";
    },
  });
  const handle = metricsHandler({
    registry,
    onError: () => {
      throw new Error("reporter broken");
    },
  });
  const response = await handle(request());
  assert.equal(response.status, 500);
  assert.equal(await response.text(), COLLECTION_FAILED);
});

Deno.test("any MetricsSource works, and receives the name filter", async () => {
  const seen: (readonly string[] | undefined)[] = [];
  const source: MetricsSource = {
    collect(options) {
      seen.push(options?.names === undefined ? undefined : [...options.names]);
      return [{
        type: "gauge",
        name: "merged",
        help: "merged",
        points: [{ labels: {}, value: 2 }],
      }];
    },
  };
  const handle = metricsHandler({ registry: source });
  assert.match(await (await handle(request())).text(), /^merged 2\.0$/m);
  await (await handle(request({ path: "/metrics?name[]=a&name[]=b" }))).text();
  assert.deepEqual(seen, [undefined, ["a", "b"]]);
});

Deno.test("defaults to the default registry", async () => {
  const counter = new Counter({ name: "handler_default_registry_total", help: "h" });
  try {
    counter.inc();
    const text = await (await metricsHandler()(request())).text();
    assert.match(text, /^handler_default_registry_total 1\.0$/m);
  } finally {
    const { defaultRegistry } = await import("../../mod.ts");
    defaultRegistry.unregister(counter);
  }
});

Deno.test("bad options are TypeErrors naming the option", () => {
  assert.throws(
    // @ts-expect-error: wrong format on purpose
    () => metricsHandler({ format: "yaml" }),
    {
      name: "TypeError",
      message: /format must be "negotiate", "text", "openmetrics" or "protobuf"/,
    },
  );
  assert.throws(
    // @ts-expect-error: wrong registry on purpose
    () => metricsHandler({ registry: {} }),
    { name: "TypeError", message: /registry must be a Registry or an object with a collect\(\)/ },
  );
  assert.throws(
    // @ts-expect-error: wrong onError on purpose
    () => metricsHandler({ onError: "log" }),
    { name: "TypeError", message: /onError must be a function/ },
  );
  // @ts-expect-error: not an object
  assert.throws(() => metricsHandler(42), TypeError);
});
