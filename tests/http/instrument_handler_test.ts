// instrumentHandler(): route templates, unmatched paths, methods, errors, streamed and cancelled
// bodies, options — through the wrapper directly and through a real Deno.serve.
import assert from "node:assert/strict";
import { Gauge, instrumentHandler, type InstrumentHandlerOptions, Registry } from "../../mod.ts";
import {
  compileSimpleTemplate,
  isSimpleTemplate,
  methodIndex,
  pathnameOf,
} from "../../src/http/request_labels.ts";
import { all, decodeMessage, splitDelimited, toText, unzigzag } from "../support/protobuf.ts";
import { freePort, startProcess, waitFor, waitForReadyUrl } from "../support/process.ts";

/** The exposition lines of one family's samples (no comments, no buckets). */
async function samples(registry: Registry, prefix: string): Promise<string[]> {
  return (await registry.metrics()).split("\n").filter((line) =>
    line.startsWith(prefix) && !line.includes("_bucket")
  );
}

function json(request: Request): Response {
  return Response.json({ path: new URL(request.url).pathname });
}

function instrumented(options: InstrumentHandlerOptions, handler = json) {
  const registry = options.registry ?? new Registry();
  return { registry, handle: instrumentHandler(handler, { registry, ...options }) };
}

Deno.test("route templates: each request is counted under the first template it matches", async () => {
  const { registry, handle } = instrumented({
    routes: ["/todos", "/todos/:id", "/todos/:id/done", "/static/*"],
  });
  for (
    const path of [
      "/todos",
      "/todos/1",
      "/todos/2?full=1",
      "/todos/3/done",
      "/static/css/site.css",
      "/todos/",
    ]
  ) {
    await handle(new Request("http://localhost" + path));
  }
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/todos",status="200"} 1.0',
    'http_requests_total{method="GET",route="/todos/:id",status="200"} 2.0',
    'http_requests_total{method="GET",route="/todos/:id/done",status="200"} 1.0',
    'http_requests_total{method="GET",route="/static/*",status="200"} 1.0',
    'http_requests_total{method="GET",route="other",status="200"} 1.0',
  ]);
  assert.deepEqual(await samples(registry, "http_request_duration_seconds_count"), [
    'http_request_duration_seconds_count{method="GET",route="/todos",status="200"} 1.0',
    'http_request_duration_seconds_count{method="GET",route="/todos/:id",status="200"} 2.0',
    'http_request_duration_seconds_count{method="GET",route="/todos/:id/done",status="200"} 1.0',
    'http_request_duration_seconds_count{method="GET",route="/static/*",status="200"} 1.0',
    'http_request_duration_seconds_count{method="GET",route="other",status="200"} 1.0',
  ]);
  assert.deepEqual(await samples(registry, "http_requests_in_flight"), [
    "http_requests_in_flight 0.0",
  ]);
});

Deno.test('a scanner\'s thousand paths make one route="other" series', async () => {
  const { registry, handle } = instrumented({ routes: ["/todos/:id"] });
  for (let i = 0; i < 1000; i++) {
    await handle(new Request(`http://localhost/wp-admin/${i}.php?x=${i}`));
  }
  assert.deepEqual(
    await samples(registry, "http_requests_total"),
    [
      'http_requests_total{method="GET",route="other",status="404"} 1000.0',
    ].map((line) => line.replace("404", "200")),
  );
  // Without any routes, every path is "other".
  const bare = instrumented({});
  await bare.handle(new Request("http://localhost/todos/1"));
  assert.deepEqual(await samples(bare.registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="other",status="200"} 1.0',
  ]);
});

Deno.test("methods outside the standard set are OTHER; PATCH in any case is PATCH", async () => {
  const { registry, handle } = instrumented({ routes: ["/x"] });
  await handle(new Request("http://localhost/x", { method: "PROPFIND" }));
  await handle(new Request("http://localhost/x", { method: "BREW" }));
  await handle(new Request("http://localhost/x", { method: "patch" }));
  await handle(new Request("http://localhost/x", { method: "delete" }));
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="OTHER",route="/x",status="200"} 2.0',
    'http_requests_total{method="PATCH",route="/x",status="200"} 1.0',
    'http_requests_total{method="DELETE",route="/x",status="200"} 1.0',
  ]);
  assert.equal(methodIndex("GET"), 0);
  assert.equal(methodIndex("get"), 0);
  assert.equal(methodIndex("OTHER"), 9);
});

