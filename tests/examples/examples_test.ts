// Every example runs to completion with its fast flags, and its output is checked: the push
// example against the real Pushgateway, the pull example and the mounted app over HTTP, and
// `deno task demo` exactly as README gives it.
import assert from "node:assert/strict";
import { freePort, missingTool, run, startProcess, waitFor } from "../support/process.ts";
import { startPushgateway } from "../support/pushgateway.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const DENO = Deno.execPath();

function denoRun(permissions: string[], script: string, args: string[]) {
  return run(DENO, ["run", ...permissions, script, ...args], { cwd: ROOT });
}

/** The histogram lines of the guide's job, as `name{labels}` → value. */
function jobSeries(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = line.match(/^(job_duration_seconds_\w+(?:\{[^}]*\})?) (\S+)$/);
    if (match) series.set(match[1], Number(match[2]));
  }
  return series;
}

Deno.test("examples/decorators.ts counts exceptions and calls in progress", async () => {
  const { code, stdout, stderr } = await denoRun([], "examples/decorators.ts", []);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^jobs_in_progress while three calls run: 3$/m);
  assert.match(stdout, /^jobs_in_progress after they settled: 0$/m);
  assert.match(stdout, /^outcomes: fulfilled, rejected, fulfilled$/m);
  // One failed work() call plus the two RangeErrors of attempts 1 and 3.
  assert.match(stdout, /^job_failures_total 3\.0$/m);
  assert.match(stdout, /^jobs_in_progress 0\.0$/m);
});

Deno.test({
  name: "examples/push_job.ts pushes the guide's histogram to a real Pushgateway",
  ignore: missingTool("prometheus-pushgateway"),
  async fn() {
    const gateway = await startPushgateway();
    try {
      const { code, stdout, stderr } = await denoRun(["--allow-net"], "examples/push_job.ts", [
        "--gateway",
        gateway.url,
        "--runs",
        "3",
        "--max-sleep",
        "0.1",
        "--linger",
        "0",
        "--interval",
        "1",
      ]);
      assert.equal(code, 0, stderr);
      assert.equal(stdout.match(/^job ran \d+\.\d\d s$/gm)?.length, 3, stdout);
      const pushed = jobSeries(await gateway.metricsText());
      assert.equal(
        pushed.get('job_duration_seconds_count{instance="",job="moni",job_name="test_job"}'),
        3,
      );
      assert.equal(
        pushed.get(
          'job_duration_seconds_bucket{instance="",job="moni",job_name="test_job",le="1"}',
        ),
        3,
      );
    } finally {
      await gateway.stop();
    }
  },
});

Deno.test("examples/pull_job.ts serves the histogram while it lingers, then exits by itself", async () => {
  const port = freePort();
  const job = startProcess(DENO, [
    "run",
    "--allow-net",
    "examples/pull_job.ts",
    "--port",
    String(port),
    "--runs",
    "3",
    "--max-sleep",
    "0.1",
    "--linger",
    "3",
  ], { cwd: ROOT });
  try {
    await waitFor(() => Promise.resolve(job.output().includes("done; serving")), {
      timeoutMs: 30_000,
      what: "pull_job.ts to finish its runs",
    });
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    const scraped = jobSeries(await response.text());
    assert.equal(scraped.get('job_duration_seconds_count{job_name="test_job"}'), 3);
    assert.equal(scraped.get('job_duration_seconds_bucket{job_name="test_job",le="1.0"}'), 3);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(await health.text(), "ok\n");
    const status = await job.status;
    assert.equal(status.code, 0, job.output());
    assert.equal(job.output().match(/^job ran \d+\.\d\d s$/gm)?.length, 3);
  } finally {
    await job.stop();
  }
});

