/**
 * What `instrumentHandler()` adds per request: the same four-route handler called bare, wrapped
 * by `instrumentHandler()`, and instrumented by hand with prom-client 15.1.3 the same way (route
 * match, in-flight gauge, counter and histogram by method/route/status). The requests are built
 * once, so what differs between the cases is the instrumentation alone. `deno bench` prints each
 * case's time and its ratio to the bare handler; the "clock" group shows what the two
 * `performance.now()` reads cost, which the < 1 µs target leaves out.
 *
 * Run: `deno bench --allow-all bench/middleware_bench.ts`, or, for a side-by-side table that
 * stays readable on a loaded machine (the fastest of 60 batches of 20 000 requests per case,
 * the cases taking turns, so that pauses caused by other processes drop out):
 * `deno run --allow-all bench/middleware_bench.ts`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { instrumentHandler, Registry } from "../mod.ts";

const ROUTES = ["/todos", "/todos/:id", "/users/:id", "/health"];
// Eight requests over the four routes and one unmatched path, visited in a cycle.
const REQUESTS = [
  new Request("http://localhost/todos"),
  new Request("http://localhost/todos/17"),
  new Request("http://localhost/todos/42?full=1", { method: "DELETE" }),
  new Request("http://localhost/users/alice"),
  new Request("http://localhost/health"),
  new Request("http://localhost/todos", { method: "POST" }),
  new Request("http://localhost/wp-login.php"),
  new Request("http://localhost/todos/3"),
];
const BODY = '{"ok":true}';

/** The application: an in-memory JSON answer, as cheap as a handler gets. */
function app(_request: Request): Response {
  return new Response(BODY, { headers: { "content-type": "application/json" } });
}

/** The same application, async (as most real handlers are). */
function asyncApp(request: Request): Promise<Response> {
  return Promise.resolve(app(request));
}

let next = 0;
function nextRequest(): Request {
  next = (next + 1) & 7;
  return REQUESTS[next];
}

// --- the clock alone -------------------------------------------------------------------------

Deno.bench("two performance.now() reads", { group: "clock" }, () => {
  const started = performance.now();
  if (performance.now() < started) throw new Error("clock went backwards");
});

// --- synchronous handler -----------------------------------------------------------------------

{
  const ours = instrumentHandler(app, { routes: ROUTES, registry: new Registry() });
  const byHand = promClientByHand(app);
  Deno.bench("bare handler", { group: "sync handler", baseline: true }, () => {
    app(nextRequest());
  });
  Deno.bench("instrumentHandler()", { group: "sync handler" }, () => {
    ours(nextRequest());
  });
  Deno.bench("prom-client by hand", { group: "sync handler" }, () => {
    byHand(nextRequest());
  });
}

// --- async handler -----------------------------------------------------------------------------

{
  const ours = instrumentHandler(asyncApp, { routes: ROUTES, registry: new Registry() });
  const byHand = promClientByHandAsync(asyncApp);
  Deno.bench("bare handler", { group: "async handler", baseline: true }, async () => {
    await asyncApp(nextRequest());
  });
  Deno.bench("instrumentHandler()", { group: "async handler" }, async () => {
    await ours(nextRequest());
  });
  Deno.bench("prom-client by hand", { group: "async handler" }, async () => {
    await byHand(nextRequest());
  });
}

// --- prom-client, used by hand the same way ----------------------------------------------------

interface PromMetrics {
  readonly requests: client.Counter<string>;
  readonly duration: client.Histogram<string>;
  readonly inFlight: client.Gauge<string>;
  route(request: Request): string;
}

