/**
 * The bodies of OTLP/HTTP answers, in the request's encoding: `ExportMetricsServiceResponse`
 * (with `partial_success` when points were refused) for 200, `google.rpc.Status` for errors.
 *
 * @module
 */

import { ProtoWriter } from "../encoding/protobuf.ts";

/** `google.rpc.Code` values used in error answers. */
export const RPC_INVALID_ARGUMENT = 3;
/** Too many requests at once, or a body over the limit. */
export const RPC_RESOURCE_EXHAUSTED = 8;
/** An unexpected failure of the receiver. */
export const RPC_INTERNAL = 13;
/** The receiver is shutting down or overloaded. */
export const RPC_UNAVAILABLE = 14;
/** A request method or encoding the receiver does not implement. */
export const RPC_UNIMPLEMENTED = 12;

/** The two encodings of OTLP/HTTP. */
export type OtlpEncoding = "protobuf" | "json";

/** The content type of an encoding. */
export function contentTypeOf(encoding: OtlpEncoding): string {
  return encoding === "json" ? "application/json" : "application/x-protobuf";
}

/** An `ExportMetricsServiceResponse`: empty, or with `partial_success`. */
export function exportResponseBody(
  encoding: OtlpEncoding,
  rejected: number,
  message: string,
): Uint8Array<ArrayBuffer> {
  if (encoding === "json") {
    const body = rejected === 0 && message === ""
      ? {}
      : { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } };
    return new TextEncoder().encode(JSON.stringify(body));
  }
  const writer = new ProtoWriter(64 + message.length * 3);
  if (rejected !== 0 || message !== "") {
    const partial = writer.begin(1);
    if (rejected !== 0) writer.int64(1, rejected);
    if (message !== "") writer.string(2, message);
    writer.end(partial);
  }
  return writer.finish();
}

/** A `google.rpc.Status` with `code` and `message`. */
export function statusBody(
  encoding: OtlpEncoding,
  code: number,
  message: string,
): Uint8Array<ArrayBuffer> {
  if (encoding === "json") return new TextEncoder().encode(JSON.stringify({ code, message }));
  const writer = new ProtoWriter(16 + message.length * 3);
  writer.int64(1, code);
  writer.string(2, message);
  return writer.finish();
}
