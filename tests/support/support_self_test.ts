// Self-tests of the end-to-end support library in tests/support/.
import assert from "node:assert/strict";
import { freePort, missingTool, run, startProcess, waitFor, which } from "./process.ts";
import { acceptHeaderFor, PROMETHEUS_2_42_ACCEPT, startPrometheus } from "./prometheus.ts";
import { startPushgateway } from "./pushgateway.ts";
import { hasPromtool, promtoolCheckMetrics, python, skipWithoutPythonClient } from "./python.ts";

const TEXT_004 = "text/plain; version=0.0.4; charset=utf-8";

/** Starts a Deno.serve on a free port answering a trivial 0.0.4 body and recording requests. */
function recordingExporter(body = "# TYPE support_test_value gauge\nsupport_test_value 42\n") {
  const requests: { path: string; headers: Headers }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    requests.push({ path: new URL(req.url).pathname, headers: req.headers });
    return new Response(body, { headers: { "content-type": TEXT_004 } });
  });
  return { requests, address: `127.0.0.1:${server.addr.port}`, shutdown: () => server.shutdown() };
}

Deno.test("process: freePort, which, waitFor", async () => {
  const port = freePort();
  assert.ok(port > 0 && port < 65536);
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  listener.close();

  assert.ok(which("sh")?.endsWith("/sh"));
  assert.equal(which("definitely-not-a-command-xyz"), undefined);

  let n = 0;
  await waitFor(() => Promise.resolve(++n >= 3), { timeoutMs: 2000, intervalMs: 10 });
  assert.equal(n, 3);
  await assert.rejects(
    waitFor(() => Promise.resolve(false), { timeoutMs: 100, intervalMs: 10, what: "the moon" }),
    /waiting for the moon/,
  );
});

Deno.test("process: startProcess captures output, stop() is idempotent, SIGKILL fallback", async () => {
  const p = startProcess("sh", ["-c", "echo hello; echo oops >&2; exec sleep 30"]);
  await waitFor(() => Promise.resolve(p.output().includes("oops")), { what: "child output" });
  assert.match(p.output(), /hello/);
  const [a, b] = await Promise.all([p.stop(), p.stop()]);
  assert.equal(a, b);
  assert.equal(a.signal, "SIGTERM");
  assert.ok(p.exited);
  await p.stop();
  p.kill("SIGKILL"); // no-op after exit

  // A child that ignores SIGTERM is killed after the grace period.
  const stubborn = startProcess("sh", [
    "-c",
    "trap '' TERM; echo ready; while :; do sleep 0.1; done",
  ]);
  await waitFor(() => Promise.resolve(stubborn.output().includes("ready")), { what: "trap" });
  const status = await stubborn.stop(300);
  assert.equal(status.signal, "SIGKILL");

  const r = await run("cat", [], { stdin: "round trip" });
  assert.deepEqual(r, { code: 0, stdout: "round trip", stderr: "" });
});

