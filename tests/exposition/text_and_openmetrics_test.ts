// Exact-text tests: every metric type in the 0.0.4 text format and in OpenMetrics 1.0.
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
  escapeName,
  type EscapingScheme,
  negotiateEscaping,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderOpenMetrics,
  renderText,
} from "../../src/exposition/mod.ts";
import { gatewayUrl } from "../../src/push/mod.ts";

/** Replaces `_created` values (wall-clock dependent) with `<created>` after checking them. */
function maskCreated(text: string): string {
  return text.replace(/^(\w+_created(?:\{[^}]*\})?) (\S+)$/gm, (_line, series, value) => {
    const seconds = Number(value);
    assert.ok(Math.abs(seconds - Date.now() / 1000) < 600, `implausible created ${value}`);
    return `${series} <created>`;
  });
}

/** Replaces exemplar timestamps with `<ts>` after checking them. */
function maskExemplarTime(text: string): string {
  return text.replace(/( # \{[^}]*\} \S+) (\d+(?:\.\d+)?)$/gm, (_line, exemplar, value) => {
    assert.ok(Math.abs(Number(value) - Date.now() / 1000) < 600, `implausible ts ${value}`);
    return `${exemplar} <ts>`;
  });
}

Deno.test("the guide's histogram with the guide's first observation matches Python's text", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    buckets: [1, 2, 3, 10, 20, 50, 100],
    registry,
  });
  h.labels({ job_name: "test_job" }).observe(0.149);
  assert.equal(
    await registry.metrics(),
    `# HELP job_duration_seconds duration of job
# TYPE job_duration_seconds histogram
job_duration_seconds_bucket{job_name="test_job",le="1.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="2.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="3.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="10.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="20.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="50.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="100.0"} 1.0
job_duration_seconds_bucket{job_name="test_job",le="+Inf"} 1.0
job_duration_seconds_count{job_name="test_job"} 1.0
job_duration_seconds_sum{job_name="test_job"} 0.149
`,
  );
});

Deno.test("the guide's histogram after ten runs, in both formats", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    buckets: [1, 2, 3, 10, 20, 50, 100],
    registry,
  });
  const child = h.labels("test_job");
  for (const seconds of [3.08, 7.51, 0.149, 9.87, 2.5, 5.0, 1.0, 6.33, 0.01, 4.2]) {
    child.observe(seconds);
  }
  const series = `job_duration_seconds_bucket{job_name="test_job",le="1.0"} 3.0
job_duration_seconds_bucket{job_name="test_job",le="2.0"} 3.0
job_duration_seconds_bucket{job_name="test_job",le="3.0"} 4.0
job_duration_seconds_bucket{job_name="test_job",le="10.0"} 10.0
job_duration_seconds_bucket{job_name="test_job",le="20.0"} 10.0
job_duration_seconds_bucket{job_name="test_job",le="50.0"} 10.0
job_duration_seconds_bucket{job_name="test_job",le="100.0"} 10.0
job_duration_seconds_bucket{job_name="test_job",le="+Inf"} 10.0
job_duration_seconds_count{job_name="test_job"} 10.0
job_duration_seconds_sum{job_name="test_job"} 39.649
`;
  assert.equal(
    await registry.metrics(),
    "# HELP job_duration_seconds duration of job\n# TYPE job_duration_seconds histogram\n" +
      series,
  );
  assert.equal(
    maskCreated(await registry.metrics({ format: "openmetrics" })),
    "# HELP job_duration_seconds duration of job\n# TYPE job_duration_seconds histogram\n" +
      series + `job_duration_seconds_created{job_name="test_job"} <created>\n# EOF\n`,
  );
});

Deno.test("counter: _total suffix either way, labels sorted, exemplar only in OpenMetrics", async () => {
  const registry = new Registry();
  const plain = new Counter({ name: "jobs", help: "jobs run", registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "requests",
    labelNames: ["route", "method"],
    registry,
  });
  plain.inc();
  plain.inc(2.5);
  requests.labels({ route: "/", method: "GET" }).inc(1, { trace_id: "abc123" });
  requests.labels("/x", "POST").inc(0);
  assert.equal(plain.value, 3.5);
  assert.equal(
    await registry.metrics(),
    `# HELP jobs_total jobs run
# TYPE jobs_total counter
jobs_total 3.5
# HELP http_requests_total requests
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/"} 1.0
http_requests_total{method="POST",route="/x"} 0.0
`,
  );
  assert.equal(
    maskExemplarTime(maskCreated(await registry.metrics({ format: "openmetrics" }))),
    `# HELP jobs jobs run
# TYPE jobs counter
jobs_total 3.5
jobs_created <created>
# HELP http_requests requests
# TYPE http_requests counter
http_requests_total{method="GET",route="/"} 1.0 # {trace_id="abc123"} 1.0 <ts>
http_requests_created{method="GET",route="/"} <created>
http_requests_total{method="POST",route="/x"} 0.0
http_requests_created{method="POST",route="/x"} <created>
# EOF
`,
  );
});

