// End to end with the real Pushgateway (Debian's prometheus-pushgateway 1.5), started on a free
// port for each test and always stopped. What landed is read back through /api/v1/metrics (JSON,
// decoded labels) and /metrics (text).
import assert from "node:assert/strict";
import {
  Counter,
  deleteFromGateway,
  Gauge,
  Histogram,
  pushAddToGateway,
  Pusher,
  PushError,
  pushToGateway,
  Registry,
} from "../../mod.ts";
import { missingTool, waitFor } from "../support/process.ts";
import {
  type PushgatewayGroup,
  type PushgatewayServer,
  startPushgateway,
} from "../support/pushgateway.ts";

const ignore = missingTool("prometheus-pushgateway");

async function withPushgateway(body: (gateway: PushgatewayServer) => Promise<void>): Promise<void> {
  const gateway = await startPushgateway();
  try {
    await body(gateway);
  } finally {
    await gateway.stop();
  }
}

async function findGroup(
  gateway: PushgatewayServer,
  labels: Record<string, string>,
): Promise<PushgatewayGroup | undefined> {
  const groups = await gateway.groups();
  return groups.find((group) =>
    Object.keys(group.labels).length === Object.keys(labels).length &&
    Object.entries(labels).every(([name, value]) => group.labels[name] === value)
  );
}

/** The value of the first series of `family` in a group, as the gateway reports it. */
function valueOf(group: PushgatewayGroup | undefined, family: string): string | undefined {
  return group?.[family]?.metrics?.[0]?.value;
}

/** Families pushed by us (the gateway adds push_time_seconds and push_failure_time_seconds). */
function pushedFamilies(group: PushgatewayGroup | undefined): string[] {
  return Object.keys(group ?? {})
    .filter((key) =>
      !["labels", "last_push_successful", "push_time_seconds", "push_failure_time_seconds"]
        .includes(key)
    )
    .sort();
}

function gauges(values: Record<string, number>): Registry {
  const registry = new Registry();
  for (const [name, value] of Object.entries(values)) {
    new Gauge({ name, help: `help of ${name}`, registry }).set(value);
  }
  return registry;
}

Deno.test({
  name: "e2e pushgateway: PUT replaces the whole group",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      await pushToGateway(gateway.url, { job: "e2e_put", registry: gauges({ a: 1, b: 2 }) });
      let group = await findGroup(gateway, { job: "e2e_put" });
      assert.deepEqual(pushedFamilies(group), ["a", "b"]);

      await pushToGateway(gateway.url, { job: "e2e_put", registry: gauges({ a: 5 }) });
      group = await findGroup(gateway, { job: "e2e_put" });
      assert.deepEqual(pushedFamilies(group), ["a"]);
      assert.equal(valueOf(group, "a"), "5");
      assert.equal(group?.a.help, "help of a");
      assert.equal(group?.last_push_successful, true);

      const text = await gateway.metricsText();
      assert.match(text, /^a\{instance="",job="e2e_put"\} 5$/m);
      assert.doesNotMatch(text, /^b\{/m);
    }),
});

Deno.test({
  name: "e2e pushgateway: POST replaces only the same-named families",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const groupingKey = { instance: "worker-1" };
      await pushToGateway(gateway.url, {
        job: "e2e_post",
        groupingKey,
        registry: gauges({ a: 1, b: 2 }),
      });
      await pushAddToGateway(gateway.url, {
        job: "e2e_post",
        groupingKey,
        registry: gauges({ a: 7, c: 3 }),
      });
      const group = await findGroup(gateway, { job: "e2e_post", instance: "worker-1" });
      assert.deepEqual(pushedFamilies(group), ["a", "b", "c"]);
      assert.equal(valueOf(group, "a"), "7");
      assert.equal(valueOf(group, "b"), "2");
      assert.equal(valueOf(group, "c"), "3");
    }),
});

Deno.test({
  name: "e2e pushgateway: DELETE removes the group and only that group",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      await pushToGateway(gateway.url, {
        job: "e2e_delete",
        groupingKey: { shard: "1" },
        registry: gauges({ a: 1 }),
      });
      await pushToGateway(gateway.url, {
        job: "e2e_delete",
        groupingKey: { shard: "2" },
        registry: gauges({ a: 2 }),
      });
      await deleteFromGateway(gateway.url, { job: "e2e_delete", groupingKey: { shard: "1" } });
      assert.equal(await findGroup(gateway, { job: "e2e_delete", shard: "1" }), undefined);
      assert.equal(valueOf(await findGroup(gateway, { job: "e2e_delete", shard: "2" }), "a"), "2");
      // Deleting a group that does not exist is fine.
      await deleteFromGateway(gateway.url, { job: "never_pushed" });
    }),
});

