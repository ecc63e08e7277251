// Our output, read by the reference tools: `promtool check metrics` (Prometheus 2.42: parser and
// linter) must accept the 0.0.4 text of a registry holding every type without a word, and the
// official Python client's parsers must read both formats back into exactly the samples of the
// snapshot the text was rendered from.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type Labels,
  type MetricFamily,
  metricsHandler,
  Registry,
  Summary,
} from "../../mod.ts";
import { InvalidFamilyError, render, validateFamily } from "../../src/exposition/mod.ts";
import { numberText, runPythonOps } from "../support/differential_python.ts";
import { missingTool } from "../support/process.ts";
import { promtoolCheckMetrics, skipWithoutPythonClient } from "../support/python.ts";

// Label values that stress escaping and encoding in both formats.
const TRICKY_VALUES = ['say "hi"', "back\\slash", "two\nlines", "café 日本 😀", "", "a,b=c}"];

/** A registry holding every type: labelled and not, units, exemplars, summary quantiles. */
function everyType(): Registry {
  const registry = new Registry();

  const jobs = new Counter({ name: "app_jobs_total", help: "jobs run", registry });
  jobs.inc();
  jobs.inc(2, { trace_id: "0af7651916cd43dd8448eb211c80319c" });
  const requests = new Counter({
    name: "app_http_requests",
    help: "HTTP requests by method and path",
    labelNames: ["method", "path"],
    registry,
  });
  requests.labels("GET", "/").inc(3, { trace_id: "b7ad6b7169203331", span_id: "é" });
  requests.labels({ path: "/submit", method: "POST" }).inc();
  TRICKY_VALUES.forEach((value, i) => requests.labels("GET", value).inc(i));
  const sent = new Counter({ name: "app_data_sent", help: "bytes sent", unit: "bytes", registry });
  sent.inc(1.5e9);

  const temperature = new Gauge({
    name: "app_temperature",
    help: "temperature with a back\\slash and a\nnewline in its help",
    unit: "celsius",
    registry,
  });
  temperature.set(-12.25);
  const queue = new Gauge({
    name: "app_queue_length",
    help: "jobs waiting per queue",
    labelNames: ["queue"],
    registry,
  });
  TRICKY_VALUES.forEach((value, i) => queue.labels(value).set(i * 1e7));
  queue.labels("infinite").set(Infinity);
  queue.labels("unknown").set(NaN);
  queue.labels("tiny").set(1e-7);
  queue.labels("huge").set(1e21);

  const duration = new Histogram({
    name: "app_request_duration",
    help: "request duration",
    unit: "seconds",
    registry,
  });
  for (const seconds of [0.001, 0.02, 0.3, 0.3, 4, 12]) duration.observe(seconds);
  duration.observe(0.07, { trace_id: "4bf92f3577b34da6" });
  duration.observe(11, { trace_id: "00f067aa0ba902b7" });
  const jobDuration = new Histogram({
    name: "app_job_duration_seconds",
    help: "duration of job",
    labelNames: ["job_name"],
    buckets: [1, 2, 3, 10, 20, 50, 100],
    registry,
  });
  for (const seconds of [0.149, 2.5, 99, 150]) jobDuration.labels("test_job").observe(seconds);
  jobDuration.labels("two\nlines").observe(3, { trace_id: "x" });

  const size = new Summary({
    name: "app_response_size",
    help: "response sizes",
    unit: "bytes",
    percentiles: [0.5, 0.9, 0.99],
    registry,
  });
  for (let i = 1; i <= 100; i++) size.observe(i * 10);
  const latency = new Summary({
    name: "app_task_latency_seconds",
    help: "task latency",
    labelNames: ["task"],
    percentiles: [0.25, 0.75],
    registry,
  });
  latency.labels("import").observe(0.5);
  latency.labels("export").observe(1.5);
  const plain = new Summary({ name: "app_batch_size", help: "batch sizes", registry });
  plain.observe(17);

  const build = new Info({ name: "app_build", help: "build information", registry });
  build.info({ version: "1.2.3", commit: "abc123", branch: 'feature/"quotes"' });
  const component = new Info({
    name: "app_component",
    help: "component versions",
    labelNames: ["component"],
    registry,
  });
  component.labels("parser").info({ version: "2.0" });

  const state = new Enum({
    name: "app_task_state",
    help: "state of the task",
    states: ["starting", "running", "stopped"],
    registry,
  });
  state.state("running");
  const disk = new Enum({
    name: "app_disk_state",
    help: "state of each disk",
    labelNames: ["disk"],
    states: ["ok", "degraded", "failed"],
    registry,
  });
  disk.labels("sda").state("degraded");
  disk.labels("日本").state("ok");
  return registry;
}

