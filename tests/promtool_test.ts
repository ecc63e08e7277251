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
  Registry,
  render,
  Summary,
} from "../mod.ts";
import { numberText, runPythonOps } from "./support/differential_python.ts";
import { missingTool } from "./support/process.ts";
import { promtoolCheckMetrics, skipWithoutPythonClient } from "./support/python.ts";

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
