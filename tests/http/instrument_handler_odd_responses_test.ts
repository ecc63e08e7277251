// instrumentHandler() and whatever a handler hands back: a response whose body is locked or
// already read (a proxied fetch response read through a reader), something that is not a
// response, a throw of anything. Each request is counted exactly once, in flight returns to 0,
// the handler's response or error comes back unchanged and the wrapper adds no error of its own.
import assert from "node:assert/strict";
import { instrumentHandler, Registry } from "../../mod.ts";

/** Responses whose bodies cannot be read again, made fresh for each call. */
const ODD_RESPONSES: [string, () => Promise<Response> | Response][] = [
  ["locked by a reader", () => {
    const response = new Response("locked");
    response.body!.getReader();
    return response;
  }],
  ["already read", async () => {
    const response = new Response("used");
    await response.text();
    return response;
  }],
  ["a stream being read", () => {
    const response = new Response(new Blob(["streamed"]).stream(), { status: 202 });
    const reader = response.body!.getReader();
    void reader.read();
    return response;
  }],
];

/** The total and in-flight samples of `registry`, as `[series, value]` lines. */
async function counts(registry: Registry): Promise<string[]> {
  return (await registry.metrics() as string).split("\n").filter((line) =>
    line.startsWith("http_requests_total") || line.startsWith("http_requests_in_flight") ||
    line.startsWith("http_request_duration_seconds_count")
  );
}

for (const bodySizes of [false, true]) {
  Deno.test(`a response with a locked or used body is counted once and returned as is (bodySizes: ${bodySizes})`, async () => {
    for (const sync of [true, false]) {
      for (const [what, make] of ODD_RESPONSES) {
        const registry = new Registry();
        const original = await make();
        const handle = instrumentHandler(
          (_request: Request) => sync ? original : Promise.resolve(original),
          { registry, bodySizes },
        );
        const returned = await handle(new Request("http://localhost/x"));
        assert.equal(returned, original, what);
        const status = String(original.status);
        assert.deepEqual(await counts(registry), [
          `http_requests_total{method="GET",route="other",status="${status}"} 1.0`,
          `http_request_duration_seconds_count{method="GET",route="other",status="${status}"} 1.0`,
          "http_requests_in_flight 0.0",
        ], `${what}, ${sync ? "sync" : "async"}`);
      }
    }
  });
}

Deno.test("a proxied fetch response read through a reader: counted once, in flight back to 0", async () => {
  await using upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("upstream body"),
  );
  const registry = new Registry();
  const handle = instrumentHandler(async (_request: Request) => {
    const proxied = await fetch(`http://127.0.0.1:${upstream.addr.port}/`);
    const reader = proxied.body!.getReader();
    while (!(await reader.read()).done) { /* the proxy logs the body, say */ }
    return proxied;
  }, { registry, bodySizes: true });
  const returned = await handle(new Request("http://localhost/proxy"));
  assert.equal(returned.bodyUsed || returned.body?.locked, true);
  assert.deepEqual(await counts(registry), [
    'http_requests_total{method="GET",route="other",status="200"} 1.0',
    'http_request_duration_seconds_count{method="GET",route="other",status="200"} 1.0',
    "http_requests_in_flight 0.0",
  ]);
});

Deno.test("not a response, or a throw of anything: a 500 counted once, passed back unchanged", async () => {
  const registry = new Registry();
  const thrown = [new Error("boom"), "a string", undefined, { code: 7 }];
  let next: () => unknown = () => undefined;
  const handle = instrumentHandler((_request: Request) => next() as Response, { registry });
  const request = () => new Request("http://localhost/x");
  const notResponses = [undefined, null, { status: 200 }, "text"];
  for (const value of notResponses) {
    next = () => value;
    assert.equal(await handle(request()), value);
    next = () => Promise.resolve(value);
    assert.equal(await handle(request()), value);
  }
  for (const error of thrown) {
    next = () => {
      throw error;
    };
    assert.throws(() => handle(request()), (caught) => caught === error);
    next = () => Promise.reject(error);
    await assert.rejects(async () => await handle(request()), (caught) => caught === error);
  }
  const total = (notResponses.length + thrown.length) * 2;
  assert.deepEqual(await counts(registry), [
    `http_requests_total{method="GET",route="other",status="500"} ${total}.0`,
    `http_request_duration_seconds_count{method="GET",route="other",status="500"} ${total}.0`,
    "http_requests_in_flight 0.0",
  ]);
});

Deno.test("an exclude function that throws: the request is measured, the error reported once", async () => {
  const registry = new Registry();
  const reported: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    const handle = instrumentHandler((_request: Request) => new Response("ok"), {
      registry,
      exclude: () => {
        throw new Error("no config");
      },
    });
    for (let i = 0; i < 3; i++) await handle(new Request("http://localhost/x"));
  } finally {
    console.error = original;
  }
  assert.deepEqual(await counts(registry), [
    'http_requests_total{method="GET",route="other",status="200"} 3.0',
    'http_request_duration_seconds_count{method="GET",route="other",status="200"} 3.0',
    "http_requests_in_flight 0.0",
  ]);
  assert.equal(reported.length, 1);
  assert.match(String(reported[0][0]), /exclude\(request\) threw \(no config\); measuring/);
});
