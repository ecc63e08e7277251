// writeToTextfile(): the registry's text, atomically replaced, accepted by promtool.
import assert from "node:assert/strict";
import { type Collector, Counter, Gauge, Histogram, Registry, writeToTextfile } from "../mod.ts";
import { freePort, missingTool, run } from "./support/process.ts";
import { promtoolCheckMetrics } from "./support/python.ts";

function jobRegistry(): Registry {
  const registry = new Registry();
  new Gauge({
    name: "backup_last_success_timestamp_seconds",
    help: "When the backup last succeeded.",
    registry,
  }).set(1700000000);
  new Counter({ name: "backup_files_total", help: "Files backed up.", registry }).inc(1234);
  new Histogram({
    name: "backup_duration_seconds",
    help: "Backup durations.",
    buckets: [60, 600],
    registry,
  }).observe(95);
  return registry;
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-textfile-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("writes exactly the registry's text format, with mode 0644", async () => {
  await withTempDir(async (dir) => {
    const registry = jobRegistry();
    const path = `${dir}/backup.prom`;
    await writeToTextfile(path, registry);
    assert.equal(await Deno.readTextFile(path), await registry.metrics());
    assert.equal((await Deno.stat(path)).mode! & 0o022, 0, "not group/world writable");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["backup.prom"]);
  });
});

Deno.test({
  name: "promtool check metrics accepts the file",
  ignore: missingTool("promtool"),
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/backup.prom`;
      await writeToTextfile(path, jobRegistry());
      const result = await promtoolCheckMetrics(await Deno.readTextFile(path));
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.equal(result.stdout + result.stderr, "");
    });
  },
});

Deno.test("the file is replaced by a rename: a new inode, never rewritten in place", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/job.prom`;
    await Deno.writeTextFile(path, "# old content\n");
    const before = await Deno.stat(path);
    // Held open, as a reader in the middle of reading would be.
    using reader = await Deno.open(path);
    await writeToTextfile(path, jobRegistry());
    const after = await Deno.stat(path);
    assert.notEqual(after.ino, before.ino, "a new file took the name");
    // The reader that opened the old file still reads all of the old file.
    const old = new Uint8Array(64);
    const n = await reader.read(old);
    assert.equal(new TextDecoder().decode(old.subarray(0, n!)), "# old content\n");
  });
});

Deno.test("a reader polling the file only ever sees a whole file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/big.prom`;
    const registry = new Registry();
    const gauge = new Gauge({ name: "big", help: "big", labelNames: ["i"], registry });
    for (let i = 0; i < 5000; i++) gauge.labels(String(i)).set(i);
    await writeToTextfile(path, registry);
    const whole = await registry.metrics();
    let reads = 0;
    let writing = true;
    const polling = (async () => {
      while (writing) {
        const text = await Deno.readTextFile(path);
        assert.equal(text.length, whole.length, "a partial file was visible");
        reads++;
      }
    })();
    for (let round = 0; round < 20; round++) await writeToTextfile(path, registry);
    writing = false;
    await polling;
    assert.ok(reads > 0);
  });
});

Deno.test("a failing collector leaves the old file as it was, and no temporary file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/job.prom`;
    await Deno.writeTextFile(path, "# old content\n");
    const registry = new Registry();
    const failing: Collector = {
      collect: () => {
        throw new Error("collector broke");
      },
    };
    registry.register(failing);
    await assert.rejects(() => writeToTextfile(path, registry), /collector broke/);
    assert.equal(await Deno.readTextFile(path), "# old content\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["job.prom"]);
  });
});

Deno.test("a collector that never settles: rejected at timeoutMs naming the path, old file kept", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/job.prom`;
    await Deno.writeTextFile(path, "# old content\n");
    const registry = jobRegistry();
    registry.register({ collect: () => new Promise<never>(() => {}) });
    await assert.rejects(() => writeToTextfile(path, registry, { timeoutMs: 50 }), {
      message: new RegExp(`could not write "${path}".*timeoutMs \\(50 ms\\)`),
    });
    assert.equal(await Deno.readTextFile(path), "# old content\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["job.prom"]);
  });
});

Deno.test("a collection settling after the deadline never replaces the file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/job.prom`;
    await Deno.writeTextFile(path, "# old content\n");
    const registry = jobRegistry();
    let settle: (families: []) => void = () => {};
    let collected = false;
    registry.register({
      collect: () =>
        new Promise<[]>((resolve) => {
          settle = (families) => {
            collected = true;
            resolve(families);
          };
        }),
    });
    await assert.rejects(() => writeToTextfile(path, registry, { timeoutMs: 20 }), /timeoutMs/);
    settle([]);
    // Give the abandoned work every chance to write and rename: it must do neither.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(collected);
    assert.equal(await Deno.readTextFile(path), "# old content\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["job.prom"]);
  });
});

Deno.test("timeoutMs must be a positive number of milliseconds", async () => {
  for (const timeoutMs of [0, -1, NaN, Infinity, "5" as unknown as number]) {
    await assert.rejects(
      () => writeToTextfile("/tmp/never-written.prom", new Registry(), { timeoutMs }),
      RangeError,
    );
  }
});

Deno.test("an unwritable target is an error naming the path; no temporary file is left", async () => {
  await withTempDir(async (dir) => {
    const missing = `${dir}/no/such/dir/job.prom`;
    await assert.rejects(() => writeToTextfile(missing, jobRegistry()), {
      message: new RegExp(`could not write "${missing}"`),
    });
    // The target is a directory: the rename fails after the temporary file was written.
    await Deno.mkdir(`${dir}/taken.prom`);
    await Deno.writeTextFile(`${dir}/taken.prom/x`, "x");
    await assert.rejects(
      () => writeToTextfile(`${dir}/taken.prom`, jobRegistry()),
      /could not write/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((entry) => entry.name), ["taken.prom"]);
  });
  await assert.rejects(() => writeToTextfile("", new Registry()), TypeError);
  // @ts-expect-error: wrong type on purpose
  await assert.rejects(() => writeToTextfile("/tmp/x.prom", {}), TypeError);
});

Deno.test("the demo's --textfile writes the guide's histogram for node_exporter", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/demo.prom`;
    const result = await run(Deno.execPath(), [
      "run",
      "--allow-net",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      new URL("../examples/demo.ts", import.meta.url).pathname,
      ...["--runs", "2", "--max-sleep", "0.05", "--linger", "0", "--port", String(freePort())],
      ...["--textfile", path],
    ], { env: { NO_COLOR: "1" } });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, new RegExp(`^metrics written to ${path} for node_exporter$`, "m"));
    const text = await Deno.readTextFile(path);
    assert.match(text, /^job_duration_seconds_count\{job_name="test_job"\} 2\.0$/m);
    if (!missingTool("promtool")) {
      const check = await promtoolCheckMetrics(text);
      assert.equal(check.code, 0, check.stdout + check.stderr);
    }
  });
});
