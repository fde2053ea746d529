"""People sort, insert, delete and move while a push runs: no human cell is lost, no row gets
another row's model cells.

The server runs the people's action right after the push's read, before answering it, so the push
writes onto a sheet that changed under it; the push must notice (it re-reads the header row and the
id column after writing), put back what it hit, and write again.
"""

from __future__ import annotations

import itertools

import pytest

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.rows import label_choices
from sheets_bridge.sheets import SheetWrite
from sheets_bridge.sheets.google.plan import Grid
from sheets_bridge.sheets.google.repair import repair
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, SCHEMA, model_rows, push


def human_cells(people) -> dict[tuple[str, str], str]:
    return {
        (row["id"], c): row[c]
        for row in people.rows()
        if row.get("id")
        for c in SCHEMA.human_columns
        if row.get(c)
    }


def assert_model_cells_match(people, fresh) -> None:
    rows = people.rows()
    by_id = {r["id"]: r for r in rows if r.get("id")}
    assert len(by_id) == len([r for r in rows if r.get("id")]), "an id appears twice"
    assert set(by_id) == set(fresh)
    for rid, cells in fresh.items():
        row = by_id[rid]
        assert (row["url"], row["pred"], row["rank"]) == (
            cells["url"],
            cells["pred"],
            str(cells["rank"]),
        ), rid
    for row in rows:
        if not row.get("id"):
            assert not any(row.values()), f"stray cells in a row without id: {row}"


def test_rows_sorted_between_read_and_write_get_their_own_model_cells(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(30))
    people = api.people(spreadsheet, "images")
    for i, rid in enumerate(list(model_rows(30))[::3]):
        people.type(rid, "annotator_1", CLASSES[i % 10])
    typed = human_cells(people)
    api.after("spreadsheets.get", lambda: people.sort("id", descending=True))
    fresh = model_rows(30, version=7)
    mark = len(api.log)
    push(sheet, fresh)
    assert api.kinds(mark)["spreadsheets.get"] == 2  # it noticed, looked again and repaired
    assert_model_cells_match(people, fresh)
    assert human_cells(people) == typed
    assert [r["rank"] for r in people.rows()] == [str(i) for i in range(1, 31)]


def test_rows_inserted_while_new_rows_are_appended_leave_no_stray_cells(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(10))
    people = api.people(spreadsheet, "images")
    people.type("img-00009", "note", "last row, typed before the push")
    people.type("img-00002", "override", "x")
    typed = human_cells(people)
    api.after("spreadsheets.get", lambda: people.insert_rows(at=4, count=2))
    fresh = model_rows(14, version=2)  # four new images: appended below the old last row
    push(sheet, fresh)
    assert_model_cells_match(people, fresh)
    assert human_cells(people) == typed


def test_a_row_deleted_between_read_and_write_comes_back_and_nothing_is_left_behind(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(8))
    people = api.people(spreadsheet, "images")
    people.type("img-00005", "annotator_2", "vi")
    api.after("spreadsheets.get", lambda: people.delete_row("img-00003"))
    fresh = model_rows(8, version=3)
    push(sheet, fresh)
    assert_model_cells_match(people, fresh)
    assert human_cells(people) == {("img-00005", "annotator_2"): "vi"}


def test_a_column_moved_between_read_and_write_keeps_every_human_cell(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(12))
    people = api.people(spreadsheet, "images")
    for i, rid in enumerate(model_rows(12)):
        people.type(rid, "annotator_1", CLASSES[(i + 1) % 10])
        people.type(rid, "note", f"note {i}")
    typed = human_cells(people)
    api.after(
        "spreadsheets.get", lambda: people.move_column("annotator_1", 3)
    )  # into the model block
    fresh = model_rows(12, version=5)
    push(sheet, fresh)
    assert human_cells(people) == typed
    assert_model_cells_match(people, fresh)
    assert people.header()[3] == "annotator_1"


