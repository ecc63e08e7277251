/**
 * Rendering a whole registry with the byte renderer: its gathering (`gatherForBytes`, from
 * `registry.ts`) turned into a render. For the tests and benchmarks that render a registry
 * outside a handler.
 *
 * @module
 */

import { gatherForBytes, type Registry } from "../registry.ts";
import { ByteRender, type ByteRenderOptions } from "./byte_render.ts";
import { joinChunks } from "./byte_writer.ts";

/** Starts rendering `registry` (see `gatherForBytes`). */
export async function startByteRender(
  registry: Registry,
  options: ByteRenderOptions,
): Promise<ByteRender> {
  return new ByteRender(await gatherForBytes(registry, options), options);
}

/** Renders `registry` as one array of bytes. */
export async function renderRegistryBytes(
  registry: Registry,
  options: ByteRenderOptions,
): Promise<Uint8Array<ArrayBuffer>> {
  const render = await startByteRender(registry, options);
  return joinChunks(render.rest());
}
