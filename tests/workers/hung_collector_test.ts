// Issue 20, point 2 on the worker paths: a worker's own collector that never settles stops
// nothing for good — a scrape fails (reported), and close() and flush() still resolve.
import assert from "node:assert/strict";
import { aggregateWorkers, publishToDirectory } from "../../src/workers/mod.ts";

/** A source whose collections never settle. */
const hungSource = { collect: () => new Promise<never>(() => {}) };

Deno.test("aggregateWorkers: a hung collector fails the scrape after the deadline; close() resolves", async () => {
  const cluster = aggregateWorkers({
    registry: hungSource,
    channelName: `hung-${crypto.randomUUID()}`,
    workerId: "hung",
    publishIntervalMs: 60_000,
  });
  // Both at once: close() would otherwise wait for ever for its final snapshot.
  const [scrape, closing] = await Promise.allSettled([cluster.collect(), cluster.close()]);
  assert.equal(closing.status, "fulfilled");
  assert.equal(scrape.status, "rejected");
  assert.match(String(scrape.reason), /worker hung: the collection did not settle/);
});

Deno.test("publishToDirectory: a hung collector is a failed write; close() resolves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hung-collector-" });
  const errors: Error[] = [];
  const publisher = publishToDirectory({
    dir,
    registry: hungSource,
    intervalMs: 60_000,
    onError: (error) => errors.push(error),
  });
  try {
    // The first write (started by publishToDirectory) and the final one both fail in time.
    await publisher.close();
    assert.equal(publisher.writeErrors, 2);
    assert.match(String(publisher.lastError), /did not settle within/);
    assert.equal(errors.length, 1, "reported once per streak");
    assert.match(errors[0].message, /cannot write .*did not settle/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
