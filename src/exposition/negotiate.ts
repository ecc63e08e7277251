/**
 * Content negotiation: which exposition format to answer with, given a scraper's `Accept`
 * header, and whether its `Accept-Encoding` allows gzip.
 *
 * @module
 */

import type { ExpositionFormat } from "./render.ts";
import { ESCAPING_SCHEMES, type EscapingScheme } from "../validation.ts";

/** One element of an `Accept` or `Accept-Encoding` list. */
interface WeightedValue {
  /** The media range (`type/subtype`) or coding, lower-cased. */
  readonly value: string;
  /** Parameters other than `q`, with lower-cased names. */
  readonly params: ReadonlyMap<string, string>;
  /** The quality, in [0, 1]; 0 means "not acceptable". */
  readonly q: number;
  /** Position in the header, to break ties in favour of what the client listed first. */
  readonly position: number;
}

/**
 * Parses a comma-separated list with optional `;name=value` parameters and a `q` weight.
 * Elements that cannot be read (empty, or a `q` outside [0, 1]) are skipped rather than
 * failing the request: a scrape with an odd header still gets an answer.
 */
function parseWeightedList(header: string): WeightedValue[] {
  const values: WeightedValue[] = [];
  for (const element of header.split(",")) {
    const [head, ...rawParams] = element.split(";");
    const value = head.trim().toLowerCase();
    if (value === "") continue;
    const params = new Map<string, string>();
    let q = 1;
    let valid = true;
    for (const rawParam of rawParams) {
      const eq = rawParam.indexOf("=");
      if (eq < 0) continue;
      const name = rawParam.slice(0, eq).trim().toLowerCase();
      const paramValue = rawParam.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
      if (name === "q") {
        q = Number(paramValue);
        if (paramValue === "" || !(q >= 0 && q <= 1)) valid = false;
      } else {
        params.set(name, paramValue);
      }
    }
    if (valid) values.push({ value, params, q, position: values.length });
  }
  return values;
}

/** What a format is served as, for matching against media ranges. */
interface Offer {
  readonly format: ExpositionFormat;
  readonly type: string;
  readonly subtype: string;
  /** The `version` we write. */
  readonly version: string;
  /** Other `version`s a client may ask for that our output satisfies. */
  readonly compatibleVersions: readonly string[];
}

const OFFERS: readonly Offer[] = [
  {
    format: "openmetrics",
    type: "application",
    subtype: "openmetrics-text",
    version: "1.0.0",
    // Prometheus asks for 0.0.1 as a fallback and parses 1.0.0 output the same way.
    compatibleVersions: ["0.0.1"],
  },
  {
    format: "text",
    type: "text",
    subtype: "plain",
    version: "0.0.4",
    // Text 1.0.0 is 0.0.4 plus quoted UTF-8 names, which we write under `escaping=allow-utf-8`.
    compatibleVersions: ["1.0.0"],
  },
];

/** How well a media range matches an offer: 0 = not at all, higher = more specific. */
function specificity(range: WeightedValue, offer: Offer): number {
  const [type, subtype] = range.value.split("/", 2);
  if (type === "*" && subtype === "*") return 1;
  if (type !== offer.type) return 0;
  if (subtype === "*") return 2;
  if (subtype !== offer.subtype) return 0;
  const version = range.params.get("version");
  if (version === undefined || offer.compatibleVersions.includes(version)) return 3;
  return version === offer.version ? 4 : 0;
}

/**
 * The weight a client gives the protobuf format: only an explicit
 * `application/vnd.google.protobuf` range counts (never a wildcard), whose `proto` (if given) is
 * `io.prometheus.client.MetricFamily` and whose `encoding` (if given) is `delimited`, the only
 * framing we write.
 */
function protobufPreference(ranges: readonly WeightedValue[]): Preference {
  let best: Preference = { q: 0, specificity: 0, position: Infinity };
  for (const range of ranges) {
    if (range.value !== "application/vnd.google.protobuf") continue;
    const proto = range.params.get("proto");
    const encoding = range.params.get("encoding");
    if (proto !== undefined && proto !== "io.prometheus.client.MetricFamily") continue;
    if (encoding !== undefined && encoding.toLowerCase() !== "delimited") continue;
    if (range.q > best.q || (range.q === best.q && range.position < best.position)) {
      best = { q: range.q, specificity: 4, position: range.position };
    }
  }
  return best;
}

/** The weight a client gives an offer: that of the most specific range matching it. */
interface Preference {
  readonly q: number;
  readonly specificity: number;
  readonly position: number;
  /** The range that gave the weight, if any. */
  readonly range?: WeightedValue;
}

function preferenceFor(ranges: readonly WeightedValue[], offer: Offer): Preference {
  let best: Preference = { q: 0, specificity: 0, position: Infinity };
  for (const range of ranges) {
    const rank = specificity(range, offer);
    if (rank === 0) continue;
    if (
      rank > best.specificity ||
      (rank === best.specificity && (range.q > best.q ||
        (range.q === best.q && range.position < best.position)))
    ) {
      best = { q: range.q, specificity: rank, position: range.position, range };
    }
  }
  return best;
}

