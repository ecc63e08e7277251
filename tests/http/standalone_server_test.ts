// startHttpServer(): routing, health check, auth, TLS, shutdown paths, port-in-use, keep-alive.
import assert from "node:assert/strict";
import { Counter, metricsHandler, PortInUseError, Registry, startHttpServer } from "../../mod.ts";
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } from "../../src/exposition/mod.ts";
import { startProcess, waitFor } from "../support/process.ts";

const MOD_URL = new URL("../../mod.ts", import.meta.url).href;

function registryWithJobs(): Registry {
  const registry = new Registry();
  new Counter({ name: "jobs_total", help: "jobs run", registry }).inc(2);
  return registry;
}

/** Fetches and always consumes the body, so no resource is left open. */
async function get(
  url: string,
  init: RequestInit & { client?: Deno.HttpClient } = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

function basic(username: string, password: string): string {
  return "Basic " +
    btoa(String.fromCharCode(...new TextEncoder().encode(`${username}:${password}`)));
}

async function isListening(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("serves metrics at /metrics, /healthz → ok, other paths 404, wrong method 405", async () => {
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: registryWithJobs(),
  });
  assert.ok(server.port > 0);
  assert.equal(server.addr.port, server.port);
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.equal(server.url, `http://127.0.0.1:${server.port}/metrics`);

  const metrics = await get(server.url);
  assert.equal(metrics.status, 200);
  assert.equal(metrics.headers.get("content-type"), PROMETHEUS_CONTENT_TYPE);
  assert.equal(
    metrics.text,
    "# HELP jobs_total jobs run\n# TYPE jobs_total counter\njobs_total 2.0\n",
  );

  const openMetrics = await get(server.url, {
    headers: { accept: "application/openmetrics-text;version=1.0.0" },
  });
  assert.equal(openMetrics.headers.get("content-type"), OPENMETRICS_CONTENT_TYPE);
  assert.ok(openMetrics.text.endsWith("# EOF\n"));

  const filtered = await get(server.url + "?name[]=nothing_here");
  assert.equal(filtered.text, "");

  const base = `http://127.0.0.1:${server.port}`;
  const health = await get(base + "/healthz");
  assert.equal(health.status, 200);
  assert.equal(health.text, "ok\n");
  const healthHead = await get(base + "/healthz", { method: "HEAD" });
  assert.equal(healthHead.status, 200);
  assert.equal(healthHead.text, "");
  const healthPost = await get(base + "/healthz", { method: "POST" });
  assert.equal(healthPost.status, 405);
  assert.equal(healthPost.headers.get("allow"), "GET, HEAD");

  for (const path of ["/", "/metrics/", "/metricsx", "/favicon.ico", "/healthz/x"]) {
    const notFound = await get(base + path);
    assert.equal(notFound.status, 404, path);
    assert.equal(notFound.text, "not found; metrics are at /metrics\n");
  }

  const post = await get(server.url, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");

  const head = await get(server.url, {
    method: "HEAD",
    headers: { "accept-encoding": "identity" },
  });
  assert.equal(head.status, 200);
  assert.equal(head.text, "");
  assert.equal(head.headers.get("content-length"), String(metrics.text.length));
});

Deno.test("custom path, forced format and a port number as the only argument", async () => {
  await using custom = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    path: "/internal/prom",
    format: "openmetrics",
    registry: registryWithJobs(),
  });
  assert.equal(custom.url, `http://127.0.0.1:${custom.port}/internal/prom`);
  const response = await get(custom.url);
  assert.equal(response.headers.get("content-type"), OPENMETRICS_CONTENT_TYPE);
  assert.equal((await get(`http://127.0.0.1:${custom.port}/metrics`)).status, 404);

  // Like Python's start_http_server(8000): a bare port, every interface.
  await using bare = startHttpServer(0);
  assert.equal(bare.addr.hostname, "0.0.0.0");
  assert.equal(bare.url, `http://127.0.0.1:${bare.port}/metrics`);
  assert.equal((await get(`http://127.0.0.1:${bare.port}/healthz`)).text, "ok\n");
});