Deno.test({
  name: "e2e pushgateway: grouping keys with '/', empty, unicode and dot values arrive decoded",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const labels = {
        path: "/var/tmp",
        empty: "",
        name: "Προμηθεύς",
        spaced: "a b",
        dots: "..",
        instance: "host:9091",
        plain: "ok-1",
      };
      await pushToGateway(gateway.url, {
        job: "batch/nightly",
        groupingKey: labels,
        registry: gauges({ encoded_value: 9 }),
      });
      const group = await findGroup(gateway, { job: "batch/nightly", ...labels });
      assert.ok(group, `group not found in ${JSON.stringify(await gateway.groups())}`);
      assert.deepEqual(group.labels, { job: "batch/nightly", ...labels });
      assert.deepEqual(group.encoded_value.metrics[0].labels, { job: "batch/nightly", ...labels });
      assert.equal(valueOf(group, "encoded_value"), "9");

      // The same key deletes it again: the encoding round-trips.
      await deleteFromGateway(gateway.url, { job: "batch/nightly", groupingKey: labels });
      assert.equal(await findGroup(gateway, { job: "batch/nightly", ...labels }), undefined);
    }),
});

Deno.test({
  name:
    "e2e pushgateway: a 400 for an inconsistent push reaches the caller with the gateway's words",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      await pushToGateway(gateway.url, { job: "first", registry: gauges({ shared_name: 1 }) });
      const histogramRegistry = new Registry();
      new Histogram({
        name: "shared_name",
        help: "now a histogram",
        buckets: [1],
        registry: histogramRegistry,
      })
        .observe(0.5);
      const error = await pushToGateway(gateway.url, { job: "second", registry: histogramRegistry })
        .then(() => undefined, (e) => e);
      assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
      assert.equal(error.status, 400);
      assert.equal(error.method, "PUT");
      assert.equal(error.url, `${gateway.url}/metrics/job/second`);
      // The gateway checks groups in map order: either side may be named the odd one out.
      assert.match(
        error.gatewayMessage ?? "",
        /^pushed metrics are invalid or inconsistent with existing metrics: .*shared_name.* is not a (GAUGE|HISTOGRAM)/s,
      );
      assert.match(
        error.message,
        /failed: HTTP 400 Bad Request: pushed metrics are invalid or inconsistent/,
      );
      // The first group is untouched and the second was never created.
      assert.equal(valueOf(await findGroup(gateway, { job: "first" }), "shared_name"), "1");
      assert.equal((await findGroup(gateway, { job: "second" }))?.shared_name, undefined);
    }),
});

Deno.test({
  name:
    "e2e pushgateway: the Pusher keeps working across a gateway restart and its final push lands",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const registry = new Registry();
      const processed = new Counter({ name: "processed_items", help: "items", registry });
      const phase = new Gauge({ name: "pusher_phase", help: "test phase", registry });
      const errors: Error[] = [];
      const pusher = new Pusher({
        gateway: gateway.url,
        job: "moni",
        registry,
        // Pushes every 20 ms, so some land in the restart's down time (about 50-100 ms).
        intervalMs: 20,
        timeoutMs: 1000,
        backoff: { initialMs: 10, maxMs: 40 },
        onError: (error) => errors.push(error),
      });
      try {
        phase.set(1);
        processed.inc(3);
        pusher.start();
        await waitFor(
          async () => valueOf(await findGroup(gateway, { job: "moni" }), "pusher_phase") === "1",
          { timeoutMs: 5000, intervalMs: 50, what: "the first background push" },
        );

        // No persistence: the group is gone until the pusher pushes again.
        await gateway.restart();
        phase.set(2);
        await waitFor(
          async () => valueOf(await findGroup(gateway, { job: "moni" }), "pusher_phase") === "2",
          { timeoutMs: 5000, intervalMs: 50, what: "a push after the restart" },
        );
        assert.equal(pusher.consecutiveFailures, 0);
        assert.equal(pusher.running, true);
        // Pushes that fell in the down time (usually 1-2) were retried; recovery is covered
        // deterministically in tests/push/push_failures_test.ts.

        // Change values after the last interval push, stop at once: the final push carries them.
        phase.set(3);
        processed.inc(4);
        await pusher.stop();
        const group = await findGroup(gateway, { job: "moni" });
        assert.equal(valueOf(group, "pusher_phase"), "3");
        assert.equal(valueOf(group, "processed_items_total"), "7");
        assert.ok(errors.every((e) => e instanceof PushError), `errors: ${errors.map(String)}`);
      } finally {
        await pusher.stop();
      }
    }),
});

