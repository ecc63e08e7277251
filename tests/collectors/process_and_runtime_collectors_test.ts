// Process and Deno runtime collectors: names, plausible values, silence without permissions.
import assert from "node:assert/strict";
import { collectDefaultMetrics, type MetricFamily, Registry } from "../../mod.ts";
import { ProcessCollector, RuntimeCollector } from "../../src/collectors/mod.ts";
import {
  parseBootTime,
  parseMaxOpenFiles,
  parseProcStat,
  parseResidentBytes,
  PROC_UNAVAILABLE_MESSAGE,
} from "../../src/collectors/process.ts";
import { countByType, lagStatistics, utilizationFamilies } from "../../src/collectors/runtime.ts";
import { missingTool, run, sleep, startProcess, waitFor } from "../support/process.ts";

const MOD_URL = new URL("../../mod.ts", import.meta.url).href;
const COLLECTORS_URL = new URL("../../src/collectors/mod.ts", import.meta.url).href;
const IS_LINUX = Deno.build.os === "linux";

/** Family value by name, for unlabelled gauges and counters. */
function valueOf(families: readonly MetricFamily[], name: string): number | undefined {
  const family = families.find((f) => f.name === name);
  if (family === undefined) return undefined;
  assert.ok(family.type === "gauge" || family.type === "counter", `${name} is ${family.type}`);
  return family.points[0].value;
}

