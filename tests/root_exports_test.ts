// The package root stays small: `mod.ts` exports at most 80 names (values and types, counted by
// `deno doc`), and none of the low-level helpers, aliases or duplicate constructors that live in
// a subpath or left the API.
import assert from "node:assert/strict";
import { exportedNames } from "./support/exports.ts";

const ROOT = new URL("..", import.meta.url);
const MAX_ROOT_NAMES = 80;

/** Every name `deno doc` lists for `entry`: values and types alike. */
async function documentedNames(entry: string): Promise<string[]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const doc = JSON.parse(new TextDecoder().decode(output.stdout));
  const modules = Object.values(doc.nodes) as { symbols: { name: string }[] }[];
  assert.equal(modules.length, 1);
  return modules[0].symbols.map((symbol) => symbol.name).sort();
}

Deno.test("mod.ts exports at most 80 names, counted by deno doc and by its export lists alike", async () => {
  const names = await documentedNames("mod.ts");
  const listed = exportedNames(await Deno.readTextFile(new URL("mod.ts", ROOT)));
  assert.ok(names.length >= 40, `only ${names.length} names: is deno doc reading mod.ts?`);
  assert.ok(
    names.length <= MAX_ROOT_NAMES,
    `mod.ts exports ${names.length} names (at most ${MAX_ROOT_NAMES}); ` +
      "move what few programs need to a subpath",
  );
  assert.deepEqual(names, [...listed].sort(), "deno doc and the export lists disagree");
});

Deno.test("mod.ts leaves low-level helpers to subpaths and exports no alias or second constructor", async () => {
  const names = new Set(await documentedNames("mod.ts"));
  const elsewhere = [
    // ./exposition
    "escapeFamily",
    "validateFamily",
    "InvalidFamilyError",
    "negotiateFormat",
    "negotiateEscaping",
    "escapeName",
    "mergeNativeBuckets",
    "schemaForBucketFactor",
    "MetricFamilyBase",
    "CounterFamily",
    "GAUGE_AGGREGATIONS",
    "render",
    "renderText",
    "PROMETHEUS_CONTENT_TYPE",
    // ./workers and ./collectors
    "aggregateWorkers",
    "mergeSnapshots",
    "ProcessCollector",
    // gone: an alias, and the classes of the worker functions as values
    "PushAuth",
    "DeleteOptions",
    "WorkerAggregator",
    "DirectoryCollector",
    "DirectoryPublisher",
  ];
  assert.deepEqual(elsewhere.filter((name) => names.has(name)), []);
});
