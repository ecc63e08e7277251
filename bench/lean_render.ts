/**
 * How close a scrape is to what the machine allows: a plain (not gzipped) text scrape through
 * `metricsHandler` (in process, the body read to its end) against a lean renderer that writes
 * the identical bytes from typed arrays and pre-encoded label-value bytes into one
 * `Uint8Array`; prom-client's `registry.metrics()` and client_golang's promhttp (in process,
 * `bench/promhttp_render/main.go`, when Go is present) side by side. Counters and histograms
 * (11 bounds), 10k–1M series; prints medians and ratios measured in one interleaved run.
 *
 * Run: `deno run --allow-all bench/lean_render.ts [--large]`
 * (`--large` adds 1M counter series and 300k histogram series; prom-client is left out there,
 * where it takes minutes and gigabytes.)
 *
 * @module
 */

// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { Histogram, metricsHandler, Registry } from "../mod.ts";
import { ourRequestsCounter } from "./fixtures.ts";
import { formatFloat } from "../src/exposition/format.ts";
import { startByteRender } from "../src/exposition/registry_render.ts";
import { releaseChunks } from "../src/exposition/byte_writer.ts";

/** Renders `registry` with the byte renderer alone; returns the bytes written. */
async function renderOnly(registry: Registry): Promise<number> {
  const render = (await startByteRender(registry, { format: "text" }))!;
  let bytes = 0;
  for (let chunks = render.next(); chunks !== undefined; chunks = render.next()) {
    for (const chunk of chunks) bytes += chunk.byteLength;
    releaseChunks(chunks);
  }
  return bytes;
}

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const large = Deno.args.includes("--large");
const encoder = new TextEncoder();

function methodOf(i: number): string {
  return "m" + Math.floor(i / 100);
}
function routeOf(i: number): string {
  return "/route/" + (i % 100);
}
function observationOf(i: number, k: number): number {
  return ((i * 31 + k * 7919) % 12000) / 1000;
}

// ---- The lean renderer: typed arrays in, bytes out ----------------------------------------

/** A growable byte buffer with the bare minimum of checks. */
class Bytes {
  buffer = new Uint8Array(1 << 20);
  position = 0;
  room(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.position + bytes));
    grown.set(this.buffer.subarray(0, this.position));
    this.buffer = grown;
  }
  bytes(source: Uint8Array): void {
    const buffer = this.buffer;
    let position = this.position;
    for (let i = 0; i < source.length; i++) buffer[position++] = source[i];
    this.position = position;
  }
  /** Whole numbers below 1e6 digit by digit, others through formatFloat (ASCII). */
  number(value: number): void {
    const buffer = this.buffer;
    if (value >= 0 && value < 1e6 && Math.floor(value) === value) {
      const digits = value < 10
        ? 1
        : value < 100
        ? 2
        : value < 1000
        ? 3
        : value < 10_000
        ? 4
        : value < 100_000
        ? 5
        : 6;
      let position = this.position + digits;
      this.position = position + 2;
      buffer[position] = 0x2e;
      buffer[position + 1] = 0x30;
      let rest = value;
      do {
        buffer[--position] = 0x30 + rest % 10;
        rest = Math.floor(rest / 10);
      } while (rest > 0);
      return;
    }
    const text = formatFloat(value);
    let position = this.position;
    for (let i = 0; i < text.length; i++) buffer[position++] = text.charCodeAt(i);
    this.position = position;
  }
}

/** Label values by id, encoded once; each series holds ids. */
interface LeanLabels {
  methods: Uint8Array[];
  routes: Uint8Array[];
  methodIds: Int32Array;
  routeIds: Int32Array;
}

function leanLabels(series: number): LeanLabels {
  const methods: Uint8Array[] = [];
  const routes: Uint8Array[] = [];
  for (let m = 0; m * 100 < series; m++) methods.push(encoder.encode(methodOf(m * 100)));
  for (let r = 0; r < 100; r++) routes.push(encoder.encode(routeOf(r)));
  const methodIds = new Int32Array(series);
  const routeIds = new Int32Array(series);
  for (let i = 0; i < series; i++) {
    methodIds[i] = Math.floor(i / 100);
    routeIds[i] = i % 100;
  }
  return { methods, routes, methodIds, routeIds };
}

function leanCounters(out: Bytes, header: Uint8Array, labels: LeanLabels, values: Float64Array) {
  const open = encoder.encode('http_requests_total{method="');
  const middle = encoder.encode('",route="');
  const close = encoder.encode('"} ');
  out.position = 0;
  out.room(header.length);
  out.bytes(header);
  for (let i = 0; i < values.length; i++) {
    out.room(256);
    out.bytes(open);
    out.bytes(labels.methods[labels.methodIds[i]]);
    out.bytes(middle);
    out.bytes(labels.routes[labels.routeIds[i]]);
    out.bytes(close);
    out.number(values[i]);
    out.buffer[out.position++] = 0x0a;
  }
  return out.position;
}

