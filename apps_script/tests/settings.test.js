"use strict";
// Settings: the bridge URL (a script property, shared) and each person's token (a user property,
// never shown again), checked against the bridge at once; "Forget my API token" removes it.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, Button } = require("./harness");

const STATUS = { workspace: "/srv/ws", version: "v0002", versions: 2, images: 2880, run: null, job: null, sheet_url: "", umap_url: "" };

test("saves the URL (normalised) as a script property and the token as the caller's own", () => {
  const { context, calls, properties, userProperties } = load({
    prompts: [
      { button: Button.OK, text: "  https://bridge.example.org/  " },
      { button: Button.OK, text: " tok-123 " },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(properties, { BRIDGE_URL: "https://bridge.example.org" });
  assert.deepEqual(userProperties, { BRIDGE_TOKEN: "tok-123" });
  assert.equal(calls.prompts.length, 2);
  assert.equal(calls.prompts[0].buttons, "OK_CANCEL");
  assert.match(calls.prompts[1].prompt, /kept for you alone and never shown again\. You have none set yet\./);
  assert.equal(calls.fetch.length, 1);
  assert.equal(calls.fetch[0].url, "https://bridge.example.org/api/status");
  assert.equal(calls.fetch[0].params.headers.Authorization, "Bearer tok-123");
  assert.equal(calls.toasts[0].msg, "Saved. The bridge answers: dataset v0002, 2880 images.");
});

test("empty answers keep the stored values and the token is never shown", () => {
  const { context, calls, properties, userProperties } = load({
    properties: { BRIDGE_URL: "https://old.example.org" },
    userProperties: { BRIDGE_TOKEN: "old-token" },
    prompts: [
      { button: Button.OK, text: "" },
      { button: Button.OK, text: "" },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(properties, { BRIDGE_URL: "https://old.example.org" });
  assert.deepEqual(userProperties, { BRIDGE_TOKEN: "old-token" });
  assert.match(calls.prompts[0].prompt, /Now: https:\/\/old\.example\.org/);
  assert.match(calls.prompts[1].prompt, /You have one set: type a new one to replace it, or leave empty to keep it\./);
  assert.doesNotMatch(JSON.stringify([calls.prompts, calls.toasts, calls.alerts, calls.dialogs]), /old-token/);
});

test("a new token replaces the caller's old one", () => {
  const { context, userProperties } = load({
    properties: { BRIDGE_URL: "https://bridge.example.org" },
    userProperties: { BRIDGE_TOKEN: "old-token" },
    prompts: [
      { button: Button.OK, text: "" },
      { button: Button.OK, text: "new-token" },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(userProperties, { BRIDGE_TOKEN: "new-token" });
});

test("a token an earlier version shared in script properties is removed once the caller has one", () => {
  const { context, properties, userProperties, calls } = load({
    properties: { BRIDGE_URL: "https://bridge.example.org", BRIDGE_TOKEN: "shared-token" },
    prompts: [
      { button: Button.OK, text: "" },
      { button: Button.OK, text: "mine" },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(properties, { BRIDGE_URL: "https://bridge.example.org" });
  assert.deepEqual(userProperties, { BRIDGE_TOKEN: "mine" });
  assert.equal(calls.fetch[0].params.headers.Authorization, "Bearer mine");
});

test("Forget my API token deletes the caller's token and nothing else", () => {
  const { context, calls, properties, userProperties } = load({
    properties: { BRIDGE_URL: "https://bridge.example.org" },
    userProperties: { BRIDGE_TOKEN: "s3cret", REVIEW_FILTER_VIEW_1: "1000" },
  });
  context.forgetToken();
  assert.deepEqual(userProperties, { REVIEW_FILTER_VIEW_1: "1000" });
  assert.deepEqual(properties, { BRIDGE_URL: "https://bridge.example.org" });
  assert.match(calls.toasts[0].msg, /^Your API token is forgotten\./);
  assert.equal(calls.fetch.length, 0);
  assert.doesNotMatch(JSON.stringify(calls), /s3cret/);
  // With no token left, the next action asks for one.
  context.refreshPredictions();
  assert.match(calls.alerts[0].prompt, /^You have no API token set/);
});

test("Forget my API token with none set says so", () => {
  const { context, calls } = load();
  context.forgetToken();
  assert.equal(calls.toasts[0].msg, "You have no API token set; nothing to forget.");
  assert.equal(calls.alerts.length, 0);
});

test("cancel at either prompt saves nothing", () => {
  for (const prompts of [
    [{ button: Button.CANCEL }],
    [{ button: Button.CLOSE }],
    [{ button: Button.OK, text: "https://new.example.org" }, { button: Button.CANCEL }],
  ]) {
    const { context, calls, properties, userProperties } = load({ prompts });
    context.openSettings();
    assert.deepEqual(properties, {});
    assert.deepEqual(userProperties, {});
    assert.equal(calls.fetch.length, 0);
    assert.equal(calls.alerts.length, 0);
  }
});

for (const bad of ["http://bridge.example.org", "bridge.example.org", "https://", "https://a b.org", 'https://x.org/"><script>']) {
  test(`refuses the URL ${JSON.stringify(bad)} and saves nothing`, () => {
    const { context, calls, properties } = load({ prompts: [{ button: Button.OK, text: bad }] });
    context.openSettings();
    assert.deepEqual(properties, {});
    assert.equal(calls.prompts.length, 1);
    assert.match(calls.alerts[0].prompt, /^Not a usable bridge URL: .*It must start with https:\/\//);
  });
}

test("a wrong token shows up right after saving", () => {
  const { context, calls, userProperties } = load({
    prompts: [
      { button: Button.OK, text: "https://bridge.example.org" },
      { button: Button.OK, text: "wrong" },
    ],
    fetch: () => ({ status: 401, body: { error: "missing or wrong API token" } }),
  });
  context.openSettings();
  assert.equal(userProperties.BRIDGE_TOKEN, "wrong");
  assert.match(calls.alerts[0].prompt, /refused the API token \(HTTP 401\)/);
});

test("the default URL filled in by sheets-bridge apps-script is used until Settings changes it", () => {
  const fs = require("node:fs");
  const { CODE_PATH } = require("./harness");
  const code = fs
    .readFileSync(CODE_PATH, "utf8")
    .replace('const DEFAULT_BRIDGE_URL = "https://YOUR-BRIDGE-HOST";', 'const DEFAULT_BRIDGE_URL = "https://filled.example.net";');
  const { context, calls } = load({
    code,
    userProperties: { BRIDGE_TOKEN: "t" },
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openUmapView();
  assert.equal(calls.fetch[0].url, "https://filled.example.net/api/status");
});
