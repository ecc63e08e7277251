// Runs the edge scenario (tests/support/edge_app.js) on Bun or Node.js against a `deno bundle`
// of mod.ts, and prints one JSON line with what it saw. Used by tests/http/edge_runtimes_test.ts:
//
//   bun  tests/support/edge_node.js <bundle.js> [pushgateway-url [remote-write-url]]
//   node tests/support/edge_node.js <bundle.js> [pushgateway-url [remote-write-url]]
//   deno run -A tests/support/edge_node.js --hide-deno <bundle.js>
//
// `--hide-deno` deletes `globalThis.Deno` before the bundle is imported: the bundle must load and
// run as it does on a runtime that never had one.
// With a Pushgateway URL it also pushes the registry once with pushToGateway (job "edge_push")
// and once through a Pusher (job "edge_pusher": start() pushes and arms its unref'd timer,
// stop() makes the final push), and reports any failure as text. With a remote-write URL it also
// writes the registry there once (job "edge_rw", instance "bun" or "node").
import { pathToFileURL } from "node:url";
import { runScenario, tryDenoOnlyFeatures, writeRemotely } from "./edge_app.js";

const args = process.argv.slice(2);
const hideDeno = args[0] === "--hide-deno";
if (hideDeno) delete globalThis.Deno;
const [bundlePath, gateway, remoteWriteUrl] = hideDeno ? args.slice(1) : args;
const lib = await import(pathToFileURL(bundlePath).href);
const { app, ...metrics } = await runScenario(lib);
const report = {
  runtime: hideDeno
    ? "deno without Deno"
    : typeof Bun === "undefined"
    ? `node ${process.versions.node}`
    : `bun ${Bun.version}`,
  ...metrics,
  denoOnly: tryDenoOnlyFeatures(lib),
};
if (gateway !== undefined) {
  try {
    await lib.pushToGateway(gateway, {
      job: "edge_push",
      groupingKey: { runtime: report.runtime.split(" ")[0] },
      registry: app.registry,
    });
    const errors = [];
    const pusher = new lib.Pusher({
      gateway,
      job: "edge_pusher",
      groupingKey: { runtime: report.runtime.split(" ")[0] },
      registry: app.registry,
      intervalMs: 60_000,
      onError: (error) => errors.push(String(error?.message ?? error)),
    });
    pusher.start();
    await pusher.stop();
    report.push = errors.length === 0 ? "ok" : errors.join("; ");
  } catch (error) {
    report.push = `${error?.constructor?.name}: ${error?.message}`;
  }
}
if (remoteWriteUrl !== undefined) {
  report.remoteWrite = await writeRemotely(lib, app, remoteWriteUrl, report.runtime.split(" ")[0]);
}
console.log(JSON.stringify(report));
