/**
 * The labels `instrumentHandler()` gives a request: its method (one of the standard ones or
 * `OTHER`), its route (the first matching template, or what the `route()` function names, else
 * `"other"`), and the values of the `requestLabels` functions.
 *
 * @module
 */

/** The standard methods, in the order of their index; anything else is `OTHER`. */
export const METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
  "OTHER",
] as const;
const OTHER_METHOD = METHODS.length - 1;

/** The index of a method in {@linkcode METHODS} (a switch: no allocation for the usual ones). */
export function methodIndex(method: string): number {
  switch (method) {
    case "GET":
      return 0;
    case "HEAD":
      return 1;
    case "POST":
      return 2;
    case "PUT":
      return 3;
    case "DELETE":
      return 4;
    case "CONNECT":
      return 5;
    case "OPTIONS":
      return 6;
    case "TRACE":
      return 7;
    case "PATCH":
      return 8;
  }
  // Fetch normalises the case of most standard methods, but not of PATCH or CONNECT.
  const upper = method.toUpperCase();
  return upper === method ? OTHER_METHOD : methodIndex(upper);
}

/** The label a path that matches no route gets. */
export const OTHER_ROUTE = "other";

/** The path of an absolute URL string, without query or fragment (no URL object built). */
export function pathnameOf(url: string): string {
  const authority = url.indexOf("//");
  const start = url.indexOf("/", authority < 0 ? 0 : authority + 2);
  if (start < 0) return "/";
  let end = url.indexOf("?", start);
  if (end < 0) end = url.length;
  const hash = url.indexOf("#", start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

// --- Route templates -----------------------------------------------------------------------

/** Characters of URLPattern syntax beyond `:name` and `*`, which need URLPattern itself. */
const ADVANCED_SYNTAX = /[(){}?+\\]|:[A-Za-z_$][\w$]*\*/;
/** Characters a path holds unencoded: a template with others needs URLPattern's encoding. */
const PLAIN_TEMPLATE = /^[A-Za-z0-9\-._~!$&'*,;=:@%/]*$/;

/** Whether the built-in matcher handles this template exactly as URLPattern would. */
export function isSimpleTemplate(template: string): boolean {
  return !ADVANCED_SYNTAX.test(template) && PLAIN_TEMPLATE.test(template);
}

/**
 * The built-in matcher of a simple template: literal text, `:name` for one non-empty segment
 * (URLPattern's `[^/]+?`) and `*` for anything (`.*`), anchored at both ends.
 */
export function compileSimpleTemplate(template: string): RegExp {
  let source = "^";
  let i = 0;
  while (i < template.length) {
    const char = template[i];
    if (char === ":") {
      const name = /^:[A-Za-z_$][\w$]*/.exec(template.slice(i));
      if (name === null) {
        throw new TypeError(`route template "${template}": ":" must start a parameter name`);
      }
      source += "[^/]+";
      i += name[0].length;
    } else if (char === "*") {
      source += ".*";
      i++;
    } else {
      source += char.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
      i++;
    }
  }
  return new RegExp(source + "$");
}

/** Tests a path against one template. */
type PathTest = (pathname: string, url: string) => boolean;

/** The test for one template: the built-in matcher when it suffices, else `URLPattern`. */
function templateTest(template: string): PathTest {
  if (typeof template !== "string" || !(template.startsWith("/") || template.startsWith("*"))) {
    throw new TypeError(
      `instrumentHandler(): route template ${JSON.stringify(template)} must be a path ` +
        `starting with "/"`,
    );
  }
  if (isSimpleTemplate(template)) {
    const pattern = compileSimpleTemplate(template);
    return (pathname) => pattern.test(pathname);
  }
  const URLPatternClass = (globalThis as {
    URLPattern?: new (init: { pathname: string }) => { test(input: string): boolean };
  }).URLPattern;
  if (URLPatternClass === undefined) {
    throw new TypeError(
      `instrumentHandler(): route template "${template}" uses URLPattern syntax beyond ` +
        `":name" and "*", and this runtime has no URLPattern; use simple templates or a ` +
        `route(request) function`,
    );
  }
  let pattern;
  try {
    pattern = new URLPatternClass({ pathname: template });
  } catch (error) {
    throw new TypeError(
      `instrumentHandler(): route template "${template}" is not a valid URLPattern pathname: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  return (_pathname, url) => pattern.test(url);
}

/** Finds the route of a path: the index of the first template that matches, else -1. */
function routeFinder(templates: readonly string[]): (pathname: string, url: string) => number {
  const tests = templates.map(templateTest);
  return (pathname, url) => {
    for (let i = 0; i < tests.length; i++) {
      if (tests[i](pathname, url)) return i;
    }
    return -1;
  };
}

// --- Failing label functions -----------------------------------------------------------------

/** Reports a failing hook once per streak of failures, not once per request. */
export class HookFailures {
  #failing = false;

  ok(): void {
    this.#failing = false;
  }

  failed(what: string, error: unknown, fallback = "using a fallback label"): void {
    if (this.#failing) return;
    this.#failing = true;
    console.error(
      `instrumentHandler(): ${what} threw (${
        error instanceof Error ? error.message : String(error)
      }); ${fallback} until it succeeds again`,
    );
  }
}

// --- The route and hook labels of a request ----------------------------------------------------

/** How many distinct names a `route()` function may give before its series stop being cached. */
const MAX_CACHED_ROUTE_NAMES = 1000;

/**
 * Names the route of each request, from the templates or the `route()` function, and numbers
 * it for the series cache (-1: a name past the cache's bound, not cached).
 */
export class RouteNamer {
  /** The route of the latest `resolve`: kept here, so resolving allocates no result object. */
  route = OTHER_ROUTE;
  readonly #templates: readonly string[];
  readonly #findTemplate: (pathname: string, url: string) => number;
  readonly #routeOf: ((request: Request) => string | undefined) | undefined;
  readonly #failures: HookFailures;
  readonly #ids = new Map<string, number>();

  constructor(
    templates: readonly string[],
    routeOf: ((request: Request) => string | undefined) | undefined,
    failures: HookFailures,
  ) {
    this.#templates = templates;
    this.#findTemplate = routeFinder(templates);
    this.#routeOf = routeOf;
    this.#failures = failures;
  }

  /** Sets `route` for this request and returns its number. */
  resolve(pathname: string, url: string, request: Request): number {
    const templates = this.#templates;
    const routeOf = this.#routeOf;
    if (routeOf === undefined) {
      const index = this.#findTemplate(pathname, url);
      this.route = index < 0 ? OTHER_ROUTE : templates[index];
      return index < 0 ? templates.length : index;
    }
    let route = OTHER_ROUTE;
    try {
      const named = routeOf(request);
      if (typeof named === "string" && named !== "") route = named;
      this.#failures.ok();
    } catch (error) {
      this.#failures.failed("route(request)", error);
    }
    this.route = route;
    let id = this.#ids.get(route);
    if (id === undefined) {
      if (this.#ids.size >= MAX_CACHED_ROUTE_NAMES) return -1;
      id = this.#ids.size;
      this.#ids.set(route, id);
    }
    return id;
  }
}

/** The values of the `requestLabels` hooks for a request ("" for a hook that throws). */
export function hookValuesOf(
  hookNames: readonly string[],
  hooks: readonly ((request: Request) => string)[],
  request: Request,
  failures: HookFailures,
): string[] | undefined {
  if (hooks.length === 0) return undefined;
  const values: string[] = [];
  for (let i = 0; i < hooks.length; i++) {
    let value = "";
    try {
      const given = hooks[i](request);
      value = typeof given === "string" ? given : String(given);
    } catch (error) {
      failures.failed(`requestLabels.${hookNames[i]}(request)`, error);
    }
    values.push(value);
  }
  return values;
}