function leanHistograms(
  out: Bytes,
  header: Uint8Array,
  labels: LeanLabels,
  counts: Uint32Array,
  sums: Float64Array,
) {
  const bucket = encoder.encode('http_request_duration_seconds_bucket{le="');
  const bounds = [...BOUNDS.map(formatFloat), "+Inf"].map((text) => encoder.encode(text));
  const afterBound = encoder.encode('",method="');
  const count = encoder.encode('http_request_duration_seconds_count{method="');
  const sum = encoder.encode('http_request_duration_seconds_sum{method="');
  const middle = encoder.encode('",route="');
  const close = encoder.encode('"} ');
  const width = bounds.length;
  out.position = 0;
  out.room(header.length);
  out.bytes(header);
  for (let i = 0; i < sums.length; i++) {
    out.room(4096);
    const method = labels.methods[labels.methodIds[i]];
    const route = labels.routes[labels.routeIds[i]];
    let cumulative = 0;
    for (let b = 0; b < width; b++) {
      cumulative += counts[i * width + b];
      out.bytes(bucket);
      out.bytes(bounds[b]);
      out.bytes(afterBound);
      out.bytes(method);
      out.bytes(middle);
      out.bytes(route);
      out.bytes(close);
      out.number(cumulative);
      out.buffer[out.position++] = 0x0a;
    }
    for (const [prefix, value] of [[count, cumulative], [sum, sums[i]]] as const) {
      out.bytes(prefix);
      out.bytes(method);
      out.bytes(middle);
      out.bytes(route);
      out.bytes(close);
      out.number(value);
      out.buffer[out.position++] = 0x0a;
    }
  }
  return out.position;
}

// ---- The contenders ------------------------------------------------------------------------

interface Setup {
  ours: () => Promise<number>;
  /** The byte renderer alone, its chunks handed back to the pool (no HTTP, no stream). */
  render: () => Promise<number>;
  lean: () => number;
  prom?: () => Promise<number>;
  check: () => Promise<void>;
}

async function readAll(response: Response): Promise<number> {
  let bytes = 0;
  const reader = response.body!.getReader();
  for (let part = await reader.read(); !part.done; part = await reader.read()) {
    bytes += part.value.byteLength;
  }
  return bytes;
}

function setupCounters(series: number, withProm: boolean): Setup {
  const registry = new Registry();
  const counter = ourRequestsCounter(registry);
  const values = new Float64Array(series);
  for (let i = 0; i < series; i++) {
    counter.labels(methodOf(i), routeOf(i)).inc(i % 5000);
    values[i] = i % 5000;
  }
  const handle = metricsHandler({ registry, compression: false, format: "text" });
  const request = new Request("http://localhost/metrics");
  const labels = leanLabels(series);
  const header = encoder.encode(
    "# HELP http_requests_total requests\n# TYPE http_requests_total counter\n",
  );
  const out = new Bytes();
  let prom: (() => Promise<number>) | undefined;
  if (withProm) {
    const promRegistry = new client.Registry();
    const promCounter = new client.Counter({
      name: "http_requests_total",
      help: "requests",
      labelNames: ["method", "route"],
      registers: [promRegistry],
    });
    for (let i = 0; i < series; i++) {
      promCounter.labels({ method: methodOf(i), route: routeOf(i) }).inc(i % 5000);
    }
    prom = async () => (await promRegistry.metrics()).length;
  }
  return {
    ours: async () => await readAll(await handle(request)),
    render: () => renderOnly(registry),
    lean: () => leanCounters(out, header, labels, values),
    prom,
    check: async () => {
      const ours = new Uint8Array(await (await handle(request)).arrayBuffer());
      const length = leanCounters(out, header, labels, values);
      if (!sameBytes(ours, out.buffer.subarray(0, length))) throw new Error("counters differ");
    },
  };
}

