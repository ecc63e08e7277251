// docs/edge.md's workerd setup is a real one: examples/workerd/config.capnp, unchanged, serves
// examples/workerd/worker.ts (bundled as the file says) on a free port, which counts requests by
// route and serves /metrics, gzipped once.
import assert from "node:assert/strict";
import { requireRuntime, skipWithout } from "../support/edge.ts";
import { freePort, run, startProcess, waitForReadyUrl } from "../support/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("docs/edge.md: docs show the config and the worker the test runs", async () => {
  const edge = await Deno.readTextFile(`${ROOT}/docs/edge.md`);
  for (const file of ["config.capnp", "worker.ts"]) {
    const text = await Deno.readTextFile(`${ROOT}/examples/workerd/${file}`);
    assert.ok(edge.includes(text.trim()), `docs/edge.md shows examples/workerd/${file} as it is`);
  }
});

Deno.test({
  name: "examples/workerd/config.capnp serves the worker: requests counted, /metrics gzipped once",
  ignore: skipWithout("workerd"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-prom-workerd-example-" });
    try {
      // The file itself, beside the bundle its `embed` names, as its comment says to build it.
      await Deno.copyFile(`${ROOT}/examples/workerd/config.capnp`, `${dir}/config.capnp`);
      const bundle = await run(Deno.execPath(), [
        "bundle",
        "--platform",
        "browser",
        "-o",
        `${dir}/worker.js`,
        "examples/workerd/worker.ts",
      ], { cwd: ROOT, timeoutMs: 120_000 });
      assert.equal(bundle.code, 0, bundle.stderr);
      const port = freePort();
      const workerd = startProcess(requireRuntime("workerd"), [
        "serve",
        `${dir}/config.capnp`,
        "--socket-addr",
        `http=127.0.0.1:${port}`,
      ]);
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitForReadyUrl(workerd, `${base}/metrics`, {
          name: "workerd",
          timeoutMs: 15_000,
          intervalMs: 100,
        });
        for (const path of ["/", "/", "/wp-login.php"]) await (await fetch(base + path)).text();
        const text = await (await fetch(`${base}/metrics`, {
          headers: { "accept-encoding": "identity" },
        })).text();
        assert.match(text, /^worker_requests_total\{route="\/"\} 2\.0$/m);
        assert.match(text, /^worker_requests_total\{route="other"\} 1\.0$/m);
        // fetch undoes one gzip: a body gzipped twice would still be gzip bytes here.
        const zipped = await fetch(`${base}/metrics`, { headers: { "accept-encoding": "gzip" } });
        assert.equal(zipped.headers.get("content-encoding"), "gzip");
        assert.match(await zipped.text(), /^worker_requests_total\{route="\/"\} 2\.0$/m);
        assert.doesNotMatch(workerd.output(), /Uncaught|not defined/);
      } finally {
        await workerd.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
