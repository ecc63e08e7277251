// The import-cycle check that `deno task check` runs (tools/check_cycles.ts).
import assert from "node:assert/strict";
import { findCycles, importGraph } from "../../tools/check_cycles.ts";

/** A `deno info --json` module list from `{ a: ["b"] }`-style edges (value imports). */
function modules(edges: Record<string, string[]>) {
  return Object.entries(edges).map(([from, targets]) => ({
    specifier: `file:///p/${from}`,
    dependencies: targets.map((target) => ({ code: { specifier: `file:///p/${target}` } })),
  }));
}

Deno.test("check_cycles: a tree and a diamond have no cycle", () => {
  const graph = importGraph(modules({
    "mod.ts": ["a.ts", "b.ts"],
    "a.ts": ["c.ts"],
    "b.ts": ["c.ts"],
    "c.ts": [],
  }));
  assert.deepEqual(findCycles(graph), []);
});

Deno.test("check_cycles: two-, three-module and self cycles are each reported once, as a path", () => {
  const graph = importGraph(modules({
    "mod.ts": ["registry.ts", "x.ts", "self.ts"],
    "registry.ts": ["base.ts"],
    "base.ts": ["registry.ts"],
    "x.ts": ["y.ts"],
    "y.ts": ["z.ts"],
    "z.ts": ["x.ts"],
    "self.ts": ["self.ts"],
  }));
  const cycles = findCycles(graph).map((cycle) =>
    cycle.map((specifier) => specifier.slice("file:///p/".length)).join(" → ")
  ).sort();
  assert.deepEqual(cycles, [
    "base.ts → registry.ts → base.ts",
    "self.ts → self.ts",
    "x.ts → y.ts → z.ts → x.ts",
  ]);
});

Deno.test("check_cycles: type-only imports count; remote and npm modules are left out", () => {
  const graph = importGraph([
    {
      specifier: "file:///p/a.ts",
      dependencies: [
        { type: { specifier: "file:///p/b.ts" } },
        { code: { specifier: "https://example.test/x.ts" } },
      ],
    },
    { specifier: "file:///p/b.ts", dependencies: [{ code: { specifier: "file:///p/a.ts" } }] },
    { specifier: "https://example.test/x.ts", dependencies: [] },
  ]);
  assert.deepEqual([...graph.keys()], ["file:///p/a.ts", "file:///p/b.ts"]);
  assert.deepEqual(findCycles(graph), [["file:///p/a.ts", "file:///p/b.ts", "file:///p/a.ts"]]);
});