Deno.test("a handler that throws or rejects is counted as 500 and its error passes through", async () => {
  const failure = new Error("database down");
  const { registry, handle } = instrumented({ routes: ["/sync", "/async"] }, (request) => {
    if (request.url.endsWith("/sync")) throw failure;
    return Promise.reject(failure) as unknown as Response;
  });
  assert.throws(() => handle(new Request("http://localhost/sync")), (e) => e === failure);
  await assert.rejects(
    async () => await handle(new Request("http://localhost/async")),
    (e) => e === failure,
  );
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/sync",status="500"} 1.0',
    'http_requests_total{method="GET",route="/async",status="500"} 1.0',
  ]);
  assert.deepEqual(await samples(registry, "http_requests_in_flight"), [
    "http_requests_in_flight 0.0",
  ]);
});

Deno.test("the status of the response is the label, in-memory and async alike", async () => {
  let answered: Response | undefined;
  const { registry, handle } = instrumented(
    { routes: ["/a", "/b"] },
    (request) =>
      request.url.endsWith("/a")
        ? answered = new Response("missing", { status: 404 })
        : Promise.resolve(new Response(null, { status: 204 })) as unknown as Response,
  );
  const first = handle(new Request("http://localhost/a"));
  assert.ok(first instanceof Response, "a synchronous handler stays synchronous");
  // In Deno an in-memory body is recognised: the handler's own response, untouched.
  assert.equal(first, answered);
  assert.equal(await (first as Response).text(), "missing");
  assert.equal((await handle(new Request("http://localhost/b"))).status, 204);
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/a",status="404"} 1.0',
    'http_requests_total{method="GET",route="/b",status="204"} 1.0',
  ]);
});

/** Starts Deno.serve on a free loopback port; returns its base URL and a stopper. */
function serve(handler: (request: Request) => Response | Promise<Response>) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

Deno.test("a streamed body: counted when the handler returns it, its size when it ends", async () => {
  const registry = new Registry();
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const handle = instrumentHandler(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("first,"));
          await released;
          controller.enqueue(new TextEncoder().encode("last"));
          controller.close();
        },
      }),
    ), { registry, routes: ["/events"], bodySizes: true });
  await using server = serve(handle);
  const response = await fetch(server.url + "/events");
  const reader = response.body!.getReader();
  await reader.read();
  // Headers are sent and a chunk is out, the body has not ended: the request is counted and
  // timed (the duration ends with the handler's response), its size is not known yet.
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/events",status="200"} 1.0',
  ]);
  assert.deepEqual(await samples(registry, "http_requests_in_flight"), [
    "http_requests_in_flight 0.0",
  ]);
  const labels = { method: "GET", route: "/events", status: "200" };
  assert.equal(await registry.getSampleValue("http_response_size_bytes_count", labels), 0);
  release();
  while (!(await reader.read()).done) { /* drain */ }
  await waitFor(
    async () => await registry.getSampleValue("http_response_size_bytes_count", labels) === 1,
    { timeoutMs: 5000, what: "the streamed body's size to be observed" },
  );
  assert.equal(
    await registry.getSampleValue("http_response_size_bytes_sum", labels),
    "first,last".length,
  );
  assert.equal(await registry.getSampleValue("http_requests_total", labels), 1);
});

Deno.test("a streamed body cancelled by the client: the cancellation reaches the handler's stream", async () => {
  const registry = new Registry();
  let cancelled!: () => void;
  const sourceCancelled = new Promise<void>((resolve) => cancelled = resolve);
  const handle = instrumentHandler(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
          // Never closes: only the client going away ends it.
        },
        cancel() {
          cancelled();
        },
      }),
    ), { registry, routes: ["/events"], bodySizes: true });
  await using server = serve(handle);
  const abort = new AbortController();
  const response = await fetch(server.url + "/events", { signal: abort.signal });
  const reader = response.body!.getReader();
  await reader.read();
  abort.abort();
  await reader.cancel().catch(() => {});
  await sourceCancelled; // through the counting stream, to the handler's own stream
  const labels = { method: "GET", route: "/events", status: "200" };
  await waitFor(
    async () => await registry.getSampleValue("http_response_size_bytes_count", labels) === 1,
    { timeoutMs: 5000, what: "the cancelled body's size to be observed" },
  );
  assert.equal(await registry.getSampleValue("http_response_size_bytes_sum", labels), 9);
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/events",status="200"} 1.0',
  ]);
  assert.deepEqual(await samples(registry, "http_requests_in_flight"), [
    "http_requests_in_flight 0.0",
  ]);
});

