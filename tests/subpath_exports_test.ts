// The subpath exports (`@deno-prom/client/http`, `/push`, `/workers`, `/collectors`,
// `/exposition`) are thin re-exports: a name exported in two places is the very same object, and
// what left the root lives in exactly the subpath its documentation names.
import assert from "node:assert/strict";
import * as root from "../mod.ts";
import * as http from "../src/http/mod.ts";
import * as push from "../src/push/mod.ts";
import * as workers from "../src/workers/mod.ts";
import * as collectors from "../src/collectors/mod.ts";
import * as exposition from "../src/exposition/mod.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));

const SUBPATHS: Record<string, Record<string, unknown>> = {
  http,
  push,
  workers,
  collectors,
  exposition,
};

Deno.test("subpath exports: deno.json maps each subpath to its module", () => {
  assert.deepEqual(config.exports, {
    ".": "./mod.ts",
    "./http": "./src/http/mod.ts",
    "./push": "./src/push/mod.ts",
    "./workers": "./src/workers/mod.ts",
    "./collectors": "./src/collectors/mod.ts",
    "./exposition": "./src/exposition/mod.ts",
  });
});

Deno.test("subpath exports: every entry point is linted and checked for cycles by `deno task check`", () => {
  const check: string = config.tasks.check;
  for (const path of Object.values(config.exports) as string[]) {
    const file = path.replace(/^\.\//, "");
    const docLint = check.match(/deno doc --lint ([^&]*)/)?.[1] ?? "";
    assert.ok(docLint.split(/\s+/).includes(file), `deno doc --lint misses ${file}`);
    const cycles = check.match(/check_cycles\.ts ([^&]*)/)?.[1] ?? "";
    assert.ok(cycles.split(/\s+/).includes(file), `check_cycles misses ${file}`);
  }
});

Deno.test("subpath exports: a value exported in two places is the same object", () => {
  const modules: Record<string, Record<string, unknown>> = { root, ...SUBPATHS };
  const seen = new Map<string, [string, unknown]>();
  for (const [entry, module] of Object.entries(modules)) {
    const names = Object.keys(module);
    assert.ok(names.length > 0, `${entry} exports nothing`);
    for (const name of names) {
      const earlier = seen.get(name);
      if (earlier === undefined) seen.set(name, [entry, module[name]]);
      else assert.equal(module[name], earlier[1], `${name} of ${entry} and of ${earlier[0]}`);
    }
  }
});

Deno.test("subpath exports: what left the root is in the subpath its documentation names", () => {
  const rootValues = root as unknown as Record<string, unknown>;
  const only = (module: Record<string, unknown>) =>
    Object.keys(module).filter((name) => !(name in rootValues)).sort();
  assert.deepEqual(only(http), []);
  assert.deepEqual(only(push), [
    "BackgroundSender",
    "DEFAULT_GZIP_MIN_BYTES",
    "DEFAULT_PUSH_TIMEOUT_MS",
    "DEFAULT_REMOTE_WRITE_TIMEOUT_MS",
    "gatewayUrl",
  ]);
  assert.deepEqual(only(collectors), ["ProcessCollector", "RuntimeCollector"]);
  assert.deepEqual(only(workers), [
    "DEFAULT_WORKER_LABEL",
    "GAUGE_AGGREGATIONS",
    "MergedSeriesChoice",
    "aggregateWorkers",
    "directoryCollector",
    "mergeSnapshots",
    "publishToDirectory",
  ]);
  assert.deepEqual(only(exposition), [
    "GAUGE_AGGREGATIONS",
    "InvalidFamilyError",
    "NativeHistogram",
    "OPENMETRICS_CONTENT_TYPE",
    "PROMETHEUS_CONTENT_TYPE",
    "PROTOBUF_CONTENT_TYPE",
    "contentTypeOf",
    "escapeFamily",
    "escapeName",
    "mergeNativeBuckets",
    "negotiateEscaping",
    "negotiateFormat",
    "render",
    "renderOpenMetrics",
    "renderProtobuf",
    "renderText",
    "schemaForBucketFactor",
    "validateFamily",
  ]);
  // The pull and push subpaths carry every value of the root's pull and push areas.
  for (
    const name of [
      "metricsHandler",
      "startHttpServer",
      "instrumentHandler",
      "otlpHandler",
      "PortInUseError",
    ]
  ) {
    assert.equal((http as Record<string, unknown>)[name], rootValues[name], name);
  }
  for (const name of ["pushToGateway", "Pusher", "remoteWrite", "RemoteWriter", "PushError"]) {
    assert.equal((push as Record<string, unknown>)[name], rootValues[name], name);
  }
});

Deno.test("subpath exports: one way to make each aggregator (its function; the class is a type)", () => {
  const values = workers as Record<string, unknown>;
  for (const name of ["WorkerAggregator", "DirectoryCollector", "DirectoryPublisher"]) {
    assert.ok(!(name in values), `${name} is exported as a value`);
  }
  for (const name of ["aggregateWorkers", "directoryCollector", "publishToDirectory"]) {
    assert.equal(typeof values[name], "function", name);
  }
});
