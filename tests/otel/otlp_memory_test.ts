// A sender that makes 200k distinct series: the receiver keeps at most its caps (50 000 series and
// one overflow series per metric), within a bounded heap, and gives the memory back once they
// expire. Run in a child process with a forced GC.
import assert from "node:assert/strict";

const MOD_URL = JSON.stringify(new URL("../../mod.ts", import.meta.url).href);
const SUPPORT_URL = JSON.stringify(new URL("../support/otlp.ts", import.meta.url).href);

Deno.test("OTLP memory: 200k distinct series stay within the caps, and expiry frees them", async () => {
  const script = `
    import { Registry, otlpHandler } from ${MOD_URL};
    import { attr, encodeOtlpProtobuf } from ${SUPPORT_URL};
    const usage = () => { gc(); gc(); const m = Deno.memoryUsage(); return m.heapUsed + m.external; };
    const clock = { now: 1e6 };
    const registry = new Registry();
    const handle = otlpHandler({ registry, now: () => clock.now });
    const before = usage();
    let n = 0;
    for (let r = 0; r < 40; r++) {
      const points = [];
      for (let i = 0; i < 5000; i++, n++) {
        points.push({ asDouble: 1, startTimeUnixNano: 1e9, timeUnixNano: 2e9,
          attributes: [attr("session", "s" + n + "x".repeat(40))] });
      }
      const body = encodeOtlpProtobuf({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{
        name: "m" + (r % 30), sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points },
      }] }] }] });
      const response = await handle(new Request("http://x/v1/metrics", {
        method: "POST", body, headers: { "content-type": "application/x-protobuf" },
      }));
      await response.arrayBuffer();
    }
    const held = handle.collector.seriesCount;
    const full = usage() - before;
    clock.now += 300_000;
    await registry.metrics();
    console.log(JSON.stringify({ held, full, left: usage() - before,
      after: handle.collector.seriesCount }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  const result = JSON.parse(new TextDecoder().decode(output.stdout));
  // 50 000 series of their own, plus the overflow series of the metrics that went past the cap.
  assert.ok(result.held <= 50_000 + 30, `held ${result.held}`);
  assert.ok(result.held >= 50_000, `held ${result.held}`);
  assert.ok(result.full < 100e6, `heap grew by ${result.full} bytes`);
  assert.equal(result.after, 0);
  assert.ok(result.left < 10e6, `heap still ${result.left} bytes above the start after expiry`);
});
