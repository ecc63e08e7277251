// The receiver's families are checked when received and not again at each scrape: whatever a
// sender sends, every family the receiver holds passes the per-scrape check it skips; its cap
// follows the registry's; its overflow series is written like a built-in metric's.
import assert from "node:assert/strict";
import { Counter, Registry } from "../../mod.ts";
import { otlpHandler } from "../../src/http/otlp.ts";
import { checkFamilies, validateFamily } from "../../src/exposition/validate.ts";
import type { MetricFamily } from "../../src/model.ts";
import { attr, counter, oneResource, otlpRequest } from "../support/otlp.ts";
import { hasPromtool, promtoolCheckMetrics } from "../support/python.ts";

const S = 1_000_000_000;

// deno-lint-ignore no-explicit-any
type Json = any;

async function send(handle: (request: Request) => Promise<Response>, request: Json) {
  const response = await handle(await otlpRequest(request, "json"));
  assert.equal(response.status, 200);
  return await response.json();
}

function histogram(name: string, time: number, counts: number[], attributes: Json[] = []) {
  return {
    name,
    histogram: {
      aggregationTemporality: 2,
      dataPoints: [{
        startTimeUnixNano: S,
        timeUnixNano: time,
        count: counts.reduce((a, b) => a + b, 0),
        sum: 1,
        bucketCounts: counts,
        explicitBounds: [1],
        attributes,
      }],
    },
  };
}

/** Hostile requests, each aimed at one rule of the per-scrape check. */
const HOSTILE: Json[] = [
  // Keys that meet as `__a` (reserved) after the `underscores` escaping.
  oneResource([counter("joined", 1, S, 2 * S, {
    attributes: [attr("_.a", "1"), attr("_-a", "2")],
  })]),
  // Keys that the `values` escaping writes alike, on a point and on an exemplar.
  oneResource([counter("values_clash", 1, S, 2 * S, {
    attributes: [attr("a.b", "1"), attr("U__a_2e_b", "2")],
  })]),
  oneResource([counter("exemplar_clash", 1, S, 2 * S, {
    exemplars: [{
      asDouble: 1,
      timeUnixNano: 2 * S,
      traceId: "0af7651916cd43dd8448eb211c80319c",
      filteredAttributes: [attr("a.b", "1"), attr("U__a_2e_b", "2")],
    }],
  })]),
  // A negative bucket count (JSON allows one) and a bucket named by attribute.
  oneResource([histogram("negative_bucket", 2 * S, [-1, 2])]),
  oneResource([histogram("le_label", 2 * S, [1, 1], [attr("le", "1")])]),
  // A negative count with no buckets (JSON allows one).
  oneResource([{
    name: "negative_count",
    histogram: {
      aggregationTemporality: 2,
      dataPoints: [{ timeUnixNano: 2 * S, count: "-1", sum: 0, bucketCounts: [] }],
    },
  }]),
  // Two resources whose attributes differ but give the same target_info labels.
  oneResource([], [attr("__a", "1")]),
  oneResource([], [attr("key__a", "1")]),
];

Deno.test("OTLP: whatever a sender sends, every received family passes the per-scrape check", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, resourceLabels: [], scopeLabels: false });
  for (const request of HOSTILE) await send(handle, request);
  const families = await handle.collector.collect();
  for (const family of families) {
    assert.equal(validateFamily(family)?.message, undefined, family.name);
  }
  const text = await registry.metrics({ onError: (error) => assert.fail(error.message) });
  assert.match(text, /^joined_total\{key__a="2;1"\} 1\.0$/m);
  assert.equal(text.match(/^target_info/gm)?.length, 1);
  assert.doesNotMatch(text, /values_clash_total\{/);
  assert.doesNotMatch(text, /negative_bucket/);
  assert.doesNotMatch(text, /le_label/);
  assert.doesNotMatch(text, /negative_count/);
});

Deno.test("OTLP: the overflow series stays a valid histogram whatever a sender's buckets do", async () => {
  const registry = new Registry();
  const handle = otlpHandler({ registry, maxSeriesPerMetric: 1, resourceLabels: [] });
  await send(handle, oneResource([histogram("h", 2 * S, [0, 1], [attr("k", "own")])]));
  // Cumulative [0, 5], then [5, 5]: each valid, but the increase [5, 0] is not a histogram.
  await send(handle, oneResource([histogram("h", 2 * S, [0, 5], [attr("k", "b")])]));
  await send(handle, oneResource([histogram("h", 3 * S, [5, 0], [attr("k", "b")])]));
  const [family] = await handle.collector.collect();
  assert.equal(validateFamily(family)?.message, undefined);
  // deno-lint-ignore no-explicit-any
  const overflow = (family.points as any[]).find((p) => p.labels["otel.metric.overflow"]);
  // Taken as a reset: the second point counts whole.
  assert.deepEqual(overflow.bucketCounts, [5, 10]);
  assert.equal(overflow.count, 10);
});

Deno.test("OTLP: with default labels the received families are checked at the scrape again", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu" } });
  const handle = otlpHandler({ registry, resourceLabels: [], scopeLabels: false });
  // {region="eu"} and {} become one series once the default label is added.
  await send(
    handle,
    oneResource([{
      name: "g",
      gauge: {
        dataPoints: [
          { asDouble: 1, timeUnixNano: 2 * S, attributes: [attr("region", "eu")] },
          { asDouble: 2, timeUnixNano: 2 * S },
        ],
      },
    }]),
  );
  const errors: string[] = [];
  const text = await registry.metrics({ onError: (error) => errors.push(error.message) });
  assert.doesNotMatch(text, /^g\{/m);
  assert.match(errors.join("\n"), /two series have the labels/);
});

