// Names that some scraper would read as one: two metrics are refused at registration, two
// label names of one metric at construction, and families from custom collectors or merges
// are dropped and reported, under every escaping a scraper can ask for (underscores, dots,
// values), not only the default one.
import assert from "node:assert/strict";
import { Counter, Enum, Gauge, Histogram, type MetricFamily, Registry } from "../../mod.ts";
import {
  escapeName,
  type EscapingScheme,
  type InvalidFamilyError,
  render,
} from "../../src/exposition/mod.ts";
import { familyGate } from "../../src/registry.ts";
import { seededRandom } from "../support/random.ts";
import { hasPromtool, promtoolCheckMetrics } from "../support/python.ts";

const SCHEMES: EscapingScheme[] = ["underscores", "dots", "values", "allow-utf-8"];

/** Calls `make` expecting an error of `type` whose message holds every one of `parts`. */
function throwsNaming(make: () => unknown, type: ErrorConstructor, parts: string[]): void {
  assert.throws(make, (error: unknown) => {
    assert.ok(error instanceof type, `not a ${type.name}: ${error}`);
    for (const part of parts) {
      assert.ok((error as Error).message.includes(part), `"${part}" not in: ${error}`);
    }
    return true;
  });
}

Deno.test("registration refuses a name that values writes as a taken one, either order", () => {
  const registry = new Registry();
  new Gauge({ name: "a.b", help: "h", registry });
  throwsNaming(
    () => new Gauge({ name: "U__a_2e_b", help: "h", registry }),
    TypeError,
    ['"U__a_2e_b"', '"a.b"', "values"],
  );
  const other = new Registry();
  new Gauge({ name: "U__a_2e_b", help: "h", registry: other });
  throwsNaming(
    () => new Gauge({ name: "a.b", help: "h", registry: other }),
    TypeError,
    ['"a.b"', '"U__a_2e_b"', "values"],
  );
});

Deno.test("registration refuses sample names that meet: a counter's _total, a histogram's _bucket", () => {
  const registry = new Registry();
  new Counter({ name: "jobs.done", help: "h", registry });
  // values writes the counter's samples `U__jobs_2e_done_total`, as a legacy gauge of that name.
  throwsNaming(
    () => new Gauge({ name: "U__jobs_2e_done_total", help: "h", registry }),
    TypeError,
    ['"U__jobs_2e_done_total"', '"jobs.done"', "values"],
  );
  new Histogram({ name: "U__rpc_2e_latency_bucket", help: "h", registry });
  throwsNaming(
    () => new Histogram({ name: "rpc.latency", help: "h", registry }),
    TypeError,
    ['"rpc.latency"', '"U__rpc_2e_latency_bucket"'],
  );
});

Deno.test("registration refuses names dots and underscores write alike", () => {
  const registry = new Registry();
  new Gauge({ name: "a_b", help: "h", registry });
  // `a-b`: `a_b` under underscores, `a__b` (as `a_b` is) under dots.
  throwsNaming(
    () => new Gauge({ name: "a-b", help: "h", registry }),
    TypeError,
    ['"a-b"', '"a_b"', "underscores"],
  );
  new Counter({ name: "x.y", help: "h", registry });
  throwsNaming(
    () => new Counter({ name: "x y_total", help: "h", registry }),
    TypeError,
    ['"x y"', '"x.y"'],
  );
});

Deno.test("registration accepts names no scheme writes alike, and frees names on unregister", () => {
  const registry = new Registry();
  const dotted = new Gauge({ name: "a.b", help: "h", registry });
  // `a_dot_b`: `a_b`/`a_dot_b`, `a_dot_b`/`a__dot__b`, `U__a_2e_b`/`a_dot_b`: always apart.
  new Gauge({ name: "a_dot_b", help: "h", registry });
  new Gauge({ name: "U__a_2e_c", help: "h", registry });
  registry.unregister(dotted);
  new Gauge({ name: "U__a_2e_b", help: "h", registry });
  registry.clear();
  new Gauge({ name: "a.b", help: "h", registry });
});

