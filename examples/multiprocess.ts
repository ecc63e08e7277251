// Several OS processes, one /metrics: this program starts three copies of itself as separate
// `deno run` processes that run jobs and publish their metrics to a shared directory, and serves
// the merged view of that directory — the Python client's multiprocess mode, in Deno.
//
//   deno run --allow-run --allow-net --allow-read --allow-write examples/multiprocess.ts
//   deno run --allow-run --allow-net --allow-read --allow-write examples/multiprocess.ts \
//     --dir /tmp/metrics --port 8000 --jobs 500 --serve
//
// Each job process needs nothing but --allow-read and --allow-write on the directory. It turns
// publishing on with one call, `publishToDirectory({ dir })`, and writes its final numbers when
// it ends; the exporter serves `directoryCollector({ dir })`. Without --serve the program prints
// the merged numbers and exits (removing the directory it made); with it, it serves until Ctrl-C.
import { parseArgs } from "node:util";
import { Counter, startHttpServer } from "../mod.ts";
import { directoryCollector, publishToDirectory } from "../src/workers/mod.ts";

const flags = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string" },
    port: { type: "string", default: "0" },
    jobs: { type: "string", default: "1000" },
    serve: { type: "boolean", default: false },
    "job-process": { type: "boolean", default: false },
  },
});
const jobs = Number(flags.values.jobs);

if (flags.values["job-process"]) {
  // A job process: its metrics go to the directory; nothing else differs from a single process.
  const jobsDone = new Counter({ name: "jobs_processed_total", help: "jobs processed" });
  publishToDirectory({ dir: flags.values.dir! });
  for (let i = 0; i < jobs; i++) jobsDone.inc();
  // Ending normally writes the final snapshot (so does Deno.exit()).
} else {
  const dir = flags.values.dir ?? await Deno.makeTempDir({ prefix: "metrics-" });
  await Deno.mkdir(dir, { recursive: true });
  const server = startHttpServer({
    port: Number(flags.values.port),
    hostname: "127.0.0.1",
    registry: directoryCollector({ dir }),
  });
  console.log(`serving the metrics of every process writing to ${dir} at ${server.url}`);

  const children = [1, 2, 3].map(() =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        new URL(import.meta.url).pathname,
        "--job-process",
        "--dir",
        dir,
        "--jobs",
        String(jobs),
      ],
      stdin: "null",
    }).spawn()
  );
  const statuses = await Promise.all(children.map((child) => child.status));
  console.log(`job processes exited with codes ${statuses.map((s) => s.code).join(", ")}`);

  const text = await (await fetch(server.url)).text();
  console.log(
    text.split("\n").filter((line) => line.startsWith("jobs_processed_total")).join("\n"),
  );

  if (!flags.values.serve) {
    await server.shutdown();
    if (flags.values.dir === undefined) await Deno.remove(dir, { recursive: true });
  }
}
