/**
 * OTLP names to Prometheus names, by the OpenTelemetry "Prometheus and OpenMetrics
 * compatibility" spec: unit suffixes (`s` → `_seconds`, `By` → `_bytes`, `1` → `_ratio` for
 * gauges, `m/s` → `_meters_per_second`, `{…}` annotations dropped), `_total` for monotonic sums
 * (added by the formats: counter families are named without it), and attribute keys that meet
 * after translation joined with `;`.
 *
 * Names keep their UTF-8 characters here: each scrape escapes them as it negotiated
 * (`exposition/escaping.ts`), so a scraper that allows UTF-8 sees `http.server.request.duration_seconds`
 * and a legacy one `http_server_request_duration_seconds`.
 *
 * @module
 */

import { escapeName } from "../validation.ts";
import type { Attributes } from "./otlp_types.ts";

/** Unit abbreviations (UCUM, as OpenTelemetry uses them) and their Prometheus words. */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  TiBy: "tibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  TBy: "terabytes",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "%": "percent",
};

/** Units after a `/`, in the singular. */
const PER_UNIT_WORDS: Readonly<Record<string, string>> = {
  s: "second",
  m: "minute",
  h: "hour",
  d: "day",
  w: "week",
  mo: "month",
  y: "year",
};

/** A unit part as a word: known abbreviations spelled out, others kept in the unit alphabet. */
function unitWord(unit: string, words: Readonly<Record<string, string>>): string {
  const word = words[unit] ?? UNIT_WORDS[unit] ?? unit;
  return word.replace(/[^a-zA-Z0-9_:]+/g, "_").replace(/^_+|_+$/g, "");
}

/**
 * The Prometheus unit of an OTLP unit: `""` when it has none (`1` of a non-gauge, or only
 * `{annotations}`), `ratio` for a gauge's `1`.
 *
 * @example
 * ```ts
 * import { prometheusUnit } from "./names.ts";
 * prometheusUnit("ms", false); // "milliseconds"
 * prometheusUnit("By/s", false); // "bytes_per_second"
 * prometheusUnit("{request}", false); // ""
 * prometheusUnit("1", true); // "ratio"
 * ```
 */
export function prometheusUnit(unit: string, gauge: boolean): string {
  const plain = unit.replace(/\{[^}]*\}/g, "").trim();
  if (plain === "") return "";
  if (plain === "1") return gauge ? "ratio" : "";
  const slash = plain.indexOf("/");
  if (slash < 0) return unitWord(plain, {});
  const main = unitWord(plain.slice(0, slash), {});
  const per = unitWord(plain.slice(slash + 1), PER_UNIT_WORDS);
  if (per === "") return main;
  return main === "" ? `per_${per}` : `${main}_per_${per}`;
}

/** What a family is named and its OpenMetrics unit. */
export interface FamilyName {
  /** The family name: with the unit suffix, without `_total` for counters. */
  readonly name: string;
  /** The unit when the name ends with `_<unit>`; absent otherwise. */
  readonly unit?: string;
}

/**
 * The family name of an OTLP metric: the unit suffix appended unless the name holds the unit
 * already; for a counter, a trailing `_total` (or `.total`) removed since the formats add it.
 *
 * @example
 * ```ts
 * import { familyName } from "./names.ts";
 * familyName("http.server.request.duration", "s", "histogram"); // { name: "http.server.request.duration_seconds", unit: "seconds" }
 * familyName("requests_total", "{request}", "counter"); // { name: "requests" }
 * ```
 */
export function familyName(
  name: string,
  otlpUnit: string,
  type: "counter" | "gauge" | "histogram" | "summary",
): FamilyName {
  let base = name;
  if (type === "counter") {
    // The formats add `_total`; a name that has it already must not get a second one.
    base = base.replace(/[._]total$/, "");
    if (base === "") base = name;
  }
  const unit = prometheusUnit(otlpUnit, type === "gauge");
  if (unit === "") return { name: base };
  const words = escapeName(base, "underscores").toLowerCase().split(/_+/);
  const unitWords = unit.toLowerCase().split("_");
  if (containsRun(words, unitWords)) {
    // The name says its unit already: no suffix, and no UNIT line unless the name ends with it.
    return base.endsWith("_" + unit) ? { name: base, unit } : { name: base };
  }
  return { name: `${base}_${unit}`, unit };
}

function containsRun(words: readonly string[], run: readonly string[]): boolean {
  outer: for (let i = 0; i + run.length <= words.length; i++) {
    for (let j = 0; j < run.length; j++) if (words[i + j] !== run[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * Attributes as labels. Keys stay as they are (escaped per scrape), except where two keys
 * would be read as one by a scraper without UTF-8 support (`a.b` and `a_b` both `a_b`): those
 * are joined into one label under the escaped name, their values concatenated with `;` in the
 * lexicographical order of the original keys, as the spec says. Keys starting with `__`
 * (reserved by Prometheus) get a `key` prefix.
 *
 * @example
 * ```ts
 * import { attributeLabels } from "./names.ts";
 * attributeLabels([["http.method", "GET"], ["http_method", "get"]]); // { http_method: "GET;get" }
 * ```
 */
export function attributeLabels(attributes: Attributes): Record<string, string> {
  const labels: Record<string, string> = {};
  if (attributes.length === 0) return labels;
  // Escaped name → original keys that read as it.
  const byEscaped = new Map<string, string[]>();
  const values = new Map<string, string>();
  for (const [rawKey, value] of attributes) {
    const key = rawKey.startsWith("__") ? "key" + rawKey : rawKey;
    // A key given twice: the last value wins, as OTLP says keys are unique.
    values.set(key, value);
    const escaped = escapeName(key, "underscores", "label");
    const keys = byEscaped.get(escaped);
    if (keys === undefined) byEscaped.set(escaped, [key]);
    else if (!keys.includes(key)) keys.push(key);
  }
  for (const [escaped, keys] of byEscaped) {
    if (keys.length === 1) {
      labels[keys[0]] = values.get(keys[0])!;
    } else {
      keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // `_.a` and `_-a` meet as `__a`, a name reserved like any starting with `__`.
      const name = escaped.startsWith("__") ? "key" + escaped : escaped;
      labels[name] = keys.map((key) => values.get(key)!).join(";");
    }
  }
  return labels;
}