Deno.test("label names that meet under any scheme are refused at construction", () => {
  const registry = new Registry();
  throwsNaming(
    () => new Counter({ name: "c", help: "h", labelNames: ["a.b", "U__a_2e_b"], registry }),
    TypeError,
    ['"c"', '"a.b"', '"U__a_2e_b"', "values"],
  );
  throwsNaming(
    () => new Counter({ name: "c", help: "h", labelNames: ["a-b", "a_b"], registry }),
    TypeError,
    ['"c"', '"a-b"', '"a_b"'],
  );
  // A constant label against a label name.
  throwsNaming(
    () =>
      new Gauge({
        name: "g",
        help: "h",
        labelNames: ["U__zone_2e_id"],
        constLabels: { "zone.id": "eu" },
        registry,
      }),
    TypeError,
    ['"g"', '"U__zone_2e_id"', '"zone.id"', "values"],
  );
  throwsNaming(
    () =>
      new Gauge({
        name: "g",
        help: "h",
        labelNames: ["zone_id"],
        constLabels: { "zone.id": "eu" },
        registry,
      }),
    TypeError,
    ['"g"', '"zone_id"', '"zone.id"', "underscores"],
  );
  // An enum's state label is named after it.
  throwsNaming(
    () =>
      new Enum({
        name: "disk.state",
        help: "h",
        labelNames: ["disk_state"],
        states: ["ok"],
        registry,
      }),
    TypeError,
    ['"disk.state"', '"disk_state"'],
  );
  // Label names that stay apart under every scheme are fine.
  new Counter({
    name: "ok",
    help: "h",
    labelNames: ["a.b", "a_dot_b", "U__a_2e_c"],
    constLabels: { zone: "x" },
    registry,
  });
});

Deno.test("a label name that meets one of the registry's default labels is refused", () => {
  const registry = new Registry({ defaultLabels: { "zone.id": "eu", region: "x" } });
  throwsNaming(
    () => new Counter({ name: "c", help: "h", labelNames: ["zone_id"], registry }),
    TypeError,
    ['"c"', '"zone.id"', '"zone_id"', "defaultLabels"],
  );
  throwsNaming(
    () => new Gauge({ name: "g", help: "h", labelNames: ["U__zone_2e_id"], registry }),
    TypeError,
    ['"g"', '"zone.id"', '"U__zone_2e_id"', "values"],
  );
  // The very same name is no clash: the series keeps its own value.
  new Gauge({ name: "same", help: "h", labelNames: ["zone.id", "region"], registry });
  new Gauge({ name: "unlabelled", help: "h", registry });
});

Deno.test("a custom family meeting a metric under values is dropped and reported", async () => {
  const registry = new Registry();
  new Counter({ name: "jobs.done", help: "jobs", registry }).inc();
  registry.register({
    collect: () => [
      {
        type: "gauge",
        name: "U__jobs_2e_done_total",
        help: "",
        points: [{ labels: {}, value: 1 }],
      },
      { type: "gauge", name: "fine", help: "", points: [{ labels: {}, value: 2 }] },
    ],
  });
  const errors: InvalidFamilyError[] = [];
  const families = await registry.collect({ onError: (error) => errors.push(error) });
  assert.deepEqual(families.map((family) => family.name), ["jobs.done", "fine"]);
  assert.equal(errors.length, 1);
  assert.equal(
    errors[0].message,
    'metric family "U__jobs_2e_done_total" dropped: it exposes "U__jobs_2e_done_total", ' +
      'which metric family "jobs.done" exposes already',
  );
});

Deno.test("a custom family whose label names meet under values is dropped and reported", async () => {
  const registry = new Registry();
  registry.register({
    collect: () => [
      {
        type: "gauge",
        name: "g",
        help: "",
        points: [{ labels: { "a.b": "1", U__a_2e_b: "2" }, value: 1 }],
      },
    ],
  });
  const errors: string[] = [];
  assert.equal(await registry.metrics({ onError: (error) => errors.push(error.message) }), "");
  assert.deepEqual(errors, [
    'metric family "g" dropped: label names "a.b" and "U__a_2e_b" would both be "U__a_2e_b" ' +
    "for scrapers that ask for the values escaping",
  ]);
});

