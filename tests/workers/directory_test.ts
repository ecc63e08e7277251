// Directory mode: publishers and collectors in this process first; then three separate
// `deno run` writers and one exporter process with only --allow-read/--allow-write on the
// directory; then writers killed with SIGKILL in the middle of their writes.
import assert from "node:assert/strict";
import { Counter, Gauge, Registry } from "../../mod.ts";
import { directoryCollector, publishToDirectory } from "../../src/workers/mod.ts";
import {
  freePort,
  type ManagedProcess,
  run,
  sleep,
  startProcess,
  waitFor,
} from "../support/process.ts";
import { listDir, sample, valueOf } from "../support/workers_support.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
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
    // The lock of a writer killed before its first snapshot, and one of a writer still starting.
    await Deno.writeTextFile(`${dir}/.snapshot-4-abf.lock`, "");
    await Deno.writeTextFile(`${dir}/.snapshot-5-ac0.lock`, "");
    const reports: string[] = [];
    const exporter = directoryCollector({
      dir,
      retireAfterMs: 60_000,
      onError: (error) => reports.push(error.message),
    });
    const families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 5);
    assert.equal(exporter.readErrors, 2);
    assert.equal(reports.length, 2, "each unreadable file is reported");
    assert.equal(valueOf(families, "metrics_directory_read_errors"), 2);

    // Once old enough, leftovers of killed writers and unreadable files are removed.
    const old = new Date(Date.now() - 3_600_000);
    for (
      const name of ["snapshot-1-abc.json", ".snapshot-3-abe.json.1234.tmp", ".snapshot-4-abf.lock"]
    ) {
      await Deno.utime(`${dir}/${name}`, old, old);
    }
    await exporter.collect();
    const names = await listDir(dir);
    assert.ok(!names.includes("snapshot-1-abc.json"), names.join());
    assert.ok(!names.includes(".snapshot-3-abe.json.1234.tmp"), names.join());
    assert.ok(!names.includes(".snapshot-4-abf.lock"), names.join());
    assert.ok(names.includes(".snapshot-5-ac0.lock"), "a recent lock file is left alone");
    assert.ok(names.includes("snapshot-2-abd.json"), "a recent unreadable file is left alone");
    assert.ok(names.includes("notes.txt"), "files not named like snapshots are never touched");
    const quiet = directoryCollector({ dir, exposeReadErrors: false, onError: () => {} });
    assert.equal(
      valueOf(await quiet.collect(), "metrics_directory_read_errors"),
      undefined,
    );
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a directory that does not exist yet is an empty view, reported once", async () => {
  const reports: string[] = [];
  const dir = `/tmp/does-not-exist-${crypto.randomUUID()}`;
  const collector = directoryCollector({ dir, onError: (error) => reports.push(error.message) });
  for (let scrape = 0; scrape < 3; scrape++) {
    const families = await collector.collect();
    assert.deepEqual(families.map((family) => family.name), ["metrics_directory_read_errors"]);
  }
  assert.equal(reports.length, 1, reports.join("\n"));
  assert.match(reports[0], new RegExp(`^metrics directory ${dir} cannot be read: No such file`));
});

