// Remote write reads a registry's counters, gauges and histograms from storage (the storage
// read interface, as the byte renderer does) and every other collector from its snapshot. The
// snapshot encoder is the oracle: for random registries both paths must give the same bytes.
import assert from "node:assert/strict";
import {
  Counter,
  Enum,
  Gauge,
  Histogram,
  Info,
  type Labels,
  type MetricFamily,
  Registry,
  type RegistryOptions,
  Summary,
} from "../../mod.ts";
import { escapeFamily } from "../../src/exposition/escaping.ts";
import { useExpiryClock } from "../../src/metrics/series_expiry.ts";
import { storageOf } from "../../src/metrics/storage_read.ts";
import type { WriteItem } from "../../src/push/remote_write/encoder.ts";
import {
  encodeWriteRequest,
  remoteWriteLabels,
  type WriteOptions,
} from "../support/remote_write_encoding.ts";
import { encodedValues } from "../../src/push/remote_write/labels.ts";
import { gather } from "../../src/push/remote_write/write.ts";
import { seededRandom } from "../support/random.ts";
import { decodeWriteRequest } from "../support/remote_write_receiver.ts";

const TIMESTAMP = 1_700_000_000_123;

/** The request's bytes, or the error's text when encoding refuses. */
function outcome(
  items: readonly WriteItem[],
  extra: Record<string, string>,
  options: WriteOptions,
): Uint8Array | string {
  try {
    return encodeWriteRequest(items, remoteWriteLabels(extra), TIMESTAMP, options).slice();
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

/** The same write encoded from storage (`gather`) and from `collect()` snapshots. */
async function bothPaths(registry: Registry, extra: Record<string, string>, options: WriteOptions) {
  const items = await gather(registry);
  const snapshots = (await registry.collect()).map((family) =>
    escapeFamily(family, "underscores") as WriteItem
  );
  return {
    stored: items.filter((item) => "storage" in item).length,
    fromStorage: outcome(items, extra, options),
    fromSnapshots: outcome(snapshots, extra, options),
  };
}

/** A request as text lines (labels, samples, exemplars, histograms), or the error. */
function readable(result: Uint8Array | string): string[] | string {
  if (typeof result === "string") return result;
  const request = decodeWriteRequest(result);
  return [
    ...request.series.map((series) => JSON.stringify(series)),
    ...request.metadata.map((metadata) => JSON.stringify(metadata)),
  ];
}

const VALUES = ["a", "", "ünïcödé", 'q"uo\\te\n', "x".repeat(140), "job", "/r/1", "Zed"];
const NAMES = ["method", "route", "job", "instance", "Zed", "zz", "A", "code"];

/** A registry built from `seed`: every kind of metric, scope and series lifecycle. */
function randomRegistry(seed: number, advance: (ms: number) => void): Registry {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const chance = (p: number) => random() < p;
  const options: Record<string, unknown> = { onError: () => {} };
  if (chance(0.4)) options.prefix = pick(["app_", "x:"]);
  if (chance(0.5)) {
    const defaults: Record<string, string> = {};
    for (const name of [pick(NAMES), pick(NAMES)]) defaults[name] = pick(VALUES);
    if (chance(0.15)) defaults["dc.name"] = "eu"; // outside the legacy alphabet
    options.defaultLabels = defaults;
  }
  if (chance(0.3)) options.maxSeriesPerMetric = 1 + Math.floor(random() * 4);
  if (chance(0.3)) options.expireAfterMs = 100;
  const registry = new Registry(options as RegistryOptions);
  const labelNames = () => {
    const names = NAMES.filter(() => chance(0.35));
    if (chance(0.1)) names.push("http.method"); // outside the legacy alphabet
    return names;
  };
  const constLabels = (own: readonly string[]): Labels | undefined => {
    const name = pick(["a_const", "zzz", "job"]);
    return chance(0.3) && !own.includes(name) ? { [name]: pick(VALUES) } : undefined;
  };
  const valuesFor = (names: readonly string[]) =>
    Object.fromEntries(names.map((name) => [name, pick(VALUES)]));
  const exemplar = () => chance(0.3) ? { trace_id: `t${Math.floor(random() * 100)}` } : undefined;
  let n = 0;
  const name = (base: string) => `${base}_${n++}` + (chance(0.1) ? ".utf8" : "");
  const metrics = 2 + Math.floor(random() * 5);
  for (let m = 0; m < metrics; m++) {
    const own = labelNames();
    const common = { help: pick(["h", "", "ü help"]), labelNames: own, registry };
    const series = Math.floor(random() * 12);
    switch (pick(["counter", "gauge", "histogram", "native", "other"])) {
      case "counter": {
        const counter = new Counter({ ...common, name: name("c"), constLabels: constLabels(own) });
        for (let s = 0; s < series; s++) {
          if (own.length === 0) counter.inc(s, exemplar());
          else counter.labels(valuesFor(own)).inc(s, exemplar());
          if (own.length > 0 && chance(0.2)) counter.remove(valuesFor(own));
          if (chance(0.1)) advance(60);
        }
        break;
      }
      case "gauge": {
        const gauge = new Gauge({ ...common, name: name("g"), constLabels: constLabels(own) });
        for (let s = 0; s < series; s++) {
          const child = own.length === 0 ? gauge : gauge.labels(valuesFor(own));
          if (chance(0.1)) child.setFunction(() => s / 2);
          else child.set(chance(0.1) ? NaN : -s / 3);
          if (chance(0.1)) advance(60);
        }
        break;
      }
      case "histogram":
      case "native": {
        const native = chance(0.5);
        const histogram = new Histogram({
          ...common,
          name: name("h"),
          constLabels: constLabels(own),
          buckets: pick([undefined, [-1, 0, 1], [0.5, 5], [1e6]]),
          native: native ? { bucketFactor: pick([1.1, 2]) } : undefined,
        });
        for (let s = 0; s < series; s++) {
          const child = own.length === 0 ? histogram : histogram.labels(valuesFor(own));
          for (let k = 0; k < 4; k++) child.observe((s * 7 + k * 3) % 11 - 2, exemplar());
          if (own.length > 0 && chance(0.15)) histogram.remove(valuesFor(own));
          if (chance(0.1)) advance(60);
        }
        break;
      }
      default: {
        const summary = new Summary({ ...common, name: name("s"), percentiles: [0.5, 0.9] });
        for (let s = 0; s < series; s++) {
          (own.length === 0 ? summary : summary.labels(valuesFor(own))).observe(s);
        }
        if (chance(0.5)) {
          new Info({ name: name("i"), help: "i", registry }).info({ version: pick(VALUES) });
        }
        if (chance(0.5)) {
          new Enum({ name: name("e"), help: "e", states: ["a", "b"], registry }).state("b");
        }
        const family: MetricFamily = {
          type: "gauge",
          name: name("custom"),
          help: "c",
          points: [{ labels: { z: pick(VALUES), job: pick(VALUES) }, value: 1 }],
        };
        registry.register({ collect: () => [family] });
      }
    }
  }
  return registry;
}

Deno.test("remote write from storage: the same bytes as from snapshots, random registries", async () => {
  let now = 1_000_000;
  useExpiryClock(() => now);
  let stored = 0;
  let compared = 0;
  try {
    for (let seed = 1; seed <= 150; seed++) {
      const registry = randomRegistry(seed, (ms) => now += ms);
      const random = seededRandom(seed * 7);
      const extra: Record<string, string> = [
        { job: "test" },
        { job: "t", instance: "i", zz: "last" },
        { A: "first" },
      ][
        Math.floor(random() * 3)
      ];
      const options = { exemplars: random() < 0.7, nativeHistograms: random() < 0.7 };
      const both = await bothPaths(registry, extra, options);
      stored += both.stored;
      compared++;
      // Decoded first, for a readable difference; then byte for byte.
      assert.deepEqual(readable(both.fromStorage), readable(both.fromSnapshots), `seed ${seed}`);
      assert.deepEqual(both.fromStorage, both.fromSnapshots, `seed ${seed}`);
    }
  } finally {
    useExpiryClock(undefined);
  }
  assert.equal(compared, 150);
  assert.ok(stored > 150, `only ${stored} metrics were read from storage`);
});

Deno.test("remote write from storage: a write carries the values of when it is encoded, as a scrape renders", async () => {
  const registry = new Registry();
  const counter = new Counter({ name: "c", help: "h", labelNames: ["k"], registry });
  const histogram = new Histogram({ name: "h", help: "h", native: true, registry });
  const gauge = new Gauge({ name: "g", help: "g", registry });
  counter.labels("a").inc(1);
  histogram.observe(1);
  gauge.set(1);
  const items = await gather(registry);
  assert.ok(items.every((item) => "storage" in item));
  counter.labels("a").inc(10);
  counter.labels("b").inc();
  histogram.observe(2);
  gauge.setFunction(() => 42); // a value function set since the gathering is called
  const request = decodeWriteRequest(
    encodeWriteRequest(items, remoteWriteLabels({ job: "j" }), TIMESTAMP),
  );
  const lines = request.series.map((series) =>
    series.labels.filter(([name]) => name !== "job").map(([n, v]) => `${n}=${v}`).join(",") +
    " " + series.samples.map((sample) => sample.value).join(",")
  );
  const expected = ["__name__=c_total,k=a 11", "__name__=c_total,k=b 1", "__name__=h_count 2"];
  for (const line of [...expected, "__name__=g 42"]) {
    assert.ok(lines.includes(line), lines.join("\n"));
  }
});

Deno.test("remote write from storage: each distinct label value is encoded once, kept with its dictionary", () => {
  const counter = new Counter({ name: "c", help: "h", labelNames: ["k"], registry: null });
  for (const value of ["a", "b", "a", ""]) counter.labels(value).inc();
  const values = storageOf(counter)!.read().labels.valuesByPosition[0];
  const first = encodedValues("k", values);
  assert.deepEqual(first.map((bytes) => bytes.length), [8, 8, 0]);
  counter.labels("c").inc();
  const second = encodedValues("k", values);
  // The same bytes objects for the values seen before; the new value appended.
  assert.equal(second[0], first[0]);
  assert.equal(second[1], first[1]);
  assert.equal(second.length, 4);
});
