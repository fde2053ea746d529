"use strict";
// Sort by disagreement: the rank column is found by its header name and only the data rows move.

const test = require("node:test");
const assert = require("node:assert/strict");
const { load } = require("./harness");

const HEADER = ["id", "image", "label", "pred", "annotator_1", "rank", "note"];
const ROWS = [
  ["b", "=IMAGE()", "ii", "ii", "", 3, ""],
  ["a", "=IMAGE()", "v", "iv", "iv", 1, "looks like iv"],
  ["d", "=IMAGE()", "x", "x", "", "", "new row, not ranked yet"],
  ["c", "=IMAGE()", "i", "vii", "", 2, ""],
];

test("sorts rows 2..last by the rank column, header kept on top", () => {
  const { context, sheets, calls } = load({ sheets: [{ name: "review", rows: [HEADER, ...ROWS] }] });
  context.sortByDisagreement();
  const sheet = sheets[0];
  assert.equal(sheet.sorts.length, 1);
  const { row, column, numRows, numColumns, spec } = sheet.sorts[0];
  assert.deepEqual([row, column, numRows, numColumns], [2, 1, 4, 7]);
  assert.deepEqual({ column: spec.column, ascending: spec.ascending }, { column: 6, ascending: true });
  assert.deepEqual(sheet.rows[0], HEADER);
  assert.deepEqual(sheet.rows.map((r) => r[0]), ["id", "a", "c", "b", "d"]);
  assert.equal(calls.alerts.length, 0);
  assert.match(calls.toasts[0].msg, /^Sorted 4 rows by rank/);
});

test("the rank column is found by name wherever people moved it", () => {
  const moved = [" Rank ", "note", "id", "label"];
  const rows = [moved, [2, "", "x1", "i"], [1, "", "x2", "ii"]];
  const { context, sheets } = load({ sheets: [{ name: "s", rows }] });
  context.sortByDisagreement();
  assert.equal(sheets[0].sorts[0].spec.column, 1);
  assert.deepEqual(sheets[0].rows.map((r) => r[2]), ["id", "x2", "x1"]);
});

test("when the active sheet has no rank column, the sheet that has one is sorted", () => {
  const { context, sheets } = load({
    sheets: [
      { name: "notes", rows: [["anything"], ["x"]] },
      { name: "review", rows: [HEADER, ...ROWS] },
    ],
  });
  context.sortByDisagreement();
  assert.equal(sheets[0].sorts.length, 0);
  assert.equal(sheets[1].sorts.length, 1);
});

test("no rank column anywhere: an alert says to push first, nothing moves", () => {
  const { context, sheets, calls } = load({ sheets: [{ name: "s", rows: [["id", "label"], ["a", "i"], ["b", "ii"]] }] });
  context.sortByDisagreement();
  assert.equal(sheets[0].sorts.length, 0);
  assert.equal(calls.alerts.length, 1);
  assert.match(calls.alerts[0].prompt, /No sheet has a `rank` column.*Refresh predictions first/);
});

test("an empty sheet or a header alone is not an error", () => {
  for (const rows of [[], [HEADER], [HEADER, ROWS[0]]]) {
    const { context, sheets, calls } = load({ sheets: [{ name: "s", rows }] });
    context.sortByDisagreement();
    assert.equal(sheets[0].sorts.length, 0);
    if (rows.length === 0) {
      assert.equal(calls.alerts.length, 1);
    } else {
      assert.equal(calls.alerts.length, 0);
      assert.match(calls.toasts[0].msg, /^Nothing to sort/);
    }
  }
});

test("sorting sends no request to the bridge", () => {
  const { context, calls } = load({ sheets: [{ name: "s", rows: [HEADER, ...ROWS] }] });
  context.sortByDisagreement();
  assert.equal(calls.fetch.length, 0);
});
