/**
 * The runtime boundary: the few features that need the `Deno` namespace ask for it here when
 * they are called, never at import, so `mod.ts` loads on any Web-standard runtime (Deno, Deno
 * Deploy, Bun, Cloudflare's workerd) and a Deno-only feature used elsewhere fails with an error
 * naming the feature and the runtime, not with `ReferenceError: Deno is not defined`.
 *
 * @module
 */

/** The globals other runtimes identify themselves by, as far as we read them. */
interface RuntimeGlobals {
  readonly Deno?: typeof Deno;
  readonly Bun?: { readonly version?: string };
  readonly navigator?: { readonly userAgent?: string };
  readonly process?: { readonly versions?: { readonly node?: string } };
}

/** The `Deno` namespace when this runtime has one, else `undefined`. Reading it never throws. */
export function denoNamespace(): typeof Deno | undefined {
  const deno = (globalThis as RuntimeGlobals).Deno;
  return typeof deno === "object" && deno !== null ? deno : undefined;
}

/** A short name of the running runtime for error messages: `Bun 1.4.5`, `Cloudflare-Workers`... */
export function runtimeName(): string {
  const globals = globalThis as RuntimeGlobals;
  if (globals.Deno !== undefined) return "Deno";
  if (globals.Bun !== undefined) return `Bun ${globals.Bun.version ?? ""}`.trim();
  const userAgent = globals.navigator?.userAgent;
  if (typeof userAgent === "string" && userAgent !== "") return userAgent;
  const node = globals.process?.versions?.node;
  if (typeof node === "string") return `Node.js ${node}`;
  return "an unknown runtime";
}

/**
 * The `Deno` namespace for a Deno-only `feature` (e.g. `"startHttpServer()"`), or an `Error`
 * naming the feature and the runtime; `instead` tells what to use there.
 */
export function requireDeno(feature: string, instead = ""): typeof Deno {
  const deno = denoNamespace();
  if (deno !== undefined) return deno;
  throw new Error(
    `${feature} is Deno-only: it needs the Deno namespace, which ${runtimeName()} does not have` +
      (instead === "" ? "" : `; ${instead}`),
  );
}

/**
 * Lets the program end while `timer` is pending (Deno's `unrefTimer`, or the timer object's
 * `unref()` in Bun and Node); where neither exists (workerd, browsers) there is nothing to keep
 * alive, so it does nothing.
 */
export function unrefTimer(timer: ReturnType<typeof setTimeout> | number): void {
  const deno = denoNamespace();
  if (deno !== undefined) return deno.unrefTimer(timer as number);
  const unref = (timer as unknown as { unref?: unknown }).unref;
  if (typeof unref === "function") unref.call(timer);
}
