/**
 * Support for tests/http/edge_runtimes_test.ts: finds Bun, Node.js and workerd, bundles mod.ts with
 * `deno bundle`, and starts workerd on a free loopback port with the edge worker
 * (`edge_worker.js`) built on that bundle.
 *
 * Bun and workerd come from npm (`.ci/run` installs the pinned versions into `.tmp/tools`);
 * set `BUN_BIN` / `WORKERD_BIN` to use other binaries.
 *
 * @module
 */

import {
  freePort,
  type ManagedProcess,
  run,
  startProcess,
  waitForReadyUrl,
  which,
} from "./process.ts";

const REPO = new URL("../../", import.meta.url);
const SUPPORT = new URL("./", import.meta.url);
/** Where `.ci/run` installs the npm tools: `npm install --prefix .tmp/tools bun workerd`. */
const TOOLS_BIN = new URL(".tmp/tools/node_modules/.bin/", REPO);

/** The npm packages `.ci/run` installs (keep in step with its BUN_VERSION / WORKERD_VERSION). */
const NPM_PACKAGE = { bun: "bun@1.4.5", workerd: "workerd@1.20261117.1", node: "node" } as const;

/** The workerd compatibility date of the test worker (must not be later than workerd's). */
const COMPATIBILITY_DATE = "2025-09-01";

/**
 * The path of an edge runtime's binary (`bun`, `node` or `workerd`): `$BUN_BIN`-style override,
 * then PATH, then `.tmp/tools`; `undefined` when absent.
 */
export function findRuntime(name: "bun" | "node" | "workerd"): string | undefined {
  const override = Deno.env.get(`${name.toUpperCase()}_BIN`);
  if (override) return which(override);
  return which(name) ?? which(new URL(name, TOOLS_BIN).pathname);
}

/**
 * Whether a test needing `name` should be skipped: only when it is absent and this is not CI
 * (on CI `.ci/run` installs it, so a missing binary must fail the test, not hide it).
 */
export function skipWithout(name: "bun" | "node" | "workerd"): boolean {
  if (findRuntime(name) !== undefined) return false;
  if (Deno.env.get("CI")) return false;
  console.warn(
    `[skip] ${name} not found (PATH, .tmp/tools or ${name.toUpperCase()}_BIN); ` +
      `install it as .ci/run does: npm install --prefix .tmp/tools ${NPM_PACKAGE[name]}`,
  );
  return true;
}

/** The path of `name`, or an error telling how to install it. */
export function requireRuntime(name: "bun" | "node" | "workerd"): string {
  const path = findRuntime(name);
  if (path === undefined) {
    throw new Error(
      `${name} is not installed; run .ci/run or npm install --prefix .tmp/tools ${name}`,
    );
  }
  return path;
}

/**
 * Bundles mod.ts and the subpaths of `edge_entry.ts` into `dir/mod.js` with `deno bundle`
 * (esbuild, fetched from npm once).
 */
export async function bundleMod(dir: string): Promise<string> {
  const output = `${dir}/mod.js`;
  const result = await run(Deno.execPath(), [
    "bundle",
    "--quiet",
    "--platform",
    "browser",
    "--output",
    output,
    new URL("edge_entry.ts", SUPPORT).pathname,
  ]);
  if (result.code !== 0) {
    throw new Error(`deno bundle mod.ts failed (${result.code}):\n${result.stderr}`);
  }
  return output;
}

/**
 * Runs `edge_node.js` with `runtime` (bun, node, or deno with `--hide-deno`) and `scriptArgs`
 * (see its header); returns its JSON report. A run longer than 60 s is killed and fails.
 */
export async function runNodeScenario(
  runtime: string,
  runtimeArgs: string[],
  scriptArgs: string[],
): Promise<Record<string, unknown>> {
  const script = new URL("edge_node.js", SUPPORT).pathname;
  const result = await run(runtime, [...runtimeArgs, script, ...scriptArgs], {
    timeoutMs: 60_000,
  });
  if (result.code !== 0) {
    throw new Error(
      `${runtime} ${script} exited with ${result.code}:\n${result.stderr}\n${result.stdout}`,
    );
  }
  const lastLine = result.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(lastLine);
  } catch {
    throw new Error(`${runtime} printed no JSON report:\n${result.stdout}\n${result.stderr}`);
  }
}

/** A running workerd serving the edge worker. */
export interface WorkerdServer extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** Captured workerd output, for messages. */
  output(): string;
  /** Stops workerd. Idempotent. */
  stop(): Promise<void>;
}

/** The capnp config: one worker (the edge worker, the scenario and the bundle) on `port`. */
function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .edgeWorker),
    # The tests' servers (Prometheus) listen on 127.0.0.1, which the default outbound refuses.
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);

const edgeWorker :Workerd.Worker = (
  modules = [
    (name = "edge_worker.js", esModule = embed "edge_worker.js"),
    (name = "edge_app.js", esModule = embed "edge_app.js"),
    (name = "mod.js", esModule = embed "mod.js"),
  ],
  compatibilityDate = "${COMPATIBILITY_DATE}",
  globalOutbound = "loopback",
);
`;
}

/**
 * Starts workerd in `dir` (which must hold `mod.js`, the bundle) on a free port of 127.0.0.1 and
 * waits until it answers `/metrics` (which counts nothing).
 */
export async function startWorkerd(dir: string): Promise<WorkerdServer> {
  const workerd = requireRuntime("workerd");
  for (const file of ["edge_worker.js", "edge_app.js"]) {
    await Deno.copyFile(new URL(file, SUPPORT), `${dir}/${file}`);
  }
  for (let attempt = 1;; attempt++) {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/config.capnp`, workerdConfig(port));
    const proc: ManagedProcess = startProcess(workerd, ["serve", "config.capnp"], { cwd: dir });
    const url = `http://127.0.0.1:${port}`;
    await waitForReadyUrl(proc, `${url}/metrics`, {
      name: "workerd",
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    if (proc.exited) {
      await proc.stop();
      // Another program took the port between freePort() and the bind: try a new one.
      if (/address already in use/i.test(proc.output()) && attempt < 3) continue;
      throw new Error(`workerd exited early:\n${proc.output()}`);
    }
    const stop = async () => {
      await proc.stop();
    };
    return { url, output: () => proc.output(), stop, [Symbol.asyncDispose]: stop };
  }
}

/**
 * The exposition with each `_created` sample's value (wall-clock seconds, different in every
 * run) replaced by `<created>`; every other byte is kept.
 */
export function maskCreated(exposition: string): string {
  return exposition.replace(/^(\S+_created(?:\{[^\n]*\})?) \S+$/gm, "$1 <created>");
}
