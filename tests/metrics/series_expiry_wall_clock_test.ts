// Idle expiry measures idleness on the monotonic clock: a step of the wall clock (NTP, a
// suspended VM, an operator) neither expires a series updated a moment ago nor stops the sweeps.
import assert from "node:assert/strict";
import { runMeasuringScript } from "../support/process.ts";

const MOD_URL = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);

/** In a child whose `Date.now` the script steps before the library is loaded. */
function withSteppedWallClock(expireAfterMs: number, body: string) {
  return runMeasuringScript<{ before: boolean; after: boolean }>(`
    let wall = Date.now();
    Date.now = () => wall;
    const { Counter, Registry } = await import(${MOD_URL});
    const registry = new Registry({ expireAfterMs: ${expireAfterMs} });
    const counter = new Counter({ name: "jobs_total", help: "h", labelNames: ["job"], registry });
    counter.labels("backup").inc();
    const present = async () => (await registry.metrics()).includes('job="backup"');
    const before = await present(); // this scrape's sweep sees the series
    ${body}
    console.log(JSON.stringify({ before, after: await present() }));
  `);
}

Deno.test("a wall clock stepping a day forward expires no series updated a moment ago", async () => {
  const result = await withSteppedWallClock(60_000, "wall += 86_400_000;");
  assert.deepEqual(result, { before: true, after: true });
});

Deno.test("a wall clock stepping a day back does not keep an idle series for a day", async () => {
  // Idle for twice expireAfterMs on the monotonic clock; on a wall clock stepped back a day it
  // would stay for a day more.
  const result = await withSteppedWallClock(
    100,
    `
    wall -= 86_400_000;
    const start = performance.now();
    while (performance.now() - start < 200) await new Promise((resolve) => setTimeout(resolve, 10));
  `,
  );
  assert.deepEqual(result, { before: true, after: false });
});