def test_a_person_typing_during_a_push_keeps_the_value(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    push(sheet, model_rows(6))
    people = api.people(spreadsheet, "images")
    api.after("values.batchUpdate", lambda: people.type("img-00004", "annotator_2", "vii"))
    api.after("spreadsheets.get", lambda: people.type("img-00001", "override", "?"))
    push(sheet, model_rows(6, version=9))
    assert human_cells(people) == {
        ("img-00004", "annotator_2"): "vii",
        ("img-00001", "override"): "?",
    }


def test_a_column_inserted_while_new_columns_are_added_gets_its_header_and_cells_back(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    without_bridge = SCHEMA.columns[:-3]
    rows = model_rows(5)
    sheet.write(
        SheetWrite(
            without_bridge,
            appends=[{"id": k, **v} for k, v in rows.items()],
            sort_by="rank",
            human_columns=SCHEMA.human_columns,
            choices=label_choices(CLASSES),
        )
    )
    people = api.people(spreadsheet, "images")
    for rid in rows:
        people.type(rid, "note", f"seen {rid}")
    typed = human_cells(people)
    api.after("spreadsheets.get", lambda: people.insert_column(2))
    # A pull adds the bridge columns after the last one (note), where the inserted column pushes note.
    bridge = {rid: {"consensus": "ii", "agreement": 1.0, "status": "ok"} for rid in rows}
    sheet.write(SheetWrite(SCHEMA.columns, bridge, human_columns=SCHEMA.human_columns))
    assert human_cells(people) == typed
    header = people.header()
    assert header[2] == "" and header.count("note") == 1
    assert sorted(header[-3:]) == ["agreement", "consensus", "status"]  # each once, after note
    assert all(r["status"] == "ok" for r in people.rows())


def test_a_sheet_that_keeps_moving_stops_the_push_with_people_s_cells_in_place(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    push(sheet, model_rows(10))
    people = api.people(spreadsheet, "images")
    for i, rid in enumerate(model_rows(10)):
        people.type(rid, "annotator_2", CLASSES[i % 10])
    typed = human_cells(people)
    flip = itertools.cycle([True, False])
    api.after("values.batchUpdate", lambda: people.sort("id", descending=next(flip)), once=False)
    with pytest.raises(SheetError, match="kept moving while writing"):
        push(sheet, model_rows(10, version=1))
    api.hooks.clear()
    assert human_cells(people) == typed
    push(sheet, model_rows(10, version=1))  # once people stop, the next push puts everything right
    assert_model_cells_match(people, model_rows(10, version=1))


# -- the repair itself, on small grids ---------------------------------------------------------
def grid(rows: list[list[str]]) -> Grid:
    return Grid("t", rows)


def test_repair_gives_sorted_rows_back_what_the_write_put_in_the_wrong_row():
    before = grid([["id", "pred", "annotator"], ["a", "1", "x"], ["b", "2", "y"]])
    # The write put pred "A" at row 1 and "B" at row 2, but people had swapped the rows.
    now = grid([["id", "pred", "annotator"], ["b", "A", "y"], ["a", "B", "x"]])
    assert repair(before, now, [(1, 1), (2, 1)]) == {(1, 1): "2", (2, 1): "1"}


def test_repair_restores_a_human_column_moved_under_the_write():
    before = grid([["id", "pred", "note"], ["a", "1", "keep me"]])
    # note moved to column 1 before the write hit column 1 (meant for pred).
    now = grid([["id", "note", "pred"], ["a", "9", "1"]])
    assert repair(before, now, [(1, 1)]) == {(1, 1): "keep me"}


def test_repair_traces_a_column_whose_header_the_write_overwrote_by_its_neighbours():
    before = grid([["id", "pred", "note"], ["a", "1", "n"]])
    # A column was inserted at 1; the write added header "status" at 3, where note now is.
    now = grid([["id", "", "pred", "status"], ["a", "", "1", "ok"]])
    fixes = repair(before, now, [(0, 3), (1, 3)])
    assert fixes == {(0, 3): "note", (1, 3): "n"}


def test_repair_finds_the_row_whose_id_the_write_overwrote():
    before = grid([["id", "pred"], ["a", "1"], ["b", "2"]])
    # A row was inserted at 1; the write appended id "c" at row 3, where b now sits.
    now = grid([["id", "pred"], ["", ""], ["a", "1"], ["c", "2"]])
    assert repair(before, now, [(3, 0), (3, 1)]) == {(3, 0): "b", (3, 1): "2"}


def test_repair_does_not_hand_a_sorted_row_s_id_to_an_appended_row():
    before = grid([["id", "pred"], ["a", "1"], ["b", "2"]])
    # People sorted (b, a); the write appended "c" at row 3. Nothing was overwritten there.
    now = grid([["id", "pred"], ["b", "2"], ["a", "1"], ["c", "3"]])
    assert repair(before, now, [(3, 0), (3, 1)]) == {(3, 0): "", (3, 1): ""}
