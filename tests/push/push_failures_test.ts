// Failure handling of the Pushgateway client and the background Pusher, against a local HTTP
// server each test controls: error answers, hangs, refused connections, slow gateways, recovery.
import assert from "node:assert/strict";
import {
  deleteFromGateway,
  Gauge,
  pushAddToGateway,
  Pusher,
  PushError,
  pushToGateway,
  Registry,
} from "../../mod.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/exposition/mod.ts";
import { fakeServer } from "../support/push.ts";
import { freePort, sleep, waitFor } from "../support/process.ts";

/** A gateway stand-in: see `fakeServer`. */
const fakeGateway = fakeServer;

function registryWithGauge(value = 1): Registry {
  const registry = new Registry();
  new Gauge({ name: "push_test_value", help: "a value", registry }).set(value);
  return registry;
}

/** Replaces console.error while `body` runs and returns what it printed. */
async function captureConsoleError(body: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines;
}

function assertNoSecret(text: string, secret = "s3cret"): void {
  assert.ok(!text.includes(secret), `secret leaked into: ${text}`);
}

// --- one-shot functions --------------------------------------------------------------------

Deno.test("push: PUT sends text 0.0.4 with its content type to the sorted group URL", async () => {
  const gateway = fakeGateway();
  try {
    await pushToGateway(gateway.url, {
      job: "moni",
      groupingKey: { zone: "eu", instance: "a/b" },
      registry: registryWithGauge(3),
    });
    assert.equal(gateway.requests.length, 1);
    const [request] = gateway.requests;
    assert.equal(request.method, "PUT");
    assert.equal(request.path, "/metrics/job/moni/instance@base64/YS9i/zone/eu");
    assert.equal(request.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
    assert.equal(
      request.body,
      "# HELP push_test_value a value\n# TYPE push_test_value gauge\npush_test_value 3.0\n",
    );
    assert.equal(request.headers.get("authorization"), null);
  } finally {
    await gateway.close();
  }
});

Deno.test("push: POST for pushAdd, DELETE without body or content type", async () => {
  const gateway = fakeGateway((req) =>
    new Response(null, { status: req.method === "DELETE" ? 202 : 200 })
  );
  try {
    await pushAddToGateway(gateway.url, { job: "moni", registry: registryWithGauge() });
    await deleteFromGateway(gateway.url, { job: "moni" });
    assert.deepEqual(gateway.requests.map((r) => r.method), ["POST", "DELETE"]);
    assert.equal(gateway.requests[1].body, "");
    assert.equal(gateway.requests[1].headers.get("content-type"), null);
  } finally {
    await gateway.close();
  }
});

Deno.test("push: a 500 becomes a PushError with status, method, URL and the gateway's message", async () => {
  const gateway = fakeGateway(() => new Response("storage is on fire\n", { status: 500 }));
  try {
    const error = await pushToGateway(gateway.url, { job: "moni", registry: registryWithGauge() })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
    assert.equal(error.status, 500);
    assert.equal(error.method, "PUT");
    assert.equal(error.url, `${gateway.url}/metrics/job/moni`);
    assert.equal(error.gatewayMessage, "storage is on fire");
    assert.equal(
      error.message,
      `PUT ${gateway.url}/metrics/job/moni failed: HTTP 500 Internal Server Error: storage is on fire`,
    );
    assert.equal(error.name, "PushError");
  } finally {
    await gateway.close();
  }
});

Deno.test("push: an oversized error body is cut, not read to the end", async () => {
  const gateway = fakeGateway(() => new Response("x".repeat(2_000_000), { status: 400 }));
  try {
    const error = await deleteFromGateway(gateway.url, { job: "moni" }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof PushError);
    assert.equal(error.status, 400);
    assert.ok(
      error.gatewayMessage!.length <= 32 * 1024,
      `kept ${error.gatewayMessage!.length} chars`,
    );
    assert.ok(error.gatewayMessage!.length >= 1024);
  } finally {
    await gateway.close();
  }
});

Deno.test("push: a hanging gateway times out within timeoutMs", async () => {
  const gateway = fakeGateway();
  gateway.answer(() => gateway.hang());
  try {
    const error = await pushToGateway(gateway.url, {
      job: "moni",
      registry: registryWithGauge(),
      timeoutMs: 300,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
    assert.equal(error.status, undefined);
    assert.match(
      error.message,
      /^PUT http:\/\/127\.0\.0\.1:\d+\/metrics\/job\/moni timed out after 300 ms$/,
    );
    assert.ok(error.cause instanceof DOMException && error.cause.name === "TimeoutError");
  } finally {
    await gateway.close();
  }
});

Deno.test("push: an error body that never ends is bounded by the timeout too", async () => {
  const gateway = fakeGateway();
  gateway.answer(() => {
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new TextEncoder().encode("partial explanation"));
          return;
        }
        await gateway.hang().catch(() => {});
        controller.close();
      },
    });
    return new Response(body, { status: 503 });
  });
  try {
    const error = await pushToGateway(gateway.url, {
      job: "moni",
      registry: registryWithGauge(),
      timeoutMs: 300,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
    assert.equal(error.status, 503);
    assert.equal(error.gatewayMessage, "partial explanation");
  } finally {
    await gateway.close();
  }
});

