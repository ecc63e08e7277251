// The subpath exports (`@deno-prom/client/http`, `/push`, `/workers`, `/collectors`) are thin
// re-exports: each name they export is the very object the package root exports.
import assert from "node:assert/strict";
import * as root from "../mod.ts";
import * as http from "../src/http/mod.ts";
import * as push from "../src/push/mod.ts";
import * as workers from "../src/workers/mod.ts";
import * as collectors from "../src/collectors/mod.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

Deno.test("subpath exports: deno.json maps each subpath to its module", () => {
  assert.deepEqual(config.exports, {
    ".": "./mod.ts",
    "./http": "./src/http/mod.ts",
    "./push": "./src/push/mod.ts",
    "./workers": "./src/workers/mod.ts",
    "./collectors": "./src/collectors/mod.ts",
  });
});

Deno.test("subpath exports: every value is the root's own", () => {
  const subpaths = { http, push, workers, collectors };
  const rootValues = root as unknown as Record<string, unknown>;
  for (const [subpath, module] of Object.entries(subpaths)) {
    const names = Object.keys(module);
    assert.ok(names.length > 0, `${subpath} exports nothing`);
    for (const name of names) {
      assert.ok(name in rootValues, `${subpath} exports ${name}, which mod.ts does not`);
      assert.equal((module as Record<string, unknown>)[name], rootValues[name], name);
    }
  }
  assert.deepEqual(Object.keys(http).sort(), [
    "PortInUseError",
    "instrumentHandler",
    "metricsHandler",
    "otlpHandler",
    "startHttpServer",
  ]);
  assert.ok("Pusher" in push && "RemoteWriter" in push && "PushError" in push);
  assert.ok("WorkerAggregator" in workers && "DirectoryCollector" in workers);
  assert.ok("collectDefaultMetrics" in collectors && "ProcessCollector" in collectors);
});