Deno.test("through Deno.serve: in-memory bodies, sizes from Content-Length, excluded paths", async () => {
  const registry = new Registry();
  const handle = instrumentHandler(async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return new Response(await registry.metrics());
    await request.arrayBuffer();
    return new Response("héllo", { status: 201 });
  }, { registry, routes: ["/todos"], exclude: ["/metrics", "/healthz"], bodySizes: true });
  await using server = serve(handle);
  const created = await fetch(server.url + "/todos", { method: "POST", body: "0123456789" });
  assert.equal(await created.text(), "héllo");
  await (await fetch(server.url + "/metrics")).text();
  await (await fetch(server.url + "/healthz")).text();
  const labels = { method: "POST", route: "/todos", status: "201" };
  assert.equal(await registry.getSampleValue("http_requests_total", labels), 1);
  assert.equal(await registry.getSampleValue("http_request_size_bytes_sum", labels), 10);
  assert.equal(await registry.getSampleValue("http_response_size_bytes_sum", labels), 6);
  // The excluded paths were served but not measured.
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="POST",route="/todos",status="201"} 1.0',
  ]);
});

Deno.test("options: prefix, constant labels, request labels, buckets, route function", async () => {
  const registry = new Registry();
  const handle = instrumentHandler(json, {
    registry,
    prefix: "api_",
    labels: { service: "todo" },
    requestLabels: { tenant: (request) => request.headers.get("x-tenant") ?? "none" },
    buckets: [0.1, 1],
    route: (request) =>
      new URL(request.url).pathname.startsWith("/todos/") ? "/todos/:id" : undefined,
  });
  await handle(new Request("http://localhost/todos/7", { headers: { "x-tenant": "acme" } }));
  await handle(new Request("http://localhost/other"));
  const text = await registry.metrics();
  assert.deepEqual(text.split("\n").filter((line) => line.startsWith("api_http_requests")), [
    'api_http_requests_total{method="GET",route="/todos/:id",service="todo",status="200",tenant="acme"} 1.0',
    'api_http_requests_total{method="GET",route="other",service="todo",status="200",tenant="none"} 1.0',
    'api_http_requests_in_flight{service="todo"} 0.0',
  ]);
  assert.match(
    text,
    /^api_http_request_duration_seconds_bucket\{le="0.1",method="GET",route="\/todos\/:id",service="todo",status="200",tenant="acme"\} 1.0$/m,
  );
  assert.doesNotMatch(text, /le="0.005"/);
});

Deno.test("the registry's default labels join the wrapper's labels, in text and OpenMetrics", async () => {
  const registry = new Registry({ defaultLabels: { region: "eu-1" } });
  const handle = instrumentHandler(json, {
    registry,
    routes: ["/todos"],
    labels: { service: "todo" },
  });
  await handle(new Request("http://localhost/todos"));
  assert.deepEqual(await samples(registry, "http_requests"), [
    'http_requests_total{method="GET",region="eu-1",route="/todos",service="todo",status="200"} 1.0',
    'http_requests_in_flight{region="eu-1",service="todo"} 0.0',
  ]);
  const openMetrics = (await registry.metrics({ format: "openmetrics" })).split("\n");
  assert.ok(openMetrics.includes(
    'http_requests_total{method="GET",region="eu-1",route="/todos",service="todo",status="200"} 1.0',
  ));
  assert.ok(openMetrics.includes(
    'http_request_duration_seconds_count{method="GET",region="eu-1",route="/todos",service="todo",status="200"} 1.0',
  ));
});

Deno.test("a throwing route or label hook falls back to a label, reported once per streak", async () => {
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const { registry, handle } = instrumented({
      route: () => {
        throw new Error("router broke");
      },
      requestLabels: { tenant: () => JSON.parse("{") },
    });
    for (let i = 0; i < 3; i++) await handle(new Request("http://localhost/x"));
    assert.deepEqual(await samples(registry, "http_requests_total"), [
      'http_requests_total{method="GET",route="other",status="200",tenant=""} 3.0',
    ]);
    assert.equal(errors.length, 1, "one report for the streak");
    assert.match(String(errors[0][0]), /route\(request\) threw \(router broke\)/);
  } finally {
    console.error = original;
  }
});

