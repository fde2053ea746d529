"use strict";
// Sort by disagreement: each person gets a filter view of their own, sorted by the rank column
// (found by its header name); the sheet's rows never move under anybody.

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

function batches(calls) {
  return calls.sheetsApi.filter((c) => c.method === "batchUpdate").map((c) => c.body.requests);
}

test("makes the caller's own filter view sorted by rank and links to it; the sheet does not move", () => {
  const { context, sheets, calls, userProperties, spreadsheet } = load({
    user: "alice@example.org",
    sheets: [{ name: "review", rows: [HEADER, ...ROWS] }],
  });
  context.sortByDisagreement();
  assert.equal(calls.alerts.length, 0);
  assert.deepEqual(batches(calls), [
    [
      {
        addFilterView: {
          filter: {
            title: "Review order (alice@example.org)",
            range: { sheetId: 1 },
            sortSpecs: [{ dimensionIndex: 5, sortOrder: "ASCENDING" }],
          },
        },
      },
    ],
  ]);
  assert.equal(calls.sheetsApi[0].spreadsheetId, "sheet-key-123");
  assert.deepEqual(userProperties, { REVIEW_FILTER_VIEW_1: "1000" });
  assert.equal(spreadsheet.filterViews.length, 1);
  // Nobody's rows moved: the sheet is as it was.
  assert.equal(sheets[0].sorts.length, 0);
  assert.deepEqual(sheets[0].rows.map((r) => r[0]), ["id", "b", "a", "d", "c"]);
  const dialog = calls.dialogs[0];
  assert.equal(dialog.title, "Review order");
  assert.match(
    dialog.html,
    /<a href="https:\/\/docs\.google\.com\/spreadsheets\/d\/sheet-key-123\/edit#gid=1&amp;fvid=1000" target="_top">Open my review order<\/a>: 4 rows sorted by rank/,
  );
  assert.match(dialog.html, /nobody else's rows move/);
});

test("two people get two views; each one's second request updates their own", () => {
  const spreadsheet = { filterViews: [], nextFilterViewId: 1000 };
  const sheetsRows = [{ name: "review", rows: [HEADER, ...ROWS] }];
  const alice = load({ user: "alice@example.org", spreadsheet, sheets: sheetsRows });
  const bob = load({ user: "bob@example.org", spreadsheet, sheets: sheetsRows });
  alice.context.sortByDisagreement();
  bob.context.sortByDisagreement();
  assert.deepEqual(
    spreadsheet.filterViews.map((v) => [v.filterViewId, v.title]),
    [
      [1000, "Review order (alice@example.org)"],
      [1001, "Review order (bob@example.org)"],
    ],
  );
  assert.equal(alice.userProperties.REVIEW_FILTER_VIEW_1, "1000");
  assert.equal(bob.userProperties.REVIEW_FILTER_VIEW_1, "1001");

  // Alice asks again after the rank column moved: her view is updated, not duplicated.
  alice.sheets[0].rows = alice.sheets[0].rows.map((r) => [r[5], ...r.slice(0, 5), r[6]]);
  alice.context.sortByDisagreement();
  assert.equal(spreadsheet.filterViews.length, 2);
  const requests = batches(alice.calls);
  assert.deepEqual(requests[1], [
    {
      updateFilterView: {
        filter: {
          title: "Review order (alice@example.org)",
          range: { sheetId: 1 },
          sortSpecs: [{ dimensionIndex: 0, sortOrder: "ASCENDING" }],
          filterViewId: 1000,
        },
        fields: "title,range,sortSpecs",
      },
    },
  ]);
  assert.deepEqual(spreadsheet.filterViews[0].sortSpecs, [{ dimensionIndex: 0, sortOrder: "ASCENDING" }]);
  assert.deepEqual(spreadsheet.filterViews[1].sortSpecs, [{ dimensionIndex: 5, sortOrder: "ASCENDING" }]);
  assert.match(alice.calls.dialogs[1].html, /fvid=1000"/);
});

test("a view someone deleted is made again", () => {
  const spreadsheet = { filterViews: [], nextFilterViewId: 1000 };
  const { context, userProperties, calls } = load({
    spreadsheet,
    userProperties: { REVIEW_FILTER_VIEW_1: "77" },
    sheets: [{ name: "review", rows: [HEADER, ...ROWS] }],
  });
  context.sortByDisagreement();
  assert.equal(calls.sheetsApi[0].method, "get");
  assert.deepEqual(calls.sheetsApi[0].optionalArgs, { fields: "sheets(properties(sheetId),filterViews(filterViewId))" });
  assert.ok(batches(calls)[0][0].addFilterView);
  assert.equal(userProperties.REVIEW_FILTER_VIEW_1, "1000");
  assert.equal(calls.alerts.length, 0);
});

test("without a known e-mail the view is still the caller's", () => {
  const { context, spreadsheet } = load({ sheets: [{ name: "review", rows: [HEADER, ...ROWS] }] });
  context.sortByDisagreement();
  assert.equal(spreadsheet.filterViews[0].title, "Review order");
});

test("the rank column is found by name wherever people moved it", () => {
  const moved = [" Rank ", "note", "id", "label"];
  const rows = [moved, [2, "", "x1", "i"], [1, "", "x2", "ii"]];
  const { context, spreadsheet } = load({ sheets: [{ name: "s", rows }] });
  context.sortByDisagreement();
  assert.equal(spreadsheet.filterViews[0].sortSpecs[0].dimensionIndex, 0);
});

test("when the active sheet has no rank column, the view is made on the sheet that has one", () => {
  const { context, spreadsheet, userProperties } = load({
    sheets: [
      { name: "notes", rows: [["anything"], ["x"]] },
      { name: "review", rows: [HEADER, ...ROWS] },
    ],
  });
  context.sortByDisagreement();
  assert.deepEqual(spreadsheet.filterViews[0].range, { sheetId: 2 });
  assert.deepEqual(userProperties, { REVIEW_FILTER_VIEW_2: "1000" });
});

test("no rank column anywhere: an alert says to push first, no view is made", () => {
  const { context, calls } = load({ sheets: [{ name: "s", rows: [["id", "label"], ["a", "i"], ["b", "ii"]] }] });
  context.sortByDisagreement();
  assert.equal(calls.sheetsApi.length, 0);
  assert.equal(calls.alerts.length, 1);
  assert.match(calls.alerts[0].prompt, /No sheet has a `rank` column.*Refresh predictions first/);
});

test("an empty sheet or a header alone is not an error", () => {
  for (const rows of [[], [HEADER], [HEADER, ROWS[0]]]) {
    const { context, calls } = load({ sheets: [{ name: "s", rows }] });
    context.sortByDisagreement();
    assert.equal(calls.sheetsApi.length, 0);
    if (rows.length === 0) {
      assert.equal(calls.alerts.length, 1);
    } else {
      assert.equal(calls.alerts.length, 0);
      assert.match(calls.toasts[0].msg, /^Nothing to sort/);
    }
  }
});

test("without the Sheets service an alert says how to turn it on", () => {
  const { context, calls } = load({ noSheetsService: true, sheets: [{ name: "s", rows: [HEADER, ...ROWS] }] });
  context.sortByDisagreement();
  assert.match(calls.alerts[0].prompt, /^The Google Sheets API service is not on in this script\./);
});

test("a refused Sheets API call (a viewer) is an alert that says what it needs", () => {
  const { context, calls } = load({ sheets: [{ name: "s", rows: [HEADER, ...ROWS] }] });
  context.Sheets.Spreadsheets.batchUpdate = () => {
    throw new Error("API call to sheets.spreadsheets.batchUpdate failed with error: The caller does not have permission");
  };
  context.sortByDisagreement();
  assert.equal(
    calls.alerts[0].prompt,
    "Google Sheets refused to save your review order (API call to sheets.spreadsheets.batchUpdate failed with error: " +
      "The caller does not have permission). A filter view needs edit access to this spreadsheet.",
  );
});

test("sorting sends no request to the bridge", () => {
  const { context, calls } = load({ sheets: [{ name: "s", rows: [HEADER, ...ROWS] }] });
  context.sortByDisagreement();
  assert.equal(calls.fetch.length, 0);
});
