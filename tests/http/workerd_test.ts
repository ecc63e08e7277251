// metricsHandler on Cloudflare's workerd without nodejs_compat: importing mod.ts must not need
// `Deno` or `node:zlib`, gzip falls back to CompressionStream, and the body is gzipped once
// (workerd compresses bodies marked `Content-Encoding: gzip` itself unless told otherwise).
import assert from "node:assert/strict";
import { requireRuntime, skipWithout } from "../support/edge.ts";
import { freePort, startProcess, waitForReadyUrl } from "../support/process.ts";

const MOD_PATH = new URL("../../mod.ts", import.meta.url).pathname;

const WORKER = `import { Counter, metricsHandler, Registry } from ${JSON.stringify(MOD_PATH)};
const registry = new Registry();
new Counter({ name: "jobs_total", help: "jobs run", registry }).inc(5);
const handle = metricsHandler({ registry });
export default { fetch: (request: Request) => handle(request) };
`;

function config(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-01",
);
`;
}

Deno.test({
  name: "workerd without nodejs_compat: mod.ts imports, gzip falls back and is applied once",
  ignore: skipWithout("workerd"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-prom-workerd-" });
    try {
      await Deno.writeTextFile(`${dir}/worker.ts`, WORKER);
      const bundle = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--platform", "browser", "-o", `${dir}/worker.js`, `${dir}/worker.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(bundle.code, 0, new TextDecoder().decode(bundle.stderr));
      const port = freePort();
      await Deno.writeTextFile(`${dir}/config.capnp`, config(port));
      const workerd = startProcess(requireRuntime("workerd"), ["serve", `${dir}/config.capnp`]);
      try {
        const url = `http://127.0.0.1:${port}/metrics`;
        await waitForReadyUrl(workerd, url, {
          name: "workerd",
          timeoutMs: 15_000,
          intervalMs: 100,
        });
        assert.equal(workerd.exited, false, workerd.output());

        const plain = await fetch(url, { headers: { "accept-encoding": "identity" } });
        const text = await plain.text();
        assert.equal(
          text,
          "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 5.0\n",
        );

        // fetch undoes one gzip: a body gzipped twice would still be gzip bytes here.
        const zipped = await fetch(url, { headers: { "accept-encoding": "gzip" } });
        assert.equal(zipped.headers.get("content-encoding"), "gzip");
        assert.equal(await zipped.text(), text, workerd.output());
        assert.doesNotMatch(workerd.output(), /Uncaught|not defined/);
      } finally {
        await workerd.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
