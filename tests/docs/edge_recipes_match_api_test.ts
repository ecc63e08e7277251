// Audit of issue 14's "Done when": README's edge recipes (docs/edge.md, linked from README's
// "Edge and serverless") are `ts ignore` blocks that no check compiles, so their calls are
// compared here with the API: every `new RemoteWriter(` / `new Pusher(` takes one options object.
import assert from "node:assert/strict";
import { RemoteWriter } from "../../mod.ts";

const ROOT = new URL("../..", import.meta.url);

async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  for await (const entry of Deno.readDir(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.sort();
}

Deno.test("audit: the API takes RemoteWriter({ url, ... }), not RemoteWriter(url, options)", () => {
  const asDocumented = RemoteWriter as unknown as new (url: string, options: object) => unknown;
  assert.throws(
    () => new asDocumented("http://127.0.0.1:9/api/v1/write", { labels: { job: "x" } }),
    TypeError,
  );
});

Deno.test({
  name: "audit: every documented `new RemoteWriter(` and `new Pusher(` passes one options object",
  async fn() {
    const wrong: string[] = [];
    for (const file of await markdownFiles()) {
      const lines = (await Deno.readTextFile(new URL(file, ROOT))).split("\n");
      lines.forEach((line, i) => {
        for (const match of line.matchAll(/new (RemoteWriter|Pusher)\(\s*(\S?)/g)) {
          if (match[2] !== "{" && match[2] !== "") wrong.push(`${file}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    assert.deepEqual(wrong, []);
  },
});