Deno.test("extra arguments and this reach the handler unchanged (Hono's env and ctx)", async () => {
  const registry = new Registry();
  const env = { DB: "d1" };
  const ctx = { waitUntil() {} };
  let seen: unknown[] = [];
  const app = {
    name: "app",
    fetch(this: { name: string }, _request: Request, e: unknown, c: unknown): Response {
      seen = [this?.name, e, c];
      return new Response("ok");
    },
  };
  const fetchHandler = instrumentHandler(app.fetch, { registry });
  await fetchHandler.call(app, new Request("http://localhost/"), env, ctx);
  assert.deepEqual(seen, ["app", env, ctx]);
});

Deno.test("bad options are TypeErrors, and nothing is left registered", () => {
  const registry = new Registry();
  assert.throws(() => instrumentHandler(json, { registry, routes: ["todos"] }), {
    name: "TypeError",
    message: /route template "todos" must be a path starting with "\/"/,
  });
  assert.throws(() => instrumentHandler(json, { registry, labels: { route: "x" } }), {
    name: "TypeError",
    message: /labels: "route" is already a label/,
  });
  assert.throws(
    () => instrumentHandler(json, { registry, routes: [], route: () => "x" }),
    /either routes or route/,
  );
  assert.throws(() => instrumentHandler(json, { registry, prefix: "x\n" }), TypeError);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => instrumentHandler("handler"), TypeError);
  assert.deepEqual(registry.collectors, []);
  // A name taken half-way: the counter registered before it is taken back.
  const taken = new Gauge({ name: "http_request_duration_seconds", help: "mine", registry });
  assert.throws(() => instrumentHandler(json, { registry }), {
    name: "TypeError",
    message: /"http_request_duration_seconds" is already registered/,
  });
  assert.deepEqual(registry.collectors, [taken]);
});

/**
 * The protobuf histograms of `http_request_duration_seconds`, decoded: schema, classic bucket
 * count, native positive bucket counts (from the deltas) and sample count, per series.
 */
async function nativeDurations(registry: Registry) {
  const bytes = await registry.metrics({ format: "protobuf" });
  assert.ok(bytes instanceof Uint8Array);
  const family = splitDelimited(bytes).map(decodeMessage).find((fields) =>
    toText(all(fields, 1)[0] as Uint8Array) === "http_request_duration_seconds"
  )!;
  return all(family, 4).map((metric) => {
    const histogram = decodeMessage(all(decodeMessage(metric as Uint8Array), 7)[0] as Uint8Array);
    const varint = (field: number) => all(histogram, field) as bigint[];
    let count = 0n;
    const positiveCounts = varint(13).map((delta) => count += unzigzag(delta));
    return {
      schema: varint(5).length === 0 ? undefined : Number(unzigzag(varint(5)[0])),
      classicBuckets: all(histogram, 3).length,
      positiveCounts: positiveCounts.map(Number),
      sampleCount: Number(varint(1)[0]),
    };
  });
}

