/**
 * The active OpenTelemetry span, read without depending on OpenTelemetry: the exemplar labels
 * `{ trace_id, span_id }` of the span that is current where a metric is updated, when that span
 * is sampled.
 *
 * Two sources, both public: the OpenTelemetry JS API's global registration (what
 * `@opentelemetry/api` writes when an SDK is started, on any runtime; Deno with `OTEL_DENO=true`
 * registers its built-in telemetry there too), else Deno's own `Deno.telemetry.contextManager`.
 * `Deno` is read at the first lookup, never at import.
 *
 * @module
 */

import type { Exemplar } from "../model.ts";

/** Where `@opentelemetry/api` (major version 1) keeps its registered globals. */
const OTEL_API_KEY: unique symbol = Symbol.for("opentelemetry.js.api.1") as never;
/** The context key under which `@opentelemetry/api` and Deno keep the active span. */
const SPAN_KEY: symbol = Symbol.for("OpenTelemetry Context Key SPAN");
/** The `sampled` bit of W3C trace flags. */
const SAMPLED = 1;
/** The ids `@opentelemetry/api` gives spans that are not valid. */
const INVALID_TRACE_ID = "00000000000000000000000000000000";
const INVALID_SPAN_ID = "0000000000000000";

/** The part of an OpenTelemetry context manager read here. */
interface ContextSource {
  active(): { getValue(key: symbol): unknown } | undefined;
}

/** The part of an OpenTelemetry span read here. */
interface SpanLike {
  spanContext(): { traceId?: unknown; spanId?: unknown; traceFlags?: unknown } | undefined;
}

/** The exemplar labels of a span: always 63 characters, within OpenMetrics' 128. */
export type TraceLabels = Readonly<{ trace_id: string; span_id: string }>;

/** Whether `id` is `length` lowercase hexadecimal digits, not all zero. */
function isHexId(id: unknown, length: number, invalid: string): id is string {
  if (typeof id !== "string" || id.length !== length || id === invalid) return false;
  for (let i = 0; i < length; i++) {
    const code = id.charCodeAt(i);
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

/** The part of the OpenTelemetry API's global registration read here. */
interface OtelGlobal {
  context?: ContextSource;
}

/** `Deno.telemetry.contextManager`, once looked for: `null` when there is none. */
let denoContextSource: ContextSource | null | undefined;
// The API's global registration once found: `@opentelemetry/api` keeps one object there for
// good (unregistering deletes its `context`, not the object), so it is read from the global
// object (a slow, dictionary-mode load) only until it appears.
let otelGlobal: OtelGlobal | undefined;
// The context and span of the latest lookup, and the span's labels: a metric updated several
// times within one span (the usual case) compares one object and builds the labels once.
let lastContext: unknown;
let lastSpan: unknown;
let lastLabels: TraceLabels | undefined;

function denoContext(): ContextSource | null {
  if (denoContextSource === undefined) {
    denoContextSource = null;
    try {
      const deno = (globalThis as { Deno?: { telemetry?: { contextManager?: ContextSource } } })
        .Deno;
      const manager = deno?.telemetry?.contextManager;
      if (manager !== undefined && typeof manager.active === "function") {
        denoContextSource = manager;
      }
    } catch {
      // No readable Deno.telemetry: no span from it.
    }
  }
  return denoContextSource;
}

/** The labels of `span` when it is a sampled span with valid ids, else `undefined`. */
function labelsOfSpan(span: unknown): TraceLabels | undefined {
  if (span === null || typeof span !== "object") return undefined;
  const spanContext = typeof (span as SpanLike).spanContext === "function"
    ? (span as SpanLike).spanContext()
    : undefined;
  if (spanContext === undefined || spanContext === null) return undefined;
  const { traceId, spanId, traceFlags } = spanContext;
  if (
    typeof traceFlags !== "number" || (traceFlags & SAMPLED) === 0 ||
    !isHexId(traceId, 32, INVALID_TRACE_ID) || !isHexId(spanId, 16, INVALID_SPAN_ID)
  ) {
    return undefined;
  }
  return Object.freeze({ trace_id: traceId, span_id: spanId });
}

/**
 * `{ trace_id, span_id }` of the span active here, when it is sampled; `undefined` when there
 * is no span, it is not sampled, or no OpenTelemetry context is registered. Never throws.
 *
 * @example
 * ```ts
 * import { activeTraceLabels } from "./trace_context.ts";
 * const labels = activeTraceLabels(); // undefined outside a sampled span
 * ```
 */
export function activeTraceLabels(): TraceLabels | undefined {
  try {
    const api = otelGlobal ??= (globalThis as { [OTEL_API_KEY]?: OtelGlobal })[OTEL_API_KEY];
    const source = api?.context ?? denoContext();
    if (source === undefined || source === null) return undefined;
    const context = source.active();
    if (context === lastContext) return lastLabels;
    const span = context?.getValue(SPAN_KEY);
    lastContext = context;
    if (span !== lastSpan) {
      lastSpan = span;
      lastLabels = labelsOfSpan(span);
    }
    return lastLabels;
  } catch {
    // A context manager that throws gives no exemplar; the metric is updated all the same.
    return undefined;
  }
}

/**
 * The exemplar to keep for an observation of `value` in the span of `labels`: `kept` itself
 * when it already belongs to that span (its first observation stays the example, so a span that
 * updates a series many times builds one exemplar), else a new one stamped now.
 *
 * @example
 * ```ts
 * import { traceExemplar } from "./trace_context.ts";
 * const labels = { trace_id: "0af7651916cd43dd8448eb211c80319c", span_id: "b7ad6b7169203331" };
 * traceExemplar(undefined, labels, 0.25).value; // 0.25
 * ```
 */
export function traceExemplar(
  kept: Exemplar | undefined,
  labels: TraceLabels,
  value: number,
): Exemplar {
  if (kept !== undefined && kept.labels === labels) return kept;
  return Object.freeze({ labels, value, timestamp: Date.now() / 1000 });
}

/**
 * Internal, for tests: forgets the looked-up `Deno.telemetry` and the latest span, so that a
 * test can register a fake OpenTelemetry global and see it read.
 *
 * @example
 * ```ts
 * import { resetTraceContextCache } from "./trace_context.ts";
 * resetTraceContextCache();
 * ```
 */
export function resetTraceContextCache(): void {
  denoContextSource = undefined;
  otelGlobal = undefined;
  lastContext = undefined;
  lastSpan = undefined;
  lastLabels = undefined;
}
