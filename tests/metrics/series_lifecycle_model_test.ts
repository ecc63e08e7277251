// Model-based test of the series lifecycle: random sequences of creating, updating (through
// fresh and held children), expiring, removing and overflowing series of every labelled metric
// type, each compared after every step with a small reference model of what the metric must
// show. A failure names the seed and the step that reproduce it.
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Summary } from "../../mod.ts";
import { useExpiryClock } from "../../src/metrics/series_expiry.ts";
import { seededRandom } from "../support/random.ts";

const CAP = 4;
const EXPIRE_AFTER_MS = 100;
const KEYS = ["a", "b", "c", "d", "e", "f", "g", "h"];
const OVERFLOW = "(overflow)";

/** What a step does to a series, as the model and the metric see it. */
interface Kind {
  readonly name: string;
  make(maxSeries: number, expireAfterMs: number): Metric;
  /** Applies update `x` to a child. */
  update(child: unknown, x: number): void;
  /** The model's value after update `x` (from `undefined`: a new series). */
  next(value: string | undefined, x: number): string;
  /** A collected point's value, as the model writes it. */
  read(point: Record<string, unknown>): string;
}

interface Metric {
  labels(key: string): unknown;
  remove(key: string): void;
  clear(): void;
  collect(): { points: readonly Record<string, unknown>[] }[];
}

function countAndSum(value: string | undefined, x: number): string {
  const [count, sum] = (value ?? "0/0").split("/").map(Number);
  return `${count + 1}/${sum + x}`;
}

const common = (maxSeries: number, expireAfterMs: number) => ({
  help: "h",
  labelNames: ["k"],
  registry: null,
  maxSeries,
  expireAfterMs,
  onError: () => {},
});

const KINDS: Kind[] = [
  {
    name: "counter",
    make: (m, e) => new Counter({ name: "c_total", ...common(m, e) }) as unknown as Metric,
    update: (child, x) => (child as { inc(x: number): void }).inc(x + 1),
    next: (value, x) => String(Number(value ?? 0) + x + 1),
    read: (point) => String(point.value),
  },
  {
    name: "gauge",
    make: (m, e) => new Gauge({ name: "g", ...common(m, e) }) as unknown as Metric,
    update: (child, x) => (child as { set(x: number): void }).set(x),
    next: (_value, x) => String(x),
    read: (point) => String(point.value),
  },
  {
    name: "classic histogram",
    make: (m, e) =>
      new Histogram({ name: "h", buckets: [1, 5], ...common(m, e) }) as unknown as Metric,
    update: (child, x) => (child as { observe(x: number): void }).observe(x),
    next: countAndSum,
    read: (point) => `${point.count}/${point.sum}`,
  },
  {
    name: "native histogram",
    make: (m, e) =>
      new Histogram({ name: "n", native: true, ...common(m, e) }) as unknown as Metric,
    update: (child, x) => (child as { observe(x: number): void }).observe(x),
    next: countAndSum,
    read: (point) => `${point.count}/${point.sum}`,
  },
  {
    name: "summary",
    make: (m, e) => new Summary({ name: "s", ...common(m, e) }) as unknown as Metric,
    update: (child, x) => (child as { observe(x: number): void }).observe(x),
    next: countAndSum,
    read: (point) => `${point.count}/${point.sum}`,
  },
];

/** A series as the model keeps it: its value and what expiry knows of it. */
interface ModelSeries {
  value: string | undefined;
  /** Updated since the last sweep. */
  touched: boolean;
  /** When a sweep last saw it change (`undefined`: no sweep saw it yet). */
  since: number | undefined;
}

/** A child the test holds, and which series it counts into. */
interface Held {
  readonly key: string;
  target: "own" | "overflow";
  readonly child: unknown;
}

