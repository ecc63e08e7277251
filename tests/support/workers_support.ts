// Small readers shared by the tests/workers_*_test.ts files.
import type { MetricFamily } from "../../mod.ts";

/**
 * The value of the series `name{labels}` among families (the labels must match exactly): a
 * counter's or gauge's value, a histogram's or summary's count; `undefined` when absent.
 */
export function valueOf(
  families: readonly MetricFamily[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.find((candidate) => candidate.name === name);
  if (family === undefined) return undefined;
  for (const point of family.points) {
    const pointLabels: Record<string, string> = point.labels;
    const keys = Object.keys(pointLabels);
    if (
      keys.length !== Object.keys(labels).length ||
      !keys.every((key) => pointLabels[key] === labels[key])
    ) continue;
    if ("value" in point) return point.value;
    if ("count" in point) return point.count;
    return undefined;
  }
  return undefined;
}

/** The value of the sample line `series value` in a text exposition, or `undefined`. */
export function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The names in a directory, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}