// ---------------------------------------------------------------------------------------------
// The samples a snapshot must read back as, written out independently of the renderers.

interface ExpectedExemplar {
  labels: Labels;
  value: number;
  hasTimestamp: boolean;
}

interface ExpectedSample {
  name: string;
  labels: Labels;
  value: number;
  exemplar?: ExpectedExemplar;
}

interface ExpectedFamily {
  name: string;
  type: string;
  help: string;
  unit: string;
  samples: ExpectedSample[];
}

function exemplarOf(
  exemplar: { labels: Labels; value: number; timestamp?: number } | undefined,
): ExpectedExemplar | undefined {
  if (exemplar === undefined) return undefined;
  return {
    labels: exemplar.labels,
    value: exemplar.value,
    hasTimestamp: exemplar.timestamp !== undefined,
  };
}

function sample(
  name: string,
  labels: Labels,
  value: number,
  exemplar?: ExpectedExemplar,
): ExpectedSample {
  return exemplar === undefined ? { name, labels, value } : { name, labels, value, exemplar };
}

/**
 * What each parser should find for `families`: `openMetrics` adds `_created`, exemplars and the
 * OpenMetrics types; the 0.0.4 view has Python's text-parser names (info and stateset as gauges).
 */
function expectedFamilies(
  families: readonly MetricFamily[],
  openMetrics: boolean,
): ExpectedFamily[] {
  return families.map((family): ExpectedFamily => {
    const samples: ExpectedSample[] = [];
    const name = family.name;
    const created = (labels: Labels, value: number | undefined) => {
      if (openMetrics && value !== undefined) {
        samples.push(sample(name + "_created", labels, value));
      }
    };
    switch (family.type) {
      case "counter":
        for (const point of family.points) {
          const exemplar = openMetrics ? exemplarOf(point.exemplar) : undefined;
          samples.push(sample(name + "_total", point.labels, point.value, exemplar));
          created(point.labels, point.created);
        }
        break;
      case "gauge":
      case "unknown":
        for (const point of family.points) samples.push(sample(name, point.labels, point.value));
        break;
      case "histogram":
        for (const point of family.points) {
          point.upperBounds.forEach((bound, i) => {
            const exemplar = openMetrics ? exemplarOf(point.exemplars?.[i]) : undefined;
            const labels = { ...point.labels, le: numberLabel(bound) };
            samples.push(sample(name + "_bucket", labels, point.bucketCounts[i], exemplar));
          });
          samples.push(sample(name + "_count", point.labels, point.count));
          if (point.upperBounds[0] >= 0) {
            samples.push(sample(name + "_sum", point.labels, point.sum));
          }
          created(point.labels, point.created);
        }
        break;
      case "summary":
        for (const point of family.points) {
          for (const { quantile, value } of point.quantiles) {
            samples.push(sample(name, { ...point.labels, quantile: numberLabel(quantile) }, value));
          }
          samples.push(sample(name + "_count", point.labels, point.count));
          samples.push(sample(name + "_sum", point.labels, point.sum));
          created(point.labels, point.created);
        }
        break;
      case "info":
        for (const point of family.points) samples.push(sample(name + "_info", point.labels, 1));
        break;
      case "stateset":
        for (const point of family.points) {
          for (const state of point.states) {
            samples.push(
              sample(name, { ...point.labels, [name]: state.name }, state.enabled ? 1 : 0),
            );
          }
        }
        break;
    }
    if (openMetrics) {
      return { name, type: family.type, help: family.help, unit: family.unit ?? "", samples };
    }
    // Python's 0.0.4 parser: a counter family is named without `_total`; info and state sets
    // come out as plain gauges (`<name>_info` for info); there is no unit.
    const textName = family.type === "info" ? name + "_info" : name;
    const textType = family.type === "info" || family.type === "stateset"
      ? "gauge"
      : family.type === "unknown"
      ? "untyped"
      : family.type;
    return { name: textName, type: textType, help: family.help, unit: "", samples };
  });
}

