// `deno task demo --push` sends the job's metrics only: its histogram, never the deno_* and
// process_* families, which describe a process and would outlive it on the gateway. Those stay
// on the demo's /metrics.
import assert from "node:assert/strict";
import { missingTool, run, startProcess, waitFor } from "../support/process.ts";
import { startPushgateway } from "../support/pushgateway.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FAST = ["--port", "0", "--runs", "2", "--max-sleep", "0.05", "--linger", "0"];

function demo(gateway: string) {
  return run(
    Deno.execPath(),
    ["run", "--allow-net", "examples/demo.ts", "--push", gateway, "--interval", "1", ...FAST],
    { cwd: ROOT, env: { NO_COLOR: "1" }, timeoutMs: 60_000 },
  );
}

/** The family names a text body declares with `# TYPE`. */
function typedFamilies(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]);
}

Deno.test("demo --push: every pushed body holds the job's histogram and nothing else", async () => {
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    let stream = request.body!;
    if (request.headers.get("content-encoding") === "gzip") {
      stream = stream.pipeThrough(new DecompressionStream("gzip"));
    }
    bodies.push(await new Response(stream).text());
    return new Response(null, { status: 200 });
  });
  try {
    const { code, stdout, stderr } = await demo(`http://127.0.0.1:${server.addr.port}`);
    assert.equal(code, 0, stdout + stderr);
    assert.match(stdout, /^final push to .* done$/m);
    assert.ok(bodies.length >= 2, `the first push and the final one, got ${bodies.length}`);
    for (const body of bodies) assert.deepEqual(typedFamilies(body), ["job_duration_seconds"]);
    assert.match(bodies.at(-1)!, /^job_duration_seconds_count\{job_name="test_job"\} 2\.0$/m);
  } finally {
    await server.shutdown();
  }
});

Deno.test({
  name: "demo --push to a real Pushgateway: the moni group holds job_duration_seconds only",
  ignore: missingTool("prometheus-pushgateway"),
  async fn() {
    const gateway = await startPushgateway();
    try {
      const { code, stdout, stderr } = await demo(gateway.url);
      assert.equal(code, 0, stdout + stderr);
      const groups = (await gateway.groups()).filter((group) => group.labels.job === "moni");
      assert.equal(groups.length, 1);
      const families = Object.keys(groups[0]).filter((key) =>
        key !== "labels" && key !== "last_push_successful" && key !== "push_time_seconds" &&
        key !== "push_failure_time_seconds"
      );
      assert.deepEqual(families, ["job_duration_seconds"]);
    } finally {
      await gateway.stop();
    }
  },
});

Deno.test("demo: /metrics serves the job's histogram and the runtime metrics", async () => {
  const demo = startProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    "examples/demo.ts",
    ...["--port", "0", "--runs", "1", "--max-sleep", "0.05", "--linger", "30"],
  ], { cwd: ROOT, env: { NO_COLOR: "1" } });
  try {
    await waitFor(() => demo.output().includes("serving for 30 s more"), {
      what: "the demo to finish its run",
    });
    const port = demo.output().match(/serving metrics at http:\/\/localhost:(\d+)\//)![1];
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^job_duration_seconds_count\{job_name="test_job"\} 1\.0$/m);
    assert.match(text, /^process_cpu_seconds_total \S+$/m);
    assert.match(text, /^deno_memory_heap_used_bytes \S+$/m);
  } finally {
    await demo.stop();
  }
});
