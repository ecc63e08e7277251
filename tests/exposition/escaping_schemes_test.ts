// The escaping schemes write names byte for byte as prometheus/common's `EscapeName` and
// client_java's `escapeName` do (the cases below are those implementations' own test cases),
// except for `:` in label names, which neither text parser accepts; and every scheme's output
// of a registry with UTF-8 and legacy names passes `promtool check metrics` and Python's
// parsers.
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
import { escapeFamily, escapeName, type EscapingScheme, render } from "../../src/exposition/mod.ts";
import { startByteRender } from "../../src/exposition/registry_render.ts";
import { runPythonOps } from "../support/differential_python.ts";
import { hasPromtool, promtoolCheckMetrics, skipWithoutPythonClient } from "../support/python.ts";

const SCHEMES: EscapingScheme[] = ["underscores", "dots", "values", "allow-utf-8"];

Deno.test("escapeName: the reference implementations' cases, byte for byte", () => {
  const table: [string, EscapingScheme, string][] = [
    ["", "underscores", ""],
    ["", "dots", ""],
    ["", "values", ""],
    ["no:escaping_required", "underscores", "no:escaping_required"],
    // dots escapes the underscores of legacy names too.
    ["no:escaping_required", "dots", "no:escaping__required"],
    ["no:escaping_required", "values", "no:escaping_required"],
    ["mysystem.prod.west.cpu.load", "dots", "mysystem_dot_prod_dot_west_dot_cpu_dot_load"],
    [
      "mysystem.prod.west.cpu.load_total",
      "dots",
      "mysystem_dot_prod_dot_west_dot_cpu_dot_load__total",
    ],
    ["http.status:sum", "dots", "http_dot_status:sum"],
    ["label with 😱", "underscores", "label_with__"],
    ["label with 😱", "dots", "label__with____"],
    ["label with 😱", "values", "U__label_20_with_20__1f631_"],
    ["花火", "underscores", "__"],
    ["花火", "dots", "____"],
    ["花火", "values", "U___82b1__706b_"],
    ["label with Ā", "underscores", "label_with__"],
    ["label with Ā", "dots", "label__with____"],
    ["label with Ā", "values", "U__label_20_with_20__100_"],
    ["mysystem.prod.west.cpu.load", "underscores", "mysystem_prod_west_cpu_load"],
    ["mysystem.prod.west.cpu.load", "values", "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load"],
    ["mysystem.prod.west.cpu.load_total", "underscores", "mysystem_prod_west_cpu_load_total"],
    [
      "mysystem.prod.west.cpu.load_total",
      "values",
      "U__mysystem_2e_prod_2e_west_2e_cpu_2e_load__total",
    ],
    ["http.status:sum", "underscores", "http_status:sum"],
    ["http.status:sum", "values", "U__http_2e_status:sum"],
    ["unicode.and.dots.花火", "dots", "unicode_dot_and_dot_dots_dot_____"],
    ["my.metric", "values", "U__my_2e_metric"],
    ["some?label", "values", "U__some_3f_label"],
    // A leading digit is outside the alphabet; a lone surrogate has no code point to write.
    ["1a", "dots", "__a"],
    ["1a", "values", "U___31_a"],
    ["a\ud800", "values", "U__a_FFFD_"],
    // allow-utf-8 writes every name as it is.
    ["a_b.c", "allow-utf-8", "a_b.c"],
  ];
  for (const [name, scheme, expected] of table) {
    assert.equal(escapeName(name, scheme), expected, `${JSON.stringify(name)} with ${scheme}`);
  }
});

Deno.test("escapeName: `:` is outside the alphabet of label names under every scheme", () => {
  assert.equal(escapeName("app:instance-id", "underscores", "label"), "app_instance_id");
  assert.equal(escapeName("app:instance-id", "dots", "label"), "app__instance__id");
  assert.equal(escapeName("app:instance-id", "values", "label"), "U__app_3a_instance_2d_id");
  assert.equal(escapeName("app:instance-id", "allow-utf-8", "label"), "app:instance-id");
  // In a metric name `:` is legal.
  assert.equal(escapeName("app:instance-id", "values"), "U__app:instance_2d_id");
  // Legacy label names: only dots changes them.
  assert.equal(escapeName("some_label", "underscores", "label"), "some_label");
  assert.equal(escapeName("some_label", "values", "label"), "some_label");
  assert.equal(escapeName("some_label", "dots", "label"), "some__label");
});

