// Issue 20, point 3: an aggregator's memory does not grow with the number of workers that ever
// lived, and a retired worker's late message never counts it twice, even once forgotten.
import assert from "node:assert/strict";
import { runMeasuringScript } from "../support/process.ts";

const MOD_URL = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);
const WORKERS_URL = JSON.stringify(new URL("../../src/workers/mod.ts", import.meta.url).href);
const CODEC_URL = JSON.stringify(new URL("../../src/workers/codec.ts", import.meta.url).href);

/**
 * Runs `body` in a child Deno with a forced GC, after a prelude that makes an aggregator
 * retiring peers fast, a bare channel posing as the peers, and helpers; returns its JSON line.
 */
async function inChild(body: string): Promise<Record<string, number>> {
  const script = `
    import { Counter, Registry } from ${MOD_URL};
    import { aggregateWorkers } from ${WORKERS_URL};
    import { encodeSnapshot } from ${CODEC_URL};
    const usage = () => { gc(); gc(); return Deno.memoryUsage().heapUsed; };
    const channelName = "churn-" + crypto.randomUUID();
    const aggregator = aggregateWorkers({
      registry: new Registry(), channelName, workerId: "exporter",
      publishIntervalMs: 5, deadAfterMs: 1, retireAfterMs: 60000, onError: () => {},
    });
    const peers = new BroadcastChannel(channelName);
    const one = new Registry();
    new Counter({ name: "jobs_total", help: "jobs", registry: one }).inc();
    const snapshot = encodeSnapshot(await one.collect());
    /** A worker's only message: its snapshot (one job done) marked final. */
    const goodbye = (instance, startedMs, final = true) => peers.postMessage({
      protocol: "deno-prometheus-workers/1", kind: "snapshot", from: "w-" + instance.slice(0, 8),
      instance, startedMs, sequence: 1, snapshot, final,
    });
    let probes = 0;
    let answered = () => {};
    peers.onmessage = ({ data }) => {
      if (data.replyTo?.some((reply) => reply.instance === "probe" && reply.requestId === probes)) {
        answered();
      }
    };
    /** Waits until the aggregator read every message posted so far and retired every peer. */
    const settle = async () => {
      // Delivered in order: once the aggregator answers this request, it read all before it.
      const read = new Promise((resolve) => (answered = resolve));
      peers.postMessage({
        protocol: "deno-prometheus-workers/1", kind: "request", from: "probe", instance: "probe",
        requestId: ++probes,
      });
      await read;
      while (aggregator.peers().length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    const jobs = async () => (await aggregator.collect())
      .find((family) => family.name === "jobs").points.reduce((sum, point) => sum + point.value, 0);
    ${body}
    peers.close();
    aggregator[Symbol.dispose]();
  `;
  return await runMeasuringScript(script);
}

Deno.test("1M workers coming and going grow an aggregator's heap by less than 5 MB", async () => {
  const result = await inChild(`
    await settle();
    const before = usage();
    const workers = 1_000_000;
    for (let sent = 0; sent < workers; sent += 10_000) {
      for (let i = 0; i < 10_000; i++) goodbye(crypto.randomUUID(), Date.now());
      await settle();
    }
    const after = usage();
    console.log(JSON.stringify({ grown: after - before, jobs: await jobs() }));
  `);
  assert.equal(result.jobs, 1_000_000, "every worker counted, once");
  console.log(`heap growth after 1M workers: ${result.grown} bytes`);
  assert.ok(result.grown < 5 * 1024 * 1024, `the heap grew by ${result.grown} bytes`);
});

Deno.test("a retired worker speaking again is not counted again, remembered or forgotten", async () => {
  const result = await inChild(`
    const first = crypto.randomUUID();
    const firstStartedMs = Date.now();
    goodbye(first, firstStartedMs);
    await settle();
    goodbye(first, firstStartedMs, false); // still remembered: refused
    await settle();
    const remembered = await jobs();
    // 20 000 younger workers retire: the first one is forgotten by id.
    for (let i = 0; i < 20_000; i++) goodbye(crypto.randomUUID(), Date.now());
    await settle();
    goodbye(first, firstStartedMs, false);
    await settle();
    const forgotten = await jobs();
    // A worker starting now is new, and counted.
    await new Promise((resolve) => setTimeout(resolve, 2));
    goodbye(crypto.randomUUID(), Date.now());
    await settle();
    console.log(JSON.stringify({ remembered, forgotten, fresh: await jobs() }));
  `);
  assert.deepEqual(result, { remembered: 1, forgotten: 20_001, fresh: 20_002 });
});
