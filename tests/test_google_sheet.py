"""The Google backend against the local Sheets API server: what it writes, and in how many requests."""

from __future__ import annotations

import math

import pytest

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.rows import label_choices
from sheets_bridge.core.schema import MODEL_COLUMNS
from sheets_bridge.sheets import Formula, Sheet, SheetWrite
from sheets_bridge.sheets.google.plan import SETUP_KEY
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, SCHEMA, model_rows, push
from tests.sheets_api import Formula as StoredFormula

MB2 = 2_000_000


def writes(sheet, updates=None, appends=(), sort_by="rank"):
    return SheetWrite(
        SCHEMA.columns,
        dict(updates or {}),
        list(appends),
        sort_by=sort_by,
        human_columns=SCHEMA.human_columns,
        choices=label_choices(CLASSES),
    )


def test_google_sheet_implements_the_sheet_protocol(make_sheet):
    assert isinstance(make_sheet(), Sheet)


def test_first_push_creates_the_worksheet_with_one_row_per_image_sorted_by_rank(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet("images")
    rows = model_rows(12)
    push(sheet, rows)
    table = sheet.read()
    assert table.header == SCHEMA.columns
    assert [r["rank"] for r in table.rows] == [str(i) for i in range(1, 13)]
    by_id = table.by_id()
    assert set(by_id) == set(rows)
    one = by_id["img-00004"]
    assert one["label"] == "v" and one["url"] == "http://127.0.0.1:8000/images/img-00004"
    assert one["annotator_1"] == "" and one["note"] == ""
    stored = api.people(spreadsheet, "images").stored("img-00004", "image")
    assert stored == StoredFormula('=IMAGE("http://127.0.0.1:8000/images/img-00004")')
    assert sheet.url == f"https://docs.google.com/spreadsheets/d/{spreadsheet}/edit"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (
            10,
            {
                "spreadsheets.get": 1,
                "values.batchUpdate": 1,
                "values.batchGet": 1,
                "spreadsheets.batchUpdate": 1,
            },
        ),
        # 1,001 rows do not fit the default 1,000-row grid: one more batchUpdate grows it first.
        (
            1000,
            {
                "spreadsheets.get": 1,
                "values.batchUpdate": 1,
                "values.batchGet": 1,
                "spreadsheets.batchUpdate": 2,
            },
        ),
        # ~2.6 MB of values in two bodies under 2 MB; grow, then 20,000 formulas and the sort in two.
        (
            20000,
            {
                "spreadsheets.get": 1,
                "values.batchUpdate": 2,
                "values.batchGet": 1,
                "spreadsheets.batchUpdate": 3,
            },
        ),
    ],
)
def test_a_push_costs_a_fixed_number_of_requests_under_2_mb_each(
    api, spreadsheet, make_sheet, n, expected
):
    sheet = make_sheet("Sheet1")  # Google's default worksheet: 1000 rows x 26 columns
    rows = model_rows(n)
    sheet.write(writes(sheet, appends=[{"id": k, **v} for k, v in rows.items()]))
    assert api.kinds() == expected
    assert max(r.bytes_in for r in api.log) <= MB2
    values_bytes = sum(r.bytes_in for r in api.log if r.kind == "values.batchUpdate")
    assert expected["values.batchUpdate"] == max(1, math.ceil(values_bytes / 1_900_000))
    mark = len(api.log)
    table = sheet.read()
    assert api.kinds(mark) == {"spreadsheets.get": 1} and len(table.rows) == n
    assert [r["rank"] for r in table.rows[:3]] == ["1", "2", "3"]


def test_a_later_push_rewrites_model_cells_in_four_requests(api, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(300))
    mark = len(api.log)
    sheet.write(
        writes(
            sheet,
            updates={k: {"pred": "x", "rank": 301 - i} for i, k in enumerate(model_rows(300))},
        )
    )
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,
        "values.batchUpdate": 1,
        "values.batchGet": 1,
        "spreadsheets.batchUpdate": 1,
    }
    table = sheet.read()
    assert {r["pred"] for r in table.rows} == {"x"} and table.rows[0]["id"] == "img-00299"


