// 50 concurrent scrapes over HTTP while another task keeps observing: every response must be a
// complete exposition whose numbers belong together. The updater observes fixed values (0.5 on
// "/a", 4 on "/b", 1 for payloads), so each series' _sum and every bucket follow exactly from its
// _count: a torn read (buckets, sum and count taken at different moments) or a lost update fails.
// Scrapes of a later round start after the updater ran again, so their counts must be larger than
// every count of the round before (a stale or cached body fails), and a last scrape after the
// updater stopped must show exactly the observations made.
import assert from "node:assert/strict";
import { Histogram, type MetricFamily, Registry, startHttpServer } from "../../mod.ts";

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

/**
 * Checks each histogram series: cumulative buckets, +Inf bucket = _count, and — because each
 * series observes one fixed value — `_sum = value × _count` and every bucket is 0 or `_count`.
 * `valueOf` maps a series' labels to its observed value. Returns each series' `_count`.
 */
function checkHistogram(
  samples: Sample[],
  name: string,
  valueOf: (labels: Record<string, string>) => number,
): Map<string, number> {
  const keyOf = (labels: Record<string, string>) =>
    JSON.stringify(Object.entries(labels).filter(([k]) => k !== "le").sort());
  const series = new Map<
    string,
    { labels: Record<string, string>; buckets: Sample[]; count?: number; sum?: number }
  >();
  for (const sample of samples) {
    const suffix = sample.name.slice(name.length);
    if (!sample.name.startsWith(name) || !["_bucket", "_count", "_sum"].includes(suffix)) continue;
    const key = keyOf(sample.labels);
    const entry = series.get(key) ??
      {
        labels: Object.fromEntries(Object.entries(sample.labels).filter(([k]) => k !== "le")),
        buckets: [],
      };
    series.set(key, entry);
    if (suffix === "_bucket") entry.buckets.push(sample);
    else if (suffix === "_count") entry.count = sample.value;
    else entry.sum = sample.value;
  }
  const counts = new Map<string, number>();
  for (const [key, { labels, buckets, count, sum }] of series) {
    assert.ok(count !== undefined && sum !== undefined, `${key} has a _count and a _sum`);
    const value = valueOf(labels);
    assert.equal(sum, value * count, `${key}: _sum is ${value} × _count (${count})`);
    const inf = buckets.find((b) => b.labels.le === "+Inf");
    assert.equal(inf?.value, count, `${key}: +Inf bucket equals _count`);
    for (const bucket of buckets) {
      const le = bucket.labels.le === "+Inf" ? Infinity : Number(bucket.labels.le);
      const expected: number = value <= le ? count : 0;
      assert.equal(bucket.value, expected, `${key}: bucket le=${bucket.labels.le}`);
    }
    counts.set(key, count);
  }
  return counts;
}

/** The value the updater observes into each series. */
const latencyOf = (labels: Record<string, string>) => (labels.route === "/a" ? 0.5 : 4);
const payloadOf = () => 1;

Deno.test("50 concurrent scrapes during updates: every response parses and its numbers agree", async () => {
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
        const route = i % 2 === 0 ? "/a" : "/b";
        latency.labels({ route }).observe(latencyOf({ route }));
        size.observe(payloadOf());
        observations++;
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  })();

  await using server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry });
  const scrape = async (i: number) => {
    const openMetrics = i % 2 === 1;
    const response = await fetch(server.url, {
      headers: {
        accept: openMetrics ? "application/openmetrics-text" : "text/plain",
        // Half compressed (fetch decompresses), half not.
        "accept-encoding": i % 4 < 2 ? "gzip" : "identity",
      },
    });
    assert.equal(response.status, 200);
    const samples = parseSamples(await response.text(), openMetrics);
    const latencies = checkHistogram(samples, "request_latency_seconds", latencyOf);
    assert.equal(latencies.size, 2);
    const payloads = checkHistogram(samples, "payload_bytes", payloadOf);
    assert.equal(payloads.size, 1);
    assert.ok(samples.some((s) => s.name === "slow_gauge"));
    return [...payloads.values()][0];
  };

  let checked = 0;
  let previousRoundMax = -1;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Let the updater run at least once more, so this round must see larger counts.
      const before = observations;
      while (observations === before) await new Promise((resolve) => setTimeout(resolve, 1));
      const counts = await Promise.all(
        Array.from({ length: CONCURRENT_SCRAPES }, (_, i) => scrape(i)),
      );
      checked += counts.length;
      assert.ok(
        Math.min(...counts) > previousRoundMax,
        `round ${round}: counts ${
          Math.min(...counts)
        }… after ${previousRoundMax} in the round before`,
      );
      previousRoundMax = Math.max(...counts);
    }
  } finally {
    updating = false;
    await updater;
  }
  assert.equal(checked, CONCURRENT_SCRAPES * ROUNDS);
  // Nothing observed was lost: the last scrape shows every observation.
  assert.equal(await scrape(0), observations);
  assert.ok(observations > previousRoundMax);
});