function promMetrics(): PromMetrics {
  const registers = [new client.Registry()];
  const labelNames = ["method", "route", "status"];
  const patterns = ROUTES.map((route) =>
    new RegExp("^" + route.replaceAll(/:[a-z]+/g, "[^/]+") + "$")
  );
  return {
    requests: new client.Counter({ name: "http_requests_total", help: "r", labelNames, registers }),
    duration: new client.Histogram({
      name: "http_request_duration_seconds",
      help: "d",
      labelNames,
      registers,
    }),
    inFlight: new client.Gauge({ name: "http_requests_in_flight", help: "f", registers }),
    route(request) {
      const pathname = new URL(request.url).pathname;
      const index = patterns.findIndex((pattern) => pattern.test(pathname));
      return index < 0 ? "other" : ROUTES[index];
    },
  };
}

/** What prom-client users write after the handler answered: the labels, then the samples. */
function recordByHand(
  metrics: PromMetrics,
  request: Request,
  response: Response,
  end: (labels: Record<string, string>) => number,
): Response {
  const labels = {
    method: request.method,
    route: metrics.route(request),
    status: String(response.status),
  };
  metrics.requests.inc(labels);
  end(labels);
  metrics.inFlight.dec();
  return response;
}

function promClientByHand(handler: (request: Request) => Response) {
  const metrics = promMetrics();
  return (request: Request): Response => {
    const end = metrics.duration.startTimer();
    metrics.inFlight.inc();
    return recordByHand(metrics, request, handler(request), end);
  };
}

function promClientByHandAsync(handler: (request: Request) => Promise<Response>) {
  const metrics = promMetrics();
  return async (request: Request): Promise<Response> => {
    const end = metrics.duration.startTimer();
    metrics.inFlight.inc();
    return recordByHand(metrics, request, await handler(request), end);
  };
}

// --- `deno run`: fastest batch per case, side by side --------------------------------------

/** Nanoseconds per call of `fn` over one batch of `calls` calls. */
async function batch(fn: () => unknown, isAsync: boolean, calls: number): Promise<number> {
  const started = performance.now();
  if (isAsync) { for (let i = 0; i < calls; i++) await fn(); }
  else for (let i = 0; i < calls; i++) fn();
  return ((performance.now() - started) * 1e6) / calls;
}

/**
 * The fastest batch of each case, the cases taking turns batch by batch so that a busy moment
 * of the machine falls on all of them alike.
 */
async function fastestBatches(
  cases: readonly (() => unknown)[],
  isAsync: boolean,
  rounds = 60,
  calls = 20_000,
): Promise<number[]> {
  const best = cases.map(() => Infinity);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      best[i] = Math.min(best[i], await batch(cases[i], isAsync, calls));
    }
  }
  return best;
}

async function sideBySide(): Promise<void> {
  const [clock] = await fastestBatches([() => performance.now() + performance.now()], false);
  console.log(`two performance.now() reads: ${clock.toFixed(0)} ns\n`);
  console.log(
    "| handler | bare | instrumentHandler() | prom-client by hand | ours added | " +
      "ours added without the clock | prom-client added | ratio prom-client / ours (added) |",
  );
  console.log("|---|---|---|---|---|---|---|---|");
  const cases = [
    ["sync", app, promClientByHand(app), false],
    ["async", asyncApp, promClientByHandAsync(asyncApp), true],
  ] as const;
  for (const [name, handler, byHand, isAsync] of cases) {
    const ours = instrumentHandler(handler, { routes: ROUTES, registry: new Registry() });
    const [bare, wrapped, prom] = await fastestBatches([
      () => handler(nextRequest()),
      () => ours(nextRequest()),
      () => (byHand as (request: Request) => unknown)(nextRequest()),
    ], isAsync);
    const ns = (value: number) => `${value.toFixed(0)} ns`;
    console.log(
      `| ${name} | ${ns(bare)} | ${ns(wrapped)} | ${ns(prom)} | ${ns(wrapped - bare)} | ` +
        `${ns(wrapped - bare - clock)} | ${ns(prom - bare)} | ` +
        `${((prom - bare) / (wrapped - bare)).toFixed(1)}x |`,
    );
  }
}

if (import.meta.main) await sideBySide();