Deno.test("checkFamilies: a family checked at its source is not checked again, nor put first", () => {
  const unchecked: MetricFamily = {
    type: "counter",
    name: "c",
    help: "",
    points: [{ labels: {}, value: -1 }],
  };
  const first: MetricFamily = { type: "gauge", name: "c", help: "", points: [] };
  const dropped: string[] = [];
  const onInvalid = (error: Error) => dropped.push(error.message);
  // Not validated (the negative value passes), but claimed in order: `first` keeps "c".
  const kept = checkFamilies([first, unchecked], {
    checkedAtSource: new Set([unchecked]),
    onInvalid,
  });
  assert.deepEqual(kept, [first]);
  assert.match(dropped[0], /exposes "c"/);
  assert.deepEqual(
    checkFamilies([unchecked], { checkedAtSource: new Set([unchecked]), onInvalid }),
    [
      unchecked,
    ],
  );
});

Deno.test("OTLP: the receiver's series cap is the registry's maxSeriesPerMetric unless given", async () => {
  const points = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      asDouble: 1,
      timeUnixNano: 2 * S,
      attributes: [attr("i", String(i))],
    }));
  const gauge = (n: number) => oneResource([{ name: "g", gauge: { dataPoints: points(n) } }]);
  const small = new Registry({ maxSeriesPerMetric: 3 });
  const fromRegistry = otlpHandler({ registry: small, resourceLabels: [], scopeLabels: false });
  await send(fromRegistry, gauge(5));
  // Three series of their own and the overflow series.
  assert.equal(fromRegistry.collector.seriesCount, 4);
  assert.match(await small.metrics(), /^g\{otel_metric_overflow="true"\} 1\.0$/m);

  // The default registry cap (10 000), not OpenTelemetry's 2 000.
  const plain = new Registry();
  const byDefault = otlpHandler({ registry: plain, resourceLabels: [], scopeLabels: false });
  await send(byDefault, gauge(2_500));
  assert.equal(byDefault.collector.seriesCount, 2_500);

  // The receiver's own option wins.
  const own = otlpHandler({
    registry: new Registry({ maxSeriesPerMetric: 3 }),
    maxSeriesPerMetric: 10,
    resourceLabels: [],
  });
  await send(own, gauge(5));
  assert.equal(own.collector.seriesCount, 5);
});

Deno.test({
  name: "OTLP: a received overflow series is written and checked like a built-in one",
  async fn() {
    const registry = new Registry();
    const builtIn = new Counter({
      name: "built_in",
      help: "h",
      labelNames: ["i"],
      maxSeries: 1,
      registry,
      onError: () => {},
    });
    builtIn.labels("0").inc();
    builtIn.labels("1").inc();
    const handle = otlpHandler({
      registry,
      maxSeriesPerMetric: 1,
      resourceLabels: [],
      scopeLabels: false,
    });
    for (const i of ["0", "1"]) {
      await send(
        handle,
        oneResource([{
          ...counter("received", 1, S, 2 * S, { attributes: [attr("i", i)] }),
          description: "h",
        }]),
      );
    }
    const overflowLines = (text: string) =>
      text.split("\n").filter((line) => line.includes("_total{") && line.includes("overflow")).map((
        line,
      ) => line.replace(/^[^{]*/, ""));
    for (
      const options of [
        {},
        { format: "openmetrics" as const },
        { format: "openmetrics" as const, escaping: "allow-utf-8" as const },
      ]
    ) {
      const text = await registry.metrics({
        ...options,
        onError: (error) => assert.fail(error.message),
      });
      const [fromBuiltIn, fromReceiver] = overflowLines(text);
      assert.equal(fromReceiver, fromBuiltIn, JSON.stringify(options));
      // promtool 2.42 reads the text format 0.0.4 only.
      if (options.format === undefined && hasPromtool()) {
        const result = await promtoolCheckMetrics(text);
        assert.equal(result.code, 0, result.stdout + result.stderr);
      }
    }
    // The same per-scrape check says the same of both.
    for (const family of await registry.collect()) {
      assert.equal(validateFamily(family), undefined, family.name);
    }
  },
});

Deno.test("OTLP: with nothing posted, each scrape sweeps what expired, series written at different times", async () => {
  const clock = { now: 1_000_000 };
  const registry = new Registry();
  const handle = otlpHandler({
    registry,
    expireAfterMs: 300_000,
    resourceLabels: [],
    now: () => clock.now,
  });
  const gauge = (name: string) =>
    oneResource([{ name, gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: 2 * S }] } }]);
  await send(handle, gauge("early"));
  clock.now += 240_000;
  await send(handle, gauge("late"));
  const names = async () =>
    (await registry.collect()).map((family) => family.name).sort().join(",");
  assert.equal(await names(), "early,late");
  clock.now += 60_000; // five minutes after "early": it goes at this scrape
  assert.equal(await names(), "late");
  assert.equal(handle.collector.seriesCount, 1);
  clock.now += 239_999; // not yet five minutes after "late"
  assert.equal(await names(), "late");
  clock.now += 1;
  assert.equal(await names(), "");
  assert.equal(handle.collector.seriesCount, 0);
});