/** `le` and `quantile` labels are compared as numbers: they are numbers written as text. */
function numberLabel(value: number): string {
  return `#${numberText(value)}`;
}

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: string;
  exemplar?: { labels: Record<string, string>; value: string; hasTimestamp: boolean };
}

interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  unit: string;
  samples: ParsedSample[];
}

type ParseAnswer = ParsedFamily[] | { error: string };

/** Python's parsed families in the shape of {@linkcode expectedFamilies}. */
function fromPython(parsed: ParseAnswer, what: string): ExpectedFamily[] {
  if (!Array.isArray(parsed)) {
    assert.fail(`Python's ${what} parser rejected our output:\n${parsed.error}`);
  }
  const labelsOf = (labels: Record<string, string>): Labels => {
    const result: Record<string, string> = { ...labels };
    for (const key of ["le", "quantile"]) {
      if (key in result) result[key] = numberLabel(parseFloatText(result[key]));
    }
    return result;
  };
  return parsed.map((family) => ({
    name: family.name,
    type: family.type,
    help: family.help,
    unit: family.unit,
    samples: family.samples.map((parsedSample) => {
      const exemplar = parsedSample.exemplar === undefined ? undefined : {
        labels: parsedSample.exemplar.labels,
        value: Number(parsedSample.exemplar.value),
        hasTimestamp: parsedSample.exemplar.hasTimestamp,
      };
      return sample(
        parsedSample.name,
        family.type === "histogram" || family.type === "summary"
          ? labelsOf(parsedSample.labels)
          : parsedSample.labels,
        Number(parsedSample.value),
        exemplar,
      );
    }),
  }));
}

