/**
 * Fails when the modules reachable from `mod.ts` import each other in a cycle.
 *
 *   deno run --allow-run --allow-read tools/check_cycles.ts [entry.ts ...]
 *
 * The import graph comes from `deno info --json` (Deno's own resolver, so multi-line, type-only
 * and re-export imports all count). Type-only imports count too: a cycle through `import type`
 * costs nothing at run time, but it still ties two modules that should each have one direction.
 * Prints each cycle as `a.ts → b.ts → a.ts` and exits 1 if there is any.
 *
 * @module
 */

/** One module of `deno info --json`, as far as we read it. */
interface InfoModule {
  readonly specifier: string;
  readonly dependencies?: readonly {
    readonly code?: { readonly specifier?: string };
    readonly type?: { readonly specifier?: string };
  }[];
}

/** The local (`file:`) import graph: each module's sorted list of imported local modules. */
export function importGraph(modules: readonly InfoModule[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const module of modules) {
    if (!module.specifier.startsWith("file:")) continue;
    const targets = new Set<string>();
    for (const dependency of module.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        if (target?.startsWith("file:")) targets.add(target);
      }
    }
    graph.set(module.specifier, [...targets].sort());
  }
  return graph;
}

/**
 * The strongly connected components with more than one module (or a module importing itself),
 * each as one cycle path through it that starts and ends at its first module (Tarjan's algorithm).
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;

  const visit = (node: string): void => {
    index.set(node, next);
    lowLink.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(target)!));
      } else if (onStack.has(target)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(target)!));
      }
    }
    if (lowLink.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfImport = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfImport) components.push(component);
    }
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cyclePath(graph, new Set(component)));
}

/** A shortest path from the component's first module (sorted) back to itself, within it. */
function cyclePath(graph: ReadonlyMap<string, readonly string[]>, members: Set<string>): string[] {
  const start = [...members].sort()[0];
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of graph.get(node) ?? []) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)!) path.splice(1, 0, at);
        return [...path, start];
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

async function main(entries: string[]): Promise<number> {
  const root = new URL("../", import.meta.url);
  // `deno info` takes one entry point; the graphs of several (the package's subpaths) are merged.
  const modules: InfoModule[] = [];
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!output.success) {
      console.error(`deno info ${entry} failed`);
      return 2;
    }
    modules.push(...JSON.parse(new TextDecoder().decode(output.stdout)).modules);
  }
  const graph = importGraph(modules);
  const cycles = findCycles(graph);
  const relative = (specifier: string) => specifier.slice(root.href.length);
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map(relative).join(" → ")}`);
  if (cycles.length > 0) {
    console.error(`${cycles.length} import cycle(s) among the modules of ${entries.join(", ")}`);
    return 1;
  }
  console.log(`no import cycles among ${graph.size} modules of ${entries.join(", ")}`);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args.length > 0 ? Deno.args : ["mod.ts"]));
}
