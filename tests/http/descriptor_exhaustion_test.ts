// Descriptor exhaustion: a server under `ulimit -n 256` flooded with 300 connections that send
// half a request and stall. Deno.serve's accept loop then fails with "Too many open files"; the
// process must live on, log one line, and serve again on the same port.
import assert from "node:assert/strict";
import { startProcess, waitFor, which } from "../support/process.ts";

const MOD_URL = new URL("../../mod.ts", import.meta.url).href;
const DESCRIPTOR_LIMIT = 256;
const STALLED_CONNECTIONS = 300;

const CHILD = `import { Counter, Registry, startHttpServer } from ${JSON.stringify(MOD_URL)};
const registry = new Registry();
new Counter({ name: "jobs_total", help: "jobs run", registry }).inc(3);
const server = startHttpServer({ port: 0, hostname: "127.0.0.1", registry });
Deno.addSignalListener("SIGTERM", () => server.shutdown());
console.log("PORT", server.port);
await server.finished;
console.log("finished cleanly");
`;

/** Opens a connection that sends the start of a request and then says nothing more. */
async function stalledConnection(port: number): Promise<Deno.TcpConn | undefined> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await connection.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHo"));
    } catch {
      // The server closed it at once: nothing to keep.
    }
    return connection;
  } catch {
    return undefined; // refused while the server is between listeners
  }
}

Deno.test({
  name: "descriptor exhaustion by stalled connections: the process lives, logs once, serves again",
  ignore: which("sh") === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "deno-prom-fds-" });
    const script = `${dir}/main.ts`;
    await Deno.writeTextFile(script, CHILD);
    const child = startProcess("sh", [
      "-c",
      `ulimit -n ${DESCRIPTOR_LIMIT} && exec "$0" run --allow-net "$1"`,
      Deno.execPath(),
      script,
    ]);
    const stalled: Deno.TcpConn[] = [];
    try {
      await waitFor(() => /PORT \d+/.test(child.output()) || child.exited, {
        what: "the child to listen",
      });
      const port = Number(/PORT (\d+)/.exec(child.output())?.[1]);
      assert.ok(port > 0, child.output());

      for (let i = 0; i < STALLED_CONNECTIONS; i++) {
        const connection = await stalledConnection(port);
        if (connection !== undefined) stalled.push(connection);
      }
      await waitFor(() => /stopped accepting connections/.test(child.output()) || child.exited, {
        what: "the accept loop failure to be logged",
      });
      assert.equal(child.exited, false, `the process died:\n${child.output()}`);

      // Without closing any stalled connection from this side: the server dropped those of its
      // dead accept loop and listens again on the same port.
      await waitFor(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`);
        const text = await response.text();
        return response.status === 200 && /^jobs_total 3\.0$/m.test(text);
      }, { what: "the server to serve again on the same port", timeoutMs: 20_000 });
      assert.equal(child.exited, false, child.output());

      const failures = child.output().match(/stopped accepting connections/g) ?? [];
      assert.equal(failures.length, 1, `one line per failure streak:\n${child.output()}`);
      assert.match(
        child.output(),
        new RegExp(
          `^metrics server on 127\\.0\\.0\\.1:${port} stopped accepting connections ` +
            `\\(.*Too many open files.*\\); closing its connections and listening again$`,
          "m",
        ),
      );
      await waitFor(() => /is serving again/.test(child.output()), {
        what: "the end of the failure streak to be logged",
      });
      assert.doesNotMatch(child.output(), /Uncaught|error: /);

      // The handle is still the server's: shutting down through it ends the program cleanly.
      child.kill("SIGTERM");
      const status = await child.status;
      assert.equal(status.code, 0, child.output());
      assert.match(child.output(), /finished cleanly/);
    } finally {
      for (const connection of stalled) {
        try {
          connection.close();
        } catch {
          // Already closed by the server.
        }
      }
      await child.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