/** Reads a float the way Python's `float()` does for the texts we write (`+Inf`, `-Inf`, `NaN`). */
function parseFloatText(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

// ---------------------------------------------------------------------------------------------

const withoutPromtool = missingTool("promtool");

Deno.test({
  name: "promtool check metrics accepts the 0.0.4 text of every type, lint-clean",
  ignore: withoutPromtool,
  async fn() {
    const text = await everyType().metrics();
    const result = await promtoolCheckMetrics(text);
    assert.equal(
      result.code,
      0,
      `promtool check metrics exited with ${result.code}:\n${result.stdout}${result.stderr}\n` +
        `--- input ---\n${text}`,
    );
    assert.equal(result.stdout + result.stderr, "", "promtool printed lint problems");
  },
});

Deno.test({
  name: "promtool check metrics reports a lint problem (the check is live)",
  ignore: withoutPromtool,
  async fn() {
    // A counter without `_total` is the classic lint: exit code 3 and a message.
    const text = "# HELP jobs jobs\n# TYPE jobs counter\njobs 1\n";
    const result = await promtoolCheckMetrics(text);
    assert.equal(result.code, 3);
    assert.match(result.stdout + result.stderr, /_total/);
  },
});

Deno.test({
  name: "Python's parsers read our 0.0.4 text and OpenMetrics back into the snapshot's samples",
  ignore: skipWithoutPythonClient(),
  async fn() {
    const families = await everyType().collect();
    const text = render(families, "text");
    const openMetrics = render(families, "openmetrics");
    const parsed = await runPythonOps<{ text: ParseAnswer; openmetrics: ParseAnswer }>("parse", {
      text,
      openmetrics: openMetrics,
    });

    assert.deepEqual(fromPython(parsed.text, "0.0.4 text"), expectedFamilies(families, false));
    const openMetricsFamilies = fromPython(parsed.openmetrics, "OpenMetrics");
    assert.deepEqual(openMetricsFamilies, expectedFamilies(families, true));

    // The parts OpenMetrics adds were really there and read back.
    const byName = new Map(openMetricsFamilies.map((family) => [family.name, family]));
    assert.equal(byName.get("app_request_duration_seconds")?.unit, "seconds");
    assert.equal(byName.get("app_build")?.type, "info");
    assert.equal(byName.get("app_task_state")?.type, "stateset");
    const exemplars = openMetricsFamilies.flatMap((family) =>
      family.samples.filter((s) => s.exemplar !== undefined)
    );
    assert.equal(exemplars.length, 5); // 2 counters, 3 histogram buckets
    assert.ok(openMetrics.endsWith("# EOF\n"));
  },
});

// ---------------------------------------------------------------------------------------------
// Hostile collectors: every family that cannot be exposed is dropped and reported, and what is
// left is still valid for promtool and both Python parsers.

/** Families no exposition can carry, each with the reason it is dropped. */
const HOSTILE: [MetricFamily, RegExp][] = [
  [gauge("app_jobs_total", {}, 1), /exposes "app_jobs_total", which metric family "app_jobs"/],
  [gauge("evil\n# TYPE evil counter", {}, 1), /invalid metric name/],
  [gauge("bad_label", { "a\nb": "1" }, 1), /invalid label name/],
  [gauge("reserved_label", { __name__: "x" }, 1), /reserved/],
  [gauge("escaped_clash", { "a.b": "1", a_b: "2" }, 1), /"a\.b" and "a_b" would both be "a_b"/],
  [
    {
      type: "gauge",
      name: "twice",
      help: "",
      points: [point({ a: "1" }, 1), point({ a: "1" }, 2)],
    },
    /two series have the labels \{a="1"\}/,
  ],
  [
    {
      type: "gauge",
      name: "surrogates",
      help: "",
      points: [point({ a: "\ud800" }, 1), point({ a: "\udbff" }, 2)],
    },
    /two series have the labels/,
  ],
  [counter("negative", -1), /counter value -1 is negative/],
  [counter("not_a_number", NaN), /counter value is NaN/],
  [histogram("no_inf", [1, 2], [1, 2], 2), /the last bucket is not \+Inf/],
  [histogram("not_cumulative", [1, Infinity], [3, 2], 2), /not cumulative/],
  [histogram("count_off", [1, Infinity], [1, 2], 5), /count 5 differs from the \+Inf bucket 2/],
  [
    {
      type: "summary",
      name: "quantile_out",
      help: "",
      points: [{ labels: {}, count: 1, sum: 1, quantiles: [{ quantile: 1.5, value: 1 }] }],
    },
    /quantile 1.5 is not in \[0, 1\]/,
  ],
  [
    {
      type: "stateset",
      name: "states_twice",
      help: "",
      points: [{
        labels: {},
        states: [{ name: "a", enabled: true }, { name: "a", enabled: false }],
      }],
    },
    /state "a" is given twice/,
  ],
  [
    { type: "gauge", name: "wrong_unit", unit: "seconds", help: "", points: [point({}, 1)] },
    /does not end with its unit/,
  ],
  [
    {
      type: "counter",
      name: "long_exemplar",
      help: "",
      points: [{ labels: {}, value: 1, exemplar: { labels: { t: "x".repeat(200) }, value: 1 } }],
    },
    /exemplar labels have 201 characters/,
  ],
  [
    { type: "bogus", name: "bogus", help: "", points: [] } as unknown as MetricFamily,
    /unknown type/,
  ],
];

function point(labels: Labels, value: number) {
  return { labels, value };
}
function gauge(name: string, labels: Labels, value: number): MetricFamily {
  return { type: "gauge", name, help: "a gauge", points: [point(labels, value)] };
}
function counter(name: string, value: number): MetricFamily {
  return { type: "counter", name, help: "", points: [point({}, value)] };
}
function histogram(name: string, upperBounds: number[], bucketCounts: number[], count: number) {
  return {
    type: "histogram",
    name,
    help: "",
    points: [{ labels: {}, upperBounds, bucketCounts, count, sum: 1 }],
  } as MetricFamily;
}

/** `everyType()` plus one good custom family, then every hostile one and a broken collector. */
function withHostileCollectors(): Registry {
  const registry = everyType();
  registry.register({
    collect: () => [gauge("custom_ok", { a: "1" }, 1), ...HOSTILE.map(([f]) => f)],
  });
  registry.register({ collect: () => "not families" as unknown as MetricFamily[] });
  return registry;
}

Deno.test("hostile collectors: bad families are dropped and reported, once per streak", async () => {
  const registry = withHostileCollectors();
  const errors: Error[] = [];
  const onError = (error: Error) => errors.push(error);
  const text = await registry.metrics({ onError });
  assert.equal(errors.length, HOSTILE.length + 1);
  // The broken collector is reported as it is collected, the families after all are gathered.
  assert.match(errors.shift()!.message, /a collector returned string, not an array of families/);
  HOSTILE.forEach(([family, reason], i) => {
    assert.ok(errors[i] instanceof InvalidFamilyError, String(errors[i]));
    assert.ok(errors[i] instanceof TypeError);
    assert.equal((errors[i] as InvalidFamilyError).family, family.name);
    assert.match(errors[i].message, reason);
  });
  // The output is exactly the registered metrics' plus the good custom family.
  const clean = everyType();
  clean.register({ collect: () => [gauge("custom_ok", { a: "1" }, 1)] });
  assert.equal(text, await clean.metrics());
  // Still bad at the next scrape: not reported again.
  await registry.metrics({ onError });
  assert.equal(errors.length, HOSTILE.length);
});

Deno.test({
  name: "hostile collectors: promtool check metrics accepts what is left, lint-clean",
  ignore: withoutPromtool,
  async fn() {
    const text = await withHostileCollectors().metrics({ onError: () => {} });
    const result = await promtoolCheckMetrics(text);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}\n--- input ---\n${text}`);
    assert.equal(result.stdout + result.stderr, "", "promtool printed lint problems");
  },
});

Deno.test({
  name: "hostile collectors: Python's parsers read both formats of what is left",
  ignore: skipWithoutPythonClient(),
  async fn() {
    const families = await withHostileCollectors().collect({ onError: () => {} });
    const parsed = await runPythonOps<{ text: ParseAnswer; openmetrics: ParseAnswer }>("parse", {
      text: render(families, "text"),
      openmetrics: render(families, "openmetrics"),
    });
    assert.deepEqual(fromPython(parsed.text, "0.0.4 text"), expectedFamilies(families, false));
    assert.deepEqual(
      fromPython(parsed.openmetrics, "OpenMetrics"),
      expectedFamilies(families, true),
    );
  },
});

Deno.test({
  name: "UTF-8 names: promtool and Python read the default (underscores) output",
  ignore: withoutPromtool || skipWithoutPythonClient(),
  async fn() {
    const registry = new Registry();
    new Counter({ name: "http.server.requests", help: "h", labelNames: ["http.method"], registry })
      .labels("GET").inc();
    new Histogram({ name: "rpc.duration", help: "h", unit: "seconds", registry }).observe(1);
    const text = await registry.metrics();
    const result = await promtoolCheckMetrics(text);
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}\n--- input ---\n${text}`);
    const parsed = await runPythonOps<{ text: ParseAnswer; openmetrics: ParseAnswer }>("parse", {
      text,
      openmetrics: await registry.metrics({ format: "openmetrics" }),
    });
    assert.ok(Array.isArray(parsed.text) && Array.isArray(parsed.openmetrics));
    assert.deepEqual(parsed.openmetrics.map((family) => family.name), [
      "http_server_requests",
      "rpc_duration_seconds",
    ]);
  },
});