Deno.test("push: connection refused becomes a PushError with the network error as cause", async () => {
  const port = freePort(); // nothing listens there
  const error = await pushToGateway(`127.0.0.1:${port}`, {
    job: "moni",
    registry: registryWithGauge(),
    timeoutMs: 5000,
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
  assert.equal(error.status, undefined);
  assert.equal(error.url, `http://127.0.0.1:${port}/metrics/job/moni`);
  assert.ok(error.cause !== undefined);
  assert.match(
    error.message,
    new RegExp(`^PUT http://127\\.0\\.0\\.1:${port}/metrics/job/moni failed: .*refused`, "i"),
  );
});

Deno.test("push: the caller's AbortSignal aborts the request", async () => {
  const gateway = fakeGateway();
  gateway.answer(() => gateway.hang());
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("shutting down")), 50);
    const error = await pushToGateway(gateway.url, {
      job: "moni",
      registry: registryWithGauge(),
      signal: controller.signal,
    }).then(() => undefined, (e) => e);
    assert.ok(error instanceof PushError);
    assert.match(error.message, /was aborted$/);
    assert.equal((error.cause as Error).message, "shutting down");
  } finally {
    await gateway.close();
  }
});

Deno.test("push: a collector that never resolves is bounded by timeoutMs", async () => {
  const registry = new Registry();
  registry.register({ collect: () => new Promise(() => {}) });
  const error = await pushToGateway(`127.0.0.1:${freePort()}`, {
    job: "moni",
    registry,
    timeoutMs: 200,
  })
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof PushError);
  assert.match(error.message, /timed out after 200 ms/);
});

Deno.test("push: bad options are TypeError/RangeError before any request", async () => {
  await assert.rejects(pushToGateway("127.0.0.1:1", { job: "" }), TypeError);
  await assert.rejects(
    pushToGateway("127.0.0.1:1", { job: "x", timeoutMs: 0 }),
    /timeoutMs for http:\/\/127\.0\.0\.1:1\/metrics\/job\/x must be a positive number of milliseconds, got 0/,
  );
  await assert.rejects(
    pushToGateway("127.0.0.1:1", { job: "x", auth: { username: "u" } as never }),
    /auth for .* must be \{ username, password \} or \{ bearerToken \}/,
  );
});

// --- credentials ---------------------------------------------------------------------------