Deno.test("examples/mount_in_app.ts counts its own requests by route and status", async () => {
  const port = freePort();
  const app = startProcess(DENO, [
    "run",
    "--allow-net",
    "examples/mount_in_app.ts",
    "--port",
    String(port),
  ], { cwd: ROOT });
  try {
    await waitFor(() => Promise.resolve(app.output().includes("app on")), {
      timeoutMs: 30_000,
      what: "mount_in_app.ts to listen",
    });
    for (const path of ["/", "/hello", "/hello", "/nope"]) {
      await (await fetch(`http://127.0.0.1:${port}${path}`)).body?.cancel();
    }
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /^http_requests_total\{route="\/",status="200"\} 1\.0$/m);
    assert.match(text, /^http_requests_total\{route="\/hello",status="200"\} 2\.0$/m);
    assert.match(text, /^http_requests_total\{route="other",status="404"\} 1\.0$/m);
    assert.match(text, /^http_request_duration_seconds_count\{route="\/hello"\} 2\.0$/m);
    assert.doesNotMatch(text, /route="\/metrics"/, "scrapes are not counted as app requests");
  } finally {
    await app.stop();
  }
});

Deno.test("`deno task demo --runs 3 --max-sleep 0.1 --linger 0` exits 0 with _count 3", async () => {
  // README's command, on any free port (--port 0) so it never meets another program's.
  const { code, stdout, stderr } = await run(
    DENO,
    ["task", "demo", "--port", "0", "--runs", "3", "--max-sleep", "0.1", "--linger", "0"],
    { cwd: ROOT, env: { NO_COLOR: "1" } },
  );
  assert.equal(code, 0, stdout + stderr);
  assert.match(stdout, /^serving metrics at http:\/\/localhost:\d+\/metrics/m);
  // A quiet first run: only deno's own "Task demo …" line, no warning about /proc.
  assert.deepEqual(stderr.trim().split("\n").filter((line) => !line.startsWith("Task demo ")), []);
  for (const run of [1, 2, 3]) {
    assert.match(stdout, new RegExp(`^run ${run}/3: job ran \\d+\\.\\d\\d s$`, "m"));
  }
  assert.match(stdout, /^# HELP job_duration_seconds duration of job$/m);
  assert.match(stdout, /^job_duration_seconds_bucket\{job_name="test_job",le="1\.0"\} 3\.0$/m);
  assert.match(stdout, /^job_duration_seconds_count\{job_name="test_job"\} 3\.0$/m);
});

Deno.test("demo: a port in use is named, with the flag to change it", async () => {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const { code, stderr } = await denoRun(["--allow-net"], "examples/demo.ts", [
      "--port",
      String(port),
      "--runs",
      "1",
      "--max-sleep",
      "0",
    ]);
    assert.equal(code, 1);
    assert.equal(
      stderr.trim(),
      `error: port ${port} is already in use by another program; pick another one with --port (e.g. --port ${
        port + 1
      })`,
    );
  } finally {
    listener.close();
  }
});

Deno.test("demo: an unreachable Pushgateway is reported once and the job goes on", async () => {
  const deadGateway = `http://127.0.0.1:${freePort()}`;
  const { code, stdout, stderr } = await denoRun(["--allow-net"], "examples/demo.ts", [
    "--port",
    "0",
    "--push",
    deadGateway,
    "--interval",
    "0.2",
    "--runs",
    "4",
    "--max-sleep",
    "0.3",
    "--linger",
    "0",
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^run 4\/4: job ran/m);
  assert.match(stdout, /could not be reached; the runs are still served here/);
  assert.match(stdout, /^job_duration_seconds_count\{job_name="test_job"\} 4\.0$/m);
  const errorLines = stderr.trim().split("\n").filter((line) => line !== "");
  assert.equal(errorLines.length, 1, `one line per failure streak, got:\n${stderr}`);
  assert.ok(errorLines[0].includes(deadGateway), errorLines[0]);
});

Deno.test("demo: without --allow-net it says which permission it needs", async () => {
  const { code, stderr } = await denoRun([], "examples/demo.ts", [
    "--runs",
    "1",
    "--max-sleep",
    "0",
  ]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /the demo needs network permission to serve \/metrics: run `deno task demo`/,
  );
});

/**
 * README's ```ts block under `heading`, written to `.tmp/` inside the repository (so that
 * `@deno-prom/client` resolves as in a project that installed it) with `replacements` applied;
 * returns the file's path. Each replacement must match, so a changed README fails loudly.
 */
async function readmeBlock(heading: string, replacements: [string, string][]): Promise<string> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "## ${heading}" section`);
  const open = readme.indexOf("```ts\n", start);
  let code = readme.slice(open + 6, readme.indexOf("\n```", open + 6) + 1);
  for (const [from, to] of replacements) {
    assert.ok(code.includes(from), `README's ${heading} block contains ${from}`);
    code = code.replace(from, to);
  }
  await Deno.mkdir(`${ROOT}/.tmp`, { recursive: true });
  const path = `${ROOT}/.tmp/readme_${heading.toLowerCase().replaceAll(/\W+/g, "_")}.ts`;
  await Deno.writeTextFile(path, code);
  return path;
}