Deno.test("escapeFamily under dots renames legacy names, labels and exemplars", () => {
  const family: MetricFamily = {
    type: "counter",
    name: "unicode.and.dots.花火",
    help: "h",
    points: [{
      labels: { some_label: "label??value" },
      value: 1,
      exemplar: { labels: { trace_id: "a" }, value: 1 },
    }],
  };
  assert.deepEqual(escapeFamily(family, "dots"), {
    type: "counter",
    name: "unicode_dot_and_dot_dots_dot_____",
    help: "h",
    points: [{
      labels: { some__label: "label??value" },
      value: 1,
      exemplar: { labels: { trace__id: "a" }, value: 1 },
    }],
  });
  const legacy: MetricFamily = {
    type: "gauge",
    name: "queue_depth",
    help: "h",
    points: [{ labels: { queue_name: "a" }, value: 1 }],
  };
  assert.equal(escapeFamily(legacy, "dots").name, "queue__depth");
  assert.deepEqual(escapeFamily(legacy, "dots").points[0].labels, { queue__name: "a" });
  // Every other scheme leaves a legacy family as it is (the same object).
  for (const scheme of ["underscores", "values", "allow-utf-8"] as const) {
    assert.equal(escapeFamily(legacy, scheme), legacy);
  }
  // A name without `_` is the same under dots too.
  const up: MetricFamily = { type: "gauge", name: "up", help: "", points: [] };
  assert.equal(escapeFamily(up, "dots"), up);
});

/** A registry of every type, with UTF-8 and legacy names side by side. */
function mixedRegistry(): Registry {
  const registry = new Registry();
  const requests = new Counter({
    name: "http.server.requests",
    help: "requests",
    labelNames: ["http.request.method", "status_code"],
    registry,
  });
  requests.labels("GET", "200").inc(2);
  requests.labels("POST", "500").inc(1, { trace_id: "abc" });
  new Counter({ name: "jobs_done", help: "jobs", registry }).inc(3);
  new Gauge({ name: "queue.depth", help: "depth", unit: "items", registry }).set(4);
  new Gauge({ name: "legacy_level", help: "g", labelNames: ["app:instance-id"], registry })
    .labels("x").set(1);
  const latency = new Histogram({
    name: "rpc.latency",
    help: "latency",
    unit: "seconds",
    labelNames: ["rpc.method"],
    buckets: [0.1, 1],
    registry,
  });
  latency.labels("get").observe(0.05);
  latency.labels("get").observe(2);
  new Summary({ name: "payload_size", help: "sizes", labelNames: ["kind"], registry })
    .labels("a").observe(10);
  new Info({ name: "build.info", help: "build", labelNames: ["git.sha"], registry })
    .labels("abc");
  new Enum({
    name: "disk.state",
    help: "state",
    labelNames: ["disk"],
    states: ["ok", "full"],
    registry,
  }).labels("sda").state("ok");
  return registry;
}

