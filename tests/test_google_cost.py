"""What a push costs in requests and bytes against the local Sheets API server.

One read per push (the write reuses the grid the read fetched), and only cells whose value differs
from what was read are sent: a repeat push of unchanged rows is the read and the sort.
"""

from __future__ import annotations

import pytest

from sheets_bridge.core.rows import label_choices, plan_push
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, SCHEMA, model_rows, push


def _push(sheet, rows):
    plan = plan_push(sheet.read(), rows, SCHEMA, "v0001", label_choices(CLASSES))
    sheet.write(plan.write)
    return plan


@pytest.mark.parametrize("n", [1450, 20000])
def test_a_repeat_push_of_unchanged_rows_is_two_requests_and_a_few_kb(api, make_sheet, n):
    sheet = make_sheet("images")
    push(sheet, model_rows(n))
    first = api.kinds()
    # No worksheet yet: one failed read, addSheet (its answer has the sheet's id and size), the
    # values under 2 MB each, the layout check, formulas + set-up + sort (split above 2 MB).
    assert first["spreadsheets.get"] == 1 and first["values.batchGet"] == 1
    assert sum(first.values()) <= (5 if n < 2000 else 9)

    mark = len(api.log)
    plan = _push(sheet, model_rows(n))
    assert plan.updated == n and plan.appended == 0
    assert api.kinds(mark) == {"spreadsheets.get": 1, "spreadsheets.batchUpdate": 1}
    _, sent, _ = api.traffic(mark)
    assert sent < 4_000, sent  # the sort request; the read's answer is what the sheet holds


def test_a_push_sends_only_the_cells_that_changed(api, make_sheet):
    sheet = make_sheet("images")
    rows = model_rows(1450)
    push(sheet, rows)
    full = sum(r.bytes_in for r in api.log if r.kind == "values.batchUpdate")
    for rid in list(rows)[:10]:
        rows[rid]["pred"] = "x"
        rows[rid]["url"] = rows[rid]["url"] + "?v=2"
    rows["img-00020"]["image"] = type(rows["img-00020"]["image"])('=IMAGE("http://new/20")')
    mark = len(api.log)
    _push(sheet, rows)
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,
        "values.batchUpdate": 1,
        "values.batchGet": 1,  # something was written: check nobody moved rows under it
        "spreadsheets.batchUpdate": 1,  # one formula and the sort
    }
    sent = [r for r in api.log[mark:] if r.kind == "values.batchUpdate"][0]
    cells = [v for vr in sent.body["data"] for row in vr["values"] for v in row if v is not None]
    assert sorted(map(str, cells)).count("x") == 10 and len(cells) == 20
    assert sent.bytes_in < full / 50
    fmt = [r for r in api.log[mark:] if r.kind == "spreadsheets.batchUpdate"][0].body
    formulas = [q for q in fmt["requests"] if "updateCells" in q]
    assert len(formulas) == 1
    people = api.people(sheet.key, "images").by_id()
    assert people["img-00003"]["pred"] == "x" and people["img-00003"]["url"].endswith("?v=2")


def test_a_write_reads_itself_without_a_read_and_repairs_when_its_read_went_stale(api, make_sheet):
    sheet = make_sheet("images")
    push(sheet, model_rows(30))
    other = make_sheet("images")  # another process: it never read
    new = model_rows(30, version=1)
    plan = plan_push(sheet.read(), new, SCHEMA, "v", label_choices(CLASSES))
    mark = len(api.log)
    other.write(plan.write)  # reads for itself, writes, and sorts the rows by the new ranks
    assert api.kinds(mark)["spreadsheets.get"] == 1
    mark = len(api.log)
    sheet.write(plan.write)  # its read is from before other's sort: the layout check notices
    kinds = api.kinds(mark)
    assert (
        kinds["spreadsheets.get"] == 1 and kinds["values.batchGet"] == 2
    )  # looked again, repaired
    shown = api.people(sheet.key, "images").by_id()
    assert {rid: shown[rid]["rank"] for rid in new} == {
        rid: str(c["rank"]) for rid, c in new.items()
    }
    assert {rid: shown[rid]["pred"] for rid in new} == {rid: c["pred"] for rid, c in new.items()}


def test_a_push_reads_again_only_to_write_a_cell_people_may_have_typed_since_its_read(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet("images")
    push(sheet, model_rows(4))
    table = sheet.read()  # the push's read
    people = api.people(spreadsheet, "images")
    people.type("img-00001", "subset", "val")  # typed after the read
    was = {rid: table.by_id()[rid]["subset"] for rid in ("img-00001", "img-00002", "img-00003")}
    new = {"img-00001": "test", "img-00002": "test", "img-00003": was["img-00003"]}
    change = plan_push(table, {}, SCHEMA, "v", label_choices(CLASSES)).write
    change.updates = {rid: {"subset": v} for rid, v in new.items()}
    change.expected = {rid: {"subset": was[rid]} for rid in new}
    change.sort_by = None
    mark = len(api.log)
    kept = sheet.write(change)
    assert kept == [{"id": "img-00001", "column": "subset", "current": "val"}]
    assert api.kinds(mark)["spreadsheets.get"] == 1  # it had to look again: subsets change
    shown = people.by_id()
    assert shown["img-00001"]["subset"] == "val" and shown["img-00002"]["subset"] == "test"