Deno.test("README's quick start runs and prints what it counted", async () => {
  const path = await readmeBlock("Quick start", [["port: 8000", "port: 0"]]);
  try {
    const { code, stdout, stderr } = await denoRun(["--allow-net"], path, []);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
    assert.match(stdout, /^jobs_processed_total\{queue="mail"\} 3\.0$/m);
    assert.match(stdout, /^job_duration_seconds_count 3\.0$/m);
    assert.match(stdout, /^job_duration_seconds_bucket\{le="0\.1"\} 0\.0$/m); // each took ≥ 100 ms
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("README's HTTP server recipe counts, times and serves its requests", async () => {
  const port = freePort();
  const path = await readmeBlock("Instrument an HTTP server", [
    ["Deno.serve({ port: 8080 },", `Deno.serve({ port: ${port}, hostname: "127.0.0.1" },`],
  ]);
  const app = startProcess(DENO, ["run", "--allow-net", path], { cwd: ROOT });
  try {
    await waitFor(() => Promise.resolve(app.output().includes("Listening on")), {
      timeoutMs: 30_000,
      what: "the README's app to listen",
    });
    const base = `http://127.0.0.1:${port}`;
    assert.deepEqual(await (await fetch(`${base}/users/7`)).json(), { id: 7, name: "Ada" });
    const created = await fetch(`${base}/users`, { method: "POST", body: '{"name":"Grace"}' });
    assert.equal(created.status, 201);
    assert.deepEqual(await created.json(), { id: 2, name: "Grace" });
    assert.equal(await (await fetch(`${base}/export`)).text(), "7,Ada\n2,Grace\n");
    for (const route of ["/", "/", "/nope", "/users/99"]) {
      await (await fetch(base + route)).body?.cancel();
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    const total = (labels: string) =>
      text.match(new RegExp(`^http_requests_total\\{${labels}\\} (\\S+)$`, "m"))?.[1];
    assert.equal(total('method="GET",route="/",status="200"'), "2.0");
    assert.equal(total('method="GET",route="/users/:id",status="200"'), "1.0");
    assert.equal(total('method="POST",route="/users",status="201"'), "1.0");
    // A path matching no template, and an unknown id of a known template.
    assert.equal(total('method="GET",route="other",status="404"'), "1.0");
    assert.equal(total('method="GET",route="/users/:id",status="404"'), "1.0");
    assert.match(
      text,
      /^http_request_duration_seconds_count\{method="GET",route="\/export",status="200"\} 1\.0$/m,
    );
    assert.match(text, /^http_requests_in_flight 0\.0$/m);
    assert.doesNotMatch(text, /route="\/metrics"/);
  } finally {
    await app.stop();
    await Deno.remove(path);
  }
});

Deno.test("examples/deno_otel.ts serves Deno's own metrics and ours on one /metrics, with the exemplar", async () => {
  const port = freePort();
  const { code, stdout, stderr } = await run(DENO, [
    "run",
    "--allow-net",
    "--allow-env",
    "examples/deno_otel.ts",
    "--port",
    String(port),
    "--app-port",
    "0",
    "--self-test",
    "3",
  ], {
    cwd: ROOT,
    env: {
      OTEL_DENO: "true",
      OTEL_SERVICE_NAME: "shop",
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://127.0.0.1:${port}/v1/metrics`,
      OTEL_METRIC_EXPORT_INTERVAL: "300",
    },
    timeoutMs: 60_000,
  });
  assert.equal(code, 0, stderr);
  assert.match(
    stdout,
    /^http_server_request_duration_seconds_count\{http_response_status_code="201",service_name="shop"\} 3\.0$/m,
  );
  assert.match(
    stdout,
    /^orders_placed_total 3\.0 # \{span_id="[0-9a-f]{16}",trace_id="4bf92f3577b34da6a3ce929d0e0e4736"\} 1\.0 \d+\.\d+$/m,
  );
});