Deno.test("collectDefaultMetrics: every standard name, with plausible values", async () => {
  const registry = new Registry();
  using defaults = collectDefaultMetrics({ registry });
  assert.ok(defaults.process instanceof ProcessCollector);
  assert.ok(defaults.runtime instanceof RuntimeCollector);
  const families = await registry.collect();
  const names = families.map((f) => f.name);
  const nowSeconds = Date.now() / 1000;

  const cpu = families.find((f) => f.name === "process_cpu_seconds");
  assert.equal(cpu?.type, "counter");
  assert.ok(valueOf(families, "process_cpu_seconds")! > 0);
  const rss = valueOf(families, "process_resident_memory_bytes")!;
  assert.ok(rss > 1e6 && rss < 1e11, `rss ${rss}`);
  const start = valueOf(families, "process_start_time_seconds")!;
  assert.ok(
    start > nowSeconds - 3600 && start <= nowSeconds,
    `start ${start} vs now ${nowSeconds}`,
  );

  if (IS_LINUX) {
    // The tests run with --allow-all, which Deno 2 requires for /proc/self.
    assert.deepEqual(names.filter((n) => n.startsWith("process_")), [
      "process_cpu_seconds",
      "process_resident_memory_bytes",
      "process_virtual_memory_bytes",
      "process_start_time_seconds",
      "process_open_fds",
      "process_max_fds",
    ]);
    assert.ok(valueOf(families, "process_virtual_memory_bytes")! >= rss);
    const openFds = valueOf(families, "process_open_fds")!;
    assert.ok(Number.isInteger(openFds) && openFds >= 3, `open fds ${openFds}`);
    assert.ok(valueOf(families, "process_max_fds")! >= openFds);
  }

  const heapUsed = valueOf(families, "deno_memory_heap_used_bytes")!;
  const heapTotal = valueOf(families, "deno_memory_heap_total_bytes")!;
  assert.ok(heapUsed > 0 && heapUsed <= heapTotal, `heap ${heapUsed} / ${heapTotal}`);
  assert.ok(valueOf(families, "deno_memory_external_bytes")! >= 0);
  const lag = valueOf(families, "deno_eventloop_lag_seconds")!;
  assert.ok(lag >= 0 && lag < 5, `lag ${lag}`);
  const info = families.find((f) => f.name === "deno");
  assert.equal(info?.type, "info");
  assert.deepEqual(info?.points, [{
    labels: {
      version: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
    },
  }]);

  const text = await registry.metrics();
  assert.match(text, /^process_cpu_seconds_total \d/m);
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(
    text,
    new RegExp(
      `^deno_info\\{typescript="${Deno.version.typescript}",v8="${Deno.version.v8}",version="${Deno.version.deno}"\\} 1\\.0$`,
      "m",
    ),
  );
  const openMetrics = await registry.metrics({ format: "openmetrics" });
  assert.match(openMetrics, /^# TYPE deno info$/m);
  assert.match(openMetrics, /^# UNIT process_resident_memory_bytes bytes$/m);
});

Deno.test("values are read afresh on every scrape", async () => {
  const registry = new Registry();
  using _defaults = collectDefaultMetrics({ registry, eventLoopLag: false });
  const before = valueOf(await registry.collect(), "process_cpu_seconds")!;
  const until = performance.now() + 150;
  while (performance.now() < until) { /* burn CPU */ }
  const after = valueOf(await registry.collect(), "process_cpu_seconds")!;
  assert.ok(after > before, `cpu ${before} → ${after}`);
});

Deno.test("prefix is prepended to every name; a bad prefix is a TypeError", async () => {
  const registry = new Registry();
  using _defaults = collectDefaultMetrics({ registry, prefix: "myapp_" });
  const names = (await registry.collect()).map((f) => f.name);
  assert.ok(names.length >= 8);
  for (const name of names) assert.ok(name.startsWith("myapp_"), name);
  assert.ok(names.includes("myapp_process_cpu_seconds"));
  assert.ok(names.includes("myapp_deno"));
  assert.match(await registry.metrics(), /^myapp_deno_info\{/m);

  assert.throws(
    () => collectDefaultMetrics({ registry: new Registry(), prefix: "bad\n" }),
    TypeError,
  );
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => new RuntimeCollector({ prefix: 3 }), /prefix must be a string/);
});

Deno.test("registering twice is refused; stop() unregisters and allows it again", async () => {
  const registry = new Registry();
  const first = collectDefaultMetrics({ registry });
  try {
    assert.throws(() => collectDefaultMetrics({ registry }), {
      name: "TypeError",
      message: /a metric named "process_cpu_seconds" is already registered/,
    });
    // The failed call left nothing behind: only the first set is registered.
    assert.equal(registry.collectors.length, 2);
  } finally {
    first.stop();
    first.stop();
  }
  assert.deepEqual(await registry.collect(), []);
  using again = collectDefaultMetrics({ registry });
  assert.ok((await registry.collect()).length > 0);
  assert.equal(registry.getMetric("deno_info"), again.runtime);
});

Deno.test("eventLoopLag: false leaves the lag gauge out and starts no timer", async () => {
  const registry = new Registry();
  using _defaults = collectDefaultMetrics({ registry, eventLoopLag: false });
  const names = (await registry.collect()).map((f) => f.name);
  assert.deepEqual(names.filter((name) => name.includes("eventloop_lag")), []);
  assert.ok(names.includes("deno_memory_heap_used_bytes"));
});

Deno.test("the event-loop probe measures a blocked loop", async () => {
  using runtime = new RuntimeCollector();
  await sleep(50);
  // Block the loop well past the probe's next due time.
  const until = performance.now() + 750;
  while (performance.now() < until) { /* block */ }
  // The overdue probe fires first among the timers: it reports the stall as the latest lag.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const lag = valueOf(await runtime.collect(), "deno_eventloop_lag_seconds")!;
  assert.ok(lag >= 0.5 && lag < 2, `lag ${lag}`);
  await sleep(100);
  const families = await runtime.collect();
  // Later probes are on time again; the stall stays in the last minute's distribution, as its
  // maximum, not its median.
  assert.ok(valueOf(families, "deno_eventloop_lag_seconds")! < 0.5);
  const max = valueOf(families, "deno_eventloop_lag_max_seconds")!;
  assert.ok(max >= 0.5 && max < 2, `max ${max}`);
  assert.ok(valueOf(families, "deno_eventloop_lag_p50_seconds")! < max);
});

Deno.test("the lag distribution: names and values, as prom-client's nodejs_eventloop_lag_*", async () => {
  using runtime = new RuntimeCollector({ eventLoopLagResolutionMs: 5 });
  await sleep(200);
  const families = await runtime.collect();
  const stat = (name: string) => valueOf(families, `deno_eventloop_lag_${name}_seconds`)!;
  for (const name of ["min", "p50", "p90", "p99", "max", "mean", "stddev"]) {
    assert.ok(stat(name) >= 0 && stat(name) < 5, `${name} ${stat(name)}`);
  }
  assert.ok(stat("min") <= stat("p50") && stat("p50") <= stat("p90"));
  assert.ok(stat("p90") <= stat("p99") && stat("p99") <= stat("max"));
  assert.ok(stat("min") <= stat("mean") && stat("mean") <= stat("max"));
  // Reading it changes nothing: a second scrape sees the same window (give or take new probes).
  assert.ok(valueOf(await runtime.collect(), "deno_eventloop_lag_max_seconds")! >= stat("max"));
  assert.throws(() => new RuntimeCollector({ eventLoopLagResolutionMs: 0 }), RangeError);
});

Deno.test("lagStatistics: nearest-rank percentiles, population deviation", () => {
  const lags = Float64Array.from({ length: 100 }, (_, i) => (i + 1) / 1000);
  const { mean, stddev, ...exact } = lagStatistics(lags);
  assert.deepEqual(exact, { min: 0.001, max: 0.1, p50: 0.05, p90: 0.09, p99: 0.099 });
  assert.ok(Math.abs(mean - 0.0505) < 1e-12, `mean ${mean}`);
  // sqrt((n² - 1) / 12) ms for the n = 100 lags 1 … 100 ms.
  assert.ok(Math.abs(stddev - Math.sqrt((100 ** 2 - 1) / 12) / 1000) < 1e-12, `stddev ${stddev}`);
  assert.deepEqual(lagStatistics(Float64Array.of(0.25)), {
    min: 0.25,
    max: 0.25,
    mean: 0.25,
    stddev: 0,
    p50: 0.25,
    p90: 0.25,
    p99: 0.25,
  });
});

Deno.test("event-loop utilisation: two counters where measured; absent where Deno returns zeros", async () => {
  assert.deepEqual(
    utilizationFamilies({ idle: 1500, active: 250 }, {
      eluActive: "deno_eventloop_active_seconds",
      eluIdle: "deno_eventloop_idle_seconds",
    }).map((family) => [family.name, family.type, family.points[0]]),
    [
      ["deno_eventloop_active_seconds", "counter", { labels: {}, value: 0.25 }],
      ["deno_eventloop_idle_seconds", "counter", { labels: {}, value: 1.5 }],
    ],
  );
  using runtime = new RuntimeCollector({ eventLoopLag: false });
  const names = (await runtime.collect()).map((family) => family.name);
  const measured = (performance as {
    eventLoopUtilization?: () => { idle: number; active: number };
  }).eventLoopUtilization?.();
  const expected = measured !== undefined && measured.idle + measured.active > 0;
  assert.equal(names.includes("deno_eventloop_active_seconds"), expected);
});

Deno.test("active resources by type, from Node's list of live handles", async () => {
  using runtime = new RuntimeCollector({ eventLoopLag: false });
  const timersOf = async () => {
    const family = (await runtime.collect()).find((f) => f.name === "deno_active_resources");
    assert.equal(family?.type, "gauge");
    const point = family!.points.find((p) => p.labels.type === "Timeout");
    return point === undefined ? 0 : (point as { value: number }).value;
  };
  const before = await timersOf();
  const timers = [setInterval(() => {}, 60_000), setInterval(() => {}, 60_000)];
  try {
    assert.equal(await timersOf(), before + 2);
  } finally {
    timers.forEach(clearInterval);
  }
  assert.equal(await timersOf(), before);
  assert.deepEqual([...countByType(["Timeout", "TCPSocketWrap", "Timeout"])], [
    ["Timeout", 2],
    ["TCPSocketWrap", 1],
  ]);
});

Deno.test("V8 heap spaces, by space, as prom-client's nodejs_heap_space_size_*", async () => {
  using runtime = new RuntimeCollector({ eventLoopLag: false });
  const families = await runtime.collect();
  for (const kind of ["total", "used", "available"]) {
    const family = families.find((f) => f.name === `deno_heap_space_size_${kind}_bytes`);
    assert.equal(family?.type, "gauge");
    const spaces = family!.points.map((point) => point.labels.space);
    assert.ok(spaces.includes("old") && spaces.includes("new"), spaces.join());
  }
  const used = families.find((f) => f.name === "deno_heap_space_size_used_bytes")!;
  const old = used.points.find((point) => point.labels.space === "old") as unknown as {
    value: number;
  };
  assert.ok(old.value > 0);
  assert.match(
    await (async () => {
      const registry = new Registry();
      registry.register(runtime);
      return await registry.metrics();
    })(),
    /^deno_heap_space_size_used_bytes\{space="old"\} \S+$/m,
  );
});

Deno.test("/proc parsers", () => {
  // The command name may contain spaces and parentheses.
  const stat = "1234 (deno (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 " +
    "4200 18000000000 7700 18446744073709551615 1 1 0 0 0 0 0 16781312 17640 0 0 0 17 0 0 0 0 0 0";
  assert.deepEqual(parseProcStat(stat), {
    cpuSeconds: 3,
    startTicks: 4200,
    virtualBytes: 18000000000,
  });
  assert.equal(parseProcStat("garbage"), undefined);
  assert.equal(
    parseResidentBytes("Name:\tdeno\nVmRSS:\t   30928 kB\nVmSize:\t1 kB\n"),
    30928 * 1024,
  );
  assert.equal(parseResidentBytes("Name:\tdeno\n"), undefined);
  const limits =
    "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max open files            1024                 524288               files     \n";
  assert.equal(parseMaxOpenFiles(limits), 1024);
  assert.equal(
    parseMaxOpenFiles("Max open files            unlimited            unlimited            files"),
    Infinity,
  );
  assert.equal(parseMaxOpenFiles(""), undefined);
  assert.equal(parseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"), 1700000000);
  assert.equal(parseBootTime("cpu 1\n"), undefined);
});

/** Runs a script in a child `deno run` with the given flags. */
async function runChild(flags: string[], source: string) {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-collectors-" });
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(script, source);
    return await run(Deno.execPath(), ["run", ...flags, script], {
      env: { NO_COLOR: "1" },
      timeoutMs: 30_000, // a child kept alive fails the test instead of hanging it
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// A process collector registered by hand asks for the /proc metrics, so their absence is
// announced, even after collectDefaultMetrics' own collector (quiet: tests/collectors/) ran first.
const PRINT_METRICS = `import { collectDefaultMetrics, Registry } from ${JSON.stringify(MOD_URL)};
import { ProcessCollector } from ${JSON.stringify(COLLECTORS_URL)};
const registry = new Registry();
using _defaults = collectDefaultMetrics({ registry });
registry.register(new ProcessCollector({ prefix: "by_hand_" }));
console.log(await registry.metrics());
console.log(await registry.metrics());
console.log("now", Date.now() / 1000);
`;

for (
  const [flags, why] of [
    [[], "no permission at all"],
    [["--allow-read=/proc"], "--allow-read=/proc (Deno 2 still refuses /proc/self)"],
  ] as const
) {
  Deno.test(`${why}: /proc-only metrics left out, announced once in one line`, async () => {
    const result = await runChild([...flags], PRINT_METRICS);
    assert.equal(result.code, 0, result.stderr);
    // Two scrapes, one line: no prompt, no error, no repetition.
    assert.equal(result.stderr, PROC_UNAVAILABLE_MESSAGE + "\n");
    const text = result.stdout;
    // Read without any permission: process.cpuUsage(), Deno.memoryUsage(), performance.timeOrigin.
    assert.match(text, /^process_cpu_seconds_total \S+$/m);
    assert.match(text, /^process_resident_memory_bytes \S+$/m);
    const start = Number(/^process_start_time_seconds (\S+)$/m.exec(text)?.[1]);
    const now = Number(/^now (\S+)$/m.exec(text)?.[1]);
    assert.ok(start > now - 60 && start <= now, `start ${start}, now ${now}`);
    // Only /proc has these.
    assert.doesNotMatch(text, /process_virtual_memory_bytes|process_open_fds|process_max_fds/);
    assert.match(text, /^deno_memory_heap_used_bytes \S+$/m);
    assert.match(text, /^deno_eventloop_lag_seconds \S+$/m);
    assert.match(text, /^deno_info\{/m);
  });
}

Deno.test("onUnavailable gets the announcement instead of stderr, once for many collectors and scrapes", async () => {
  const result = await runChild(
    [],
    `import { collectDefaultMetrics, Registry } from ${JSON.stringify(MOD_URL)};
import { ProcessCollector } from ${JSON.stringify(COLLECTORS_URL)};
const told = [];
const registry = new Registry();
using _defaults = collectDefaultMetrics({ registry, onUnavailable: (m) => told.push(m) });
registry.register(new ProcessCollector({ prefix: "second_", onUnavailable: (m) => told.push(m) }));
for (let i = 0; i < 3; i++) await registry.metrics();
console.log(JSON.stringify(told));
`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.deepEqual(JSON.parse(result.stdout), IS_LINUX ? [PROC_UNAVAILABLE_MESSAGE] : []);
});

Deno.test("in a worker without /proc, the start time (unknowable there) is left out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-collectors-" });
  try {
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      `import { Registry } from ${JSON.stringify(MOD_URL)};
import { ProcessCollector } from ${JSON.stringify(COLLECTORS_URL)};
const registry = new Registry();
registry.register(new ProcessCollector());
self.postMessage(await registry.metrics());
self.close();
`,
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
worker.onmessage = (event) => { console.log(event.data); worker.terminate(); };
`,
    );
    // Deno wants read access to start a worker from a file; /proc stays out of reach.
    const repo = new URL("../..", import.meta.url).pathname;
    const result = await run(Deno.execPath(), [
      "run",
      `--allow-read=${dir},${repo}`,
      `${dir}/main.ts`,
    ], { env: { NO_COLOR: "1" } });
    assert.equal(result.stderr, PROC_UNAVAILABLE_MESSAGE + "\n");
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^process_cpu_seconds_total \S+$/m);
    assert.match(result.stdout, /^process_resident_memory_bytes \S+$/m);
    assert.doesNotMatch(result.stdout, /process_start_time_seconds/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "on a terminal, without permission, Deno is never made to prompt",
  // `script` (util-linux) gives the child a pseudo-terminal, where Deno would prompt.
  ignore: !IS_LINUX || missingTool("script"),
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "deno-prom-collectors-" });
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(script, PRINT_METRICS);
    const child = startProcess("script", [
      "-qec",
      `${Deno.execPath()} run ${script}`,
      "/dev/null",
    ], { env: { NO_COLOR: "1" } });
    try {
      await waitFor(() => child.exited, { timeoutMs: 15_000, what: "the child to finish" });
      const status = await child.stop();
      assert.doesNotMatch(child.output(), /Deno requests|access/);
      assert.equal(status.code, 0, child.output());
      assert.match(child.output(), /process_cpu_seconds_total/);
    } finally {
      await child.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "with --allow-all the /proc metrics appear in a child process too",
  ignore: !IS_LINUX,
  fn: async () => {
    const result = await runChild(["--allow-all"], PRINT_METRICS);
    assert.equal(result.stderr, "");
    for (const name of ["process_virtual_memory_bytes", "process_open_fds", "process_max_fds"]) {
      assert.match(result.stdout, new RegExp(`^${name} \\S+$`, "m"));
    }
  },
});

Deno.test("the lag probe never keeps a finished script alive", async () => {
  const result = await runChild(
    [],
    `import { collectDefaultMetrics } from ${JSON.stringify(MOD_URL)};
collectDefaultMetrics();
console.log("done");
`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "done");
});