Deno.test("basic auth: 401 with a Basic challenge unless the credentials match", async () => {
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: registryWithJobs(),
    auth: { username: "prometheus", password: "s3cret: ü" },
  });
  const rejected: [string, Record<string, string>][] = [
    ["no header", {}],
    ["wrong password", { authorization: basic("prometheus", "nope") }],
    ["wrong user", { authorization: basic("other", "s3cret: ü") }],
    ["password prefix", { authorization: basic("prometheus", "s3cret") }],
    ["bearer instead", { authorization: "Bearer s3cret: ü" }],
    ["not base64", { authorization: "Basic %%%" }],
    ["scheme only", { authorization: "Basic" }],
  ];
  for (const [why, headers] of rejected) {
    const response = await get(server.url, { headers });
    assert.equal(response.status, 401, why);
    assert.equal(
      response.headers.get("www-authenticate"),
      'Basic realm="metrics", charset="UTF-8"',
    );
    assert.equal(response.text, "unauthorized\n");
  }
  const accepted = await get(server.url, {
    headers: { authorization: basic("prometheus", "s3cret: ü") },
  });
  assert.equal(accepted.status, 200);
  assert.match(accepted.text, /^jobs_total 2\.0$/m);
  const lowerCaseScheme = await get(server.url, {
    headers: { authorization: basic("prometheus", "s3cret: ü").replace("Basic", "basic") },
  });
  assert.equal(lowerCaseScheme.status, 200, "the scheme is case-insensitive");

  const base = `http://127.0.0.1:${server.port}`;
  assert.equal((await get(base + "/healthz")).status, 200, "health checks need no credentials");
  assert.equal((await get(base + "/elsewhere")).status, 401, "unknown paths reveal nothing");
  const authedElsewhere = await get(base + "/elsewhere", {
    headers: { authorization: basic("prometheus", "s3cret: ü") },
  });
  assert.equal(authedElsewhere.status, 404);
});

Deno.test("bearer auth: 401 with a Bearer challenge unless the token matches", async () => {
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: registryWithJobs(),
    auth: { bearerToken: "tok-123" },
  });
  for (
    const headers of [
      {},
      { authorization: "Bearer tok-12" },
      { authorization: "Bearer tok-1234" },
      { authorization: basic("tok-123", "") },
    ] as Record<string, string>[]
  ) {
    const response = await get(server.url, { headers });
    assert.equal(response.status, 401, JSON.stringify(headers));
    assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="metrics"');
  }
  const accepted = await get(server.url, { headers: { authorization: "Bearer tok-123" } });
  assert.equal(accepted.status, 200);
  assert.match(accepted.text, /jobs_total 2\.0/);
});

Deno.test("bad options: RangeError for the port, TypeError for the rest", () => {
  assert.throws(() => startHttpServer({ port: 70000 }), {
    name: "RangeError",
    message: /port must be an integer from 0 to 65535, got 70000/,
  });
  assert.throws(() => startHttpServer({ port: 1.5 }), RangeError);
  assert.throws(() => startHttpServer({ port: 0, path: "metrics" }), {
    name: "TypeError",
    message: /path must start with "\/"/,
  });
  assert.throws(() => startHttpServer({ port: 0, path: "/healthz" }), TypeError);
  assert.throws(
    () => startHttpServer({ port: 0, auth: { username: "a:b", password: "x" } }),
    { name: "TypeError", message: /auth must be \{ username, password \}/ },
  );
  assert.throws(() => startHttpServer({ port: 0, auth: { bearerToken: "" } }), {
    name: "TypeError",
    message: /bearerToken must be a non-empty string/,
  });
  // @ts-expect-error: wrong shape on purpose
  assert.throws(() => startHttpServer({ port: 0, tls: { cert: "x" } }), TypeError);
  // @ts-expect-error: wrong type on purpose
  assert.throws(() => startHttpServer({ port: 0, keepAlive: "no" }), TypeError);
  // @ts-expect-error: wrong format on purpose
  assert.throws(() => startHttpServer({ port: 0, format: "json" }), TypeError);
});