Deno.test("push: user-info in the URL becomes basic auth and never shows in errors", async () => {
  const gateway = fakeGateway(() => new Response("unauthorized", { status: 401 }));
  try {
    const withCredentials = gateway.url.replace("http://", "http://alice:s3cret@");
    const error = await pushToGateway(withCredentials, {
      job: "moni",
      registry: registryWithGauge(),
    })
      .then(() => undefined, (e) => e);
    assert.ok(error instanceof PushError);
    assert.equal(error.status, 401);
    assert.equal(gateway.requests[0].headers.get("authorization"), `Basic ${btoa("alice:s3cret")}`);
    for (
      const text of [
        error.message,
        error.url,
        String(error),
        error.stack ?? "",
        JSON.stringify(error),
      ]
    ) {
      assertNoSecret(text);
      assertNoSecret(text, "alice");
    }
  } finally {
    await gateway.close();
  }
  // Also when nothing answers: the network error path.
  const refused = await pushToGateway(`http://alice:s3cret@127.0.0.1:${freePort()}`, {
    job: "moni",
    registry: registryWithGauge(),
  }).then(() => undefined, (e) => e);
  assert.ok(refused instanceof PushError);
  assertNoSecret(refused.message);
  assertNoSecret(refused.url);
  assertNoSecret(String((refused.cause as Error)?.message));
});

Deno.test("push: percent-encoded user-info is decoded; auth and headers options are sent", async () => {
  const gateway = fakeGateway();
  try {
    await pushToGateway(gateway.url.replace("http://", "http://al%40ice:p%3Ass@"), {
      job: "moni",
      registry: registryWithGauge(),
    });
    assert.equal(gateway.requests[0].headers.get("authorization"), `Basic ${btoa("al@ice:p:ss")}`);

    await pushToGateway(gateway.url, {
      job: "moni",
      registry: registryWithGauge(),
      auth: { bearerToken: "tok" },
      headers: { "x-tenant": "team-a" },
    });
    assert.equal(gateway.requests[1].headers.get("authorization"), "Bearer tok");
    assert.equal(gateway.requests[1].headers.get("x-tenant"), "team-a");

    // The auth option wins over user-info in the URL.
    await pushToGateway(gateway.url.replace("http://", "http://alice:s3cret@"), {
      job: "moni",
      registry: registryWithGauge(),
      auth: { username: "bob", password: "pw" },
    });
    assert.equal(gateway.requests[2].headers.get("authorization"), `Basic ${btoa("bob:pw")}`);
  } finally {
    await gateway.close();
  }
});

Deno.test("push: a custom fetch is used", async () => {
  const seen: string[] = [];
  await pushToGateway("pgw.invalid:9091", {
    job: "moni",
    registry: registryWithGauge(),
    fetch: (url, init) => {
      seen.push(`${init.method} ${url}`);
      return Promise.resolve(new Response(null, { status: 200 }));
    },
  });
  assert.deepEqual(seen, ["PUT http://pgw.invalid:9091/metrics/job/moni"]);
});

// --- redirects and collector errors (issue 11, items 14 and 15) ---------------------------

Deno.test("push: a redirect is not followed; it is a PushError naming the URL and status", async () => {
  // Where a hostile or misconfigured gateway would send the body and its credentials.
  const elsewhere = fakeGateway();
  const gateway = fakeGateway((req) =>
    new Response(null, {
      status: 307,
      headers: { location: elsewhere.url + new URL(req.url).pathname },
    })
  );
  try {
    for (const send of [pushToGateway, pushAddToGateway]) {
      const error = await send(gateway.url, {
        job: "moni",
        registry: registryWithGauge(),
        auth: { bearerToken: "s3cret" },
        headers: { "x-proxy-key": "s3cret" },
      }).then(() => undefined, (e) => e);
      assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
      assert.equal(error.status, 307);
      assert.equal(error.url, `${gateway.url}/metrics/job/moni`);
      assert.equal(
        error.message,
        `${error.method} ${gateway.url}/metrics/job/moni was answered with a redirect ` +
          `(HTTP 307 to ${elsewhere.url}/metrics/job/moni), which is not followed: ` +
          `configure the final URL`,
      );
      assertNoSecret(error.message);
    }
    const deleteError = await deleteFromGateway(gateway.url, { job: "moni" })
      .then(() => undefined, (e) => e);
    assert.ok(deleteError instanceof PushError);
    assert.equal(deleteError.status, 307);
    assert.equal(gateway.requests.length, 3);
    assert.equal(elsewhere.requests.length, 0, "the redirect target must receive nothing");
  } finally {
    await gateway.close();
    await elsewhere.close();
  }
});

