// Every bad input gets a clear error of the right type, naming the metric and what was expected.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  exponentialBuckets,
  Gauge,
  Histogram,
  Info,
  linearBuckets,
  Registry,
  Summary,
} from "../mod.ts";

const registry = null; // these metrics register nowhere

function throwsWith(fn: () => unknown, type: ErrorConstructor, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    if (typeof message === "string") assert.equal((error as Error).message, message);
    else assert.match((error as Error).message, message);
    return true;
  });
}

Deno.test("invalid metric names", () => {
  for (const name of ["", "1abc", "a-b", "a b", "é", "a.b"]) {
    throwsWith(
      () => new Counter({ name, help: "h", registry }),
      TypeError,
      `invalid metric name ${JSON.stringify(name)}: it must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
  // Colons are fine in metric names.
  new Gauge({ name: "job:rate5m", help: "recording-rule style", registry });
});

Deno.test("invalid, reserved and repeated label names", () => {
  throwsWith(
    () => new Counter({ name: "c", help: "h", labelNames: ["a:b"], registry }),
    TypeError,
    'invalid label name "a:b" of metric "c": it must match [a-zA-Z_][a-zA-Z0-9_]*',
  );
  throwsWith(
    () => new Counter({ name: "c", help: "h", labelNames: ["__name"], registry }),
    TypeError,
    'label name "__name" of metric "c" is reserved: names starting with "__" are for Prometheus\' own use',
  );
  throwsWith(
    () => new Histogram({ name: "h", help: "h", labelNames: ["le"], registry }),
    TypeError,
    'label name "le" is reserved for metric "h" (a le label is added by the metric type itself)',
  );
  throwsWith(
    () => new Summary({ name: "s", help: "h", labelNames: ["quantile"], registry }),
    TypeError,
    'label name "quantile" is reserved for metric "s" (a quantile label is added by the metric type itself)',
  );
  throwsWith(
    () => new Gauge({ name: "g", help: "h", labelNames: ["a", "a"], registry }),
    TypeError,
    'label name "a" is repeated in metric "g"',
  );
  throwsWith(
    () => new Enum({ name: "e", help: "h", labelNames: ["e"], states: ["x"], registry }),
    TypeError,
    'enum "e" cannot have a label named like itself',
  );
});

Deno.test("wrong label sets name the metric and the labels", () => {
  const c = new Counter({
    name: "req_total",
    help: "h",
    labelNames: ["method", "route"],
    registry,
  });
  throwsWith(
    () => c.labels({ method: "GET" }),
    TypeError,
    'wrong labels for metric "req": expected labels (method, route), got (method): missing route',
  );
  throwsWith(
    () => c.labels({ method: "GET", route: "/", code: "200" }),
    TypeError,
    'wrong labels for metric "req": expected labels (method, route), got (method, route, code): unknown code',
  );
  throwsWith(
    () => c.labels({ method: "GET", rout: "/" }),
    TypeError,
    'wrong labels for metric "req": expected labels (method, route), got (method, rout): missing route; unknown rout',
  );
  throwsWith(
    () => c.labels("GET"),
    TypeError,
    'wrong labels for metric "req": expected labels (method, route), got 1 value',
  );
  throwsWith(
    () => c.labels({ method: "GET", route: undefined as unknown as string }),
    TypeError,
    /not a string, number or boolean: route/,
  );
  throwsWith(
    () => c.inc(),
    TypeError,
    'metric "req" has labels (method, route): call labels(...) first',
  );
  const unlabelled = new Counter({ name: "plain_total", help: "h", registry });
  throwsWith(
    () => unlabelled.labels("x"),
    TypeError,
    'metric "plain" has no labels: use it without labels(...)',
  );
});

Deno.test("counter increments must be finite and non-negative", () => {
  const c = new Counter({ name: "c_total", help: "h", registry });
  for (const amount of [-1, -0.001, Infinity, NaN]) {
    throwsWith(
      () => c.inc(amount),
      RangeError,
      `counter "c" can only increase by a finite, non-negative amount, got ${amount}`,
    );
  }
  throwsWith(
    () => c.inc("1" as unknown as number),
    TypeError,
    'counter "c" takes a number, got string',
  );
  assert.equal(c.value, 0, "a refused increment changes nothing");
});

Deno.test("gauge steps must be finite; set takes any number", () => {
  const g = new Gauge({ name: "g", help: "h", registry });
  throwsWith(() => g.inc(Infinity), RangeError, 'metric "g" takes a finite amount, got Infinity');
  throwsWith(() => g.dec(NaN), RangeError, 'metric "g" takes a finite amount, got NaN');
  throwsWith(
    () => g.set("3" as unknown as number),
    TypeError,
    'metric "g" takes a number, got string',
  );
  g.set(NaN);
  assert.ok(Number.isNaN(g.value));
  throwsWith(
    () => g.setFunction(3 as unknown as () => number),
    TypeError,
    'setFunction of gauge "g" takes a function',
  );
});

Deno.test("observations cannot be NaN", () => {
  const h = new Histogram({ name: "h", help: "h", registry });
  const s = new Summary({ name: "s", help: "h", registry });
  const g = new Gauge({ name: "g", help: "h", registry });
  throwsWith(() => h.observe(NaN), RangeError, 'metric "h" cannot observe NaN');
  throwsWith(() => s.observe(NaN), RangeError, 'metric "s" cannot observe NaN');
  throwsWith(
    () => h.observe("1" as unknown as number),
    TypeError,
    'metric "h" takes a number, got string',
  );
  throwsWith(
    () => g.inc("1" as unknown as number),
    TypeError,
    'metric "g" takes a number, got string',
  );
});

Deno.test("histogram buckets must be finite and strictly increasing", () => {
  throwsWith(
    () => new Histogram({ name: "h", help: "h", buckets: [1, 3, 2], registry }),
    RangeError,
    'buckets of histogram "h" must be strictly increasing: 3 is followed by 2',
  );
  throwsWith(
    () => new Histogram({ name: "h", help: "h", buckets: [1, 1], registry }),
    RangeError,
    'buckets of histogram "h" must be strictly increasing: 1 is followed by 1',
  );
  throwsWith(
    () => new Histogram({ name: "h", help: "h", buckets: [1, NaN], registry }),
    RangeError,
    'bucket bound NaN of histogram "h" is not a finite number (+Inf is added by itself)',
  );
  // A trailing +Inf is accepted and not doubled.
  const h = new Histogram({ name: "h", help: "h", buckets: [1, Infinity], registry });
  assert.deepEqual(h.upperBounds, [1, Infinity]);
  throwsWith(() => linearBuckets(0, 0, 3), RangeError, /positive width/);
  throwsWith(() => exponentialBuckets(1, 1, 3), RangeError, /factor above 1/);
  throwsWith(
    () => linearBuckets(0, 1, 0),
    RangeError,
    "bucket count must be a positive integer, got 0",
  );
});

Deno.test("summary options are checked", () => {
  throwsWith(
    () => new Summary({ name: "s", help: "h", percentiles: [0.5, 1.5], registry }),
    RangeError,
    'percentile 1.5 of summary "s" is not in [0, 1]',
  );
  throwsWith(
    () => new Summary({ name: "s", help: "h", percentiles: [0.5], ageBuckets: 0, registry }),
    RangeError,
    'ageBuckets of summary "s" must be a positive integer',
  );
});

Deno.test("help, unit, info, enum inputs", () => {
  throwsWith(
    () => new Gauge({ name: "g" } as unknown as { name: string; help: string }),
    TypeError,
    'metric "g" needs a help text (a string)',
  );
  throwsWith(
    () => new Gauge({ name: "g", help: "h", unit: "per second", registry }),
    TypeError,
    'invalid unit "per second" for metric "g": it must match [a-zA-Z0-9_:]+',
  );
  const info = new Info({ name: "build", help: "h", labelNames: ["part"], registry });
  throwsWith(
    () => info.labels("x").info({ part: "y" }),
    TypeError,
    'info label "part" of metric "build" is already one of its label names',
  );
  throwsWith(
    () => new Enum({ name: "e", help: "h", states: [], registry }),
    TypeError,
    'enum "e" needs a non-empty array of states',
  );
  const e = new Enum({ name: "e", help: "h", states: ["a", "b"], registry });
  throwsWith(
    () => e.state("c"),
    TypeError,
    'unknown state "c" for enum "e": expected one of "a", "b"',
  );
});

Deno.test("exemplars: valid label names and at most 128 characters", () => {
  const c = new Counter({ name: "c_total", help: "h", registry });
  c.inc(1, { trace_id: "x".repeat(120) }); // 8 + 120 = 128: allowed
  throwsWith(
    () => c.inc(1, { trace_id: "x".repeat(121) }),
    RangeError,
    'exemplar labels of metric "c" have 129 characters, more than the OpenMetrics limit of 128',
  );
  // Characters are code points, not UTF-16 units: 8 + 120 emoji = 128.
  c.inc(1, { trace_id: "🎉".repeat(120) });
  throwsWith(() => c.inc(1, { "bad-name": "x" }), TypeError, /invalid label name "bad-name"/);
});

Deno.test("a name already taken in a registry is refused, naming it", () => {
  const own = new Registry();
  new Counter({ name: "jobs_total", help: "h", registry: own });
  throwsWith(
    () => new Gauge({ name: "jobs_total", help: "h", registry: own }),
    TypeError,
    'a metric named "jobs_total" is already registered in this registry',
  );
  throwsWith(
    () => new Histogram({ name: "jobs", help: "h", registry: own }),
    TypeError,
    'a metric named "jobs" is already registered in this registry',
  );
  // A histogram's _count collides with a gauge named like it.
  new Histogram({ name: "latency", help: "h", registry: own });
  throwsWith(
    () => new Gauge({ name: "latency_count", help: "h", registry: own }),
    TypeError,
    'a metric named "latency_count" is already registered in this registry',
  );
});
