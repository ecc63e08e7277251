// 50 concurrent scrapes over HTTP while another task keeps observing: every response must be a
// complete, self-consistent exposition (the +Inf bucket equals _count in every histogram series).
import assert from "node:assert/strict";
import { Histogram, type MetricFamily, Registry, startHttpServer } from "../mod.ts";

const CONCURRENT_SCRAPES = 50;
const ROUNDS = 4;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A small parser for both text formats: enough to check every line is well formed. */
function parseSamples(text: string, openMetrics: boolean): Sample[] {
  const lines = text.split("\n");
  assert.equal(lines.pop(), "", "the body ends with a newline");
  if (openMetrics) assert.equal(lines.pop(), "# EOF", "OpenMetrics ends with # EOF");
  const samples: Sample[] = [];
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: # .*)?$/;
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/gy;
  for (const line of lines) {
    if (line.startsWith("# HELP ") || line.startsWith("# TYPE ") || line.startsWith("# UNIT ")) {
      continue;
    }
    const match = sampleLine.exec(line);
    assert.ok(match !== null, `malformed line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelText = match[2] ?? "";
    labelPair.lastIndex = 0;
    let consumed = 0;
    for (let pair = labelPair.exec(labelText); pair !== null; pair = labelPair.exec(labelText)) {
      labels[pair[1]] = pair[2];
      consumed = labelPair.lastIndex;
    }
    assert.equal(consumed, labelText.length, `malformed labels: ${JSON.stringify(line)}`);
    const value = match[3] === "+Inf" ? Infinity : Number(match[3]);
    assert.ok(!Number.isNaN(value), `bad value: ${JSON.stringify(line)}`);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** Checks each histogram series: cumulative buckets, +Inf bucket = _count. Returns the series count. */
function checkHistogram(samples: Sample[], name: string): number {
  const series = new Map<string, { buckets: Sample[]; count?: number }>();
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
  for (const sample of samples) {
    if (sample.name !== name + "_bucket" && sample.name !== name + "_count") continue;
    const key = keyOf(sample.labels);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) entry.buckets.push(sample);
    else entry.count = sample.value;
  }
  for (const [key, { buckets, count }] of series) {
    assert.ok(count !== undefined, `${key} has a _count`);
    const inf = buckets.find((b) => b.labels.le === "+Inf");
    assert.equal(inf?.value, count, `${key}: +Inf bucket equals _count`);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(buckets[i].value >= buckets[i - 1].value, `${key}: buckets are cumulative`);
    }
  }
  return series.size;
}

Deno.test("50 concurrent scrapes during updates: every response parses and is consistent", async () => {
  const registry = new Registry();
  const latency = new Histogram({
    name: "request_latency_seconds",
    help: "latency",
    labelNames: ["route"],
    buckets: [0.01, 0.1, 1, 10],
    registry,
  });
  // An async collector between the metrics, so scrapes yield to the updater mid-collection.
  registry.register({
    async collect(): Promise<MetricFamily[]> {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return [{
        type: "gauge",
        name: "slow_gauge",
        help: "async",
        points: [{ labels: {}, value: 1 }],
      }];
    },
  });
  const size = new Histogram({ name: "payload_bytes", help: "sizes", registry });

  let updating = true;
  let observations = 0;
  const updater = (async () => {
    while (updating) {
      for (let i = 0; i < 200; i++) {
        latency.labels({ route: i % 2 === 0 ? "/a" : "/b" }).observe(Math.random() * 20);
        size.observe(Math.random() * 5);
        observations++;
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  })();

  await using server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry });
  let checked = 0;
  const countsSeen = new Set<number>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const bodies = await Promise.all(
        Array.from({ length: CONCURRENT_SCRAPES }, async (_, i) => {
          const openMetrics = i % 2 === 1;
          const response = await fetch(server.url, {
            headers: {
              accept: openMetrics ? "application/openmetrics-text" : "text/plain",
              // Half compressed (fetch decompresses), half not.
              "accept-encoding": i % 4 < 2 ? "gzip" : "identity",
            },
          });
          assert.equal(response.status, 200);
          return { openMetrics, text: await response.text() };
        }),
      );
      for (const { openMetrics, text } of bodies) {
        const samples = parseSamples(text, openMetrics);
        assert.equal(checkHistogram(samples, "request_latency_seconds"), 2);
        assert.equal(checkHistogram(samples, "payload_bytes"), 1);
        assert.ok(samples.some((s) => s.name === "slow_gauge"));
        countsSeen.add(samples.find((s) => s.name === "payload_bytes_count")!.value);
        checked++;
      }
    }
  } finally {
    updating = false;
    await updater;
  }
  assert.equal(checked, CONCURRENT_SCRAPES * ROUNDS);
  assert.ok(observations > 0);
  assert.ok(countsSeen.size > ROUNDS, `updates landed between scrapes (${countsSeen.size} counts)`);
});
