// Directory mode: publishers and collectors in this process first; then three separate
// `deno run` writers and one exporter process with only --allow-read/--allow-write on the
// directory; then writers killed with SIGKILL in the middle of their writes.
import assert from "node:assert/strict";
import { Counter, directoryCollector, Gauge, publishToDirectory, Registry } from "../mod.ts";
import {
  freePort,
  type ManagedProcess,
  run,
  sleep,
  startProcess,
  waitFor,
} from "./support/process.ts";
import { listDir, sample, valueOf } from "./support/workers_support.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = "tests/support/workers_directory_fixture.ts";

function makeProcessRegistry(jobCount: number) {
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "jobs done", registry }).inc(jobCount);
  new Gauge({ name: "up", help: "alive", aggregate: "livesum", registry }).set(1);
  new Gauge({ name: "seen", help: "per process", registry }).set(jobCount);
  return registry;
}

Deno.test("publishers in one directory: merged view, exit retires the file, counts stay", async () => {
  const dir = await Deno.makeTempDir();
  const a = publishToDirectory({ dir, registry: makeProcessRegistry(3), workerId: "a" });
  const b = publishToDirectory({ dir, registry: makeProcessRegistry(4), workerId: "b" });
  try {
    const exporter = directoryCollector({ dir });
    await a.flush();
    await b.flush();
    let families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 7);
    assert.equal(valueOf(families, "up"), 2);
    assert.equal(valueOf(families, "seen", { pid: "a" }), 3, "`all` is the default gauge mode");
    assert.equal(valueOf(families, "seen", { pid: "b" }), 4);
    assert.equal(valueOf(families, "metrics_directory_read_errors"), 0);

    await b.close(); // A final snapshot: b has exited.
    families = await exporter.collect(); // sees b's final file, then retires it
    assert.equal(valueOf(families, "jobs"), 7);
    assert.equal(valueOf(families, "up"), 1, "livesum drops the exited process");
    const names = await listDir(dir);
    assert.deepEqual(names.filter((name) => !name.startsWith(".")), [
      "retired.json",
      a.path.slice(dir.length + 1),
    ]);
    families = await a.collect(); // a publisher serves the merged view too
    assert.equal(valueOf(families, "jobs"), 7, "b's counts live on in retired.json");
    assert.equal(valueOf(families, "seen", { pid: "b" }), 4, "`all` keeps exited processes");
    assert.deepEqual(
      (await a.collect({ names: ["jobs_total"] })).map((family) => family.name),
      ["jobs"],
    );
  } finally {
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unreadable files are skipped and counted; temporary files ignored, then cleaned", async () => {
  const dir = await Deno.makeTempDir();
  const a = publishToDirectory({ dir, registry: makeProcessRegistry(5), workerId: "a" });
  try {
    await a.flush();
    await Deno.writeTextFile(`${dir}/snapshot-1-abc.json`, '{"format": "deno-prometheus-snap');
    await Deno.writeTextFile(`${dir}/snapshot-2-abd.json`, '{"format": 1}');
    await Deno.writeTextFile(`${dir}/.snapshot-3-abe.json.1234.tmp`, '{"half a fi');
    await Deno.writeTextFile(`${dir}/notes.txt`, "not ours");
    const exporter = directoryCollector({ dir, retireAfterMs: 60_000 });
    const families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 5);
    assert.equal(exporter.readErrors, 2);
    assert.equal(valueOf(families, "metrics_directory_read_errors"), 2);

    // Once old enough, leftovers of killed writers and unreadable files are removed.
    const old = new Date(Date.now() - 3_600_000);
    for (const name of ["snapshot-1-abc.json", ".snapshot-3-abe.json.1234.tmp"]) {
      await Deno.utime(`${dir}/${name}`, old, old);
    }
    await exporter.collect();
    const names = await listDir(dir);
    assert.ok(!names.includes("snapshot-1-abc.json"), names.join());
    assert.ok(!names.includes(".snapshot-3-abe.json.1234.tmp"), names.join());
    assert.ok(names.includes("snapshot-2-abd.json"), "a recent unreadable file is left alone");
    assert.ok(names.includes("notes.txt"), "files not named like snapshots are never touched");
    const quiet = directoryCollector({ dir, exposeReadErrors: false });
    assert.equal(
      valueOf(await quiet.collect(), "metrics_directory_read_errors"),
      undefined,
    );
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a directory that does not exist yet is an empty view, not an error", async () => {
  const collector = directoryCollector({ dir: `/tmp/does-not-exist-${crypto.randomUUID()}` });
  const families = await collector.collect();
  assert.deepEqual(families.map((family) => family.name), ["metrics_directory_read_errors"]);
});

