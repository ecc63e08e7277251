// Pushgateway URL building: grouping-key order, the base64 rule, schemes, slashes, credentials,
// and the errors for bad input. Expected base64 strings come from Python's
// base64.urlsafe_b64encode (padding dropped) and from the Pushgateway README's own examples.
import assert from "node:assert/strict";
import type { GroupingKey } from "../../mod.ts";
import { gatewayUrl } from "../../src/push/mod.ts";

const cases: [string, string | URL, string, GroupingKey | undefined, string][] = [
  [
    "plain job, no scheme",
    "localhost:9091",
    "moni",
    undefined,
    "http://localhost:9091/metrics/job/moni",
  ],
  ["scheme kept", "https://pgw.example:443", "moni", {}, "https://pgw.example/metrics/job/moni"],
  [
    "trailing slash",
    "http://127.0.0.1:9091/",
    "moni",
    {},
    "http://127.0.0.1:9091/metrics/job/moni",
  ],
  [
    "many trailing slashes",
    "127.0.0.1:9091///",
    "moni",
    {},
    "http://127.0.0.1:9091/metrics/job/moni",
  ],
  [
    "path prefix",
    "http://proxy:80/pushgateway/",
    "moni",
    {},
    "http://proxy/pushgateway/metrics/job/moni",
  ],
  [
    "URL object",
    new URL("http://127.0.0.1:9091"),
    "moni",
    {},
    "http://127.0.0.1:9091/metrics/job/moni",
  ],
  [
    "labels sorted by name",
    "pgw:9091",
    "moni",
    { zone: "eu", instance: "host-1", b: "2" },
    "http://pgw:9091/metrics/job/moni/b/2/instance/host-1/zone/eu",
  ],
  [
    "slash in value (README example)",
    "pgw:9091",
    "directory_cleaner",
    { path: "/var/tmp" },
    "http://pgw:9091/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA",
  ],
  [
    "empty value (README example)",
    "pgw:9091",
    "example",
    { first_label: "", second_label: "foobar" },
    "http://pgw:9091/metrics/job/example/first_label@base64/=/second_label/foobar",
  ],
  [
    "space",
    "pgw:9091",
    "moni",
    { label: "a b" },
    "http://pgw:9091/metrics/job/moni/label@base64/YSBi",
  ],
  [
    "unicode (README example)",
    "pgw:9091",
    "titan",
    { name: "Προμηθεύς" },
    "http://pgw:9091/metrics/job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C",
  ],
  [
    "CJK",
    "pgw:9091",
    "moni",
    { city: "日本" },
    "http://pgw:9091/metrics/job/moni/city@base64/5pel5pys",
  ],
  ["job with slash", "pgw:9091", "x/y", {}, "http://pgw:9091/metrics/job@base64/eC95"],
  ["job with space", "pgw:9091", "a b", {}, "http://pgw:9091/metrics/job@base64/YSBi"],
  [
    "percent sign",
    "pgw:9091",
    "moni",
    { v: "a%b" },
    "http://pgw:9091/metrics/job/moni/v@base64/YSVi",
  ],
  ["plus sign", "pgw:9091", "moni", { v: "a+b" }, "http://pgw:9091/metrics/job/moni/v@base64/YSti"],
  [
    "colon",
    "pgw:9091",
    "moni",
    { instance: "host:9091" },
    "http://pgw:9091/metrics/job/moni/instance@base64/aG9zdDo5MDkx",
  ],
  ["dot segment", "pgw:9091", "moni", { v: "." }, "http://pgw:9091/metrics/job/moni/v@base64/Lg"],
  ["dot-dot segment", "pgw:9091", "..", {}, "http://pgw:9091/metrics/job@base64/Li4"],
  [
    "URL-safe punctuation stays plain",
    "pgw:9091",
    "my-job_1.0~x",
    { v: "A-z_0.9~" },
    "http://pgw:9091/metrics/job/my-job_1.0~x/v/A-z_0.9~",
  ],
  [
    "credentials stripped",
    "http://alice:s3cret@pgw:9091/",
    "moni",
    {},
    "http://pgw:9091/metrics/job/moni",
  ],
  [
    "credentials stripped without scheme",
    "alice:s3cret@pgw:9091",
    "moni",
    {},
    "http://pgw:9091/metrics/job/moni",
  ],
  [
    "query kept, fragment dropped",
    "http://pgw:9091/?a=1#frag",
    "moni",
    {},
    "http://pgw:9091/metrics/job/moni?a=1",
  ],
  ["IPv6 host", "[::1]:9091", "moni", {}, "http://[::1]:9091/metrics/job/moni"],
];

for (const [title, gateway, job, groupingKey, expected] of cases) {
  Deno.test(`gatewayUrl: ${title}`, () => {
    assert.equal(gatewayUrl(gateway, job, groupingKey), expected);
  });
}

Deno.test("gatewayUrl: base64 values decode back to the original", () => {
  for (const value of ["/var/tmp", "a b", "Προμηθεύς", "", "😀/x", "a\nb"]) {
    const url = gatewayUrl("pgw:9091", "moni", { v: value });
    const encoded = url.split("/v@base64/")[1];
    const standard = encoded.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
    const padded = standard + "=".repeat((4 - (standard.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    assert.equal(new TextDecoder().decode(bytes), value, `round trip of ${JSON.stringify(value)}`);
  }
});

const invalid: [string, () => unknown, RegExp][] = [
  [
    "label name with a newline",
    () => gatewayUrl("pgw:9091", "moni", { "bad\nname": "x" }),
    /groupingKey of job "moni": invalid label name "bad\\nname": it must be a non-empty UTF-8 string/,
  ],
  [
    "empty label name",
    () => gatewayUrl("pgw:9091", "moni", { "": "x" }),
    /invalid label name ""/,
  ],
  [
    "reserved label name",
    () => gatewayUrl("pgw:9091", "moni", { __name__: "x" }),
    /label name "__name__" is reserved/,
  ],
  [
    "job inside the grouping key",
    () => gatewayUrl("pgw:9091", "moni", { job: "other" }),
    /must not contain "job"/,
  ],
  [
    "non-string label value",
    () => gatewayUrl("pgw:9091", "moni", { n: 1 as unknown as string }),
    /label "n" in groupingKey of job "moni" must be a string, got number/,
  ],
  ["empty job", () => gatewayUrl("pgw:9091", ""), /job must be a non-empty string/],
  ["missing job", () => gatewayUrl("pgw:9091", undefined as unknown as string), /job must be/],
  ["empty gateway", () => gatewayUrl("", "moni"), /gateway must be a URL or "host:port"/],
  ["ftp scheme", () => gatewayUrl("ftp://pgw:21", "moni"), /must use http:\/\/ or https:\/\//],
  [
    "grouping key that is an array",
    () => gatewayUrl("pgw:9091", "moni", ["a"] as unknown as GroupingKey),
    /groupingKey of job "moni" must be an object/,
  ],
];

for (const [title, call, message] of invalid) {
  Deno.test(`gatewayUrl rejects ${title} with a TypeError`, () => {
    assert.throws(call, (error: unknown) => {
      assert.ok(error instanceof TypeError, `expected a TypeError, got ${error}`);
      assert.match(error.message, message);
      return true;
    });
  });
}

Deno.test("gatewayUrl: an invalid gateway with credentials does not echo them", () => {
  assert.throws(
    () => gatewayUrl("http://alice:s3cret@pgw:notaport", "moni"),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.doesNotMatch(error.message, /s3cret|alice/);
      assert.match(error.message, /is not a valid URL/);
      return true;
    },
  );
});
