// What instrumentHandler() does to responses on Deno's and Bun's own servers, pinned: by default
// every response goes back untouched (Content-Length kept), the request is recorded when the
// handler returns its response (a streamed body still open is already counted), and with
// `bodySizes` a body without Content-Length is counted as it is sent (on Deno, then chunked).
import assert from "node:assert/strict";
import { requireRuntime, skipWithout } from "../support/edge.ts";
import { run } from "../support/process.ts";

const FIXTURE = new URL("../support/instrument_response_fixture.ts", import.meta.url).pathname;

/** What the fixture prints, on either runtime, but for the Content-Length of counted bodies. */
function expected(countedBodyLength: { text: string | null; json: string | null }) {
  const stream = (bodySizes: boolean) => ({
    // Recorded when the handler returned: counted, not in flight, size not known yet.
    whileOpen: bodySizes ? { requests: 1, inFlight: 0, sizes: 0 } : { requests: 1, inFlight: 0 },
    ended: bodySizes ? { requests: 1, size: 10 } : { requests: 1 },
  });
  return {
    default: {
      "/text": { contentLength: "5", body: "hello" },
      "/json": { contentLength: "11", body: '{"ok":true}' },
      "/declared": { contentLength: "3", body: "abc" },
      "/stream": stream(false),
    },
    bodySizes: {
      "/text": { contentLength: countedBodyLength.text, body: "hello", size: 5 },
      "/json": { contentLength: countedBodyLength.json, body: '{"ok":true}', size: 11 },
      "/declared": { contentLength: "3", body: "abc", size: 3 },
      "/stream": stream(true),
    },
  };
}

Deno.test("Deno.serve: Content-Length kept, recorded at the handler's response, sizes counted", async () => {
  const result = await run(Deno.execPath(), ["run", "--allow-net", FIXTURE], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stderr);
  // Deno sends a body it gets as a stream chunked: only counted bodies lose their length.
  assert.deepEqual(JSON.parse(result.stdout), expected({ text: null, json: null }));
});

Deno.test({
  name: "Bun.serve: Content-Length kept, recorded at the handler's response, sizes counted",
  ignore: skipWithout("bun"),
  async fn() {
    const result = await run(requireRuntime("bun"), ["run", FIXTURE], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    // Bun sends a short stream that has ended with its length.
    assert.deepEqual(JSON.parse(result.stdout), expected({ text: "5", json: "11" }));
  },
});