Deno.test("gauge: every operation, unit, and special values", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "temperature", help: "degrees", unit: "celsius", registry });
  const labelled = new Gauge({ name: "queue", help: "depth", labelNames: ["q"], registry });
  g.set(20);
  g.inc();
  g.dec(0.5);
  labelled.labels("a").set(Infinity);
  labelled.labels("b").set(-Infinity);
  labelled.labels("c").set(NaN);
  labelled.labels("d").set(1e-7);
  labelled.labels("e").set(1e21);
  labelled.labels("f").set(-1234567.5);
  assert.equal(g.value, 20.5);
  assert.equal(
    await registry.metrics(),
    `# HELP temperature_celsius degrees
# TYPE temperature_celsius gauge
temperature_celsius 20.5
# HELP queue depth
# TYPE queue gauge
queue{q="a"} +Inf
queue{q="b"} -Inf
queue{q="c"} NaN
queue{q="d"} 1e-07
queue{q="e"} 1e+21
queue{q="f"} -1234567.5
`,
  );
  assert.equal(
    await registry.metrics({ format: "openmetrics", names: ["temperature_celsius"] }),
    `# HELP temperature_celsius degrees
# TYPE temperature_celsius gauge
# UNIT temperature_celsius celsius
temperature_celsius 20.5
# EOF
`,
  );
});

Deno.test("gauge: setFunction is read at collect time, setToCurrentTime is wall clock", async () => {
  const registry = new Registry();
  const g = new Gauge({ name: "reading", help: "r", registry });
  let reading = 1;
  g.setFunction(() => reading);
  reading = 42;
  assert.match(await registry.metrics(), /^reading 42\.0$/m);
  g.setToCurrentTime();
  assert.ok(Math.abs(g.value - Date.now() / 1000) < 5);
});

Deno.test("summary without quantiles is count and sum, as Python writes it", async () => {
  const registry = new Registry();
  const s = new Summary({ name: "request_size_bytes", help: "sizes", registry });
  s.observe(512);
  s.observe(1024);
  assert.equal(
    await registry.metrics(),
    `# HELP request_size_bytes sizes
# TYPE request_size_bytes summary
request_size_bytes_count 2.0
request_size_bytes_sum 1536.0
`,
  );
  assert.equal(
    maskCreated(await registry.metrics({ format: "openmetrics" })),
    `# HELP request_size_bytes sizes
# TYPE request_size_bytes summary
request_size_bytes_count 2.0
request_size_bytes_sum 1536.0
request_size_bytes_created <created>
# EOF
`,
  );
});

Deno.test("summary quantiles are exposed in order and within the documented 1% error", async () => {
  const registry = new Registry();
  const s = new Summary({
    name: "latency",
    help: "l",
    labelNames: ["route"],
    percentiles: [0.99, 0.5, 0.9],
    registry,
  });
  const child = s.labels("/");
  for (let i = 1; i <= 1000; i++) child.observe(i);
  const text = await registry.metrics();
  const quantileLines = text.split("\n").filter((line) => line.includes("quantile"));
  assert.deepEqual(
    quantileLines.map((line) => line.replace(/ \S+$/, "")),
    [
      'latency{quantile="0.5",route="/"}',
      'latency{quantile="0.9",route="/"}',
      'latency{quantile="0.99",route="/"}',
    ],
  );
  const expected = [500.5, 900.1, 990.01];
  quantileLines.forEach((line, i) => {
    const value = Number(line.split(" ")[1]);
    assert.ok(Math.abs(value - expected[i]) / expected[i] <= 0.011, `${line} vs ${expected[i]}`);
  });
  assert.match(text, /^latency_count\{route="\/"\} 1000\.0$/m);
  assert.match(text, /^latency_sum\{route="\/"\} 500500\.0$/m);
});