Deno.test("the signal stops the server; finished resolves; shutdown stays safe", async () => {
  const controller = new AbortController();
  const server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: new Registry(),
    signal: controller.signal,
  });
  assert.equal((await get(server.url)).status, 200);
  controller.abort();
  await server.finished;
  assert.equal(await isListening(server.port), false);
  await server.shutdown();
  await server.shutdown();
});

Deno.test("await using shuts the server down at the end of the scope", async () => {
  let port: number;
  {
    await using server = startHttpServer({
      port: 0,
      hostname: "127.0.0.1",
      registry: new Registry(),
    });
    port = server.port;
    assert.equal(await isListening(port), true);
  }
  assert.equal(await isListening(port), false);
});

Deno.test("a taken port: PortInUseError naming host and port, suggesting another", async () => {
  await using first = startHttpServer({ port: 0, hostname: "127.0.0.1", registry: new Registry() });
  const error = assert.throws(
    () => startHttpServer({ port: first.port, hostname: "127.0.0.1", registry: new Registry() }),
    (thrown: unknown) => {
      assert.ok(thrown instanceof PortInUseError);
      assert.ok(thrown instanceof Deno.errors.AddrInUse, "still a Deno.errors.AddrInUse");
      assert.equal(thrown.name, "PortInUseError");
      assert.equal(thrown.port, first.port);
      assert.equal(thrown.hostname, "127.0.0.1");
      assert.equal(
        thrown.message,
        `cannot serve metrics on 127.0.0.1:${first.port}: the port is already in use; ` +
          `pass another port (e.g. { port: ${first.port + 1} }), or port: 0 to let the system ` +
          "pick a free one",
      );
      assert.ok(thrown.cause instanceof Deno.errors.AddrInUse);
      return true;
    },
  );
  assert.equal(error, undefined);
  assert.equal((await get(first.url)).status, 200, "the first server is unaffected");
});

Deno.test("https with tls: { cert, key }", async () => {
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: registryWithJobs(),
    tls: { cert: TEST_SERVER_CERT, key: TEST_SERVER_KEY },
  });
  assert.equal(server.url, `https://127.0.0.1:${server.port}/metrics`);
  const client = Deno.createHttpClient({ caCerts: [TEST_CA_CERT] });
  try {
    const response = await get(server.url, { client });
    assert.equal(response.status, 200);
    assert.match(response.text, /jobs_total 2\.0/);
  } finally {
    client.close();
  }
});

Deno.test("onListen receives the address", async () => {
  let heard: Deno.NetAddr | undefined;
  await using server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: new Registry(),
    onListen: (addr) => heard = addr,
  });
  await waitFor(() => heard !== undefined, { timeoutMs: 5_000, what: "onListen" });
  assert.equal(heard?.port, server.port);
});