function runModel(kind: Kind, seed: number, steps: number): void {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  let now = 1_000_000;
  useExpiryClock(() => now);
  try {
    const metric = kind.make(CAP, EXPIRE_AFTER_MS);
    const live = new Map<string, ModelSeries>();
    let overflow: ModelSeries | undefined;
    let held: Held[] = [];
    let nextSweepAt = -Infinity;
    const log: string[] = [];

    /** Where `labels(key)` records: its own series (made if there is room) or the overflow. */
    const resolve = (key: string): "own" | "overflow" => {
      if (live.has(key)) return "own";
      if (live.size < CAP) {
        live.set(key, { value: undefined, touched: false, since: undefined });
        return "own";
      }
      overflow ??= { value: undefined, touched: false, since: undefined };
      return "overflow";
    };
    const record = (key: string, target: "own" | "overflow", x: number) => {
      const series = target === "own" ? live.get(key)! : overflow!;
      series.value = kind.next(series.value, x);
      series.touched = true;
    };
    const check = (step: number) => {
      const family = metric.collect()[0];
      // The sweep the metric just did, if one was due.
      if (now >= nextSweepAt) {
        nextSweepAt = now + EXPIRE_AFTER_MS / 4;
        for (const [key, series] of live) {
          if (series.since === undefined || series.touched) {
            series.since = now;
            series.touched = false;
          } else if (now - series.since >= EXPIRE_AFTER_MS) {
            live.delete(key);
          }
        }
      }
      const actual = family.points.map((point) => {
        const labels = point.labels as Record<string, string>;
        return `${labels["otel.metric.overflow"] === "true" ? OVERFLOW : labels.k}=${
          kind.read(point)
        }`;
      }).sort();
      const expected = [...live].filter(([, series]) => series.value !== undefined)
        .map(([key, series]) => `${key}=${series.value}`);
      if (overflow?.value !== undefined) expected.push(`${OVERFLOW}=${overflow.value}`);
      expected.sort();
      log.push("  " + actual.join(" ") + " | model " + expected.join(" "));
      // A series made by `labels()` and never updated shows its zero value: compare the keys.
      const actualKeys = new Set(actual.map((entry) => entry.split("=")[0]));
      for (const [key, series] of live) {
        if (series.value === undefined) assert.ok(actualKeys.has(key), `${kind.name} seed ${seed}`);
      }
      assert.deepEqual(
        actual.filter((entry) => expected.includes(entry) || !isZeroSeries(entry, live)),
        expected,
        `${kind.name}, seed ${seed}, step ${step}:\n${log.slice(-24).join("\n")}`,
      );
    };
    const isZeroSeries = (entry: string, series: Map<string, ModelSeries>) =>
      series.get(entry.split("=")[0])?.value === undefined;

    for (let step = 0; step < steps; step++) {
      const roll = random();
      const key = pick(KEYS);
      const x = Math.floor(random() * 8);
      if (roll < 0.3) {
        log.push(`labels(${key}) update ${x}`);
        const target = resolve(key);
        kind.update(metric.labels(key), x);
        record(key, target, x);
      } else if (roll < 0.4) {
        log.push(`hold labels(${key})`);
        const target = resolve(key);
        const child = metric.labels(key);
        const labels = (child as { labels: Record<string, string> }).labels;
        assert.equal(labels.k === key ? "own" : "overflow", target, `${kind.name} seed ${seed}`);
        // `labels()` may give a child already held (the same object): it is one handle.
        if (!held.some((handle) => handle.child === child)) held.push({ key, target, child });
      } else if (roll < 0.6 && held.length > 0) {
        const handle = pick(held);
        log.push(`held ${handle.key}/${handle.target} update ${x}`);
        if (handle.target === "own" && !live.has(handle.key)) {
          // Its series expired: the update brings it back (into the overflow when full).
          handle.target = resolve(handle.key);
        }
        kind.update(handle.child, x);
        record(handle.key, handle.target, x);
      } else if (roll < 0.66) {
        log.push(`remove(${key})`);
        metric.remove(key);
        if (live.delete(key)) {
          // Handles of a removed series detach (tested elsewhere): the test lets go of them.
          held = held.filter((handle) => !(handle.key === key && handle.target === "own"));
        }
      } else if (roll < 0.67) {
        log.push("clear()");
        metric.clear();
        live.clear();
        overflow = undefined;
        held = [];
      } else if (roll < 0.87) {
        const ms = Math.floor(random() * 60);
        log.push(`advance ${ms} ms`);
        now += ms;
      } else {
        log.push("collect");
      }
      check(step);
    }
  } finally {
    useExpiryClock(undefined);
  }
}

for (const kind of KINDS) {
  Deno.test(`series lifecycle of a ${kind.name} matches the model`, () => {
    for (let seed = 1; seed <= 40; seed++) runModel(kind, seed, 250);
  });
}
