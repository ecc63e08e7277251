// Run by tests/otel/otlp_e2e_test.ts: the OpenTelemetry JS SDK (test-only dependencies, fetched
// from npm) sends a counter and an exponential histogram over OTLP/HTTP protobuf to the URL given
// as the first argument, then exits. The histogram holds the observations 1…100.
// Test-only dependencies, kept out of deno.json so that the package has none.
// deno-lint-ignore-file no-import-prefix
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "npm:@opentelemetry/sdk-metrics@2";
import { OTLPMetricExporter } from "npm:@opentelemetry/exporter-metrics-otlp-proto@0";

const exporter = new OTLPMetricExporter({ url: Deno.args[0] });
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
const provider = new MeterProvider({
  readers: [reader],
  views: [{
    instrumentName: "sdk.latency",
    aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
  }],
});
const meter = provider.getMeter("sdk-test", "0.1");
const latency = meter.createHistogram("sdk.latency", { unit: "s", description: "latency" });
const orders = meter.createCounter("sdk.orders", { description: "orders" });
for (let i = 1; i <= 100; i++) latency.record(i, { route: "/x" });
orders.add(42, { route: "/x" });
await reader.forceFlush();
await provider.shutdown();
console.log("sent");
