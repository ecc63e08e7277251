// End to end: a real Prometheus scraping through an expiry sees the series go stale and come
// back (from zero, with a new _created), another series stays, and rate() over the gap is right.
import assert from "node:assert/strict";
import { Counter, metricsHandler, Registry } from "../../mod.ts";
import { missingTool } from "../support/process.ts";
import { type PromSample, startPrometheus } from "../support/prometheus.ts";

function singleValue(samples: PromSample[]): number | undefined {
  return samples.length === 1 ? Number(samples[0].value[1]) : undefined;
}

/** The raw samples of a range query `selector[window]`, as [seconds, value]. */
async function rawSamples(
  prometheus: { queryRaw(promql: string): Promise<{ result: unknown }> },
  selector: string,
): Promise<[number, number][]> {
  const data = await prometheus.queryRaw(`${selector}[10m]`);
  const result = data.result as { values: [number, string][] }[];
  assert.equal(result.length, 1, selector);
  return result[0].values.map(([time, value]) => [time, Number(value)]);
}

Deno.test({
  name: "Prometheus sees an expired series go stale and come back, and rate() over it is right",
  ignore: missingTool("prometheus"),
  fn: async () => {
    const registry = new Registry({ expireAfterMs: 2000 });
    const jobs = new Counter({ name: "jobs_total", help: "jobs", labelNames: ["task"], registry });
    const held = jobs.labels("idle");
    const steady = jobs.labels("steady");
    steady.inc();
    const ticker = setInterval(() => steady.inc(), 100);
    // The idle series is updated until Prometheus has it, then no more.
    let idleTicker: ReturnType<typeof setInterval> | undefined = setInterval(() => held.inc(), 200);
    const handle = metricsHandler({ registry });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
    const address = `127.0.0.1:${server.addr.port}`;
    const prometheus = await startPrometheus({ scrapeTargets: [address] });
    try {
      const idle = 'jobs_total{task="idle"}';
      await prometheus.waitForQuery(idle, (s) => singleValue(s)! >= 1);
      clearInterval(idleTicker);
      idleTicker = undefined;
      const last = held.value;
      await prometheus.waitForQuery(idle, (s) => singleValue(s) === last);
      const createdBefore = await prometheus.waitForQuery(
        'jobs_created{task="idle"}',
        (s) => s.length === 1,
      );
      // No more updates: the series leaves our scrapes, and Prometheus marks it stale.
      await prometheus.waitForQuery(idle, (s) => s.length === 0);
      assert.doesNotMatch(await registry.metrics(), /task="idle"/);
      // The held child's next update brings it back, from zero.
      held.inc(5);
      await prometheus.waitForQuery(idle, (s) => singleValue(s) === 5);
      const createdAfter = await prometheus.waitForQuery(
        'jobs_created{task="idle"}',
        (s) => s.length === 1 && s[0].value[1] !== createdBefore[0].value[1],
      );
      assert.ok(Number(createdAfter[0].value[1]) > Number(createdBefore[0].value[1]));

      // rate() over the gap: one reset (the new series), and the increase is what was recorded
      // (up to `last`, then 5 after the reset), scaled only by Prometheus' extrapolation to the window.
      const samples = await rawSamples(prometheus, idle);
      let raw = 0;
      for (let i = 1; i < samples.length; i++) {
        const [, before] = samples[i - 1];
        const [, after] = samples[i];
        raw += after < before ? after : after - before;
      }
      assert.equal(raw, last - samples[0][1] + 5, JSON.stringify(samples));
      assert.equal(singleValue(await prometheus.query(`resets(${idle}[10m])`)), 1);
      const increase = singleValue(await prometheus.query(`increase(${idle}[10m])`))!;
      const sampled = samples[samples.length - 1][0] - samples[0][0];
      const average = sampled / (samples.length - 1);
      assert.ok(
        increase >= raw && increase <= raw * (sampled + average) / sampled,
        `increase ${increase} for raw ${raw} over ${sampled} s`,
      );
      assert.ok(singleValue(await prometheus.query(`rate(${idle}[10m])`))! > 0);
      // The steady series never went stale, and never reset.
      assert.equal(
        singleValue(await prometheus.query('resets(jobs_total{task="steady"}[10m])')),
        0,
      );
    } finally {
      clearInterval(ticker);
      clearInterval(idleTicker);
      await prometheus.stop();
      await server.shutdown();
    }
  },
});