Deno.test("summary window forgets old observations", async () => {
  const registry = new Registry();
  const s = new Summary({
    name: "short_window",
    help: "w",
    percentiles: [0.5],
    maxAgeSeconds: 0.2,
    ageBuckets: 2,
    registry,
  });
  s.observe(100);
  assert.match(await registry.metrics(), /short_window\{quantile="0\.5"\} 10\d\.\d+/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const text = await registry.metrics();
  assert.match(text, /^short_window\{quantile="0\.5"\} NaN$/m);
  assert.match(text, /^short_window_count 1\.0$/m);
});

Deno.test("info and enum, named as the Python client names them", async () => {
  const registry = new Registry();
  const build = new Info({ name: "my_build", help: "build information", registry });
  const tagged = new Info({ name: "component_info", help: "c", labelNames: ["part"], registry });
  const state = new Enum({
    name: "task_state",
    help: "task state",
    states: ["starting", "running", "stopped"],
    registry,
  });
  const perQueue = new Enum({
    name: "queue_state",
    help: "q",
    labelNames: ["queue"],
    states: ["idle", "busy"],
    registry,
  });
  build.info({ version: "1.2", buildhost: "foo@bar" });
  tagged.labels("db").info({ version: "9" });
  state.state("running");
  perQueue.labels("mail").state("busy");
  assert.equal(state.value, "running");
  const series = [
    'my_build_info{buildhost="foo@bar",version="1.2"} 1.0',
    'component_info{part="db",version="9"} 1.0',
    'task_state{task_state="starting"} 0.0',
    'task_state{task_state="running"} 1.0',
    'task_state{task_state="stopped"} 0.0',
    'queue_state{queue="mail",queue_state="idle"} 0.0',
    'queue_state{queue="mail",queue_state="busy"} 1.0',
  ];
  assert.equal(
    await registry.metrics(),
    [
      "# HELP my_build_info build information",
      "# TYPE my_build_info gauge",
      series[0],
      "# HELP component_info c",
      "# TYPE component_info gauge",
      series[1],
      "# HELP task_state task state",
      "# TYPE task_state gauge",
      ...series.slice(2, 5),
      "# HELP queue_state q",
      "# TYPE queue_state gauge",
      ...series.slice(5),
      "",
    ].join("\n"),
  );
  assert.equal(
    await registry.metrics({ format: "openmetrics" }),
    [
      "# HELP my_build build information",
      "# TYPE my_build info",
      series[0],
      "# HELP component c",
      "# TYPE component info",
      series[1],
      "# HELP task_state task state",
      "# TYPE task_state stateset",
      ...series.slice(2, 5),
      "# HELP queue_state q",
      "# TYPE queue_state stateset",
      ...series.slice(5),
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("unlabelled metrics expose 0 from creation; labelled ones only HELP/TYPE", async () => {
  const registry = new Registry();
  new Counter({ name: "a_total", help: "a", registry });
  new Counter({ name: "b_total", help: "b", labelNames: ["x"], registry });
  new Histogram({ name: "c", help: "c", buckets: [1], registry });
  assert.equal(
    await registry.metrics(),
    `# HELP a_total a
# TYPE a_total counter
a_total 0.0
# HELP b_total b
# TYPE b_total counter
# HELP c c
# TYPE c histogram
c_bucket{le="1.0"} 0.0
c_bucket{le="+Inf"} 0.0
c_count 0.0
c_sum 0.0
`,
  );
});

Deno.test("escaping: help backslash/newline, label value quote/backslash/newline, lone surrogates", async () => {
  const registry = new Registry();
  const c = new Counter({
    name: "escapes_total",
    help: 'back\\slash "quoted"\nnext line',
    labelNames: ["v"],
    registry,
  });
  c.labels('a"b\\c\nd').inc();
  c.labels("lone \uD800 surrogate").inc();
  c.labels("日本語 é 🎉").inc();
  const text = await registry.metrics();
  assert.equal(
    text,
    `# HELP escapes_total back\\\\slash "quoted"\\nnext line
# TYPE escapes_total counter
escapes_total{v="a\\"b\\\\c\\nd"} 1.0
escapes_total{v="lone \uFFFD surrogate"} 1.0
escapes_total{v="日本語 é 🎉"} 1.0
`,
  );
  // OpenMetrics also escapes the double quote in HELP.
  assert.match(
    await registry.metrics({ format: "openmetrics" }),
    /^# HELP escapes back\\\\slash \\"quoted\\"\\nnext line$/m,
  );
  // The encoded bytes are valid UTF-8 (a fatal decoder would throw otherwise).
  new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(text));
});

Deno.test("histogram le formatting, negative buckets drop _sum, exemplars per bucket", async () => {
  const registry = new Registry();
  const h = new Histogram({ name: "h", help: "h", registry });
  const negative = new Histogram({ name: "delta", help: "d", buckets: [-1, 0, 1], registry });
  h.observe(0.003, { trace_id: "t1" });
  h.observe(7);
  negative.observe(-5);
  const text = await registry.metrics();
  assert.deepEqual(
    text.split("\n").filter((line) => line.startsWith("h_bucket")).map((line) =>
      line.match(/le="([^"]+)"/)![1]
    ),
    [
      "0.005",
      "0.01",
      "0.025",
      "0.05",
      "0.075",
      "0.1",
      "0.25",
      "0.5",
      "0.75",
      "1.0",
      "2.5",
      "5.0",
      "7.5",
      "10.0",
      "+Inf",
    ],
  );
  assert.match(text, /^h_sum 7\.003$/m);
  assert.equal(
    text.split("\n").filter((line) => line.startsWith("delta")).join("\n"),
    `delta_bucket{le="-1.0"} 1.0
delta_bucket{le="0.0"} 1.0
delta_bucket{le="1.0"} 1.0
delta_bucket{le="+Inf"} 1.0
delta_count 1.0`,
  );
  const openMetrics = maskExemplarTime(await registry.metrics({ format: "openmetrics" }));
  assert.match(openMetrics, /^h_bucket\{le="0\.005"\} 1\.0 # \{trace_id="t1"\} 0\.003 <ts>$/m);
  assert.match(openMetrics, /^h_bucket\{le="0\.01"\} 1\.0$/m);
});

Deno.test("content type constants", () => {
  assert.equal(PROMETHEUS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(
    OPENMETRICS_CONTENT_TYPE,
    "application/openmetrics-text; version=1.0.0; charset=utf-8",
  );
});

Deno.test("renderers take plain snapshots from custom collectors", async () => {
  const registry = new Registry();
  registry.register({
    collect: () =>
      Promise.resolve([{
        type: "unknown" as const,
        name: "legacy_value",
        help: "from elsewhere",
        points: [{ labels: { zone: "b", app: "a" }, value: 3 }],
      }]),
  });
  const families = await registry.collect();
  assert.equal(
    renderText(families),
    `# HELP legacy_value from elsewhere
# TYPE legacy_value untyped
legacy_value{app="a",zone="b"} 3.0
`,
  );
  assert.equal(
    renderOpenMetrics(families),
    `# HELP legacy_value from elsewhere
# TYPE legacy_value unknown
legacy_value{app="a",zone="b"} 3.0
# EOF
`,
  );
});

// ---- UTF-8 names (Prometheus 3): escaping schemes, quoting, negotiation ----

Deno.test("escapeName: each scheme as the Prometheus escaping spec writes it", () => {
  const table: [string, EscapingScheme, string][] = [
    // Legacy names never change, except under dots (below).
    ["my_metric:rate5m", "underscores", "my_metric:rate5m"],
    ["my_metric", "values", "my_metric"],
    ["http.server.request.duration", "allow-utf-8", "http.server.request.duration"],
    // underscores: every character outside [a-zA-Z0-9_:] (a digit only after the first) is `_`.
    ["http.server.request.duration", "underscores", "http_server_request_duration"],
    ["metric.name/with/slashes", "underscores", "metric_name_with_slashes"],
    ["1st", "underscores", "_st"],
    ["日本", "underscores", "__"],
    ["😀x", "underscores", "_x"], // one code point, one underscore
    // dots: `.` is `_dot_`, `_` is `__`, anything else outside the alphabet `__`, legacy names
    // included (tests/exposition/escaping_schemes_test.ts has the full table).
    ["http.server_duration", "dots", "http_dot_server__duration"],
    ["a-b", "dots", "a__b"],
    ["my_metric", "dots", "my__metric"],
    ["up", "dots", "up"],
    // values: `U__`, `_` doubled, anything else as `_<hex code point>_`.
    ["http.server", "values", "U__http_2e_server"],
    ["a_b.c", "values", "U__a__b_2e_c"],
    ["日", "values", "U___65e5_"],
    ["1a", "values", "U___31_a"],
    ["😀", "values", "U___1f600_"],
  ];
  for (const [name, scheme, expected] of table) {
    assert.equal(escapeName(name, scheme), expected, `${name} with ${scheme}`);
  }
  // Label names have no `:` in the legacy alphabet.
  assert.equal(escapeName("a:b", "underscores"), "a:b");
  assert.equal(escapeName("a:b", "underscores", "label"), "a_b");
});

/** A registry with UTF-8 metric and label names, next to a legacy one. */
function utf8Registry(): Registry {
  const registry = new Registry();
  const requests = new Counter({
    name: "http.server.requests",
    help: "requests",
    labelNames: ["http.method"],
    registry,
  });
  requests.labels("GET").inc(2);
  const duration = new Histogram({ name: "req.dur", help: "d", buckets: [1], registry });
  duration.observe(0.5);
  const legacy = new Gauge({ name: "legacy_gauge", help: "g", labelNames: ["a.b"], registry });
  legacy.labels("x").set(1);
  return registry;
}

/** The 0.0.4 text of `utf8Registry()` with the names as a scheme writes them. */
function utf8Text(requests: string, method: string, duration: string, ab: string): string {
  return [
    `# HELP ${requests}_total requests`,
    `# TYPE ${requests}_total counter`,
    `${requests}_total{${method}="GET"} 2.0`,
    `# HELP ${duration} d`,
    `# TYPE ${duration} histogram`,
    `${duration}_bucket{le="1.0"} 1.0`,
    `${duration}_bucket{le="+Inf"} 1.0`,
    `${duration}_count 1.0`,
    `${duration}_sum 0.5`,
    "# HELP legacy_gauge g",
    "# TYPE legacy_gauge gauge",
    `legacy_gauge{${ab}="x"} 1.0`,
    "",
  ].join("\n");
}

Deno.test("UTF-8 names in the text format under each escaping scheme", async () => {
  const registry = utf8Registry();
  const expected = utf8Text("http_server_requests", "http_method", "req_dur", "a_b");
  assert.equal(await registry.metrics(), expected); // underscores is the default
  assert.equal(await registry.metrics({ escaping: "underscores" }), expected);
  assert.equal(
    await registry.metrics({ escaping: "dots" }),
    utf8Text("http_dot_server_dot_requests", "http_dot_method", "req_dot_dur", "a_dot_b")
      .replaceAll("legacy_gauge", "legacy__gauge"),
  );
  assert.equal(
    await registry.metrics({ escaping: "values" }),
    utf8Text("U__http_2e_server_2e_requests", "U__http_2e_method", "U__req_2e_dur", "U__a_2e_b"),
  );
  assert.equal(
    await registry.metrics({ escaping: "allow-utf-8" }),
    [
      '# HELP "http.server.requests_total" requests',
      '# TYPE "http.server.requests_total" counter',
      '{"http.server.requests_total","http.method"="GET"} 2.0',
      '# HELP "req.dur" d',
      '# TYPE "req.dur" histogram',
      '{"req.dur_bucket",le="1.0"} 1.0',
      '{"req.dur_bucket",le="+Inf"} 1.0',
      '{"req.dur_count"} 1.0',
      '{"req.dur_sum"} 0.5',
      "# HELP legacy_gauge g",
      "# TYPE legacy_gauge gauge",
      'legacy_gauge{"a.b"="x"} 1.0',
      "",
    ].join("\n"),
  );
});

Deno.test("UTF-8 names in OpenMetrics, every type, quoted under allow-utf-8", () => {
  const families: MetricFamily[] = [
    {
      type: "counter",
      name: "jobs.done",
      help: "h",
      points: [{
        labels: { "job.kind": 'say "hi"' },
        value: 1,
        exemplar: { labels: { "trace.id": "a" }, value: 1 },
      }],
    },
    {
      type: "summary",
      name: "rpc.latency",
      help: "h",
      unit: "seconds",
      points: [{ labels: {}, count: 1, sum: 2, quantiles: [{ quantile: 0.5, value: 2 }] }],
    },
    { type: "info", name: "build.version", help: "h", points: [{ labels: { "git.sha": "abc" } }] },
    {
      type: "stateset",
      name: "disk.state",
      help: "h",
      points: [{ labels: { disk: "sda" }, states: [{ name: "ok", enabled: true }] }],
    },
  ];
  assert.equal(
    renderOpenMetrics(families, "allow-utf-8"),
    [
      '# HELP "jobs.done" h',
      '# TYPE "jobs.done" counter',
      '{"jobs.done_total","job.kind"="say \\"hi\\""} 1.0 # {"trace.id"="a"} 1.0',
      '# HELP "rpc.latency" h',
      '# TYPE "rpc.latency" summary',
      '# UNIT "rpc.latency" seconds',
      '{"rpc.latency",quantile="0.5"} 2.0',
      '{"rpc.latency_count"} 1.0',
      '{"rpc.latency_sum"} 2.0',
      '# HELP "build.version" h',
      '# TYPE "build.version" info',
      '{"build.version_info","git.sha"="abc"} 1.0',
      '# HELP "disk.state" h',
      '# TYPE "disk.state" stateset',
      '{"disk.state",disk="sda","disk.state"="ok"} 1.0',
      "# EOF",
      "",
    ].join("\n"),
  );
  // The same families for a scraper without UTF-8 support.
  assert.equal(
    renderOpenMetrics(families),
    [
      "# HELP jobs_done h",
      "# TYPE jobs_done counter",
      'jobs_done_total{job_kind="say \\"hi\\""} 1.0 # {trace_id="a"} 1.0',
      "# HELP rpc_latency h",
      "# TYPE rpc_latency summary",
      "# UNIT rpc_latency seconds",
      'rpc_latency{quantile="0.5"} 2.0',
      "rpc_latency_count 1.0",
      "rpc_latency_sum 2.0",
      "# HELP build_version h",
      "# TYPE build_version info",
      'build_version_info{git_sha="abc"} 1.0',
      "# HELP disk_state h",
      "# TYPE disk_state stateset",
      'disk_state{disk="sda",disk_state="ok"} 1.0',
      "# EOF",
      "",
    ].join("\n"),
  );
});

Deno.test("the handler answers with the escaping the scraper negotiates", async () => {
  const handle = metricsHandler({ registry: utf8Registry() });
  const scrape = async (accept?: string) => {
    const response = await handle(
      new Request("http://localhost/metrics", {
        headers: accept === undefined ? {} : { accept, "accept-encoding": "identity" },
      }),
    );
    return { type: response.headers.get("content-type"), body: await response.text() };
  };
  // A scraper that says nothing: underscores, and the Content-Type of before.
  const plain = await scrape();
  assert.equal(plain.type, PROMETHEUS_CONTENT_TYPE);
  assert.equal(plain.body, utf8Text("http_server_requests", "http_method", "req_dur", "a_b"));
  // Prometheus 3's default Accept header.
  const prometheus3 = await scrape(
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5," +
      "application/openmetrics-text;version=0.0.1;q=0.4," +
      "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
  );
  assert.equal(prometheus3.type, OPENMETRICS_CONTENT_TYPE + "; escaping=allow-utf-8");
  assert.match(prometheus3.body, /^\{"http\.server\.requests_total","http\.method"="GET"\} 2\.0$/m);
  const values = await scrape("text/plain;version=0.0.4;escaping=values");
  assert.equal(values.type, PROMETHEUS_CONTENT_TYPE + "; escaping=values");
  assert.match(
    values.body,
    /^U__http_2e_server_2e_requests_total\{U__http_2e_method="GET"\} 2\.0$/m,
  );
  const textUtf8 = await scrape("text/plain;version=1.0.0;escaping=allow-utf-8");
  assert.equal(textUtf8.type, PROMETHEUS_CONTENT_TYPE + "; escaping=allow-utf-8");
  // An escaping we do not know is the default, unannounced.
  const unknown = await scrape("text/plain;version=0.0.4;escaping=rot13");
  assert.equal(unknown.type, PROMETHEUS_CONTENT_TYPE);
  assert.equal(negotiateEscaping("text/plain;escaping=dots", "openmetrics"), undefined);
  assert.equal(negotiateEscaping("*/*;escaping=dots", "openmetrics"), "dots");
});

Deno.test("Pushgateway paths carry UTF-8 grouping label names in the values escaping", () => {
  assert.equal(
    gatewayUrl("pgw:9091", "j", { "http.method": "GET", shard: "1" }),
    "http://pgw:9091/metrics/job/j/U__http_2e_method/GET/shard/1",
  );
});
