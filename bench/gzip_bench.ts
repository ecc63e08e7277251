/**
 * The cost of gzip on a scrape: a 10,000-series registry scraped through `metricsHandler`,
 * plain and gzipped, with `node:zlib` at several levels and with the `CompressionStream`
 * fallback. Prints milliseconds per scrape, body sizes, and each gzipped scrape's time as a
 * multiple of the plain one (the target for the default: at most 1.6×).
 *
 * Scrapes run one after another (no coalescing) and are interleaved round by round, so that
 * load on the machine falls on every variant alike; medians of the rounds are printed.
 *
 * Run: `deno run -A bench/gzip_bench.ts` (options: `--rounds=15 --scrapes=20`)
 *
 * @module
 */

import { metricsHandler } from "../mod.ts";
import { useCompressionStreamForTesting } from "../src/encoding/gzip.ts";
import { registryOf10kSeries } from "./gzip_fixture.ts";

function option(name: string, fallback: number): number {
  const arg = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : Number(arg.slice(name.length + 3));
}

const ROUNDS = option("rounds", 15);
const SCRAPES = option("scrapes", 20);

interface Variant {
  readonly name: string;
  readonly gzip: boolean;
  readonly level?: number;
  readonly webFallback?: boolean;
}

const VARIANTS: readonly Variant[] = [
  { name: "plain", gzip: false },
  { name: "gzip node:zlib level 1 (default)", gzip: true },
  { name: "gzip node:zlib level 2", gzip: true, level: 2 },
  { name: "gzip node:zlib level 6", gzip: true, level: 6 },
  { name: "gzip CompressionStream (fallback)", gzip: true, webFallback: true },
];

const registry = registryOf10kSeries();
const handlers = VARIANTS.map((v) =>
  metricsHandler({ registry, compressionLevel: v.level, onError: () => {} })
);

async function scrapeOnce(variant: Variant, index: number): Promise<number> {
  const headers: Record<string, string> = variant.gzip ? { "accept-encoding": "gzip" } : {};
  const response = await handlers[index](new Request("http://localhost/metrics", { headers }));
  return (await response.arrayBuffer()).byteLength;
}

async function timeVariant(variant: Variant, index: number): Promise<[number, number]> {
  useCompressionStreamForTesting(variant.webFallback === true);
  try {
    let size = 0;
    const start = performance.now();
    for (let i = 0; i < SCRAPES; i++) size = await scrapeOnce(variant, index);
    return [(performance.now() - start) / SCRAPES, size];
  } finally {
    useCompressionStreamForTesting(false);
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

// Warm-up: JIT, and node:zlib loaded.
for (const [index, variant] of VARIANTS.entries()) await timeVariant(variant, index);

const times: number[][] = VARIANTS.map(() => []);
const sizes: number[] = VARIANTS.map(() => 0);
for (let round = 0; round < ROUNDS; round++) {
  for (const [index, variant] of VARIANTS.entries()) {
    const [ms, size] = await timeVariant(variant, index);
    times[index].push(ms);
    sizes[index] = size;
  }
}

const plainMs = median(times[0]);
console.log(
  `10,000 series (9,000 counters + 1,000 histograms), ${ROUNDS} rounds × ${SCRAPES} scrapes, ` +
    `Deno ${Deno.version.deno}`,
);
console.log("variant                              ms/scrape    body bytes   × plain");
for (const [index, variant] of VARIANTS.entries()) {
  const ms = median(times[index]);
  console.log(
    `${variant.name.padEnd(36)} ${ms.toFixed(2).padStart(9)} ${String(sizes[index]).padStart(13)} ${
      (ms / plainMs).toFixed(2).padStart(9)
    }`,
  );
}
