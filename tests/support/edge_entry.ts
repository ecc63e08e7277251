// What tests/http/edge_runtimes_test.ts bundles for the other runtimes: the package root and the subpaths
// whose Deno-only parts (the process and runtime collectors, the directory mode) the edge test
// expects to refuse cleanly elsewhere.
export * from "../../mod.ts";
export * from "../../src/collectors/mod.ts";
export * from "../../src/workers/mod.ts";
