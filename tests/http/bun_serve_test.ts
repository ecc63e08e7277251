// metricsHandler under Bun: mod.ts imports, gzip goes through Bun's node:zlib (the level is
// honoured), and a hung collector is answered 503 at the deadline.
import assert from "node:assert/strict";
import { requireRuntime, skipWithout } from "../support/edge.ts";
import { run } from "../support/process.ts";

const MOD_PATH = new URL("../../mod.ts", import.meta.url).pathname;

const SCRIPT = `import { Counter, instrumentHandler, metricsHandler, Registry } from ${
  JSON.stringify(MOD_PATH)
};
import { gunzipSync } from "node:zlib";
const registry = new Registry();
new Counter({ name: "jobs_total", help: "jobs run", registry }).inc(5);
const handle = metricsHandler({ registry, compressionLevel: 1 });
const zipped = await handle(
  new Request("http://localhost/metrics", { headers: { "accept-encoding": "gzip" } }),
);
const bytes = new Uint8Array(await zipped.arrayBuffer());
console.log(JSON.stringify({
  status: zipped.status,
  encoding: zipped.headers.get("content-encoding"),
  xfl: bytes[8],
  text: gunzipSync(bytes).toString(),
}));
const hung = metricsHandler({
  registry: { collect: () => new Promise(() => {}) },
  scrapeTimeoutMs: 100,
  onError() {},
});
const late = await hung(new Request("http://localhost/metrics"));
console.log(JSON.stringify({ status: late.status, text: await late.text() }));
// instrumentHandler under Bun: bodies without Content-Length are counted as they are read, and
// sizes and routes come out right.
const app = new Registry();
const wrapped = instrumentHandler(
  (request) => new Response(new URL(request.url).pathname === "/todos/7" ? "seven" : "ok"),
  { registry: app, routes: ["/todos/:id"], bodySizes: true },
);
for (const path of ["/todos/7", "/todos/8", "/nope"]) {
  const response = await wrapped(new Request("http://localhost" + path));
  await response.text();
}
console.log(JSON.stringify({
  todos: await app.getSampleValue("http_requests_total", {
    method: "GET", route: "/todos/:id", status: "200",
  }),
  other: await app.getSampleValue("http_requests_total", {
    method: "GET", route: "other", status: "200",
  }),
  bytes: await app.getSampleValue("http_response_size_bytes_sum", {
    method: "GET", route: "/todos/:id", status: "200",
  }),
}));
`;

Deno.test({
  name:
    "Bun: mod.ts imports, gzip uses node:zlib at the given level, deadlines hold, instrumentHandler counts and sizes",
  ignore: skipWithout("bun"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-prom-bun-" });
    try {
      await Deno.writeTextFile(`${dir}/check.ts`, SCRIPT);
      const result = await run(requireRuntime("bun"), ["run", `${dir}/check.ts`]);
      assert.equal(result.code, 0, result.stderr);
      const [zipped, late, instrumented] = result.stdout.trim().split("\n").map((line) =>
        JSON.parse(line)
      );
      assert.deepEqual(zipped, {
        status: 200,
        encoding: "gzip",
        xfl: 4, // zlib's mark for its fastest level: node:zlib was used, at level 1
        text: "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 5.0\n",
      });
      assert.deepEqual(late, {
        status: 503,
        text: "collecting metrics took longer than 0.1 s (the scrape timeout)\n",
      });
      assert.deepEqual(instrumented, { todos: 2, other: 1, bytes: "seven".length + "ok".length });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