Deno.test({
  name:
    "e2e pushgateway: stop() pushes once more even when no interval push is due; health metrics travel",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const registry = gauges({});
      const value = new Gauge({ name: "final_value", help: "set before stop", registry });
      value.set(1);
      // An interval far beyond the test: only start() and stop() push.
      const pusher = new Pusher({
        gateway: gateway.url,
        job: "final",
        registry,
        intervalMs: 600_000,
        healthMetrics: true,
      });
      pusher.start();
      await waitFor(async () => (await findGroup(gateway, { job: "final" })) !== undefined, {
        timeoutMs: 5000,
        intervalMs: 20,
        what: "the first push",
      });
      assert.ok(pusher.lastSuccess instanceof Date);
      value.set(2);
      await pusher.stop();
      const group = await findGroup(gateway, { job: "final" });
      assert.equal(valueOf(group, "final_value"), "2");
      const lastSuccessSeconds = Number(valueOf(group, "pusher_last_success_timestamp_seconds"));
      assert.ok(Math.abs(lastSuccessSeconds - Date.now() / 1000) < 60, `${lastSuccessSeconds}`);
      assert.equal(valueOf(group, "pusher_consecutive_failures"), "0");
      assert.equal(valueOf(group, "pusher_failures_total"), "0");
      assert.equal(
        registry.getMetric("pusher_consecutive_failures"),
        undefined,
        "unregistered on stop",
      );
    }),
});

Deno.test({
  name: "e2e pushgateway: gzipped bodies (large by default, small when asked) land exactly",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const registry = new Registry();
      const shards = new Gauge({
        name: "gzip_shard_value",
        help: "one value per shard",
        labelNames: ["shard"],
        registry,
      });
      for (let i = 0; i < 400; i++) shards.labels({ shard: `s${i}` }).set(i + 0.5);
      // About 16 KB of text: gzipped by default.
      await pushToGateway(gateway.url, { job: "gzip_large", registry });
      await pushToGateway(gateway.url, {
        job: "gzip_small",
        registry: gauges({ tiny: 3 }),
        gzip: true,
      });
      const large = await findGroup(gateway, { job: "gzip_large" });
      assert.equal(large?.last_push_successful, true);
      const metrics = large?.gzip_shard_value.metrics as {
        labels: Record<string, string>;
        value: string;
      }[];
      assert.equal(metrics.length, 400);
      const byShard = new Map(metrics.map((m) => [m.labels.shard, m.value]));
      assert.equal(byShard.get("s0"), "0.5");
      assert.equal(byShard.get("s399"), "399.5");
      assert.equal(valueOf(await findGroup(gateway, { job: "gzip_small" }), "tiny"), "3");
    }),
});

Deno.test({
  name: "e2e pushgateway: a redirect in front of the gateway is refused; nothing reaches it",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const redirector = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (req) => {
          const url = new URL(req.url);
          return Response.redirect(gateway.url + url.pathname, 308);
        },
      );
      try {
        const front = `http://127.0.0.1:${redirector.addr.port}`;
        const error = await pushToGateway(front, { job: "redirected", registry: gauges({ a: 1 }) })
          .then(() => undefined, (e) => e);
        assert.ok(error instanceof PushError, `expected PushError, got ${error}`);
        assert.equal(error.status, 308);
        assert.equal(error.url, `${front}/metrics/job/redirected`);
        assert.equal(await findGroup(gateway, { job: "redirected" }), undefined);
      } finally {
        await redirector.shutdown();
      }
    }),
});

Deno.test({
  name: "e2e pushgateway: a collector that throws rejects the push with its own error",
  ignore,
  fn: () =>
    withPushgateway(async (gateway) => {
      const registry = gauges({ a: 1 });
      const bug = new Error("sensor offline");
      registry.register({
        collect: () => {
          throw bug;
        },
      });
      const error = await pushToGateway(gateway.url, { job: "broken", registry })
        .then(() => undefined, (e) => e);
      assert.equal(error, bug);
      assert.ok(!(error instanceof PushError));
      assert.equal(await findGroup(gateway, { job: "broken" }), undefined);
    }),
});
