// Pure parts of the console's JavaScript, run by node's test runner (tests/unit/api/test_console_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { ackOf, eventOf, matcher, matcherText, offered, query } from "../../../api/console/assets/js/client.js";
import { sseParser } from "../../../api/console/assets/js/live.js";
import { filtersFrom } from "../../../api/console/assets/js/pages/alerts.js";

test("events split anywhere across chunks come out whole, in order", () => {
  const got = [];
  const feed = sseParser((event, data, id) => got.push([event, data, id]));
  const stream = 'retry: 2000\n\n: keepalive\n\nid: 7\nevent: change\ndata: {"a":1}\n\nevent: ready\r\ndata: {}\r\n\r\ndata: one\ndata: two\n\n';
  for (let i = 0; i < stream.length; i += 3) feed(stream.slice(i, i + 3));
  assert.deepEqual(got, [["change", '{"a":1}', "7"], ["ready", "{}", "7"], ["message", "one\ntwo", "7"]]);
});

test("an incomplete event waits for its blank line", () => {
  const got = [];
  const feed = sseParser((event) => got.push(event));
  feed("event: change\ndata: {}\n");
  assert.deepEqual(got, []);
  feed("\n");
  assert.deepEqual(got, ["change"]);
});

test("optional endpoints are found by method and path, whatever the parameter names", () => {
  const features = offered({
    paths: {
      "/api/v1/alerts/{id}/ack": { post: {} },
      "/api/v2/silences": { get: {}, post: {} },
      "/api/v2/silence/{silenceID}": { get: {} },
      "/api/v1/backtest": { post: {} },
    },
  });
  assert.equal(features.ack, true);
  assert.equal(features.resolve, false);
  assert.equal(features.silences, true);
  assert.equal(features.createSilence, true);
  assert.equal(features.expireSilence, false); // GET only: no DELETE
  assert.equal(features.backtest, true);
  assert.equal(features.oncall, false);
  assert.deepEqual(offered(null), Object.fromEntries(Object.keys(features).map((k) => [k, false])));
});

test("matchers have Alertmanager's shape and text", () => {
  assert.deepEqual(matcher("entity", "!~", "db-.*"), { name: "entity", value: "db-.*", isRegex: true, isEqual: false });
  assert.equal(matcherText(matcher("summary", "=", 'say "hi"')), 'summary="say \\"hi\\""');
});

test("filters come from the page's URL and unknown values are dropped", () => {
  const f = filtersFrom(new URLSearchParams("severity=critical&severity=bogus&status=firing&rule=cpu&range=7d&group=rule"));
  assert.deepEqual(f.severity, ["critical"]);
  assert.deepEqual(f.status, ["firing"]);
  assert.equal(f.rule, "cpu");
  assert.equal(f.range, "7d");
  assert.equal(f.group, "rule");
  assert.equal(filtersFrom(new URLSearchParams("range=forever&group=x")).range, "24h");
  assert.equal(query({ severity: ["critical", "info"], rule: "", limit: 5 }), "?severity=critical&severity=info&limit=5");
});

test("an episode is acknowledged from its first acknowledgement after the last unacknowledgement", () => {
  const row = (action, actor, at) => ({ action, actor, at });
  const trail = { entries: [row("fired", "worker", 1), row("acknowledge", "api-key:a", 2), row("acknowledged", "worker", 3),
    row("unacknowledge", "api-key:b", 4), row("acknowledge", "api-key:c", 5), row("acknowledged", "worker", 6)] };
  assert.deepEqual(ackOf({}, trail), { at: 5, by: "api-key:c" });
  assert.equal(ackOf({}, { entries: trail.entries.slice(0, 4) }), null);
  assert.equal(ackOf({ audit: [row("fired", "worker", 1)] }), null);
  assert.deepEqual(ackOf({ audit: [row("acknowledge", "api-key:a", 2)] }), { at: 2, by: "api-key:a" });
});

test("a suppressed record says what held it; a notification says nothing more", () => {
  assert.equal(eventOf({ event: "suppressed", details: { suppression: { reason: "silenced", silence_id: "s1" } } }), "silenced");
  assert.equal(eventOf({ event: "suppressed", details: {} }), "suppressed");
  assert.equal(eventOf({ event: "acknowledged", details: {} }), "acknowledged");
  assert.equal(eventOf({ event: "notify", details: {} }), null);
});
