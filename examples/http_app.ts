// A four-route JSON API (a to-do list), instrumented with one wrapper: instrumentHandler()
// counts and times every request by method, route template and status, and /metrics serves
// the result. The recipe of docs/instrumenting-http.md.
//
//   deno run --allow-net examples/http_app.ts [--port 8000]
//   curl -X POST localhost:8000/todos -d '{"title":"milk"}'; curl localhost:8000/todos/1
//   curl localhost:8000/metrics
//
// Permissions: --allow-net only.
import { parseArgs } from "node:util";
import { collectDefaultMetrics, instrumentHandler, metricsHandler, Registry } from "../mod.ts";

interface Todo {
  id: number;
  title: string;
  done: boolean;
}

const todos = new Map<number, Todo>();
let nextId = 1;

/** The application, written as if no metrics existed. */
async function app(request: Request): Promise<Response> {
  const { pathname } = new URL(request.url);
  const parts = pathname.split("/").filter(Boolean);
  if (parts[0] === "todos" && parts.length === 1) {
    if (request.method === "GET") return Response.json([...todos.values()]);
    if (request.method === "POST") {
      const { title } = await request.json().catch(() => ({}));
      if (typeof title !== "string") return Response.json({ error: "title?" }, { status: 400 });
      const todo = { id: nextId++, title, done: false };
      todos.set(todo.id, todo);
      return Response.json(todo, { status: 201 });
    }
  }
  if (parts[0] === "todos" && parts.length >= 2) {
    const todo = todos.get(Number(parts[1]));
    if (todo === undefined) return Response.json({ error: "no such todo" }, { status: 404 });
    if (parts.length === 2 && request.method === "GET") return Response.json(todo);
    if (parts.length === 2 && request.method === "DELETE") {
      todos.delete(todo.id);
      return new Response(null, { status: 204 });
    }
    if (parts[2] === "done" && request.method === "POST") {
      todo.done = true;
      return Response.json(todo);
    }
  }
  if (pathname === "/stats") {
    const done = [...todos.values()].filter((todo) => todo.done).length;
    return Response.json({ total: todos.size, done });
  }
  return Response.json({ error: "not found" }, { status: 404 });
}

const registry = new Registry();
using _runtime = collectDefaultMetrics({ registry });
const metrics = metricsHandler({ registry });

// The one wrapper: four route templates, and the endpoints that are not the app's own excluded.
const handler = instrumentHandler(
  (request) => new URL(request.url).pathname === "/metrics" ? metrics(request) : app(request),
  {
    registry,
    routes: ["/todos", "/todos/:id", "/todos/:id/done", "/stats"],
    exclude: ["/metrics", "/healthz"],
  },
);

const { port } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } }).values;
const server = Deno.serve(
  {
    port: Number(port ?? 8000),
    onListen: ({ port }) => console.log(`to-do API on http://localhost:${port}/todos`),
  },
  handler,
);
await server.finished;