def test_first_push_sets_the_worksheet_up_and_later_pushes_leave_people_s_formatting_alone(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(20))
    state = api.sheet(spreadsheet, "images")
    header = list(SCHEMA.columns)
    assert state.frozen_rows == 1
    validated = {header[rng["startColumnIndex"]] for rng, _ in state.validations}
    assert validated == {"annotator_1", "annotator_2", "override"}  # not note: free text
    rule = state.validations[0][1]
    assert [v["userEnteredValue"] for v in rule["condition"]["values"]] == [
        *CLASSES[:9],
        "X",
        "x",
        "?",
    ]
    assert rule["strict"] is False and rule["showCustomUi"] is True
    assert all(p["warningOnly"] for p in state.protected)
    protected = {
        header[c]
        for p in state.protected
        for c in range(p["range"]["startColumnIndex"], p["range"]["endColumnIndex"])
    }
    assert protected == {"id", *MODEL_COLUMNS, "consensus", "agreement", "status"}
    assert not protected & set(SCHEMA.human_columns)
    formula = state.conditional[0]["booleanRule"]["condition"]["values"][0]["userEnteredValue"]
    assert formula == '=AND($F2<>"",$D2<>"",$F2<>$D2)'  # pred (F) differs from label (D)
    assert state.widths[1] == 90 and state.heights[1] == 64
    assert [m["metadataKey"] for m in state.metadata] == [SETUP_KEY]

    with api.lock:  # people change the look: unfreeze, drop a protection, widen a column
        state.frozen_rows = 0
        state.protected.pop()
        state.widths[1] = 300
        state.conditional.clear()
    before = (len(state.protected), len(state.validations), dict(state.widths))
    mark = len(api.log)
    push(sheet, model_rows(25))  # five new rows
    batch = [r.body for r in api.log[mark:] if r.kind == "spreadsheets.batchUpdate"]
    kinds = {next(iter(req)) for body in batch for req in body["requests"]}
    assert kinds == {"updateCells", "setDataValidation", "updateDimensionProperties", "sortRange"}
    assert state.frozen_rows == 0 and not state.conditional and state.widths[1] == 300
    assert len(state.protected) == before[0]
    new_rules = state.validations[before[1] :]
    assert {(r["startRowIndex"], r["endRowIndex"]) for r, _ in new_rules} == {
        (21, 26)
    }  # only the new rows
    assert len(state.metadata) == 1


def test_formula_injection_strings_stay_text_everywhere(api, spreadsheet, make_sheet):
    evil = [
        "=1+1",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        '=IMPORTXML("http://x","//a")',
        "'quoted",
        "=cmd|' /C calc'!A0",
    ]
    rows = model_rows(len(evil))
    for cells, text in zip(rows.values(), evil, strict=True):
        cells["issues"] = text
        cells["nearest_label_book"] = text
    rows['=HYPERLINK("http://x")'] = dict(rows["img-00000"], issues="id from a file name")
    sheet = make_sheet()
    push(sheet, rows)
    assert sheet.edit([("img-00001", "note", "=2*3"), ("img-00002", "annotator_1", "+ii")]) == 2
    people = api.people(spreadsheet, "images")
    by_id = sheet.read().by_id()
    for (rid, _), text in zip(rows.items(), evil, strict=False):
        assert by_id[rid]["issues"] == text and people.stored(rid, "issues") == text
        assert isinstance(people.stored(rid, "image"), StoredFormula)  # only the tool's own
    assert people.stored('=HYPERLINK("http://x")', "label") == "i"
    assert (
        people.stored("img-00001", "note") == "=2*3" and by_id["img-00002"]["annotator_1"] == "+ii"
    )
    raw_writes = [r.body for r in api.log if r.kind == "values.batchUpdate"]
    assert {b["valueInputOption"] for b in raw_writes} == {"RAW"}


