// Concurrent scrapes of a directory collector share one pass over the directory: at most one
// pass runs at a time, so a hung file system never has passes pile up, one per scrape.
import assert from "node:assert/strict";
import { Counter, Registry } from "../../mod.ts";
import { directoryCollector, publishToDirectory } from "../../src/workers/mod.ts";
import { valueOf } from "../support/workers_support.ts";

Deno.test("10 concurrent collections of a directory make at most 2 passes over it, each complete", async () => {
  const dir = await Deno.makeTempDir({ prefix: "directory-sharing-" });
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "jobs", registry }).inc(3);
  const publisher = publishToDirectory({ dir, registry, intervalMs: 60_000 });
  const readDir = Deno.readDir;
  let passes = 0;
  try {
    await publisher.flush();
    const collector = directoryCollector({ dir, exposeReadErrors: false });
    Deno.readDir = (path) => {
      passes++;
      return readDir(path);
    };
    const views = await Promise.all(Array.from({ length: 10 }, () => collector.collect()));
    for (const families of views) {
      assert.equal(valueOf(families, "jobs"), 3);
    }
    assert.ok(passes <= 2, `${passes} passes over the directory for 10 concurrent collections`);
  } finally {
    Deno.readDir = readDir;
    await publisher.close();
    await Deno.remove(dir, { recursive: true });
  }
});