Deno.test("native: the duration histogram is native, classic buckets dropped unless given", async () => {
  // native: true, no buckets: native buckets in protobuf, only +Inf/_count/_sum in text.
  const nativeOnly = instrumented({ routes: ["/a"], native: true });
  await nativeOnly.handle(new Request("http://localhost/a"));
  await nativeOnly.handle(new Request("http://localhost/a"));
  const [series] = await nativeDurations(nativeOnly.registry);
  assert.equal(series.schema, 3); // the default factor 1.1
  assert.equal(series.classicBuckets, 0);
  assert.equal(series.sampleCount, 2);
  assert.equal(series.positiveCounts.reduce((sum, n) => sum + n, 0), 2);
  const text = await nativeOnly.registry.metrics();
  assert.deepEqual(
    text.split("\n").filter((line) =>
      line.startsWith("http_request_duration_seconds_") && !line.includes("_sum")
    ),
    [
      'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/a",status="200"} 2.0',
      'http_request_duration_seconds_count{method="GET",route="/a",status="200"} 2.0',
    ],
  );
  // The counter and the size histograms are untouched by it.
  assert.match(text, /^http_requests_total\{method="GET",route="\/a",status="200"\} 2.0$/m);

  // Native options pass through; with buckets too, the histogram is both.
  const both = instrumented({
    routes: ["/a"],
    native: { bucketFactor: 2 },
    buckets: [0.5, 1],
    bodySizes: true,
  });
  await both.handle(new Request("http://localhost/a"));
  const [bothSeries] = await nativeDurations(both.registry);
  assert.equal(bothSeries.schema, 0); // factor 2
  assert.equal(bothSeries.classicBuckets, 2);
  assert.match(await both.registry.metrics(), /http_request_duration_seconds_bucket\{le="0.5",/);
  assert.match(await both.registry.metrics(), /http_response_size_bytes_bucket\{le="100.0",/);

  // Without native, no native fields.
  const classic = instrumented({ routes: ["/a"] });
  await classic.handle(new Request("http://localhost/a"));
  const [classicSeries] = await nativeDurations(classic.registry);
  assert.equal(classicSeries.schema, undefined);
  assert.equal(classicSeries.classicBuckets, 14);

  // Bad native options: a TypeError naming the option, a RangeError naming the histogram, and
  // nothing left registered.
  const registry = new Registry();
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => instrumentHandler(json, { registry, native: "yes" }), {
    name: "TypeError",
    message: /instrumentHandler\(\): native must be true, false or native histogram options/,
  });
  assert.throws(() => instrumentHandler(json, { registry, native: { bucketFactor: -1 } }), {
    name: "RangeError",
    message: /http_request_duration_seconds/,
  });
  assert.deepEqual(registry.collectors, []);
});

Deno.test("the built-in template matcher agrees with URLPattern", () => {
  const templates = [
    "/",
    "/todos",
    "/todos/:id",
    "/todos/:id/items/:item",
    "/static/*",
    "/a/*/b",
    "/v1.0/x",
  ];
  const paths = [
    "/",
    "/todos",
    "/todos/",
    "/todos/1",
    "/todos/1/",
    "/todos/1/items/2",
    "/todos//items/2",
    "/static",
    "/static/",
    "/static/a/b.css",
    "/a/x/y/b",
    "/a//b",
    "/v1.0/x",
    "/v1a0/x",
    "/TODOS",
  ];
  for (const template of templates) {
    assert.ok(isSimpleTemplate(template), template);
    const ours = compileSimpleTemplate(template);
    const theirs = new URLPattern({ pathname: template });
    for (const path of paths) {
      assert.equal(
        ours.test(path),
        theirs.test("http://localhost" + path),
        `${template} vs ${path}`,
      );
    }
  }
  for (const advanced of ["/todos/:id(\\d+)", "/files/:path*", "/x/{y}?", "/é"]) {
    assert.ok(!isSimpleTemplate(advanced), advanced);
  }
});

Deno.test("URLPattern syntax beyond :name and * works in Deno, and is refused where URLPattern is absent", async () => {
  const { registry, handle } = instrumented({ routes: ["/todos/:id(\\d+)", "/todos/:slug"] });
  await handle(new Request("http://localhost/todos/42"));
  await handle(new Request("http://localhost/todos/abc"));
  assert.deepEqual(await samples(registry, "http_requests_total"), [
    'http_requests_total{method="GET",route="/todos/:id(\\\\d+)",status="200"} 1.0',
    'http_requests_total{method="GET",route="/todos/:slug",status="200"} 1.0',
  ]);
  const saved = globalThis.URLPattern;
  // @ts-ignore: simulating a runtime without URLPattern (Bun before 1.3, for instance)
  delete globalThis.URLPattern;
  try {
    const simple = instrumented({ routes: ["/todos/:id"] });
    await simple.handle(new Request("http://localhost/todos/1"));
    assert.deepEqual(await samples(simple.registry, "http_requests_total"), [
      'http_requests_total{method="GET",route="/todos/:id",status="200"} 1.0',
    ]);
    assert.throws(() => instrumented({ routes: ["/todos/:id(\\d+)"] }), {
      name: "TypeError",
      message: /this runtime has no URLPattern/,
    });
  } finally {
    globalThis.URLPattern = saved;
  }
});

Deno.test("helpers: pathnameOf", () => {
  assert.equal(pathnameOf("http://localhost/a/b?c=/d#e"), "/a/b");
  assert.equal(pathnameOf("http://localhost"), "/");
  assert.equal(pathnameOf("https://h:8080/x#y?z"), "/x");
});

Deno.test("examples/http_app.ts: four routes, one wrapper, /metrics not counted", async () => {
  const port = freePort();
  const app = startProcess(Deno.execPath(), [
    "run",
    "--allow-net",
    new URL("../../examples/http_app.ts", import.meta.url).pathname,
    "--port",
    String(port),
  ]);
  try {
    // The readiness check is the app's first request: GET /stats, counted once.
    await waitForReadyUrl(app, `http://127.0.0.1:${port}/stats`, {
      name: "http_app.ts",
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(base + path, {
        method,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await response.body?.cancel();
      return response.status;
    };
    assert.equal(await call("POST", "/todos", { title: "milk" }), 201);
    assert.equal(await call("GET", "/todos/1"), 200);
    assert.equal(await call("POST", "/todos/1/done"), 200);
    assert.equal(await call("GET", "/todos/99"), 404);
    assert.equal(await call("DELETE", "/todos/1"), 204);
    assert.equal(await call("GET", "/.env"), 404);
    const text = await (await fetch(base + "/metrics")).text();
    const counted = text.split("\n").filter((line) => line.startsWith("http_requests_total{"));
    assert.deepEqual(counted.sort(), [
      'http_requests_total{method="DELETE",route="/todos/:id",status="204"} 1.0',
      'http_requests_total{method="GET",route="/stats",status="200"} 1.0',
      'http_requests_total{method="GET",route="/todos/:id",status="200"} 1.0',
      'http_requests_total{method="GET",route="/todos/:id",status="404"} 1.0',
      'http_requests_total{method="GET",route="other",status="404"} 1.0',
      'http_requests_total{method="POST",route="/todos",status="201"} 1.0',
      'http_requests_total{method="POST",route="/todos/:id/done",status="200"} 1.0',
    ]);
    assert.match(text, /^http_requests_in_flight 0\.0$/m, "the scrape itself is not measured");
  } finally {
    await app.stop();
  }
});

Deno.test("the handler's response goes back untouched unless a body size must be counted", async () => {
  const bodies: [string, () => Response][] = [
    ["/json", () => Response.json({ ok: true })],
    ["/text", () => new Response("héllo", { status: 201, headers: { "x-app": "1" } })],
    ["/bytes", () => new Response(new Uint8Array(3))],
    [
      "/declared",
      () => new Response(new Blob(["12345"]).stream(), { headers: { "content-length": "5" } }),
    ],
    ["/stream", () => new Response(new Blob(["1234567"]).stream())],
    ["/empty", () => new Response(null, { status: 204 })],
  ];
  for (const bodySizes of [false, true]) {
    const registry = new Registry();
    let original = new Response();
    const handle = instrumentHandler((_request: Request) => original, {
      registry,
      routes: bodies.map(([path]) => path),
      bodySizes,
    });
    for (const [path, make] of bodies) {
      original = make();
      const response = await handle(new Request("http://localhost" + path));
      const labels = { method: "GET", route: path, status: String(original.status) };
      // Counted as it is returned, before anything reads its body.
      assert.equal(await registry.getSampleValue("http_requests_total", labels), 1, path);
      const counted = bodySizes && !["/declared", "/empty"].includes(path);
      if (!counted) assert.equal(response, original, `${path} untouched`);
      else {
        // A body without Content-Length passes through a counting stream: same status, status
        // text and headers, its bytes counted as they are read.
        assert.notEqual(response, original, path);
        assert.equal(response.status, original.status);
        assert.equal(response.headers.get("x-app"), original.headers.get("x-app"));
      }
      await response.arrayBuffer();
    }
    if (!bodySizes) {
      assert.doesNotMatch(await registry.metrics() as string, /size_bytes/);
      continue;
    }
    const size = (route: string, status = "200") =>
      registry.getSampleValue("http_response_size_bytes_sum", { method: "GET", route, status });
    assert.equal(await size("/json"), '{"ok":true}'.length);
    assert.equal(await size("/text", "201"), 6);
    assert.equal(await size("/bytes"), 3);
    assert.equal(await size("/declared"), 5);
    assert.equal(await size("/stream"), 7);
    assert.equal(await size("/empty", "204"), 0);
  }
});