Deno.test({
  name: "prometheus: scrapes a Deno.serve target; records the Accept header; up == 1",
  ignore: missingTool("prometheus"),
  async fn() {
    const exporter = recordingExporter();
    const prom = await startPrometheus({ scrapeTargets: [exporter.address] });
    try {
      await waitFor(() => Promise.resolve(exporter.requests.length > 0), {
        timeoutMs: 15_000,
        what: "the first scrape",
      });
      const accept = exporter.requests[0].headers.get("accept") ?? "";
      console.log(`Prometheus scrape Accept header: ${accept}`);
      console.log(
        `Prometheus scrape User-Agent: ${exporter.requests[0].headers.get("user-agent")}`,
      );
      assert.ok(accept.startsWith("application/openmetrics-text"), accept);
      assert.equal(accept, PROMETHEUS_2_42_ACCEPT);
      assert.equal(exporter.requests[0].path, "/metrics");

      const targets = await prom.waitForTargetsUp();
      assert.equal(targets.length, 1);
      assert.equal(targets[0].labels.job, "deno");
      assert.equal(targets[0].labels.instance, exporter.address);
      assert.equal(targets[0].health, "up");

      const up = await prom.waitForQuery("up", (r) => r.length === 1 && r[0].value[1] === "1");
      assert.equal(up[0].metric.job, "deno");
      const value = await prom.waitForQuery("support_test_value", (r) => r.length === 1);
      assert.equal(value[0].value[1], "42");
      const scalar = await prom.query("scalar(support_test_value) * 2");
      assert.equal(scalar[0].value[1], "84");
    } finally {
      await prom.stop();
      await exporter.shutdown();
    }
    // The temp dir is gone after stop().
    await assert.rejects(Deno.stat(prom.dir), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "prometheus: scrapeProtocols rewrites Accept through the proxy, keeps instance label",
  ignore: missingTool("prometheus"),
  async fn() {
    const exporter = recordingExporter();
    const prom = await startPrometheus({
      scrapeTargets: [exporter.address],
      scrapeProtocols: ["PrometheusText0.0.4"],
    });
    try {
      const targets = await prom.waitForTargetsUp();
      assert.equal(targets[0].labels.instance, exporter.address);
      assert.notEqual(targets[0].discoveredLabels.__address__, exporter.address);
      await prom.waitForQuery(
        `support_test_value{instance="${exporter.address}"}`,
        (r) => r.length === 1 && r[0].value[1] === "42",
      );
      assert.equal(exporter.requests[0].headers.get("accept"), "text/plain;version=0.0.4");
      assert.equal(prom.scrapes[0].originalAccept, PROMETHEUS_2_42_ACCEPT);
      assert.equal(prom.scrapes[0].contentType, TEXT_004);
    } finally {
      await prom.stop();
      await exporter.shutdown();
    }
    assert.equal(
      acceptHeaderFor(["OpenMetricsText1.0.0", "PrometheusText0.0.4"]),
      "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.9",
    );
  },
});

Deno.test({
  name: "pushgateway: push, read back as JSON and text, restart drops groups",
  ignore: missingTool("prometheus-pushgateway"),
  async fn() {
    const pg = await startPushgateway();
    try {
      const res = await fetch(`${pg.url}/metrics/job/x`, {
        method: "PUT",
        headers: { "content-type": TEXT_004 },
        body: '# TYPE support_pushed gauge\nsupport_pushed{a="b"} 7\n',
      });
      const answer = await res.text();
      assert.ok(res.ok, `push failed: HTTP ${res.status} ${answer}`);

      const groups = await pg.groups();
      const group = groups.find((g) => g.labels.job === "x");
      assert.ok(group, JSON.stringify(groups));
      assert.equal(group.last_push_successful, true);
      assert.equal(group.support_pushed.type, "GAUGE");
      assert.equal(group.support_pushed.metrics[0].value, "7");
      assert.equal(group.support_pushed.metrics[0].labels.a, "b");
      assert.match(await pg.metricsText(), /support_pushed\{a="b",instance="",job="x"\} 7/);

      const port = pg.port;
      await pg.restart();
      assert.equal(pg.port, port);
      const after = await pg.metricsJson();
      assert.equal(after.status, "success");
      assert.equal(after.data.find((g) => g.labels.job === "x"), undefined);
    } finally {
      await pg.stop();
      await pg.stop();
    }
  },
});

Deno.test({
  name: "python: reference client runs with _created disabled; promtool checks text",
  ignore: skipWithoutPythonClient(),
  async fn() {
    const script = [
      "import sys",
      "from prometheus_client import CollectorRegistry, Counter, generate_latest",
      "r = CollectorRegistry()",
      "c = Counter('support_things', 'Things.', registry=r)",
      "c.inc(float(sys.stdin.read()))",
      "sys.stdout.write(generate_latest(r).decode())",
    ].join("\n");
    const out = await python(script, "3");
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stdout,
      "# HELP support_things_total Things.\n# TYPE support_things_total counter\nsupport_things_total 3.0\n",
    );
    assert.doesNotMatch(out.stdout, /_created/);

    if (hasPromtool() || Deno.env.get("CI")) {
      const ok = await promtoolCheckMetrics(out.stdout);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const lint = await promtoolCheckMetrics("# HELP foo x\n# TYPE foo counter\nfoo 1\n");
      assert.equal(lint.code, 3);
      assert.match(lint.stdout + lint.stderr, /_total/);
      const broken = await promtoolCheckMetrics("foo{ 1\n");
      assert.equal(broken.code, 1);
    }
  },
});