def test_numbers_and_booleans_stay_typed_and_none_clears_a_cell(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    rows = model_rows(3)
    push(sheet, rows)
    people = api.people(spreadsheet, "images")
    assert people.stored("img-00001", "confidence") == pytest.approx(
        rows["img-00001"]["confidence"]
    )
    assert people.stored("img-00001", "is_correct") is rows["img-00001"]["is_correct"]
    sheet.write(
        writes(
            sheet,
            updates={"img-00001": {"confidence": None, "typicality": float("nan")}},
            sort_by=None,
        )
    )
    assert (
        people.stored("img-00001", "confidence") is None
        and people.stored("img-00001", "typicality") is None
    )


def test_columns_are_found_by_name_when_people_move_rename_or_delete_headers(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(8))
    people = api.people(spreadsheet, "images")
    people.type("img-00003", "annotator_1", "iv")
    people.type("img-00003", "note", "smudged")
    people.move_column("pred", 0)  # drag pred to the front
    people.move_column("note", 2)
    people.rename("confidence", "")  # clear a header cell: the column is missing now
    header_before = people.header()
    push(sheet, model_rows(8, version=1))
    header = people.header()
    assert header[: len(header_before)] == header_before  # nothing moved
    assert header[len(header_before) :] == ["confidence"]  # re-added after all the data
    by_id = people.by_id()
    assert by_id["img-00003"]["annotator_1"] == "iv" and by_id["img-00003"]["note"] == "smudged"
    fresh = model_rows(8, version=1)
    for rid, row in by_id.items():
        assert row["pred"] == fresh[rid]["pred"] and row["confidence"] == str(
            fresh[rid]["confidence"]
        )


def test_a_worksheet_without_an_id_column_or_with_repeated_headers_is_refused(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(4))
    people = api.people(spreadsheet, "images")
    people.rename("id", "key")
    with pytest.raises(SheetError, match="no 'id' column"):
        sheet.write(writes(sheet, updates={"img-00001": {"pred": "ii"}}))
    people.rename("key", "id")
    people.rename("url", "label")
    with pytest.raises(SheetError, match=r"repeats header\(s\) \['label'\]"):
        sheet.write(writes(sheet, updates={"img-00001": {"pred": "ii"}}))


def test_duplicate_ids_stop_the_push_and_are_listed(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(6))
    people = api.people(spreadsheet, "images")
    people.type("img-00002", "id", "img-00001")
    people.type("img-00004", "id", "img-00005")
    mark = len(api.log)
    with pytest.raises(SheetError, match="same id: img-00001, img-00005"):
        sheet.write(writes(sheet, updates={"img-00003": {"pred": "ii"}}))
    assert api.kinds(mark) == {"spreadsheets.get": 1}  # stopped before writing anything


def test_an_update_for_a_row_people_deleted_adds_it_again_at_the_end(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(5))
    api.people(spreadsheet, "images").delete_row("img-00002")
    sheet.write(writes(sheet, updates={"img-00002": {"pred": "ix", "rank": 99}}, sort_by=None))
    rows = sheet.read().rows
    assert rows[-1]["id"] == "img-00002" and rows[-1]["pred"] == "ix" and len(rows) == 5


def test_edit_writes_raw_values_counts_changes_and_names_unknown_ids_or_columns(api, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(4))
    assert (
        sheet.edit(
            [("img-00001", "annotator_1", "ii"), ("img-00002", "override", "x")], author="ana"
        )
        == 2
    )
    assert sheet.edit([("img-00001", "annotator_1", "ii")]) == 0  # unchanged: nothing sent
    assert sheet.edit([("img-00001", "annotator_1", "")]) == 1
    assert sheet.read().by_id()["img-00001"]["annotator_1"] == ""
    with pytest.raises(SheetError, match="no row with id 'nope'"):
        sheet.edit([("nope", "note", "x")])
    with pytest.raises(SheetError, match="no column 'colour'"):
        sheet.edit([("img-00001", "colour", "x")])


def test_reading_a_missing_worksheet_is_empty_and_a_missing_spreadsheet_says_so(api, make_sheet):
    assert make_sheet("not yet").read().header == ()
    with pytest.raises(SheetError, match="spreadsheet nope not found"):
        make_sheet(spreadsheet="nope").read()


def test_an_image_formula_is_the_only_formula_sent(api, make_sheet):
    sheet = make_sheet()
    sheet.write(
        writes(sheet, appends=[{"id": "a", "image": Formula('=IMAGE("http://h/a")'), "note": "=1"}])
    )
    formulas = [
        req["updateCells"]
        for r in api.log
        if r.kind == "spreadsheets.batchUpdate"
        for req in r.body["requests"]
        if "updateCells" in req
    ]
    assert [
        c["userEnteredValue"] for f in formulas for row in f["rows"] for c in row["values"]
    ] == [{"formulaValue": '=IMAGE("http://h/a")'}]


def test_compare_and_set_reports_a_cell_a_person_typed_and_leaves_it(api, spreadsheet, make_sheet):
    from sheets_bridge.sheets import CellChange

    sheet = make_sheet("images")
    push(sheet, model_rows(4))
    api.people(spreadsheet, "images").type("img-00001", "override", "iii")
    result = sheet.compare_and_set(
        [
            CellChange("img-00001", "override", "x", expected=""),
            CellChange("img-00002", "override", "x", expected=""),
            CellChange("img-00003", "note", "blurry", append=True),
        ],
        "ana",
    )
    assert result.conflicts == [
        {"id": "img-00001", "column": "override", "expected": "", "current": "iii", "value": "x"}
    ]
    rows = sheet.read().by_id()
    assert rows["img-00001"]["override"] == "iii" and rows["img-00002"]["override"] == "x"
    assert rows["img-00003"]["note"] == "blurry" and result.changed == 2


def test_a_push_keeps_a_subset_a_person_typed_after_the_push_read_the_sheet(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet("images")
    push(sheet, model_rows(4))
    api.people(spreadsheet, "images").type("img-00001", "subset", "val")  # after the push's read
    change = writes(sheet, {"img-00001": {"subset": "train"}, "img-00002": {"subset": "train"}})
    change.expected = {"img-00001": {"subset": "train"}, "img-00002": {"subset": "train"}}
    kept = sheet.write(change)
    rows = sheet.read().by_id()
    assert rows["img-00001"]["subset"] == "val" and rows["img-00002"]["subset"] == "train"
    assert kept == [{"id": "img-00001", "column": "subset", "current": "val"}]