/**
 * Picks the exposition format for a scrape from its `Accept` header: the protobuf format when the
 * client names `application/vnd.google.protobuf` (delimited `io.prometheus.client.MetricFamily`)
 * and weighs no text format more (Prometheus with native histograms on asks for it first);
 * otherwise OpenMetrics when the client
 * accepts `application/openmetrics-text` and prefers it (by `q`, then by naming it explicitly
 * rather than through a wildcard, then by listing it first), otherwise the Prometheus text format
 * 0.0.4. A missing or empty header, `*\/*`, or a browser's header all give the text format;
 * `q=0` means "not acceptable".
 *
 * @example The header Prometheus 2.x sends
 * ```ts
 * import { negotiateFormat } from "@deno-prom/client/exposition";
 * negotiateFormat(
 *   "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
 *     "text/plain;version=0.0.4;q=0.5,*\/*;q=0.1",
 * ); // "openmetrics"
 * negotiateFormat(
 *   "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited," +
 *     "application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1",
 * ); // "protobuf"
 * negotiateFormat("*\/*"); // "text"
 * negotiateFormat(null); // "text"
 * ```
 */
export function negotiateFormat(accept: string | null | undefined): ExpositionFormat {
  if (accept === null || accept === undefined || accept.trim() === "") return "text";
  const ranges = parseWeightedList(accept);
  const [openMetricsOffer, textOffer] = OFFERS;
  const openMetrics = preferenceFor(ranges, openMetricsOffer);
  const text = preferenceFor(ranges, textOffer);
  const protobuf = protobufPreference(ranges);
  if (protobuf.q > 0) {
    // Named explicitly, it wins unless a text format weighs more, or as much and comes first.
    const rivals = [openMetrics, text].filter((rival) =>
      rival.q > protobuf.q ||
      (rival.q === protobuf.q && rival.specificity >= 3 && rival.position < protobuf.position)
    );
    if (rivals.length === 0) return "protobuf";
  }
  if (openMetrics.q === 0) return "text";
  if (openMetrics.q !== text.q) return openMetrics.q > text.q ? "openmetrics" : "text";
  // Equal weights: an explicit mention beats a wildcard, then the earlier entry wins.
  const explicitOpenMetrics = openMetrics.specificity >= 3;
  const explicitText = text.specificity >= 3;
  if (explicitOpenMetrics !== explicitText) return explicitOpenMetrics ? "openmetrics" : "text";
  if (explicitOpenMetrics && openMetrics.position < text.position) return "openmetrics";
  return "text";
}

/**
 * The UTF-8 name escaping a scraper asks for along with `format`: the `escaping` parameter
 * (`allow-utf-8`, `underscores`, `dots` or `values`) of the `Accept` media range that selected
 * `format`, or `undefined` when it names none (or one we do not know), in which case names are
 * written with the default `underscores` escaping. Prometheus 3 sends `escaping=allow-utf-8`.
 *
 * @example
 * ```ts
 * import { negotiateEscaping, negotiateFormat } from "@deno-prom/client/exposition";
 * const accept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5," +
 *   "text/plain;version=0.0.4;q=0.2,*\/*;q=0.1";
 * negotiateEscaping(accept, negotiateFormat(accept)); // "allow-utf-8"
 * negotiateEscaping("text/plain;version=0.0.4", "text"); // undefined (underscores)
 * ```
 */
export function negotiateEscaping(
  accept: string | null | undefined,
  format: ExpositionFormat,
): EscapingScheme | undefined {
  if (accept === null || accept === undefined || accept.trim() === "") return undefined;
  const offer = OFFERS.find((candidate) => candidate.format === format);
  if (offer === undefined) return undefined;
  const escaping = preferenceFor(parseWeightedList(accept), offer).range?.params.get("escaping");
  return ESCAPING_SCHEMES.find((scheme) => scheme === escaping);
}

/**
 * The `Content-Type` parameter telling a scraper which escaping the body uses
 * (`; escaping=allow-utf-8`), or nothing when the scraper did not ask for one: the header then
 * stays exactly what scrapers before Prometheus 3 know.
 */
export function escapingParameter(escaping: EscapingScheme | undefined): string {
  return escaping === undefined ? "" : "; escaping=" + escaping;
}

/**
 * Whether an `Accept-Encoding` header allows a gzip-compressed answer (`gzip`, its alias
 * `x-gzip`, or `*`, with a non-zero weight; an explicit `gzip;q=0` wins over `*`).
 */
export function acceptsGzip(acceptEncoding: string | null | undefined): boolean {
  if (acceptEncoding === null || acceptEncoding === undefined) return false;
  let explicit: number | undefined;
  let wildcard: number | undefined;
  for (const { value, q } of parseWeightedList(acceptEncoding)) {
    if (value === "gzip" || value === "x-gzip") explicit = Math.max(explicit ?? 0, q);
    else if (value === "*") wildcard = Math.max(wildcard ?? 0, q);
  }
  return (explicit ?? wildcard ?? 0) > 0;
}