Deno.test("push: a collector's own error passes through unchanged, and nothing is sent", async () => {
  const gateway = fakeGateway();
  const bug = new RangeError("queue depth unavailable");
  const registry = registryWithGauge();
  registry.register({
    collect: () => {
      throw bug;
    },
  });
  const asyncRegistry = new Registry();
  asyncRegistry.register({ collect: () => Promise.reject(bug) });
  try {
    for (const source of [registry, asyncRegistry]) {
      const error = await pushToGateway(gateway.url, { job: "moni", registry: source })
        .then(() => undefined, (e) => e);
      assert.equal(error, bug, `expected the collector's error, got ${error}`);
    }
    assert.equal(gateway.requests.length, 0);
  } finally {
    await gateway.close();
  }
});

// --- Pusher --------------------------------------------------------------------------------

Deno.test("Pusher: failures go to the default handler as one line per streak, then one on recovery", async () => {
  const gateway = fakeGateway(() => new Response("down for maintenance", { status: 500 }));
  let unhandled = 0;
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled++;
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  let appTicks = 0;
  const app = setInterval(() => appTicks++, 10);
  try {
    const pusher = new Pusher({
      gateway: gateway.url.replace("http://", "http://alice:s3cret@"),
      job: "moni",
      registry: registryWithGauge(),
      intervalMs: 40,
      backoff: { initialMs: 20, maxMs: 60 },
    });
    const lines = await captureConsoleError(async () => {
      pusher.start();
      await waitFor(() => pusher.consecutiveFailures >= 5, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: "5 failures",
      });
      assert.equal(pusher.lastSuccess, undefined);
      assert.equal(pusher.running, true);
      gateway.answer(() => new Response(null, { status: 200 }));
      await waitFor(() => pusher.consecutiveFailures === 0, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: "recovery",
      });
      await pusher.stop();
    });
    assert.equal(lines.length, 2, `console.error lines: ${JSON.stringify(lines)}`);
    assert.match(
      lines[0],
      /^Pusher: PUT http:\/\/127\.0\.0\.1:\d+\/metrics\/job\/moni failed: HTTP 500 Internal Server Error: down for maintenance \(retrying with backoff/,
    );
    assert.match(lines[1], /works again after \d+ failed attempts/);
    for (const line of lines) assertNoSecret(line);
    assert.ok(pusher.lastSuccess instanceof Date);
    assert.equal(pusher.running, false);
    assert.ok(pusher.failuresTotal >= 5);
    assert.ok(appTicks > 5, "the application kept running while pushes failed");
    await sleep(0);
    assert.equal(unhandled, 0);
  } finally {
    clearInterval(app);
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
    await gateway.close();
  }
});

Deno.test("Pusher: onError sees every failure with its streak count; onRecover once", async () => {
  const gateway = fakeGateway(() => new Response("nope", { status: 503 }));
  const streaks: number[] = [];
  const recoveries: number[] = [];
  try {
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: registryWithGauge(),
      intervalMs: 30,
      backoff: { initialMs: 10, maxMs: 30 },
      onError: (error, info) => {
        assert.ok(error instanceof PushError && error.status === 503);
        streaks.push(info.consecutiveFailures);
      },
      onRecover: (info) => recoveries.push(info.failedAttempts),
    });
    const lines = await captureConsoleError(async () => {
      pusher.start();
      await waitFor(() => streaks.length >= 3, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: "3 errors",
      });
      gateway.answer(() => new Response(null, { status: 200 }));
      await waitFor(() => recoveries.length === 1, {
        timeoutMs: 5000,
        intervalMs: 10,
        what: "recovery",
      });
      await pusher.stop();
    });
    assert.deepEqual(streaks, streaks.map((_, i) => i + 1));
    assert.deepEqual(recoveries, [streaks.length]);
    assert.deepEqual(lines, [], "a custom onError replaces the console output");
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: an onError that throws does not escape", async () => {
  const pusher = new Pusher({
    gateway: `127.0.0.1:${freePort()}`,
    job: "moni",
    registry: registryWithGauge(),
    onError: () => {
      throw new Error("handler bug");
    },
  });
  const lines = await captureConsoleError(async () => {
    assert.equal(await pusher.pushNow(), false);
  });
  assert.deepEqual(lines, ["Pusher: a callback threw: handler bug"]);
});

