// The Pusher's lifecycle: options, start/stop/pushNow/await using, health metrics, and — in child
// processes — whether it keeps the process alive and how flushOnSignals ends it.
import assert from "node:assert/strict";
import { Gauge, Pusher, Registry } from "../../mod.ts";
import { sleep, waitFor } from "../support/process.ts";

interface Push {
  method: string;
  path: string;
  body: string;
}

/** A gateway stand-in answering 200 (or `status`) and recording every request. */
function recordingGateway() {
  const pushes: Push[] = [];
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    pushes.push({ method: req.method, path: new URL(req.url).pathname, body: await req.text() });
    return new Response(null, { status });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    pushes,
    setStatus(next: number) {
      status = next;
    },
    close: () => server.shutdown(),
  };
}

function gaugeRegistry(): { registry: Registry; gauge: Gauge } {
  const registry = new Registry();
  const gauge = new Gauge({ name: "pusher_test_value", help: "v", registry });
  return { registry, gauge };
}

const valueIn = (push: Push | undefined) => push?.body.match(/^pusher_test_value (\S+)$/m)?.[1];

Deno.test("Pusher: invalid options are TypeError/RangeError at construction", () => {
  const base = { gateway: "127.0.0.1:9091", job: "moni", registry: new Registry() };
  assert.throws(() => new Pusher({ ...base, job: "" }), TypeError);
  assert.throws(() => new Pusher({ ...base, gateway: "ftp://x" }), TypeError);
  assert.throws(
    () => new Pusher({ ...base, intervalMs: 0 }),
    (e) =>
      e instanceof RangeError &&
      e.message ===
        "intervalMs of the pusher for http://127.0.0.1:9091/metrics/job/moni must be a positive number of milliseconds, got 0",
  );
  assert.throws(() => new Pusher({ ...base, timeoutMs: -1 }), RangeError);
  assert.throws(() => new Pusher({ ...base, method: "patch" as "put" }), /must be "put" or "post"/);
  assert.throws(
    () => new Pusher({ ...base, backoff: { initialMs: 500, maxMs: 100 } }),
    /backoff.maxMs \(100\) .* must not be smaller than backoff.initialMs \(500\)/,
  );
  assert.throws(
    () => new Pusher({ ...base, onError: "log" as never }),
    /onError .* must be a function/,
  );
  const shared = new Registry();
  new Pusher({ ...base, healthMetrics: { registry: shared } });
  assert.throws(
    () => new Pusher({ ...base, job: "other", healthMetrics: { registry: shared } }),
    (e) => e instanceof TypeError && /already registered/.test(e.message),
  );
});

Deno.test("Pusher: start pushes at once, then every interval; stop pushes the latest values", async () => {
  const gateway = recordingGateway();
  try {
    const { registry, gauge } = gaugeRegistry();
    gauge.set(1);
    const pusher = new Pusher({ gateway: gateway.url, job: "moni", registry, intervalMs: 80 });
    assert.equal(pusher.url, `${gateway.url}/metrics/job/moni`);
    assert.equal(pusher.running, false);
    pusher.start();
    pusher.start(); // no second loop
    assert.equal(pusher.running, true);
    await waitFor(() => gateway.pushes.length >= 3, {
      timeoutMs: 3000,
      intervalMs: 10,
      what: "3 pushes",
    });
    gauge.set(2);
    await pusher.stop();
    assert.equal(pusher.running, false);
    const count = gateway.pushes.length;
    assert.equal(valueIn(gateway.pushes.at(-1)), "2.0");
    assert.ok(gateway.pushes.every((p) => p.method === "PUT" && p.path === "/metrics/job/moni"));
    await sleep(200);
    assert.equal(gateway.pushes.length, count, "no push after stop()");
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: method post, pushNow without start, and await using", async () => {
  const gateway = recordingGateway();
  try {
    const { registry, gauge } = gaugeRegistry();
    {
      await using pusher = new Pusher({
        gateway: gateway.url,
        job: "moni",
        registry,
        method: "post",
      });
      assert.equal(await pusher.pushNow(), true);
      assert.equal(pusher.running, false);
      pusher.start();
      gauge.set(7);
    } // disposed here: final push
    assert.deepEqual(gateway.pushes.map((p) => p.method), ["POST", "POST", "POST"]);
    assert.equal(valueIn(gateway.pushes[2]), "7.0");
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: health metrics in another registry follow failures and successes", async () => {
  const gateway = recordingGateway();
  try {
    const health = new Registry();
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: gaugeRegistry().registry,
      healthMetrics: { registry: health },
      onError: () => {},
    });
    gateway.setStatus(500);
    await pusher.pushNow();
    await pusher.pushNow();
    let text = await health.metrics();
    assert.match(text, /^pusher_last_success_timestamp_seconds 0\.0$/m);
    assert.match(text, /^pusher_consecutive_failures 2\.0$/m);
    assert.match(text, /^pusher_failures_total 2\.0$/m);
    gateway.setStatus(200);
    const before = Date.now() / 1000;
    await pusher.pushNow();
    text = await health.metrics();
    const lastSuccess = Number(text.match(/^pusher_last_success_timestamp_seconds (\S+)$/m)?.[1]);
    assert.ok(lastSuccess >= before - 1 && lastSuccess <= Date.now() / 1000 + 1, `${lastSuccess}`);
    assert.match(text, /^pusher_consecutive_failures 0\.0$/m);
    assert.match(text, /^pusher_failures_total 2\.0$/m);
    assert.equal(pusher.consecutiveFailures, 0);
    assert.equal(pusher.failuresTotal, 2);
  } finally {
    await gateway.close();
  }
});