Deno.test("merged families that meet under any scheme: the later one is dropped and reported", async () => {
  const gate = familyGate();
  const family = (name: string, type: "gauge" | "counter" = "gauge"): MetricFamily => ({
    type,
    name,
    help: "",
    points: [{ labels: {}, value: 1 }],
  });
  const stateSet = (name: string): MetricFamily => ({
    type: "stateset",
    name,
    help: "",
    points: [{ labels: {}, states: [{ name: "ok", enabled: true }] }],
  });
  const cases: [MetricFamily[], string][] = [
    [[family("a.b"), family("U__a_2e_b")], '"U__a_2e_b"'],
    [[family("U__a_2e_b"), family("a.b")], '"U__a_2e_b" (as the values escaping writes it)'],
    [[family("a-b"), family("a_b")], '"a_b"'],
    [[family("a_b", "counter"), family("a.b_total")], '"a_b_total" (as the underscores'],
    // A state set's name is escaped as a label name (`a_b`): only allow-utf-8 writes both `a:b`.
    [[family("a:b"), stateSet("a:b")], '"a:b"'],
  ];
  for (const [families, clash] of cases) {
    const errors: string[] = [];
    const kept = await gate(families, (error) => errors.push(error.message));
    assert.deepEqual(kept, [families[0]]);
    assert.equal(errors.length, 1);
    assert.ok(errors[0].includes(`it exposes ${clash}`), errors[0]);
    assert.ok(errors[0].includes(`metric family "${families[0].name}" exposes already`));
  }
  // Names no scheme writes alike are both kept.
  const apart = [family("a.b"), family("a_dot_b"), family("U__a_2e_c")];
  assert.deepEqual(await gate(apart, () => assert.fail("nothing is dropped")), apart);
});

Deno.test("names that meet only once prefixed: the later family is dropped at each scrape", async () => {
  const registry = new Registry({ prefix: "U" });
  // `__Ua_2e_b` and `a.b` never meet; `U__Ua_2e_b` and `Ua.b` (`U__Ua_2e_b` under values) do.
  new Gauge({ name: "__Ua_2e_b", help: "h", registry }).set(1);
  new Gauge({ name: "a.b", help: "h", registry }).set(2);
  const errors: string[] = [];
  const families = await registry.collect({ onError: (error) => errors.push(error.message) });
  assert.deepEqual(families.map((family) => family.name), ["U__Ua_2e_b"]);
  assert.deepEqual(errors, [
    'metric family "Ua.b" dropped: it exposes "U__Ua_2e_b" (as the values escaping writes it), ' +
    'which metric family "U__Ua_2e_b" exposes already',
  ]);
});

/** A `# TYPE` line; the name is quoted under allow-utf-8 when outside the legacy alphabet. */
const TYPE_LINE = /^# TYPE ("(?:[^"\\]|\\.)*"|\S+) /gm;

/** The `# TYPE` names of an exposition. */
function typedNames(text: string): string[] {
  return [...text.matchAll(TYPE_LINE)].map((match) => match[1]);
}

