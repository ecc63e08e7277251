// README's "From a checkout, in another project": a project outside this repository maps
// `@deno-prom/client` to this checkout — with README's own `imports` block, or as a workspace
// member — and runs README's quick start (and a subpath import) through it.
import assert from "node:assert/strict";
import { run } from "../support/process.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** README's text between `## heading` and the next `## `. */
async function readmeSection(heading: string): Promise<string> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "## ${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The first fenced block of `language` in `text`. */
function fenced(text: string, language: string): string {
  const open = text.indexOf("```" + language + "\n");
  assert.ok(open >= 0, `a \`\`\`${language} block`);
  const from = open + language.length + 4;
  return text.slice(from, text.indexOf("\n```", from) + 1);
}

/** README's quick start, on any free port, plus imports through every subpath. */
async function quickStart(): Promise<string> {
  const code = fenced(await readmeSection("Quick start"), "ts");
  assert.ok(code.includes("port: 8000"), "the quick start serves on port 8000");
  return code.replace("port: 8000", "port: 0") +
    `import { metricsHandler } from "@deno-prom/client/http";
import { pushToGateway } from "@deno-prom/client/push";
import { aggregateWorkers } from "@deno-prom/client/workers";
import { ProcessCollector } from "@deno-prom/client/collectors";
import { renderText } from "@deno-prom/client/exposition";
const subpaths = [metricsHandler, pushToGateway, aggregateWorkers, ProcessCollector, renderText];
console.log("subpath:", subpaths.every((value) => typeof value === "function") ? "function" : "?");
`;
}

async function runIn(project: string) {
  const result = await run(Deno.execPath(), ["run", "--allow-net", "main.ts"], {
    cwd: project,
    env: { NO_COLOR: "1" },
    timeoutMs: 120_000,
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^metrics at http:\/\/127\.0\.0\.1:\d+\/metrics$/m);
  assert.match(result.stdout, /^jobs_processed_total\{queue="mail"\} 3\.0$/m);
  assert.match(result.stdout, /^job_duration_seconds_count 3\.0$/m);
  assert.match(result.stdout, /^subpath: function$/m);
}

Deno.test("a project outside the repository runs the quick start through README's imports map", async () => {
  const project = await Deno.makeTempDir({ prefix: "deno-prom-user-project-" });
  try {
    assert.ok(!project.startsWith(ROOT + "/"), "the project lies outside the checkout");
    const imports = fenced(await readmeSection("Install and import"), "json");
    assert.ok(imports.includes('"../deno-prom/'), "README maps the names to ../deno-prom/");
    // README's checkout sits beside the project; this one is wherever the tests run from.
    await Deno.writeTextFile(
      `${project}/deno.json`,
      imports.replaceAll('"../deno-prom/', `"${ROOT}/`),
    );
    const config = JSON.parse(await Deno.readTextFile(`${project}/deno.json`));
    assert.deepEqual(
      Object.keys(config.imports).sort(),
      Object.keys(JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).exports)
        .map((subpath) => subpath.replace(/^\./, "@deno-prom/client")).sort(),
      "README maps every export of deno.json",
    );
    await Deno.writeTextFile(`${project}/main.ts`, await quickStart());
    await runIn(project);
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});

Deno.test("a project with the checkout as a workspace member runs the quick start", async () => {
  const project = await Deno.makeTempDir({ prefix: "deno-prom-user-workspace-" });
  try {
    const config = '{ "workspace": ["./deno-prom"] }';
    assert.ok((await readmeSection("Install and import")).includes(config), "README gives it");
    // A link stands for the clone inside the project that README describes.
    await Deno.symlink(ROOT, `${project}/deno-prom`);
    await Deno.writeTextFile(`${project}/deno.json`, config);
    await Deno.writeTextFile(`${project}/main.ts`, await quickStart());
    await runIn(project);
  } finally {
    await Deno.remove(project, { recursive: true });
  }
});
