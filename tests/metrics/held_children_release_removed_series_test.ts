// Audit of issue 11, item 5, for the types its own test leaves out: a held child of a gauge, a
// summary, an enum and a counter with exemplars must not keep removed series alive either.
import assert from "node:assert/strict";
import { HEAP_USAGE, runMeasuringScript } from "../support/process.ts";

const MOD_URL = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);

Deno.test("audit: held children of gauges, summaries, enums and exemplar counters pin no removed series", async () => {
  // In a child process with a forced GC: hold one child per metric, churn 100k series through
  // labels() and remove() on each, and compare the retained heap with what two live series need.
  const script = `
    import { Counter, Enum, Gauge, Summary } from ${MOD_URL};
    ${HEAP_USAGE}
    const labelNames = ["id"];
    const gauge = new Gauge({ name: "g", help: "h", labelNames, registry: null });
    const summary = new Summary({ name: "s", help: "h", labelNames, registry: null });
    const phase = new Enum({ name: "e", help: "h", labelNames, states: ["a", "b"], registry: null });
    const counter = new Counter({ name: "c", help: "h", labelNames, registry: null });
    const held = [gauge, summary, phase, counter].map((metric) => metric.labels("held"));
    const touch = (i) => {
      held[0].set(i); held[1].observe(i); held[2].state("b"); held[3].inc(1, { t: String(i) });
    };
    touch(1);
    const before = usage();
    for (let i = 0; i < 100000; i++) {
      const id = String(i);
      gauge.labels(id).set(i); gauge.remove(id);
      summary.labels(id).observe(i); summary.remove(id);
      phase.labels(id).state("b"); phase.remove(id);
      counter.labels(id).inc(1, { t: id }); counter.remove(id);
    }
    const after = usage();
    touch(2);
    console.log(JSON.stringify({
      retained: after - before,
      values: [gauge.labels("held").value, summary.labels("held").count,
        phase.labels("held").value, counter.labels("held").value],
    }));
  `;
  const result = await runMeasuringScript<{ retained: number; values: unknown[] }>(script);
  // Pinned, 400k removed series would hold tens of MB; allow a few MB of heap noise.
  assert.ok(result.retained < 4 * 1024 * 1024, `retained ${result.retained} bytes after churn`);
  assert.deepEqual(result.values, [2, 2, "b", 2], "the held children still count");
});
