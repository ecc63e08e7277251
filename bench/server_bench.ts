/**
 * Server benchmarks: answering one `/metrics` request for a registry of 1,000 series, body
 * included. Ours goes through `metricsHandler`; the prom-client baseline is what a Deno user
 * writes with it: `new Response(await register.metrics())`. No socket is involved here; see
 * `bench/server_load.ts` for the same over HTTP under load.
 *
 * Run: `deno bench --allow-all bench/server_bench.ts`
 *
 * @module
 */

// prom-client is the baseline, a dev-only import kept out of deno.json so the package stays
// dependency-free.
// deno-lint-ignore no-import-prefix
import client from "npm:prom-client@15.1.3";
import { metricsHandler } from "../mod.ts";
import { ourServerRegistry, promClientServerRegistry } from "./fixtures.ts";

const URL_OF_METRICS = "http://127.0.0.1/metrics";

const promRegistry = promClientServerRegistry(client);
const handleOurs = metricsHandler({ registry: ourServerRegistry() });

/** prom-client served the way its README shows, adapted to `Deno.serve`. */
async function handlePromClient(_request: Request): Promise<Response> {
  return new Response(await promRegistry.metrics(), {
    headers: { "content-type": promRegistry.contentType },
  });
}

Deno.bench(
  "prom-client new Response(await register.metrics()), 1k series",
  { group: "handler.1k", baseline: true },
  async () => {
    const response = await handlePromClient(new Request(URL_OF_METRICS));
    await response.arrayBuffer();
  },
);
Deno.bench("ours metricsHandler(request), 1k series", { group: "handler.1k" }, async () => {
  const response = await handleOurs(new Request(URL_OF_METRICS));
  await response.arrayBuffer();
});