/** The name a sample line is written with: `name{…} 1` or `{"name",…} 1` (allow-utf-8). */
function sampleNameOf(line: string): string {
  if (line.startsWith('{"')) return JSON.parse(/^\{("(?:[^"\\]|\\.)*")/.exec(line)![1]);
  return /^[^\s{]+/.exec(line)![0];
}

const ALPHABET = ["a", "b", "_", ".", "-", "1", ":", "é", "U"];

/** A random short name over an alphabet whose characters every scheme treats differently. */
function randomName(next: () => number): string {
  const length = 1 + Math.floor(next() * 5);
  let name = "";
  for (let i = 0; i < length; i++) name += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return name;
}

Deno.test("random names: what registers is exposed once per name under every scheme", async () => {
  const next = seededRandom(20);
  let refused = 0;
  let dropped = 0;
  for (let round = 0; round < 30; round++) {
    const registry = new Registry();
    const custom: MetricFamily[] = [];
    for (let i = 0; i < 25; i++) {
      const name = randomName(next);
      const kind = next();
      try {
        if (kind < 0.3) new Counter({ name, help: "h", registry }).inc();
        else if (kind < 0.5) new Histogram({ name, help: "h", buckets: [1], registry }).observe(0);
        else if (kind < 0.8) new Gauge({ name, help: "h", registry }).set(1);
        else custom.push({ type: "gauge", name, help: "", points: [{ labels: {}, value: 1 }] });
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        refused++;
      }
    }
    registry.register({ collect: () => custom });
    const families = await registry.collect({ onError: () => dropped++ });
    for (const scheme of SCHEMES) {
      const text = render(families, "text", scheme);
      const typed = typedNames(text);
      assert.equal(new Set(typed).size, typed.length, `${scheme}: ${typed}`);
      // No sample line belongs to two families: each name is under one TYPE line.
      const owner = new Map<string, string>();
      let current = "";
      for (const line of text.split("\n")) {
        const typeLine = new RegExp(TYPE_LINE.source).exec(line);
        if (typeLine !== null) current = typeLine[1];
        if (line === "" || line.startsWith("#")) continue;
        const sample = sampleNameOf(line);
        const first = owner.get(sample);
        assert.ok(first === undefined || first === current, `${scheme}: ${sample} twice`);
        owner.set(sample, current);
      }
    }
  }
  // The names were close enough to meet often.
  assert.ok(refused > 50 && dropped > 10, `${refused} refused, ${dropped} dropped`);
});

Deno.test("two names that dots writes alike are written alike by underscores too", () => {
  // The clash checks leave dots out on this ground (src/validation.ts, src/exposition/validate.ts
  // and src/exposition/written_names.ts): sample names, family name then suffix, both kinds.
  const next = seededRandom(7);
  let met = 0;
  for (const kind of ["metric", "label"] as const) {
    const byDots = new Map<string, { name: string; underscores: string }>();
    for (let i = 0; i < 20_000; i++) {
      const family = randomName(next);
      const suffix = kind === "label" ? "" : ["", "_total", "_bucket"][Math.floor(next() * 3)];
      const dots = escapeName(family, "dots", kind) + suffix;
      const underscores = escapeName(family, "underscores", kind) + suffix;
      const seen = byDots.get(dots);
      if (seen === undefined || seen.name === family + suffix) {
        byDots.set(dots, { name: family + suffix, underscores });
        continue;
      }
      assert.equal(underscores, seen.underscores, `${seen.name} and ${family}${suffix}: ${dots}`);
      met++;
    }
  }
  assert.ok(met > 1000, `only ${met} distinct names met under dots`);
});

Deno.test({
  name: "promtool reads every scheme's output of a registry that refused the clashing names",
  ignore: !hasPromtool(),
  async fn() {
    const registry = new Registry();
    const gauges = ["app.load", "U__app_2e_load", "app-load", "app_load"];
    const counters = ["job.runs", "U__job_2e_runs", "job_runs", "job runs"];
    let refused = 0;
    for (const name of [...gauges, ...counters]) {
      try {
        if (gauges.includes(name)) new Gauge({ name, help: "h", registry }).set(1);
        else new Counter({ name, help: "h", registry }).inc();
      } catch (error) {
        if (!(error instanceof TypeError)) throw error;
        refused++;
      }
    }
    assert.equal(refused, 6);
    for (const escaping of ["underscores", "dots", "values"] as const) {
      const text = await registry.metrics({ escaping });
      const result = await promtoolCheckMetrics(text);
      assert.equal(result.code, 0, `${escaping}: ${result.stdout}${result.stderr}\n${text}`);
    }
  },
});