Deno.test("every family the built-in metrics make passes validateFamily", async () => {
  for (const family of await everyType().collect()) {
    assert.equal(validateFamily(family), undefined, family.name);
  }
});

Deno.test("a registered metric keeps its name against a custom family that claims it", async () => {
  const registry = new Registry();
  registry.register({ collect: () => [gauge("jobs_total", {}, 7), gauge("a_b", {}, 1)] });
  new Counter({ name: "jobs", help: "jobs run", registry }).inc();
  // `a.b` and `a_b` are one name for scrapers without UTF-8 support: the second one is dropped.
  new Counter({ name: "a.b", help: "dotted", registry });
  const errors: string[] = [];
  const text = await registry.metrics({ onError: (error) => errors.push(error.message) });
  assert.equal(
    text,
    "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 1.0\n" +
      "# HELP a_b_total dotted\n# TYPE a_b_total counter\na_b_total 0.0\n",
  );
  assert.deepEqual(errors, [
    'metric family "jobs_total" dropped: it exposes "jobs_total", which metric family "jobs" exposes already',
    'metric family "a_b" dropped: it exposes "a_b", which metric family "a.b" exposes already',
  ]);
});

Deno.test("the handler reports dropped families to onError and answers 200 with the rest", async () => {
  const registry = new Registry();
  registry.register({ collect: () => [counter("negative", -1), gauge("fine", {}, 1)] });
  const errors: unknown[] = [];
  const handle = metricsHandler({ registry, onError: (error) => errors.push(error) });
  const response = await handle(new Request("http://localhost/metrics"));
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "# HELP fine a gauge\n# TYPE fine gauge\nfine 1.0\n");
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof InvalidFamilyError);
  assert.equal(
    (errors[0] as Error).message,
    'metric family "negative" dropped: series {}: counter value -1 is negative',
  );
});
