// Process and Deno runtime collectors: names, plausible values, silence without permissions.
import assert from "node:assert/strict";
import {
  collectDefaultMetrics,
  type MetricFamily,
  ProcessCollector,
  Registry,
  RuntimeCollector,
} from "../mod.ts";
import {
  parseBootTime,
  parseMaxOpenFiles,
  parseProcStat,
  parseResidentBytes,
} from "../src/collectors/process.ts";
import { missingTool, run, sleep, startProcess, waitFor } from "./support/process.ts";

const MOD_URL = new URL("../mod.ts", import.meta.url).href;
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
  assert.ok(!names.includes("deno_eventloop_lag_seconds"));
  assert.ok(names.includes("deno_memory_heap_used_bytes"));
});

Deno.test("the event-loop probe measures a blocked loop", async () => {
  using runtime = new RuntimeCollector();
  await sleep(50);
  // Block the loop past the probe's due time (500 ms after creation).
  const until = performance.now() + 750;
  while (performance.now() < until) { /* block */ }
  await sleep(50);
  const lag = valueOf(runtime.collect(), "deno_eventloop_lag_seconds")!;
  assert.ok(lag >= 0.15 && lag < 2, `lag ${lag}`);
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
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const PRINT_METRICS = `import { collectDefaultMetrics, Registry } from ${JSON.stringify(MOD_URL)};
const registry = new Registry();
using _defaults = collectDefaultMetrics({ registry });
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
  Deno.test(`${why}: no output on stderr, /proc-only metrics silently left out`, async () => {
    const result = await runChild([...flags], PRINT_METRICS);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "", "no warning, no prompt, no error");
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

Deno.test("in a worker without /proc, the start time (unknowable there) is left out", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-collectors-" });
  try {
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      `import { ProcessCollector, Registry } from ${JSON.stringify(MOD_URL)};
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
    const repo = new URL("..", import.meta.url).pathname;
    const result = await run(Deno.execPath(), [
      "run",
      `--allow-read=${dir},${repo}`,
      `${dir}/main.ts`,
    ], { env: { NO_COLOR: "1" } });
    assert.equal(result.stderr, "");
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
  const started = performance.now();
  const result = await runChild(
    [],
    `import { collectDefaultMetrics } from ${JSON.stringify(MOD_URL)};
collectDefaultMetrics();
console.log("done");
`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "done");
  assert.ok(performance.now() - started < 15_000);
});