Deno.test("bad options are clear errors", () => {
  assert.throws(() => directoryCollector({} as { dir: string }), {
    name: "TypeError",
    message: 'directoryCollector needs a directory: { dir: "/path/to/metrics" }',
  });
  assert.throws(() => publishToDirectory({ dir: "/tmp/x", intervalMs: 0 }), {
    name: "RangeError",
    message: "publishToDirectory: intervalMs must be a positive number of milliseconds",
  });
  assert.throws(() => directoryCollector({ dir: "/tmp/x", workerLabel: "1bad" }), TypeError);
});

function startWriter(dir: string, args: string[]): ManagedProcess {
  return startProcess(Deno.execPath(), [
    "run",
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    FIXTURE,
    "write",
    "--dir",
    dir,
    ...args,
  ], { cwd: ROOT });
}

async function waitPublished(writer: ManagedProcess): Promise<void> {
  await waitFor(() => writer.output().includes("published"), {
    timeoutMs: 30_000,
    what: `a writer's first snapshot\n${writer.output()}`,
  });
}

Deno.test("three `deno run` writers, one exporter process serving the merged view", async () => {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const exporter = startProcess(Deno.execPath(), [
    "run",
    `--allow-net=127.0.0.1:${port}`,
    `--allow-read=${dir}`,
    `--allow-write=${dir}`,
    FIXTURE,
    "export",
    "--dir",
    dir,
    "--port",
    String(port),
    "--retire-after",
    "1500",
    "--dead-after",
    "600",
  ], { cwd: ROOT });
  const writers = [100, 200, 300].map((increments, i) =>
    startWriter(dir, [
      "--increments",
      String(increments),
      "--interval",
      "100",
      ...(i === 2 ? ["--exit"] : []),
    ])
  );
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const scrape = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, { client });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return text;
  };
  try {
    await Promise.all(writers.map(waitPublished));
    await writers[2].status; // The third one exits normally: its snapshot is final.
    await waitFor(async () => (await scrape()).length > 0, { what: "the exporter" });
    let text = await scrape();
    assert.equal(sample(text, "jobs_total"), 600, text);
    assert.equal(sample(text, "job_duration_seconds_count"), 600, text);
    assert.equal(sample(text, 'job_duration_seconds_bucket{le="0.1"}'), 300, text);
    assert.equal(sample(text, "processes_up"), 2, "the exited writer is not alive");
    assert.equal(sample(text, "processes_ever"), 3);
    assert.equal(sample(text, "metrics_directory_read_errors_total"), 0);
    assert.ok((await listDir(dir)).includes("retired.json"), "the exited writer was retired");

    writers[1].kill("SIGKILL");
    await writers[1].status;
    await sleep(700); // > --dead-after: the killed writer's file is stale
    text = await scrape();
    assert.equal(sample(text, "jobs_total"), 600, "a killed process's counts stay");
    assert.equal(sample(text, "processes_up"), 1, "livesum drops the killed process");
    assert.equal(
      text.split("\n").filter((line) => line.startsWith("process_seen{")).length,
      1,
      "liveall drops it too",
    );
    await sleep(1000); // > --retire-after: its file is folded into retired.json
    text = await scrape();
    assert.equal(sample(text, "jobs_total"), 600);
    const files = (await listDir(dir)).filter((name) => name.startsWith("snapshot-"));
    assert.equal(files.length, 1, files.join());
    assert.ok(files[0].startsWith(`snapshot-${writers[0].pid}-`), "only the live writer's file");
  } finally {
    client.close();
    await Promise.all([...writers, exporter].map((process) => process.stop()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writers killed with SIGKILL mid-write never leave a file that breaks the scrape", async () => {
  const dir = await Deno.makeTempDir();
  const collector = directoryCollector({ dir, retireAfterMs: 600_000 });
  const rounds = 8;
  let leftoverTemps = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      // 3000 series make each write tens of kilobytes; an interval of 1 ms keeps it writing.
      const writer = startWriter(dir, [
        "--increments",
        "10",
        "--interval",
        "1",
        "--series",
        "3000",
      ]);
      try {
        await waitPublished(writer);
        await sleep(20 + Math.random() * 200);
      } finally {
        writer.kill("SIGKILL");
        await writer.stop();
      }
      const families = await collector.collect();
      assert.equal(valueOf(families, "jobs"), 10 * round, `round ${round}`);
      assert.equal(collector.readErrors, 0, `round ${round}: no file was unreadable`);
      leftoverTemps = (await listDir(dir)).filter((name) => name.endsWith(".tmp")).length;
    }
    console.log(`${rounds} kills left ${leftoverTemps} temporary files of writes cut short`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/multiprocess.ts: three job processes, one merged view", async () => {
  const { code, stdout, stderr } = await run(Deno.execPath(), [
    "run",
    "--allow-run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "examples/multiprocess.ts",
    "--jobs",
    "400",
  ], { cwd: ROOT });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^job processes exited with codes 0, 0, 0$/m);
  assert.match(stdout, /^jobs_processed_total 1200\.0$/m);
});
