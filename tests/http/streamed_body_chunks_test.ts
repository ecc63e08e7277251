/**
 * The chunks of a streamed scrape belong to whoever reads the `Response` once they are handed
 * over: Deno's server, for one, still reads a chunk after the stream was pulled for the next
 * one. So the renderer never gives such a chunk back to its pool; a chunk that went back
 * would be written over by a later render. This test reads a streamed body the way such a
 * consumer does, keeping every chunk without copying it, while other renders churn the pool.
 */

import assert from "node:assert/strict";
import { Counter, metricsHandler, Registry } from "../../mod.ts";
import { renderRegistryBytes } from "../../src/exposition/registry_render.ts";

Deno.test("chunks handed to a streamed response are never reused", async () => {
  const registry = new Registry();
  const counter = new Counter({
    name: "requests_total",
    help: "requests",
    labelNames: ["method", "route"],
    registry,
    maxSeries: Infinity,
  });
  // About 2.5 MB of text: some 40 chunks, streamed rather than sent whole.
  for (let i = 0; i < 40_000; i++) counter.labels(`m${i % 7}`, `/route/${i}`).inc(i);
  const expected = await registry.metrics();
  // Another registry whose renders hand their chunks back to the pool between reads.
  const other = new Registry();
  const otherCounter = new Counter({
    name: "other_total",
    help: "x",
    labelNames: ["id"],
    registry: other,
  });
  for (let i = 0; i < 5_000; i++) otherCounter.labels(`id-${i}`).inc();

  const handle = metricsHandler({ registry, compression: false, format: "text" });
  const responses = [
    await handle(new Request("http://localhost/metrics")),
    await handle(new Request("http://localhost/metrics")),
  ];
  for (const response of responses) {
    assert.equal(response.headers.get("content-length"), null, "the body is streamed");
  }
  const readers = responses.map((response) => response.body!.getReader());
  const kept: Uint8Array[][] = [[], []];
  let open = readers.length;
  while (open > 0) {
    open = 0;
    for (const [i, reader] of readers.entries()) {
      const part = await reader.read();
      if (part.done) continue;
      open++;
      kept[i].push(part.value); // kept as it is, not copied
      await renderRegistryBytes(other, { format: "text" });
    }
  }
  const decoder = new TextDecoder();
  for (const chunks of kept) {
    assert.ok(chunks.length > 10, `expected a streamed body, got ${chunks.length} chunks`);
    const text = chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("");
    assert.equal(text.length, expected.length);
    assert.ok(text === expected, "a body read as streamed differs from the snapshot render");
  }
});