Deno.test("bad options are clear errors", () => {
  assert.throws(() => directoryCollector({} as { dir: string }), {
    name: "TypeError",
    message: 'directoryCollector needs a directory: { dir: "/path/to/metrics" }',
  });
  assert.throws(() => publishToDirectory({ dir: "/tmp/x", intervalMs: 0 }), {
    name: "RangeError",
    message: "publishToDirectory: intervalMs must be a positive number of milliseconds, got 0",
  });
  assert.throws(() => directoryCollector({ dir: "/tmp/x", workerLabel: "__bad" }), TypeError);
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

// --- a hostile or broken directory ---

/** Rejects when `promise` takes longer than `ms`: a blocked read fails the test, never hangs it. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("only regular files are read: a FIFO, a link to /dev/zero and a huge file are refused", async () => {
  const dir = await Deno.makeTempDir();
  const a = publishToDirectory({ dir, registry: makeProcessRegistry(5), workerId: "a" });
  const reports: string[] = [];
  try {
    await a.flush();
    const mkfifo = await new Deno.Command("mkfifo", { args: [`${dir}/snapshot-1-aaa.json`] })
      .output();
    assert.equal(mkfifo.code, 0, "mkfifo");
    await Deno.symlink("/dev/zero", `${dir}/snapshot-2-bbb.json`);
    await Deno.writeTextFile(`${dir}/snapshot-3-ccc.json`, " ".repeat(200_000));
    const exporter = directoryCollector({
      dir,
      maxFileBytes: 100_000,
      onError: (error) => reports.push(error.message),
    });
    for (let scrape = 0; scrape < 3; scrape++) {
      const families = await within(5000, exporter.collect(), "a scrape");
      assert.equal(valueOf(families, "jobs"), 5);
    }
    assert.equal(exporter.readErrors, 9, "three files skipped at each of three scrapes");
    assert.deepEqual(reports.sort(), [
      `metrics directory: ${dir}/snapshot-1-aaa.json: not a regular file (a link, FIFO, ` +
      "device or directory): not read",
      `metrics directory: ${dir}/snapshot-2-bbb.json: not a regular file (a link, FIFO, ` +
      "device or directory): not read",
      `metrics directory: ${dir}/snapshot-3-ccc.json: 200000 bytes, more than maxFileBytes ` +
      "(100000): not read",
    ], "each once, not once per scrape");
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a truncated snapshot: its last good data stays counted, reported once per streak", async () => {
  const dir = await Deno.makeTempDir();
  const registry = makeProcessRegistry(5);
  const a = publishToDirectory({ dir, registry, workerId: "a", intervalMs: 60_000 });
  const reports: string[] = [];
  try {
    const exporter = directoryCollector({ dir, onError: (error) => reports.push(error.message) });
    await a.flush();
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
    const whole = await Deno.readTextFile(a.path);
    await Deno.writeTextFile(a.path, whole.slice(0, whole.length / 2)); // cut short
    for (let scrape = 0; scrape < 3; scrape++) {
      assert.equal(valueOf(await exporter.collect(), "jobs"), 5, "the counter never goes back");
    }
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0], /snapshot-.*\.json/);
    assert.equal(exporter.readErrors, 3);

    await a.flush(); // readable again: the streak ends
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
    await Deno.writeTextFile(a.path, "garbage");
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
    assert.equal(reports.length, 2, "a new streak is reported again");
  } finally {
    await a.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a garbage retired.json: the retired counts stay, nothing is retired over it", async () => {
  const dir = await Deno.makeTempDir();
  const a = publishToDirectory({ dir, registry: makeProcessRegistry(3), workerId: "a" });
  const b = publishToDirectory({ dir, registry: makeProcessRegistry(4), workerId: "b" });
  const c = publishToDirectory({ dir, registry: makeProcessRegistry(10), workerId: "c" });
  const reports: string[] = [];
  try {
    const exporter = directoryCollector({ dir, onError: (error) => reports.push(error.message) });
    await Promise.all([a.flush(), c.flush()]);
    await b.close();
    assert.equal(valueOf(await exporter.collect(), "jobs"), 17); // b is retired here
    assert.equal(valueOf(await exporter.collect(), "jobs"), 17);
    await Deno.writeTextFile(`${dir}/retired.json`, '{"format":"deno-prometheus-retired/2","ins');
    await c.close(); // would be retired, but not over a retired.json that cannot be read
    for (let scrape = 0; scrape < 3; scrape++) {
      assert.equal(valueOf(await exporter.collect(), "jobs"), 17, "never backwards");
    }
    assert.equal(
      await Deno.readTextFile(`${dir}/retired.json`),
      '{"format":"deno-prometheus-retired/2","ins',
      "left as it is",
    );
    assert.ok((await listDir(dir)).includes(c.path.slice(dir.length + 1)), "c's file stays");
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0], /retired\.json: .*the data it held last is kept/);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a metrics directory that cannot be made: reported once per streak, never thrown; a removed one is made again", async () => {
  const base = await Deno.makeTempDir();
  await Deno.writeTextFile(`${base}/file`, "a file where a directory should be");
  const dir = `${base}/file/metrics`;
  const reports: string[] = [];
  const a = publishToDirectory({
    dir,
    registry: makeProcessRegistry(1),
    intervalMs: 60_000,
    onError: (error) => reports.push(error.message),
  });
  try {
    for (let i = 0; i < 3; i++) await a.flush();
    assert.ok(a.writeErrors >= 3);
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0], new RegExp(`^publishToDirectory: cannot write ${a.path}: `));
    assert.match(reports[0], /missing from the merged view until a write succeeds$/);
    await Deno.remove(`${base}/file`);
    await Deno.mkdir(`${base}/file`);
    await a.flush(); // works again: the streak ends
    const lockName = `.${a.path.slice(dir.length + 1).replace(/\.json$/, ".lock")}`;
    assert.deepEqual(
      (await listDir(dir)).filter((name) => name !== ".retire.lock"),
      [lockName, a.path.slice(dir.length + 1)],
      "the snapshot, and the lifetime lock taken late",
    );
    await Deno.remove(dir, { recursive: true }); // removed (a cleaned /tmp): made again
    await a.flush();
    assert.deepEqual(await listDir(dir), [lockName, a.path.slice(dir.length + 1)]);
    await Deno.remove(`${base}/file`, { recursive: true });
    await Deno.writeTextFile(`${base}/file`, "a file again");
    await a.flush();
    assert.equal(reports.length, 2, "a new streak is reported again");
  } finally {
    await a.close();
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("a retirement that cannot be written is reported once; the counts stay", async () => {
  const dir = await Deno.makeTempDir();
  const reports: string[] = [];
  const b = publishToDirectory({ dir, registry: makeProcessRegistry(4), onError: () => {} });
  try {
    await Deno.mkdir(`${dir}/.retire.lock`); // the lock cannot be opened: no retirement
    await b.close();
    const exporter = directoryCollector({ dir, onError: (error) => reports.push(error.message) });
    for (let scrape = 0; scrape < 3; scrape++) {
      assert.equal(valueOf(await exporter.collect(), "jobs"), 4);
    }
    assert.equal(reports.length, 1, reports.join("\n"));
    assert.match(reports[0], /cannot retire the files of exited processes/);
  } finally {
    await b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// --- paused, killed and resumed writers (real processes) ---

/** Sends SIGUSR1 (one more job) and waits until the writer says it wrote `total`. */
async function countOneMore(writer: ManagedProcess, total: number): Promise<void> {
  writer.kill("SIGUSR1");
  await waitFor(() => writer.output().includes(`counted ${total}\n`), {
    timeoutMs: 10_000,
    what: `the writer's job ${total}\n${writer.output()}`,
  });
}

const snapshotFiles = async (dir: string) =>
  (await listDir(dir)).filter((name) => name.startsWith("snapshot-"));

/**
 * Runs `test` with a writer process (5 jobs, a write every 100 ms) that has published into a
 * fresh directory; always continues and stops it, and removes the directory.
 */
async function withWriter(
  test: (dir: string, writer: ManagedProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const writer = startWriter(dir, ["--increments", "5", "--interval", "100"]);
  try {
    await waitPublished(writer);
    await test(dir, writer);
  } finally {
    writer.kill("SIGCONT");
    await writer.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a writer stopped past retireAfterMs still holds its lock: never retired, its counts go on", () =>
  withWriter(async (dir, writer) => {
    const exporter = directoryCollector({ dir, deadAfterMs: 200, retireAfterMs: 400 });
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
    writer.kill("SIGSTOP");
    await sleep(1000);
    let families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 5);
    assert.equal(valueOf(families, "processes_up"), 1, "a stopped process is still running");
    assert.equal((await snapshotFiles(dir)).length, 1, "and its file is not retired");
    assert.ok(!(await listDir(dir)).includes("retired.json"));
    writer.kill("SIGCONT");
    await countOneMore(writer, 6);
    families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 6);
  }));

Deno.test("a writer stopped past retireAfterMs without a lock file: retired, then only its new increments count", () =>
  withWriter(async (dir, writer) => {
    // As on a file system without locks: the exporter can only go by the file's age.
    for (const name of await listDir(dir)) {
      if (name.startsWith(".snapshot-")) await Deno.remove(`${dir}/${name}`);
    }
    const exporter = directoryCollector({ dir, deadAfterMs: 200, retireAfterMs: 400 });
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
    writer.kill("SIGSTOP");
    await sleep(1000);
    let families = await exporter.collect(); // cannot tell it from a dead one: retired
    assert.equal(valueOf(families, "jobs"), 5);
    assert.equal(valueOf(families, "processes_up"), undefined, "counted as dead meanwhile");
    assert.deepEqual(await snapshotFiles(dir), [], "its file was folded into retired.json");
    writer.kill("SIGCONT");
    await waitFor(async () => (await snapshotFiles(dir)).length === 1, {
      what: "the resumed writer's next write",
    });
    for (let scrape = 0; scrape < 3; scrape++) {
      families = await exporter.collect();
      assert.equal(valueOf(families, "jobs"), 5, "its old counts are not counted twice");
      assert.equal(valueOf(families, "processes_up"), 1, "it is live again");
      assert.equal(valueOf(families, "processes_ever"), 1, "a sum gauge is not counted twice");
    }
    await countOneMore(writer, 6);
    assert.equal(valueOf(await exporter.collect(), "jobs"), 6, "its new increment counts");
    await countOneMore(writer, 7);
    // Another exporter, started now, sees the same: retired.json carries what was counted.
    const fresh = directoryCollector({ dir, deadAfterMs: 200, retireAfterMs: 400 });
    assert.equal(valueOf(await fresh.collect(), "jobs"), 7);
    assert.equal(valueOf(await exporter.collect(), "jobs"), 7);
  }));

Deno.test("a writer killed releases its lock: dead and retired at once, its counts stay", () =>
  withWriter(async (dir, writer) => {
    const exporter = directoryCollector({ dir, retireAfterMs: 600_000 });
    assert.equal(valueOf(await exporter.collect(), "processes_up"), 1);
    writer.kill("SIGKILL");
    await writer.status;
    const families = await exporter.collect();
    assert.equal(valueOf(families, "jobs"), 5);
    assert.equal(valueOf(families, "processes_up"), undefined, "not live, without waiting");
    assert.deepEqual(await snapshotFiles(dir), [], "retired without waiting retireAfterMs");
    assert.deepEqual(
      (await listDir(dir)).filter((name) => name.startsWith(".snapshot-")),
      [],
      "its lock file is removed",
    );
    assert.equal(valueOf(await exporter.collect(), "jobs"), 5);
  }));