// --- the process: keep-alive and signals ------------------------------------------------------

const CHILD = `
import { Gauge, Pusher, Registry } from ${
  JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
};
const [gateway, intervalMs, mode] = Deno.args;
const registry = new Registry();
const value = new Gauge({ name: "pusher_test_value", help: "v", registry });
value.set(1);
const pusher = new Pusher({
  gateway, job: "child", registry, intervalMs: Number(intervalMs),
  keepAlive: mode !== "daemon", flushOnSignals: mode === "signals",
});
pusher.start(); // the first push carries 1
value.set(2);   // later pushes carry 2
if (mode === "stop") {
  await new Promise((resolve) => setTimeout(resolve, 300));
  await pusher.stop();
}
`;

async function runChild(gatewayUrl: string, intervalMs: number, mode: string) {
  const dir = await Deno.makeTempDir({ prefix: "pusher_child_" });
  const script = `${dir}/child.ts`;
  await Deno.writeTextFile(script, CHILD);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--allow-net=127.0.0.1",
      script,
      gatewayUrl,
      String(intervalMs),
      mode,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const output = child.output();
  return {
    child,
    started,
    async finish() {
      const result = await output;
      await Deno.remove(dir, { recursive: true });
      return {
        code: result.code,
        elapsedMs: performance.now() - started,
        stderr: new TextDecoder().decode(result.stderr),
      };
    },
  };
}

Deno.test("Pusher process: by default it does not keep the process alive (daemon-like)", async () => {
  const gateway = recordingGateway();
  try {
    const run = await runChild(gateway.url, 600_000, "daemon");
    const { code, stderr } = await run.finish();
    assert.equal(code, 0, stderr);
    // The first push, started by start(), completes before the process ends; nothing else runs.
    assert.equal(gateway.pushes.length, 1);
    assert.equal(valueIn(gateway.pushes[0]), "1.0");
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher process: keepAlive keeps it running until stop(), which ends it after the final push", async () => {
  const gateway = recordingGateway();
  try {
    const run = await runChild(gateway.url, 100, "stop");
    const { code, stderr, elapsedMs } = await run.finish();
    assert.equal(code, 0, stderr);
    assert.ok(gateway.pushes.length >= 3, `${gateway.pushes.length} pushes in ${elapsedMs} ms`);
    assert.equal(valueIn(gateway.pushes.at(-1)), "2.0");
  } finally {
    await gateway.close();
  }
});

for (const [signal, expectedCode] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`Pusher process: flushOnSignals pushes once more on ${signal}, exits ${expectedCode}`, async () => {
    const gateway = recordingGateway();
    try {
      // An interval beyond the test: the only pushes are start()'s and the one the signal causes.
      const run = await runChild(gateway.url, 600_000, "signals");
      let finished = false;
      try {
        await waitFor(() => gateway.pushes.length === 1, {
          timeoutMs: 10_000,
          intervalMs: 20,
          what: "the first push",
        });
        // keepAlive holds the otherwise idle process.
        const exitedEarly = await Promise.race([
          run.child.status.then(() => true),
          sleep(300).then(() => false),
        ]);
        assert.equal(exitedEarly, false, "the child should still run");
        run.child.kill(signal);
        const { code, stderr } = await run.finish();
        finished = true;
        assert.equal(code, expectedCode, stderr);
        assert.deepEqual(gateway.pushes.map(valueIn), ["1.0", "2.0"]);
      } finally {
        if (!finished) {
          run.child.kill("SIGKILL");
          await run.finish();
        }
      }
    } finally {
      await gateway.close();
    }
  });
}
