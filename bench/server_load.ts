/**
 * `/metrics` under load: our `startHttpServer` and prom-client's `register.metrics()` served by
 * `Deno.serve`, each in its own process with the same 1,000-series registry, each hammered in
 * turn by `wrk` (16 connections, 2 threads, 10 s, loopback). Prints requests per second and
 * latency percentiles side by side.
 *
 * Run: `deno run -A bench/server_load.ts` (needs `wrk`: `apt-get install wrk`)
 * Options: `--duration=10s --connections=16 --threads=2`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { startHttpServer } from "../mod.ts";
import { ourServerRegistry, promClientServerRegistry, readPort } from "./fixtures.ts";

type Side = "ours" | "prom-client";

/** Child mode: serve one side on a free loopback port and print the port. */
function serve(side: Side): void {
  const hostname = "127.0.0.1";
  if (side === "ours") {
    const server = startHttpServer({ port: 0, hostname, registry: ourServerRegistry() });
    console.log(`PORT ${server.port}`);
    return;
  }
  const registry = promClientServerRegistry(client);
  Deno.serve({
    port: 0,
    hostname,
    onListen: ({ port }) => console.log(`PORT ${port}`),
  }, async (request) => {
    if (new URL(request.url).pathname !== "/metrics") {
      return new Response("not found", { status: 404 });
    }
    return new Response(await registry.metrics(), {
      headers: { "content-type": registry.contentType },
    });
  });
}

interface LoadResult {
  readonly side: Side;
  readonly requestsPerSecond: number;
  readonly latency: Record<string, string>;
  readonly bodyBytes: number;
  readonly errors: string;
}

async function load(side: Side, wrkArgs: readonly string[]): Promise<LoadResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(import.meta.url).pathname, "--serve", side],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const port = await readPort(child.stdout);
    const url = `http://127.0.0.1:${port}/metrics`;
    const body = await (await fetch(url)).arrayBuffer();
    // Warm the server up (JIT, caches) before measuring.
    await new Deno.Command("wrk", { args: ["-t1", "-c2", "-d2s", url], stdout: "null" }).output();
    const output = await new Deno.Command("wrk", {
      args: [...wrkArgs, "--latency", url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) throw new Error(`wrk failed: ${new TextDecoder().decode(output.stderr)}`);
    const latency: Record<string, string> = {};
    for (const match of text.matchAll(/^\s+(50|75|90|99)%\s+(\S+)/gm)) latency[match[1]] = match[2];
    return {
      side,
      requestsPerSecond: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
      latency,
      bodyBytes: body.byteLength,
      errors: text.match(/(Non-2xx.*|Socket errors.*)/)?.[0] ?? "none",
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function main(): Promise<void> {
  const option = (name: string, fallback: string): string =>
    Deno.args.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
  const duration = option("duration", "10s");
  const connections = option("connections", "16");
  const threads = option("threads", "2");
  const wrkArgs = [`-t${threads}`, `-c${connections}`, `-d${duration}`];
  console.log(`wrk ${wrkArgs.join(" ")} --latency, 1,000-series registry, loopback`);
  const results: LoadResult[] = [];
  for (const side of ["prom-client", "ours"] as const) results.push(await load(side, wrkArgs));
  console.log("| server | body | requests/s | p50 | p90 | p99 | errors |");
  console.log("|---|---|---|---|---|---|---|");
  for (const result of results) {
    console.log(
      `| ${result.side} | ${result.bodyBytes} B | ${result.requestsPerSecond.toFixed(0)} | ${
        result.latency["50"]
      } | ${result.latency["90"]} | ${result.latency["99"]} | ${result.errors} |`,
    );
  }
  const [theirs, ours] = results;
  console.log(
    `ours: ${(ours.requestsPerSecond / theirs.requestsPerSecond).toFixed(1)}× the requests/s`,
  );
}

const serveIndex = Deno.args.indexOf("--serve");
if (serveIndex >= 0) serve(Deno.args[serveIndex + 1] as Side);
else await main();
