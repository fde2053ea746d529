"use strict";
// onOpen builds the "Data-centric AI" menu, and every item names a function the script defines.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./harness");

test("onOpen adds the Data-centric AI menu with the seven actions in order", () => {
  const { context, calls } = load();
  context.onOpen();
  assert.equal(calls.menus.length, 1);
  const menu = calls.menus[0];
  assert.equal(menu.caption, "Data-centric AI");
  const items = menu.items.filter((i) => !i.separator).map((i) => [i.name, i.fn]);
  assert.deepEqual(items, [
    ["Retrain model", "retrainModel"],
    ["Refresh predictions (push)", "refreshPredictions"],
    ["Apply overrides (pull)", "applyOverrides"],
    ["Sort by disagreement", "sortByDisagreement"],
    ["Open UMAP view", "openUmapView"],
    ["Settings", "openSettings"],
    ["Forget my API token", "forgetToken"],
  ]);
});

test("every menu item calls a global function (a typo would only fail in the sheet)", () => {
  const { context, calls } = load();
  context.onOpen();
  for (const item of calls.menus[0].items.filter((i) => !i.separator)) {
    assert.equal(typeof context[item.fn], "function", item.fn);
  }
});

test("onOpen calls no service that needs authorisation (it is a simple trigger)", () => {
  const { context, calls } = load();
  context.onOpen();
  assert.equal(calls.fetch.length, 0);
  assert.equal(calls.toasts.length + calls.alerts.length + calls.prompts.length, 0);
});
