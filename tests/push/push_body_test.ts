// Pushgateway bodies: gzip above a size threshold (on by default), or always, or never; the
// receiving side decompresses and finds the exact text the registry renders.
import assert from "node:assert/strict";
import { Gauge, pushAddToGateway, Pusher, pushToGateway, Registry } from "../../mod.ts";
import { renderText } from "../../src/exposition/mod.ts";
import { DEFAULT_GZIP_MIN_BYTES } from "../../src/push/mod.ts";
import { fakeServer } from "../support/push.ts";

/** A gateway stand-in recording the raw request bytes (Deno.serve does not decompress them). */
const rawGateway = () => fakeServer();

async function gunzip(bytes: Uint8Array): Promise<string> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}

/** A registry whose text has about `series` × 40 bytes. */
function registryOf(series: number): Registry {
  const registry = new Registry();
  const gauge = new Gauge({
    name: "push_body_value",
    help: "a value per shard",
    labelNames: ["shard"],
    registry,
  });
  for (let i = 0; i < series; i++) gauge.labels({ shard: `shard-${i}` }).set(i);
  return registry;
}

Deno.test("push body: small bodies go as plain text, large ones gzipped by default", async () => {
  const gateway = rawGateway();
  try {
    const small = registryOf(2);
    const large = registryOf(500);
    const smallText = renderText(await small.collect());
    const largeText = renderText(await large.collect());
    assert.ok(smallText.length < DEFAULT_GZIP_MIN_BYTES);
    assert.ok(largeText.length > DEFAULT_GZIP_MIN_BYTES);

    await pushToGateway(gateway.url, { job: "moni", registry: small });
    await pushToGateway(gateway.url, { job: "moni", registry: large });
    const [plain, zipped] = gateway.requests;
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal(new TextDecoder().decode(plain.bytes), smallText);
    assert.equal(zipped.headers.get("content-encoding"), "gzip");
    assert.equal(await gunzip(zipped.bytes), largeText);
    assert.ok(
      zipped.bytes.length * 5 < largeText.length,
      `gzip gave ${zipped.bytes.length} bytes of ${largeText.length}`,
    );
  } finally {
    await gateway.close();
  }
});

Deno.test("push body: gzip true always compresses, false never, a number sets the threshold", async () => {
  const gateway = rawGateway();
  try {
    const small = registryOf(2);
    const large = registryOf(500);
    await pushToGateway(gateway.url, { job: "a", registry: small, gzip: true });
    await pushAddToGateway(gateway.url, { job: "a", registry: large, gzip: false });
    await pushToGateway(gateway.url, { job: "a", registry: small, gzip: 10 });
    await pushToGateway(gateway.url, { job: "a", registry: large, gzip: 1e9 });
    assert.deepEqual(
      gateway.requests.map((r) => r.headers.get("content-encoding")),
      ["gzip", null, "gzip", null],
    );
    assert.equal(await gunzip(gateway.requests[0].bytes), renderText(await small.collect()));
    await assert.rejects(
      pushToGateway(gateway.url, { job: "a", registry: small, gzip: -1 }),
      {
        name: "TypeError",
        message: /gzip for http:.*\/metrics\/job\/a must be true, false or a size/,
      },
    );
    assert.equal(gateway.requests.length, 4);
  } finally {
    await gateway.close();
  }
});

Deno.test("push body: the Pusher passes its gzip option on", async () => {
  const gateway = rawGateway();
  try {
    await using pusher = new Pusher({
      gateway: gateway.url,
      job: "moni",
      registry: registryOf(2),
      gzip: true,
    });
    assert.equal(await pusher.pushNow(), true);
    assert.equal(gateway.requests[0].headers.get("content-encoding"), "gzip");
  } finally {
    await gateway.close();
  }
});