Deno.test("Pusher: never two pushes in flight against a slow gateway", async () => {
  const gateway = fakeGateway(async () => {
    await sleep(150);
    return new Response(null, { status: 200 });
  });
  try {
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: registryWithGauge(),
      intervalMs: 20,
    });
    const started = performance.now();
    pusher.start();
    const manual = [pusher.pushNow(), pusher.pushNow(), pusher.pushNow()];
    await sleep(700);
    assert.deepEqual(await Promise.all(manual), [true, true, true]);
    await pusher.stop();
    const elapsed = performance.now() - started;
    assert.equal(gateway.maxInFlight, 1);
    // Sequential 150 ms pushes: no pile-up of the 20 ms ticks.
    assert.ok(
      gateway.requests.length <= Math.ceil(elapsed / 150) + 1,
      `${gateway.requests.length} requests in ${elapsed.toFixed(0)} ms`,
    );
    assert.ok(gateway.requests.length >= 3);
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: backoff grows while failing and stays under the cap", async () => {
  const gateway = fakeGateway(() => new Response("down", { status: 500 }));
  try {
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: registryWithGauge(),
      intervalMs: 60_000,
      backoff: { initialMs: 40, maxMs: 320 },
      onError: () => {},
    });
    pusher.start();
    await waitFor(() => gateway.requests.length >= 7, {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: "7 attempts",
    });
    await pusher.stop();
    const times = gateway.requests.map((r) => r.at);
    const gaps = times.slice(1, 7).map((t, i) => t - times[i]);
    // Delays are the capped 40·2^n with jitter in [½, 1]: 20–40, 40–80, 80–160, 160–320, …
    assert.ok(gaps[0] < 80, `first gap ${gaps[0]}`);
    assert.ok(gaps[3] >= 150, `fourth gap ${gaps[3]}`);
    assert.ok(gaps[3] > gaps[0] && gaps[4] > gaps[1], `gaps ${gaps.map(Math.round)}`);
    for (const gap of gaps) assert.ok(gap < 320 + 150, `gap ${gap} above the cap`);
    assert.ok(pusher.consecutiveFailures >= 7);
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: a hanging gateway makes pushes time out; stop() still resolves in time", async () => {
  const gateway = fakeGateway();
  gateway.answer(() => gateway.hang());
  const errors: Error[] = [];
  try {
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: registryWithGauge(),
      intervalMs: 50,
      timeoutMs: 200,
      onError: (error) => errors.push(error),
    });
    pusher.start();
    await waitFor(() => errors.length >= 1, { timeoutMs: 3000, intervalMs: 10, what: "a timeout" });
    await pusher.stop(); // waits for the push in flight, then the final one: each ≤ 200 ms
    assert.match(errors[0].message, /timed out after 200 ms/);
  } finally {
    await gateway.close();
  }
});

Deno.test("Pusher: stop() on a dead gateway resolves and reports; never rejects", async () => {
  const errors: Error[] = [];
  const pusher = new Pusher({
    gateway: `127.0.0.1:${freePort()}`,
    job: "moni",
    registry: registryWithGauge(),
    onError: (error) => errors.push(error),
  });
  pusher.start();
  await pusher.stop();
  assert.ok(errors.length >= 1 && errors.every((e) => e instanceof PushError));
  assert.equal(await pusher.stop(), undefined, "a second stop() is a no-op");
});

Deno.test("Pusher: a collector that throws reaches onError as itself; nothing is pushed", async () => {
  const gateway = fakeGateway();
  try {
    const registry = registryWithGauge();
    const bug = new Error("sensor offline");
    registry.register({
      collect: () => {
        throw bug;
      },
    });
    const errors: Error[] = [];
    const pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry,
      onError: (error) => errors.push(error),
    });
    assert.equal(await pusher.pushNow(), false);
    assert.deepEqual(errors, [bug]);
    assert.equal(gateway.requests.length, 0);
  } finally {
    await gateway.close();
  }
});
