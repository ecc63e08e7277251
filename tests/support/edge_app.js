// The instrumentation that tests/http/edge_runtimes_test.ts runs on every runtime: Deno (from the sources),
// and Bun, Node.js and workerd (from a `deno bundle` of mod.ts). Plain JavaScript, so each
// runtime loads it as it is; the library comes in as `lib` (the module namespace of mod.ts or
// of its bundle), so all runtimes run exactly this code.

/** The requests every runtime serves, in this order, before the metrics are read. */
export const REQUESTS = [
  ["GET", "/"],
  ["GET", "/orders/7"],
  ["POST", "/orders"],
  ["GET", "/"],
  ["DELETE", "/orders/7"],
  ["GET", "/missing"],
];

/**
 * Builds the app: a `fetch` handler that counts requests by method, route and status, times them
 * into a histogram and a summary, tracks in-flight requests, and serves `/metrics` through
 * `metricsHandler`. Every value is deterministic (durations come from `clock`, not the wall).
 */
export function createApp(lib) {
  const registry = new lib.Registry();
  const requests = new lib.Counter({
    name: "edge_requests",
    help: "Requests served, by method, route and status.",
    labelNames: ["method", "route", "status"],
    registry,
  });
  const duration = new lib.Histogram({
    name: "edge_request_duration_seconds",
    help: "Time to answer a request.",
    labelNames: ["route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1],
    registry,
  });
  const size = new lib.Summary({
    name: "edge_response_size_bytes",
    help: "Response body sizes.",
    percentiles: [0.5, 0.9],
    registry,
  });
  const inFlight = new lib.Gauge({
    name: "edge_requests_in_flight",
    help: "Requests being answered.",
    registry,
  });
  const build = new lib.Info({ name: "edge_build", help: "Build of the app.", registry });
  build.info({ version: "1.2.3", runtime_independent: "yes" });
  const phase = new lib.Enum({
    name: "edge_phase",
    help: "Phase of the app.",
    states: ["starting", "serving", "draining"],
    registry,
  });
  phase.state("serving");
  const serveMetrics = lib.metricsHandler({ registry });

  let tick = 0;
  /** A fake clock: each request "takes" a known time, so histograms match across runtimes. */
  const clock = () => [0.003, 0.02, 0.07, 0.2, 0.009][tick++ % 5];

  async function fetch(request) {
    const route = new URL(request.url).pathname.replace(/\/[0-9]+$/, "/:id");
    if (route === "/metrics") return await serveMetrics(request);
    inFlight.inc();
    try {
      const status = route === "/missing" ? 404 : request.method === "POST" ? 201 : 200;
      const body = `${request.method} ${route}\n`;
      requests.labels({ method: request.method, route, status: String(status) }).inc();
      duration.labels({ route }).observe(clock());
      size.observe(body.length);
      return new Response(body, { status });
    } finally {
      inFlight.dec();
    }
  }

  return { registry, fetch };
}

/**
 * Sends the app's samples once with remote write (`job="edge_rw"`, `instance` as given); returns
 * "ok", the error, or "absent" when this build of the library has no `remoteWrite`.
 */
export async function writeRemotely(lib, app, url, instance) {
  if (typeof lib.remoteWrite !== "function") return "absent";
  try {
    await lib.remoteWrite(url, {
      registry: app.registry,
      labels: { job: "edge_rw", instance },
      timeoutMs: 10_000,
    });
    return "ok";
  } catch (error) {
    return `${error?.constructor?.name}: ${error?.message}`;
  }
}

/** The Deno-only features, each called once; returns the message each one threw (or "ok"). */
export function tryDenoOnlyFeatures(lib) {
  const attempts = {
    startHttpServer: () => lib.startHttpServer({ port: 0, hostname: "127.0.0.1" }),
    ProcessCollector: () => new lib.ProcessCollector(),
    RuntimeCollector: () => new lib.RuntimeCollector(),
    directoryCollector: () => lib.directoryCollector({ dir: "/tmp/deno-prom-edge" }),
    publishToDirectory: () => lib.publishToDirectory({ dir: "/tmp/deno-prom-edge" }),
    flushOnSignals: () =>
      new lib.Pusher({
        gateway: "http://127.0.0.1:9",
        job: "edge",
        registry: new lib.Registry(),
        flushOnSignals: true,
      }),
  };
  const messages = {};
  for (const [feature, attempt] of Object.entries(attempts)) {
    try {
      attempt();
      messages[feature] = "ok";
    } catch (error) {
      messages[feature] = `${error?.constructor?.name}: ${error?.message}`;
    }
  }
  return messages;
}

/**
 * Serves REQUESTS through `app`, then reads /metrics in both text formats; returns the bodies and
 * content types. This is what every runtime reports back to the test.
 */
export async function runScenario(lib) {
  const app = createApp(lib);
  for (const [method, path] of REQUESTS) {
    await (await app.fetch(new Request(`http://app.test${path}`, { method }))).text();
  }
  return { ...(await readMetrics((request) => app.fetch(request))), app };
}

/** GETs /metrics as Prometheus text and as OpenMetrics (gzip-compressed, then unpacked). */
export async function readMetrics(fetchFn) {
  const text = await fetchFn(new Request("http://app.test/metrics"));
  const openMetrics = await fetchFn(
    new Request("http://app.test/metrics", {
      headers: { accept: "application/openmetrics-text; version=1.0.0", "accept-encoding": "gzip" },
    }),
  );
  const gzipped = openMetrics.headers.get("content-encoding") === "gzip";
  const openMetricsBody = gzipped
    ? await new Response(openMetrics.body.pipeThrough(new DecompressionStream("gzip"))).text()
    : await openMetrics.text();
  return {
    text: await text.text(),
    textType: text.headers.get("content-type"),
    openMetrics: openMetricsBody,
    openMetricsType: openMetrics.headers.get("content-type"),
    openMetricsGzipped: gzipped,
  };
}
