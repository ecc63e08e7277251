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
import { gatewayUrl } from "../src/push/mod.ts";
import { positiveMs } from "../src/validation.ts";

const registry = null; // these metrics register nowhere

function throwsWith(fn: () => unknown, type: ErrorConstructor, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    if (typeof message === "string") assert.equal((error as Error).message, message);
    else assert.match((error as Error).message, message);
    return true;
  });
}

Deno.test("invalid metric names: empty, control characters, lone surrogates", () => {
  for (const name of ["", "a\nb", "a\u0000", "tab\there", "a\ud800", "a\u007f", 42]) {
    throwsWith(
      () => new Counter({ name: name as string, help: "h", registry }),
      TypeError,
      `invalid metric name ${
        JSON.stringify(name)
      }: it must be a non-empty UTF-8 string without control characters`,
    );
  }
  // Colons are fine in metric names, and so is any UTF-8 name (Prometheus 3).
  new Gauge({ name: "job:rate5m", help: "recording-rule style", registry });
  for (const name of ["1abc", "a-b", "a b", "é", "http.server.request.duration", "日本"]) {
    assert.equal(new Gauge({ name, help: "h", registry }).name, name);
  }
});

Deno.test("invalid, reserved and repeated label names", () => {
  throwsWith(
    () => new Counter({ name: "c", help: "h", labelNames: ["a\nb"], registry }),
    TypeError,
    'invalid label name "a\\nb" of metric "c": it must be a non-empty UTF-8 string without ' +
      "control characters",
  );
  // UTF-8 label names are fine, unless the escaping some scraper asks for would write two alike.
  new Counter({ name: "c", help: "h", labelNames: ["a:b", "http.method", "日本"], registry });
  throwsWith(
    () =>
      new Counter({ name: "c", help: "h", labelNames: ["http.method", "http_method"], registry }),
    TypeError,
    'label names "http.method" and "http_method" of metric "c" would both be "http_method" for ' +
      "scrapers that ask for the underscores escaping",
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
  throwsWith(() => c.inc(1, { "bad\nname": "x" }), TypeError, /invalid label name "bad\\nname"/);
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

// ---- Lone UTF-16 surrogates: made well-formed on entry, so that they are one series ----

Deno.test("lone surrogates: values that print the same are one series, and counts add up", async () => {
  const own = new Registry();
  const requests = new Counter({
    name: "requests",
    help: "by path\ud800",
    labelNames: ["path"],
    registry: own,
  });
  requests.labels("/a\ud800").inc();
  requests.labels({ path: "/a\udbff" }).inc(2);
  requests.labels("/a\udc00").inc(3); // a lone low surrogate too
  requests.labels("/a\ud83d\ude00").inc(); // a proper pair is another value
  const sizes = new Histogram({
    name: "sizes",
    help: "h",
    labelNames: ["path"],
    buckets: [1],
    registry: own,
  });
  sizes.labels("/a\ud800").observe(0.5);
  sizes.labels("/a\udbff").observe(2);
  const queue = new Gauge({ name: "queue", help: "h", labelNames: ["q"], registry: own });
  queue.labels("\ud800").set(1);
  queue.labels("\udbff").inc(1);
  assert.equal(requests.help, "by path\ufffd");
  assert.equal(
    await own.metrics(),
    [
      "# HELP requests_total by path\ufffd",
      "# TYPE requests_total counter",
      'requests_total{path="/a\ufffd"} 6.0',
      'requests_total{path="/a\ud83d\ude00"} 1.0',
      "# HELP sizes h",
      "# TYPE sizes histogram",
      'sizes_bucket{le="1.0",path="/a\ufffd"} 1.0',
      'sizes_bucket{le="+Inf",path="/a\ufffd"} 2.0',
      'sizes_count{path="/a\ufffd"} 2.0',
      'sizes_sum{path="/a\ufffd"} 2.5',
      "# HELP queue h",
      "# TYPE queue gauge",
      'queue{q="\ufffd"} 2.0',
      "",
    ].join("\n"),
  );
  // remove() follows the same rule: the ill-formed spelling removes the one series.
  requests.remove("/a\udfff");
  assert.doesNotMatch(await own.metrics({ names: ["requests_total"] }), /\/a\ufffd/);
});

Deno.test("lone surrogates in info labels, enum states, exemplars and grouping keys", async () => {
  const own = new Registry();
  const build = new Info({ name: "build", help: "h", registry: own });
  build.info({ branch: "x\ud800" });
  assert.deepEqual(build.value, { branch: "x\ufffd" });
  throwsWith(
    () => new Enum({ name: "e", help: "h", states: ["a\ud800", "a\udbff"], registry }),
    TypeError,
    'states of enum "e" must be distinct',
  );
  const phase = new Enum({ name: "phase", help: "h", states: ["a\ud800", "b"], registry: own });
  phase.state("b");
  phase.state("a\udbff"); // the same state, spelled with another lone surrogate
  assert.equal(phase.value, "a\ufffd");
  const jobs = new Counter({ name: "jobs", help: "h", registry: own });
  jobs.inc(1, { trace_id: "t\ud800" });
  const text = await own.metrics({ format: "openmetrics" });
  assert.match(text, /^build_info\{branch="x\ufffd"\} 1\.0$/m);
  assert.match(text, /^phase\{phase="a\ufffd"\} 1\.0$/m);
  assert.match(text, /^jobs_total 1\.0 # \{trace_id="t\ufffd"\} 1\.0 \S+$/m);
  // Grouping keys: both spellings name one group (the value is sent as UTF-8, where a lone
  // surrogate can only be U+FFFD).
  assert.equal(
    gatewayUrl("pgw:9091", "j", { path: "/a\ud800" }),
    gatewayUrl("pgw:9091", "j", { path: "/a\udbff" }),
  );
  assert.equal(
    gatewayUrl("pgw:9091", "j", { path: "/a\ud800" }),
    gatewayUrl("pgw:9091", "j", { path: "/a\ufffd" }),
  );
});

// ---- Names on the prototype chain, decorators on the wrong target ----

Deno.test("info labels named like Object.prototype members work", async () => {
  const own = new Registry();
  const build = new Info({ name: "build", help: "h", registry: own });
  build.info({ constructor: "x", toString: "y", hasOwnProperty: "z", valueOf: "v" });
  assert.equal(
    await own.metrics(),
    "# HELP build_info h\n# TYPE build_info gauge\n" +
      'build_info{constructor="x",hasOwnProperty="z",toString="y",valueOf="v"} 1.0\n',
  );
  const labelled = new Info({ name: "lib", help: "h", labelNames: ["toString"], registry });
  throwsWith(
    () => labelled.labels("a").info({ toString: "b" }),
    TypeError,
    'info label "toString" of metric "lib" is already one of its label names',
  );
  labelled.labels("a").info({ constructor: "b" });
  assert.deepEqual(labelled.labels("a").exposedLabels, { toString: "a", constructor: "b" });
});

Deno.test("timing and counting decorators refuse anything but a method", () => {
  const h = new Histogram({ name: "h", help: "h", registry });
  const g = new Gauge({ name: "g", help: "h", registry });
  const c = new Counter({ name: "c", help: "h", registry });
  throwsWith(
    () => {
      // @ts-ignore: the types refuse it already; plain JavaScript callers get the runtime check
      @h.time()
      class Job {}
      return Job;
    },
    TypeError,
    'the timing and counting decorators apply to methods only, not to a class ("Job")',
  );
  throwsWith(
    () => {
      class Job {
        // @ts-ignore: as above
        @g.trackInProgress()
        accessor running = 0;
      }
      return new Job();
    },
    TypeError,
    'the timing and counting decorators apply to methods only, not to a accessor ("running")',
  );
  throwsWith(
    () => {
      class Job {
        // @ts-ignore: as above
        @c.countExceptions()
        get state(): number {
          return 1;
        }
      }
      return new Job();
    },
    TypeError,
    'the timing and counting decorators apply to methods only, not to a getter ("state")',
  );
  throwsWith(
    () => h.time(class Job {} as unknown as () => void),
    TypeError,
    "cannot wrap class Job: wrap a function or decorate a method",
  );
  // Methods still work, and so does mapping a wrapper over functions.
  class Job {
    @h.time()
    run(): number {
      return 7;
    }
  }
  assert.equal(new Job().run(), 7);
  const wrap = g.trackInProgress() as unknown as (fn: () => number, index: number) => () => number;
  assert.deepEqual([() => 1].map(wrap).map((fn) => fn()), [1]);
});

Deno.test("info and exemplar labels that an old scraper would read as one are refused", () => {
  const build = new Info({ name: "build", help: "h", labelNames: ["git.sha"], registry });
  throwsWith(
    () => build.labels("abc").info({ git_sha: "def" }),
    TypeError,
    'label names "git.sha" and "git_sha" of metric "build" would both be "git_sha" for scrapers ' +
      "that ask for the underscores escaping",
  );
  build.labels("abc").info({ "git.branch": "main" });
  const jobs = new Counter({ name: "jobs", help: "h", registry });
  throwsWith(
    () => jobs.inc(1, { "trace.id": "a", trace_id: "b" }),
    TypeError,
    /label names "trace.id" and "trace_id" of metric "jobs" would both be "trace_id"/,
  );
  jobs.inc(1, { "trace.id": "a" });
});

Deno.test("positiveMs: one rule for every duration option, naming the option and its owner", () => {
  assert.equal(positiveMs(250, "aggregateWorkers: timeoutMs"), 250);
  assert.equal(positiveMs(undefined, "aggregateWorkers: timeoutMs", 500), 500);
  for (const bad of [0, -1, NaN, Infinity, "5", null, undefined]) {
    throwsWith(
      () => positiveMs(bad, "intervalMs of the pusher for http://127.0.0.1:9091/metrics/job/x"),
      RangeError,
      "intervalMs of the pusher for http://127.0.0.1:9091/metrics/job/x must be a positive " +
        `number of milliseconds, got ${String(bad)}`,
    );
  }
  // A fallback stands in for a missing option only, not for a null one.
  throwsWith(
    () => positiveMs(null, "publishToDirectory: intervalMs", 1000),
    RangeError,
    "publishToDirectory: intervalMs must be a positive number of milliseconds, got null",
  );
});