/** Runs a script in a child `deno run` and reports whether it exited on its own in time. */
async function runScript(
  source: string,
  { exitWithinMs }: { exitWithinMs: number },
): Promise<{ exited: boolean; code: number | null; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-keepalive-" });
  const script = `${dir}/main.ts`;
  await Deno.writeTextFile(script, source);
  const child = startProcess(Deno.execPath(), ["run", "--allow-net", script]);
  try {
    await waitFor(() => child.exited, { timeoutMs: exitWithinMs, intervalMs: 50 }).catch(() => {});
    const exited = child.exited;
    const status = await child.stop();
    return { exited, code: exited ? status.code : null, output: child.output() };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("keepAlive: false lets a script with nothing else to do exit", async () => {
  const result = await runScript(
    `import { startHttpServer } from ${JSON.stringify(MOD_URL)};
const server = startHttpServer({ port: 0, hostname: "127.0.0.1", keepAlive: false });
const response = await fetch(server.url);
console.log("scraped", response.status, (await response.text()).length >= 0);
`,
    { exitWithinMs: 15_000 },
  );
  assert.equal(result.exited, true, `the script should have exited; output:\n${result.output}`);
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /scraped 200 true/);
});

Deno.test("by default (keepAlive: true) the server keeps the script running", async () => {
  const result = await runScript(
    `import { startHttpServer } from ${JSON.stringify(MOD_URL)};
const server = startHttpServer({ port: 0, hostname: "127.0.0.1" });
console.log("listening", server.port);
`,
    { exitWithinMs: 2_000 },
  );
  assert.equal(
    result.exited,
    false,
    `the script should still be serving; output:\n${result.output}`,
  );
  assert.match(result.output, /listening \d+/);
});

Deno.test("metricsHandler mounts in a plain Deno.serve app", async () => {
  const registry = registryWithJobs();
  const metrics = metricsHandler({ registry });
  const app = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    return pathname === "/metrics" ? metrics(request) : new Response("app");
  });
  try {
    const base = `http://127.0.0.1:${app.addr.port}`;
    assert.equal((await get(base + "/")).text, "app");
    assert.match((await get(base + "/metrics")).text, /jobs_total 2\.0/);
  } finally {
    await app.shutdown();
  }
});

// A throwaway test CA and a localhost certificate it signed (valid 2000–2100), for the TLS test
// only: the key is public and protects nothing.
const TEST_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBazCCARGgAwIBAgIBATAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFkZW5vLXBy
b20gdGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowHDEa
MBgGA1UEAwwRZGVuby1wcm9tIHRlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAATtj/e5156egovanRudJ8/E+BSGgNX7HeJTXIqny2fIbDoZfl8XoIqO3qP4
9Yt6ojKx+VfDlf5nmXsJJf16ushlo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1Ud
DwEB/wQEAwIBBjAdBgNVHQ4EFgQUvm5zkDNyCDowf73MvrH9iUQIdmQwCgYIKoZI
zj0EAwIDSAAwRQIhAL/n8UjBYUToXNkiahdpzepe3FO/gHlwNOiCqYjqkgdZAiBK
6Wb4r9J8zSEW5BtUkpA3u/VBdZboxrh5wIrWlOKozA==
-----END CERTIFICATE-----
`;
const TEST_SERVER_CERT = `-----BEGIN CERTIFICATE-----
MIIBtDCCAVqgAwIBAgIBAjAKBggqhkjOPQQDAjAcMRowGAYDVQQDDBFkZW5vLXBy
b20gdGVzdCBDQTAgFw0wMDAxMDEwMDAwMDBaGA8yMTAwMDEwMTAwMDAwMFowFDES
MBAGA1UEAwwJbG9jYWxob3N0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAElxhT
qeTPlb81SItYeIh9rVUk5DDZgRGam9sMnq0DGy8iZ4VoYxw+uxlQJ3VGvEI5EXur
O5OvL/yb0LMemzc+l6OBkjCBjzAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEw
DAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUH
AwEwHwYDVR0jBBgwFoAUvm5zkDNyCDowf73MvrH9iUQIdmQwHQYDVR0OBBYEFHiY
d3K2jJjUwFNt1h8BCEZHE8kXMAoGCCqGSM49BAMCA0gAMEUCIF8fazeJa66m0ei3
elDeAj2RAEEvLrDet4N6FQ3htYN4AiEA6FDHq9xOQFngTZAGYQBOH9rp9/9GnjjW
OqrFkLUQCOI=
-----END CERTIFICATE-----
`;
const TEST_SERVER_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgWguXPDsaGFqnI7NM
F5Y3zY/N40HXdxeQLRxZ1iVNjb6hRANCAASXGFOp5M+VvzVIi1h4iH2tVSTkMNmB
EZqb2wyerQMbLyJnhWhjHD67GVAndUa8QjkRe6s7k68v/JvQsx6bNz6X
-----END PRIVATE KEY-----
`;
