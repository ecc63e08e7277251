// collectDefaultMetrics() is asked for whatever this process can give: the /proc metrics that
// Deno 2 withholds without --allow-all are left out without a line on stderr, unless the caller
// passes onUnavailable. A ProcessCollector registered by hand still announces them (see
// tests/collectors/process_and_runtime_collectors_test.ts).
import assert from "node:assert/strict";
import { PROC_UNAVAILABLE_MESSAGE } from "../../src/collectors/process.ts";
import { run } from "../support/process.ts";

const MOD_URL = new URL("../../mod.ts", import.meta.url).href;
const IS_LINUX = Deno.build.os === "linux";

async function runChild(source: string) {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-quiet-" });
  try {
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(script, source);
    return await run(Deno.execPath(), ["run", script], { env: { NO_COLOR: "1" } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("collectDefaultMetrics without --allow-all: /proc metrics left out, nothing on stderr", async () => {
  const result = await runChild(
    `import { collectDefaultMetrics, Registry } from ${JSON.stringify(MOD_URL)};
const registry = new Registry();
using _defaults = collectDefaultMetrics({ registry });
console.log(await registry.metrics());
console.log(await registry.metrics());
`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.match(result.stdout, /^process_cpu_seconds_total \S+$/m);
  assert.match(result.stdout, /^process_resident_memory_bytes \S+$/m);
  if (IS_LINUX) {
    assert.doesNotMatch(result.stdout, /process_virtual_memory_bytes|process_open_fds/);
  }
});

Deno.test("collectDefaultMetrics with onUnavailable: told once, still nothing on stderr", async () => {
  const result = await runChild(
    `import { collectDefaultMetrics, Registry } from ${JSON.stringify(MOD_URL)};
const told = [];
const registry = new Registry();
using _defaults = collectDefaultMetrics({ registry, onUnavailable: (m) => told.push(m) });
for (let i = 0; i < 3; i++) await registry.metrics();
console.log(JSON.stringify(told));
`,
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.deepEqual(JSON.parse(result.stdout), IS_LINUX ? [PROC_UNAVAILABLE_MESSAGE] : []);
});
