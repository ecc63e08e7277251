// examples/push_job.ts reports the truth: like Python's push_to_gateway, which raises, it exits 1
// with the error when its final push failed (a closed port, a gateway answering 500), and says
// "pushed" with exit 0 only when the gateway took the final push.
import assert from "node:assert/strict";
import { freePort, run } from "../support/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FAST = ["--runs", "2", "--max-sleep", "0.05", "--linger", "0", "--interval", "1"];

function pushJob(gateway: string) {
  return run(
    Deno.execPath(),
    ["run", "--allow-net", "examples/push_job.ts", "--gateway", gateway, ...FAST],
    { cwd: ROOT, env: { NO_COLOR: "1" }, timeoutMs: 60_000 },
  );
}

/** A stand-in gateway on a free port answering every push with `status`; counts the pushes. */
function fakeGateway(status: number) {
  let pushes = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    await request.body?.cancel();
    pushes++;
    return new Response(status === 200 ? "" : "storage full\n", { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    pushes: () => pushes,
    stop: () => server.shutdown(),
  };
}

Deno.test("push_job.ts: nothing listening on the gateway's port → exit 1 naming the URL", async () => {
  const gateway = `http://127.0.0.1:${freePort()}`;
  const { code, stdout, stderr } = await pushJob(gateway);
  assert.equal(code, 1, stdout + stderr);
  assert.doesNotMatch(stdout, /pushed/);
  assert.match(stderr, /^error: the final push failed: /m);
  assert.ok(stderr.includes(`${gateway}/metrics/job/moni`), stderr);
});

Deno.test("push_job.ts: a gateway answering 500 → exit 1 with its status", async () => {
  const gateway = fakeGateway(500);
  try {
    const { code, stdout, stderr } = await pushJob(gateway.url);
    assert.equal(code, 1, stdout + stderr);
    assert.doesNotMatch(stdout, /pushed/);
    assert.match(stderr, /^error: the final push failed: .*500/m);
    assert.ok(gateway.pushes() >= 2, "the first push and the final one were tried");
  } finally {
    await gateway.stop();
  }
});

Deno.test('push_job.ts: a gateway taking every push → exit 0, "pushed"', async () => {
  const gateway = fakeGateway(200);
  try {
    const { code, stdout, stderr } = await pushJob(gateway.url);
    assert.equal(code, 0, stdout + stderr);
    assert.equal(stderr, "");
    assert.match(stdout, /^pushed to http:\/\/127\.0\.0\.1:\d+ under job "moni"$/m);
  } finally {
    await gateway.stop();
  }
});
