// The docs stay true to the code: docs/reference.md lists every name mod.ts exports and no name
// it does not, names that left the public API appear nowhere in README or docs, and every
// relative link of README and docs/ reaches a file that exists.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname;

/** The names `mod.ts` exports (from its `export { … }` lists; `type` markers dropped). */
export function exportedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const match of source.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const part of match[1].split(",")) {
      // `Auth as PushAuth` exports `PushAuth`.
      const name = part.replace(/^\s*type\s+/, "").replace(/^.*\sas\s+/, "").trim();
      if (name !== "") names.add(name);
    }
  }
  return names;
}

/** The backticked identifiers of the "Every exported name" table of docs/reference.md. */
export function listedNames(reference: string): Set<string> {
  const start = reference.indexOf("\n## Every exported name\n");
  assert.ok(start >= 0, 'docs/reference.md has an "## Every exported name" section');
  const end = reference.indexOf("\n## ", start + 1);
  const section = reference.slice(start, end < 0 ? undefined : end);
  const names = new Set<string>();
  for (const line of section.split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| area") || line.startsWith("| ---")) continue;
    const cells = line.split(" | ");
    for (const match of cells.slice(1).join(" | ").matchAll(/`([A-Za-z_$][\w$]*)`/g)) {
      names.add(match[1]);
    }
  }
  return names;
}

/** README.md and every page under docs/, as [path relative to the root, text]. */
async function documents(): Promise<[string, string][]> {
  const paths = ["README.md"];
  for (const dir of ["docs", "docs/failure"]) {
    for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
      if (entry.isFile && entry.name.endsWith(".md")) paths.push(`${dir}/${entry.name}`);
    }
  }
  return await Promise.all(
    paths.sort().map(async (path) => [path, await Deno.readTextFile(`${ROOT}/${path}`)]),
  ) as [string, string][];
}

Deno.test("exportedNames and listedNames read what they should", () => {
  assert.deepEqual(
    [...exportedNames(
      'export { a, type B,\n  c, type E as F } from "./x.ts";\nexport type { D } from "./y.ts";',
    )],
    ["a", "B", "c", "F", "D"],
  );
  const reference = "# R\n\n## Every exported name\n\n| area | names |\n| --- | --- |\n" +
    "| metric types (`Counter` page) | `Counter`, `Gauge` (a `note`) |\n\n## Next\n`Other`\n";
  assert.deepEqual([...listedNames(reference)], ["Counter", "Gauge", "note"]);
});

Deno.test("docs/reference.md lists every export of mod.ts, and nothing else", async () => {
  const exported = exportedNames(await Deno.readTextFile(`${ROOT}/mod.ts`));
  const listed = listedNames(await Deno.readTextFile(`${ROOT}/docs/reference.md`));
  assert.ok(exported.size > 100, `found ${exported.size} exports in mod.ts`);
  const missing = [...exported].filter((name) => !listed.has(name));
  const gone = [...listed].filter((name) => !exported.has(name));
  assert.deepEqual(missing, [], "exported by mod.ts but not listed in docs/reference.md");
  assert.deepEqual(gone, [], "listed in docs/reference.md but not exported by mod.ts");
});

Deno.test("names that left the public API appear nowhere in README or docs", async () => {
  const removed = ["Metric", "ObjectSeriesMetric", "Compaction", "AnyFunction"];
  for (const [path, text] of await documents()) {
    for (const name of removed) {
      assert.ok(!text.includes("`" + name + "`"), `${path} mentions \`${name}\``);
      assert.doesNotMatch(text, new RegExp(`\\bimport\\b[^;]*\\b${name}\\b[^;]*from`), path);
    }
  }
});

Deno.test("every relative link of README and docs reaches an existing file", async () => {
  const broken: string[] = [];
  for (const [path, text] of await documents()) {
    const base = new URL(path, `file://${ROOT}/`);
    for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = match[1];
      if (/^[a-z]+:/i.test(target) || target.startsWith("#")) continue;
      const file = new URL(target.split("#")[0], base).pathname;
      try {
        await Deno.stat(file);
      } catch {
        broken.push(`${path} → ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

Deno.test("README links every page of docs/, and docs/failure-behaviour.md every page of docs/failure/", async () => {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const overview = await Deno.readTextFile(`${ROOT}/docs/failure-behaviour.md`);
  for (
    const [dir, text, prefix] of [["docs", readme, "docs/"], ["docs/failure", overview, "failure/"]]
  ) {
    for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
      if (!entry.isFile || !entry.name.endsWith(".md")) continue;
      assert.ok(text.includes(`](${prefix}${entry.name})`), `${prefix}${entry.name} is not linked`);
    }
  }
});

Deno.test("README.md stays at most 20 KB", async () => {
  const size = (await Deno.stat(`${ROOT}/README.md`)).size;
  assert.ok(size <= 20_000, `README.md is ${size} bytes; move detail to a page under docs/`);
});

Deno.test("benchmark figures appear only in docs/performance.md's one table", async () => {
  // Ratios, nanosecond or microsecond timings and compression ratios go stale; a page says how
  // to measure instead (bench/README.md), and docs/performance.md holds one dated run.
  const figures =
    /\d(?:\.\d+)?×|\d(?:\.\d+)?x (?:faster|slower)|\d(?:\.\d+)? ?(?:ns|µs)\b|\b\d+(?:\.\d+)?:1\b/;
  const found: string[] = [];
  const pages = [...await documents(), [
    "bench/README.md",
    await Deno.readTextFile(`${ROOT}/bench/README.md`),
  ]];
  for (const [path, text] of pages) {
    if (path === "docs/performance.md") continue;
    text.split("\n").forEach((line, index) => {
      if (figures.test(line)) found.push(`${path}:${index + 1}: ${line}`);
    });
  }
  assert.deepEqual(found, []);
});

Deno.test("docs/performance.md stays short: one table of figures", async () => {
  const text = await Deno.readTextFile(`${ROOT}/docs/performance.md`);
  assert.ok(text.length <= 10_000, `docs/performance.md is ${text.length} characters`);
  const rowsWithFigures = text.split("\n").filter((line) =>
    line.startsWith("| ") && /\d×/.test(line)
  );
  assert.ok(rowsWithFigures.length > 0 && rowsWithFigures.length <= 12, rowsWithFigures.join("\n"));
});