Deno.test("under dots every legacy name with `_` changes too, in every format", async () => {
  const registry = mixedRegistry();
  const text = await registry.metrics({ escaping: "dots" });
  assert.match(text, /^jobs__done_total 3\.0$/m);
  assert.match(text, /^legacy__level\{app__instance__id="x"\} 1\.0$/m);
  assert.match(
    text,
    /^http_dot_server_dot_requests_total\{http_dot_request_dot_method="GET",status__code="200"\} 2\.0$/m,
  );
  assert.match(text, /^payload__size_count\{kind="a"\} 1\.0$/m);
  const openMetrics = await registry.metrics({ escaping: "dots", format: "openmetrics" });
  assert.match(openMetrics, /^# UNIT queue_dot_depth__items items$/m);
  assert.match(openMetrics, / # \{trace__id="abc"\} 1\.0 /);
  assert.match(openMetrics, /^disk_dot_state\{disk="sda",disk_dot_state="ok"\} 1\.0$/m);
  // Under every other scheme, legacy names are written as they are.
  for (const escaping of ["underscores", "values", "allow-utf-8"] as const) {
    const other = await registry.metrics({ escaping });
    assert.match(other, /^jobs_done_total 3\.0$/m, escaping);
  }
});

Deno.test("the handler serves dots from snapshots, the same bytes as metrics()", async () => {
  const registry = mixedRegistry();
  // The storage cursors write legacy names as they are: under dots every family is a snapshot.
  const render = await startByteRender(registry, { format: "text", escaping: "dots" });
  assert.equal(render.fromSnapshots, (await registry.collect()).length);
  const handle = metricsHandler({ registry });
  for (const format of ["text", "openmetrics"] as const) {
    const accept = format === "text"
      ? "text/plain;version=0.0.4;escaping=dots"
      : "application/openmetrics-text;version=1.0.0;escaping=dots";
    const response = await handle(
      new Request("http://localhost/metrics", {
        headers: { accept, "accept-encoding": "identity" },
      }),
    );
    assert.match(response.headers.get("content-type") ?? "", /; escaping=dots$/);
    assert.equal(await response.text(), await registry.metrics({ escaping: "dots", format }));
  }
});

/**
 * `mixedRegistry()` plus a custom family that meets `queue.depth_items` under the values
 * escaping only: it is dropped from every output.
 */
function withValuesClash(): Registry {
  const registry = mixedRegistry();
  registry.register({
    collect: () => [{
      type: "gauge",
      name: "U__queue_2e_depth__items",
      help: "h",
      points: [{ labels: {}, value: 1 }],
    }],
  });
  return registry;
}

/** The family names (as `# TYPE` lines give them) of an exposition, in order. */
function typedNames(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]);
}

Deno.test({
  name: "every scheme's output passes promtool check metrics, lint-clean",
  ignore: !hasPromtool(),
  async fn() {
    const registry = withValuesClash();
    for (const escaping of ["underscores", "dots", "values"] as const) {
      const text = await registry.metrics({ escaping, onError: () => {} });
      const names = typedNames(text);
      assert.equal(new Set(names).size, names.length, `${escaping}: ${names}`);
      const result = await promtoolCheckMetrics(text);
      assert.equal(
        result.code,
        0,
        `${escaping}: ${result.stdout}${result.stderr}\n--- input ---\n${text}`,
      );
      assert.equal(result.stdout + result.stderr, "", `${escaping}: promtool printed problems`);
    }
  },
});

Deno.test({
  name: "every scheme's output is read by Python's parsers, each family once",
  ignore: skipWithoutPythonClient(),
  async fn() {
    const families = await withValuesClash().collect({ onError: () => {} });
    for (const escaping of ["underscores", "dots", "values"] as const) {
      assert.ok(render(families, "text", escaping).includes("build_"), escaping);
      type Parsed = { name: string; samples: unknown[] }[] | { error: string };
      const parsed = await runPythonOps<{ text: Parsed; openmetrics: Parsed }>("parse", {
        text: render(families, "text", escaping),
        openmetrics: render(families, "openmetrics", escaping),
      });
      for (const format of ["text", "openmetrics"] as const) {
        const answer = parsed[format];
        if (!Array.isArray(answer)) assert.fail(`${escaping} ${format}: ${answer.error}`);
        const names = answer.map((family) => family.name);
        assert.equal(names.length, families.length, `${escaping} ${format}: ${names}`);
        assert.equal(new Set(names).size, names.length, `${escaping} ${format}: ${names}`);
        // OpenMetrics names families as they are; the 0.0.4 text has no info or state set
        // type and names those gauges as its `# TYPE` lines do (Python drops a counter's
        // `_total`).
        const expected = format === "openmetrics"
          ? families.map((family) =>
            escapeName(family.name, escaping, family.type === "stateset" ? "label" : "metric")
          )
          : typedNames(render(families, "text", escaping)).map((name) =>
            name.replace(/_total$/, "")
          );
        assert.deepEqual(names, expected, `${escaping} ${format}`);
      }
    }
  },
});

Deno.test("allow-utf-8 and the default output are unchanged by the dots rules", async () => {
  const registry = mixedRegistry();
  const defaultText = await registry.metrics();
  assert.equal(defaultText, await registry.metrics({ escaping: "underscores" }));
  assert.match(defaultText, /^legacy_level\{app_instance_id="x"\} 1\.0$/m);
  const utf8 = await registry.metrics({ escaping: "allow-utf-8" });
  assert.match(utf8, /^legacy_level\{"app:instance-id"="x"\} 1\.0$/m);
  for (const escaping of SCHEMES) {
    assert.ok((await registry.metrics({ escaping })).length > 0);
  }
});