function setupHistograms(series: number, withProm: boolean): Setup {
  const registry = new Registry();
  const histogram = new Histogram({
    name: "http_request_duration_seconds",
    help: "latency",
    buckets: BOUNDS,
    labelNames: ["method", "route"],
    registry,
    maxSeries: Infinity, // up to 100k series
  });
  const width = BOUNDS.length + 1;
  const counts = new Uint32Array(series * width);
  const sums = new Float64Array(series);
  for (let i = 0; i < series; i++) {
    const child = histogram.labels(methodOf(i), routeOf(i));
    for (let k = 0; k < 10; k++) {
      const value = observationOf(i, k);
      child.observe(value);
      let b = 0;
      while (b < BOUNDS.length && value > BOUNDS[b]) b++;
      counts[i * width + b]++;
      sums[i] += value;
    }
  }
  const handle = metricsHandler({ registry, compression: false, format: "text" });
  const request = new Request("http://localhost/metrics");
  const labels = leanLabels(series);
  const header = encoder.encode(
    "# HELP http_request_duration_seconds latency\n" +
      "# TYPE http_request_duration_seconds histogram\n",
  );
  const out = new Bytes();
  let prom: (() => Promise<number>) | undefined;
  if (withProm) {
    const promRegistry = new client.Registry();
    const promHistogram = new client.Histogram({
      name: "http_request_duration_seconds",
      help: "latency",
      buckets: BOUNDS,
      labelNames: ["method", "route"],
      registers: [promRegistry],
    });
    for (let i = 0; i < series; i++) {
      const child = promHistogram.labels({ method: methodOf(i), route: routeOf(i) });
      for (let k = 0; k < 10; k++) child.observe(observationOf(i, k));
    }
    prom = async () => (await promRegistry.metrics()).length;
  }
  return {
    ours: async () => await readAll(await handle(request)),
    render: () => renderOnly(registry),
    lean: () => leanHistograms(out, header, labels, counts, sums),
    prom,
    check: async () => {
      const ours = new Uint8Array(await (await handle(request)).arrayBuffer());
      const length = leanHistograms(out, header, labels, counts, sums);
      if (!sameBytes(ours, out.buffer.subarray(0, length))) throw new Error("histograms differ");
    },
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** client_golang's median, or undefined where Go or the build is missing. */
function goMedian(kind: string, series: number, runs: number): number | undefined {
  const binary = goBinary();
  if (binary === undefined) return undefined;
  const output = new Deno.Command(binary, { args: [kind, String(series), String(runs)] })
    .outputSync();
  const match = /median_ms ([0-9.]+)/.exec(new TextDecoder().decode(output.stdout));
  return match === null ? undefined : Number(match[1]);
}

let goBuilt: string | undefined | null = null;
function goBinary(): string | undefined {
  if (goBuilt !== null) return goBuilt;
  goBuilt = undefined;
  try {
    const target = Deno.makeTempDirSync() + "/promhttp_render";
    const built = new Deno.Command("go", {
      args: ["build", "-o", target, "./bench/promhttp_render"],
      env: { GOPATH: "/usr/share/gocode", GO111MODULE: "off", GOFLAGS: "-mod=mod" },
      stderr: "piped",
    }).outputSync();
    if (built.success) goBuilt = target;
    else {console.log(
        "client_golang: build failed, skipped:",
        new TextDecoder().decode(built.stderr),
      );}
  } catch {
    console.log("client_golang: no Go here (skipped)");
  }
  return goBuilt;
}

const cases: { kind: "counter" | "histogram"; series: number; prom: boolean; runs: number }[] = [
  { kind: "counter", series: 10_000, prom: true, runs: 25 },
  { kind: "counter", series: 100_000, prom: true, runs: 5 },
  { kind: "histogram", series: 10_000, prom: true, runs: 11 },
  { kind: "histogram", series: 100_000, prom: false, runs: 3 },
  ...(large
    ? [
      { kind: "counter" as const, series: 1_000_000, prom: false, runs: 3 },
      { kind: "histogram" as const, series: 300_000, prom: false, runs: 3 },
    ]
    : []),
];

console.log(
  "| series | ours handler ms | lean ms | ours/lean | renderer alone ms | renderer/lean | prom-client ms | prom/ours | client_golang ms | go/ours | body MB |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const { kind, series, prom, runs } of cases) {
  const setup = kind === "counter" ? setupCounters(series, prom) : setupHistograms(series, prom);
  await setup.check();
  const ours: number[] = [];
  const renders: number[] = [];
  const lean: number[] = [];
  const proms: number[] = [];
  let bytes = 0;
  // Warm-up rounds (not counted): a few at small sizes, where one round is a millisecond and
  // the handler's stream and promise paths are still being compiled after the first.
  const warmUps = series <= 10_000 ? 5 : 1;
  for (let run = 0; run < runs + warmUps; run++) {
    let start = performance.now();
    bytes = await setup.ours();
    const oursMs = performance.now() - start;
    start = performance.now();
    await setup.render();
    const renderMs = performance.now() - start;
    start = performance.now();
    setup.lean();
    const leanMs = performance.now() - start;
    let promMs = 0;
    if (setup.prom !== undefined) {
      start = performance.now();
      await setup.prom();
      promMs = performance.now() - start;
    }
    if (run < warmUps) continue;
    ours.push(oursMs);
    renders.push(renderMs);
    lean.push(leanMs);
    proms.push(promMs);
  }
  const oursMedian = median(ours);
  const leanMedian = median(lean);
  const promMedian = setup.prom === undefined ? undefined : median(proms);
  const goMs = goMedian(kind, series, runs);
  const label = `${series / 1000}k ${kind}${kind === "histogram" ? " (11 bounds)" : ""}`;
  console.log(
    `| ${label} | ${oursMedian.toFixed(1)} | ${leanMedian.toFixed(1)} | ${
      (oursMedian / leanMedian).toFixed(2)
    }× | ${median(renders).toFixed(1)} | ${(median(renders) / leanMedian).toFixed(2)}× | ${
      promMedian?.toFixed(1) ?? "—"
    } | ${promMedian === undefined ? "—" : (promMedian / oursMedian).toFixed(2) + "×"} | ${
      goMs?.toFixed(1) ?? "—"
    } | ${goMs === undefined ? "—" : (goMs / oursMedian).toFixed(2) + "×"} | ${
      (bytes / 1e6).toFixed(1)
    } |`,
  );
}
