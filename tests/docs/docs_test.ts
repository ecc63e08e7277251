// The docs stay true to the code: docs/reference.md lists every name mod.ts exports and no name
// it does not, and what each subpath adds; README and docs import each name from an entry point
// that exports it, and names that left the public API appear nowhere; every relative link of
// README and docs/ reaches a file that exists.
import assert from "node:assert/strict";
import { exportedNames, listedNames, tableRows } from "../support/exports.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The entry points of deno.json's `exports`, as import specifier → the names it exports. */
async function entryPoints(): Promise<Map<string, Set<string>>> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  const entries = new Map<string, Set<string>>();
  for (const [subpath, file] of Object.entries(config.exports) as [string, string][]) {
    const specifier = subpath === "." ? config.name : `${config.name}${subpath.slice(1)}`;
    entries.set(specifier, exportedNames(await Deno.readTextFile(`${ROOT}/${file}`)));
  }
  return entries;
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

Deno.test("exportedNames and tableRows read what they should", () => {
  assert.deepEqual(
    [...exportedNames(
      'export { a, type B,\n  c, type E as F } from "./x.ts";\nexport type { D } from "./y.ts";',
    )],
    ["a", "B", "c", "F", "D"],
  );
  const reference = "# R\n\n## Every exported name\n\n| area | names |\n| --- | --- |\n" +
    "| metric types (`Counter` page) | `Counter`, `Gauge` (a `note`) |\n| more | `Enum` |\n\n" +
    "## Next\n`Other`\n";
  assert.deepEqual([...listedNames(reference, "Every exported name")], [
    "Counter",
    "Gauge",
    "note",
    "Enum",
  ]);
  assert.deepEqual(tableRows(reference, "Every exported name").map(([first]) => first), [
    "| metric types (`Counter` page)",
    "| more",
  ]);
});

Deno.test("docs/reference.md lists every export of mod.ts, and nothing else", async () => {
  const exported = exportedNames(await Deno.readTextFile(`${ROOT}/mod.ts`));
  const listed = listedNames(
    await Deno.readTextFile(`${ROOT}/docs/reference.md`),
    "Every exported name",
  );
  assert.ok(exported.size > 40, `found ${exported.size} exports in mod.ts`);
  const missing = [...exported].filter((name) => !listed.has(name));
  const gone = [...listed].filter((name) => !exported.has(name));
  assert.deepEqual(missing, [], "exported by mod.ts but not listed in docs/reference.md");
  assert.deepEqual(gone, [], "listed in docs/reference.md but not exported by mod.ts");
});

Deno.test("docs/reference.md lists what each subpath exports beyond the root, and nothing else", async () => {
  const entries = await entryPoints();
  const root = entries.get("@deno-prom/client")!;
  const rows = tableRows(await Deno.readTextFile(`${ROOT}/docs/reference.md`), "Subpath exports");
  const subpaths = [...entries.keys()].filter((specifier) => specifier !== "@deno-prom/client");
  assert.deepEqual(
    rows.map(([first]) => first.match(/`(@deno-prom\/client\/\w+)`/)?.[1]).sort(),
    subpaths.sort(),
    "one row per subpath",
  );
  for (const [first, listed] of rows) {
    const specifier = first.match(/`(@deno-prom\/client\/\w+)`/)![1];
    const beyondRoot = [...entries.get(specifier)!].filter((name) => !root.has(name)).sort();
    assert.deepEqual([...listed].sort(), beyondRoot, specifier);
  }
});

Deno.test("README and docs import every name from an entry point that exports it", async () => {
  const entries = await entryPoints();
  const wrong: string[] = [];
  for (const [path, text] of await documents()) {
    const imports = text.matchAll(
      /import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*"(?:jsr:)?(@deno-prom\/client(?:\/\w+)?)(?:@[^"/]*)?"/g,
    );
    for (const [, list, specifier] of imports) {
      const exported = entries.get(specifier);
      for (const part of list.split(",")) {
        const name = part.replace(/^\s*type\s+/, "").replace(/\s+as\s+.*$/, "").trim();
        if (name !== "" && !exported?.has(name)) wrong.push(`${path}: ${name} from ${specifier}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("names that left the public API appear nowhere in README or docs", async () => {
  const removed = [
    "Metric",
    "ObjectSeriesMetric",
    "Compaction",
    "AnyFunction",
    "PushAuth",
    "DeleteOptions",
  ];
  // The worker classes are exported as types only: each is made by its function.
  const constructors = /\bnew (?:WorkerAggregator|DirectoryCollector|DirectoryPublisher)\b/;
  for (const [path, text] of await documents()) {
    for (const name of removed) {
      assert.ok(!text.includes("`" + name + "`"), `${path} mentions \`${name}\``);
      assert.doesNotMatch(text, new RegExp(`\\bimport\\b[^;]*\\b${name}\\b[^;]*from`), path);
    }
    assert.doesNotMatch(text, constructors, path);
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
