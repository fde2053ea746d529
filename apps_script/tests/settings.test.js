"use strict";
// Settings: two prompts, stored as script properties, checked against the bridge at once.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, Button } = require("./harness");

const STATUS = { workspace: "/srv/ws", version: "v0002", versions: 2, images: 2880, run: null, job: null, sheet_url: "", umap_url: "" };

test("saves the URL (normalised) and token as script properties and checks them", () => {
  const { context, calls, properties } = load({
    prompts: [
      { button: Button.OK, text: "  https://bridge.example.org/  " },
      { button: Button.OK, text: " tok-123 " },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(properties, { BRIDGE_URL: "https://bridge.example.org", BRIDGE_TOKEN: "tok-123" });
  assert.equal(calls.prompts.length, 2);
  assert.equal(calls.prompts[0].buttons, "OK_CANCEL");
  assert.match(calls.prompts[1].prompt, /No token is set yet/);
  assert.equal(calls.fetch.length, 1);
  assert.equal(calls.fetch[0].url, "https://bridge.example.org/api/status");
  assert.equal(calls.fetch[0].params.headers.Authorization, "Bearer tok-123");
  assert.equal(calls.toasts[0].msg, "Saved. The bridge answers: dataset v0002, 2880 images.");
});

test("empty answers keep the stored values and the token is never shown", () => {
  const { context, calls, properties } = load({
    properties: { BRIDGE_URL: "https://old.example.org", BRIDGE_TOKEN: "old-token" },
    prompts: [
      { button: Button.OK, text: "" },
      { button: Button.OK, text: "" },
    ],
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openSettings();
  assert.deepEqual(properties, { BRIDGE_URL: "https://old.example.org", BRIDGE_TOKEN: "old-token" });
  assert.match(calls.prompts[0].prompt, /Now: https:\/\/old\.example\.org/);
  assert.match(calls.prompts[1].prompt, /A token is set/);
  assert.doesNotMatch(JSON.stringify(calls.prompts), /old-token/);
});

test("cancel at either prompt saves nothing", () => {
  for (const prompts of [
    [{ button: Button.CANCEL }],
    [{ button: Button.CLOSE }],
    [{ button: Button.OK, text: "https://new.example.org" }, { button: Button.CANCEL }],
  ]) {
    const { context, calls, properties } = load({ prompts });
    context.openSettings();
    assert.deepEqual(properties, {});
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
  const { context, calls, properties } = load({
    prompts: [
      { button: Button.OK, text: "https://bridge.example.org" },
      { button: Button.OK, text: "wrong" },
    ],
    fetch: () => ({ status: 401, body: { error: "missing or wrong API token" } }),
  });
  context.openSettings();
  assert.equal(properties.BRIDGE_TOKEN, "wrong");
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
    properties: { BRIDGE_TOKEN: "t" },
    fetch: () => ({ status: 200, body: STATUS }),
  });
  context.openUmapView();
  assert.equal(calls.fetch[0].url, "https://filled.example.net/api/status");
});
