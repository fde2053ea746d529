"use strict";
// Open UMAP view: asks the bridge for its status and shows a dialog with the link.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load, SETTINGS, MY_TOKEN } = require("./harness");

function status(fields) {
  return Object.assign(
    { workspace: "/srv/ws", version: "v0003", versions: 3, images: 2880, job: null, sheet_url: "", umap_url: "", run: null },
    fields,
  );
}

test("the dialog links to the umap_url the bridge reports, with the run's accuracy", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: () => ({
      status: 200,
      body: status({
        umap_url: "https://bridge.example.org/umap",
        run: { id: "r-20240101", version: "v0003", preset: "fast", val_accuracy: 0.8125 },
      }),
    }),
  });
  context.openUmapView();
  assert.equal(calls.fetch[0].url, "https://bridge.example.org/api/status");
  assert.equal(calls.fetch[0].params.method, "get");
  assert.equal(calls.dialogs.length, 1);
  assert.equal(calls.dialogs[0].title, "UMAP view");
  assert.match(calls.dialogs[0].html, /<a href="https:\/\/bridge\.example\.org\/umap" target="_blank" rel="noopener">/);
  assert.match(calls.dialogs[0].html, /Dataset v0003, model run r-20240101, validation accuracy 81%/);
});

test("a relative or missing umap_url is resolved against the bridge URL", () => {
  for (const [reported, expected] of [
    ["/umap?color=label", "https://bridge.example.org/umap?color=label"],
    ["", "https://bridge.example.org/umap"],
    ["javascript:alert(1)", "https://bridge.example.org/umap"],
  ]) {
    const { context, calls } = load({
      properties: SETTINGS,
      userProperties: MY_TOKEN,
      fetch: () => ({ status: 200, body: status({ umap_url: reported }) }),
    });
    context.openUmapView();
    const href = /href="([^"]*)"/.exec(calls.dialogs[0].html)[1];
    assert.equal(href, expected);
  }
});

test("what the bridge reports is escaped in the dialog", () => {
  const { context, calls } = load({
    properties: SETTINGS,
    userProperties: MY_TOKEN,
    fetch: () => ({
      status: 200,
      body: status({ version: "<b>v1</b>", run: { id: "r", version: "v1", preset: "fast", val_accuracy: null } }),
    }),
  });
  context.openUmapView();
  assert.match(calls.dialogs[0].html, /Dataset &lt;b&gt;v1&lt;\/b&gt;, model run r, validation accuracy unknown/);
});

test("an unreachable bridge is an alert, not a dialog", () => {
  const { context, calls } = load({ properties: SETTINGS, userProperties: MY_TOKEN });
  context.openUmapView();
  assert.equal(calls.dialogs.length, 0);
  assert.match(calls.alerts[0].prompt, /^Cannot reach the bridge/);
});
