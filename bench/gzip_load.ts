/**
 * Gzipped `/metrics` under load: our `startHttpServer` against client_golang's `promhttp`, each
 * in its own process serving the same 10,000 series (`gzip_fixture.ts`, `promhttp/main.go`),
 * each hammered in turn by `wrk` with `Accept-Encoding: gzip` (16 connections, 2 threads,
 * 10 s, loopback). Prints requests per second side by side and their ratio.
 *
 * Run: `deno run -A bench/gzip_load.ts` (needs `wrk`, and Go with Debian's client_golang:
 * `apt-get install wrk golang-go golang-github-prometheus-client-golang-dev`; skipped with a
 * message when either is missing). Options: `--duration=10s --connections=16 --threads=2`
 *
 * @module
 */

import { startHttpServer } from "../mod.ts";
import { readPort } from "./fixtures.ts";
import { registryOf10kSeries } from "./gzip_fixture.ts";

type Side = "ours" | "client_golang";

function option(name: string, fallback: string): string {
  return Deno.args.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1] ?? fallback;
}

/** Whether `command` can be started at all (its exit code does not matter). */
async function found(command: string, args: string[]): Promise<boolean> {
  try {
    await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

/** Builds the Go side in GOPATH mode, offline; returns the binary's path. */
async function buildGoServer(dir: string): Promise<string> {
  const binary = `${dir}/promhttp_10k`;
  const output = await new Deno.Command("go", {
    args: ["build", "-o", binary, "."],
    cwd: new URL("./promhttp/", import.meta.url).pathname,
    env: { GOPATH: "/usr/share/gocode", GO111MODULE: "off" },
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`go build failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return binary;
}

/** The size of the gzip body on the wire (Go sends it chunked, without Content-Length). */
async function gzipBodyBytes(url: string): Promise<number> {
  const output = await new Deno.Command("curl", {
    args: ["-s", "-o", "/dev/null", "-w", "%{size_download}", "-H", "Accept-Encoding: gzip", url],
    stdout: "piped",
  }).output().catch(() => undefined);
  return output === undefined ? NaN : Number(new TextDecoder().decode(output.stdout));
}

async function load(
  side: Side,
  command: string,
  args: string[],
  wrkArgs: readonly string[],
): Promise<{ rps: number; bytes: number; errors: string }> {
  const child = new Deno.Command(command, { args, stdout: "piped", stderr: "inherit" }).spawn();
  try {
    const url = `http://127.0.0.1:${await readPort(child.stdout)}/metrics`;
    const gzip = ["-H", "Accept-Encoding: gzip"];
    const bytes = await gzipBodyBytes(url);
    await new Deno.Command("wrk", { args: ["-t1", "-c2", "-d2s", ...gzip, url], stdout: "null" })
      .output();
    const output = await new Deno.Command("wrk", {
      args: [...wrkArgs, ...gzip, url],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) throw new Error(`wrk failed for ${side}: ${text}`);
    return {
      rps: Number(text.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
      bytes,
      errors: text.match(/(Non-2xx.*|Socket errors.*)/)?.[0] ?? "none",
    };
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function main(): Promise<void> {
  if (!(await found("wrk", ["--version"])) || !(await found("go", ["version"]))) {
    console.log("[skip] gzip_load needs wrk and go on PATH");
    return;
  }
  const wrkArgs = [
    `-t${option("threads", "2")}`,
    `-c${option("connections", "16")}`,
    `-d${option("duration", "10s")}`,
  ];
  const dir = await Deno.makeTempDir({ prefix: "deno-prom-gzip-load-" });
  try {
    const goServer = await buildGoServer(dir);
    const self = new URL(import.meta.url).pathname;
    // One connection: scrape against scrape, nothing to share. Then the configured load, where
    // our concurrent scrapes share one collection and one gzip body.
    const singleArgs = ["-t1", "-c1", `-d${option("duration", "10s")}`];
    console.log("10,000 series, gzip, loopback (machine shared: compare within one run)");
    console.log("| wrk | server | gzip body | requests/s | errors |");
    console.log("|---|---|---|---|---|");
    for (const args of [singleArgs, wrkArgs]) {
      const go = await load("client_golang", goServer, [], args);
      const ours = await load("ours", Deno.execPath(), ["run", "-A", self, "--serve"], args);
      const label = args.join(" ");
      console.log(
        `| ${label} | client_golang promhttp | ${go.bytes} B | ${
          go.rps.toFixed(0)
        } | ${go.errors} |`,
      );
      console.log(
        `| ${label} | ours (level 1) | ${ours.bytes} B | ${ours.rps.toFixed(0)} | ${ours.errors} |`,
      );
      console.log(`| ${label} | ours ÷ client_golang | | ${(ours.rps / go.rps).toFixed(2)}× | |`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (Deno.args.includes("--serve")) {
  const server = startHttpServer({
    port: 0,
    hostname: "127.0.0.1",
    registry: registryOf10kSeries(),
  });
  console.log(`PORT ${server.port}`);
} else {
  await main();
}
