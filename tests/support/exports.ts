/**
 * Reading the package's export lists and docs/reference.md's tables of them, for
 * tests/docs/docs_test.ts and tests/root_exports_test.ts.
 */
import assert from "node:assert/strict";

/** The names an entry point exports (from its `export { … }` lists; `type` markers dropped). */
export function exportedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const match of source.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    for (const part of match[1].split(",")) {
      // `Auth as Other` exports `Other`.
      const name = part.replace(/^\s*type\s+/, "").replace(/^.*\sas\s+/, "").trim();
      if (name !== "") names.add(name);
    }
  }
  return names;
}

/**
 * The rows of the table under `heading` in docs/reference.md: for each row, its first cell and
 * the backticked identifiers of the others.
 */
export function tableRows(reference: string, heading: string): [string, Set<string>][] {
  const start = reference.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `docs/reference.md has an "## ${heading}" section`);
  const end = reference.indexOf("\n## ", start + 1);
  const section = reference.slice(start, end < 0 ? undefined : end);
  const rows: [string, Set<string>][] = [];
  const lines = section.split("\n").filter((line) => line.startsWith("| "));
  for (const line of lines.slice(2)) { // after the header row and the `---` row
    const cells = line.split(" | ");
    const names = new Set<string>();
    for (const match of cells.slice(1).join(" | ").matchAll(/`([A-Za-z_$][\w$]*)`/g)) {
      names.add(match[1]);
    }
    rows.push([cells[0], names]);
  }
  return rows;
}

/** The backticked identifiers of every row of the table under `heading`, first cells aside. */
export function listedNames(reference: string, heading: string): Set<string> {
  const names = new Set<string>();
  for (const [, row] of tableRows(reference, heading)) for (const name of row) names.add(name);
  return names;
}
