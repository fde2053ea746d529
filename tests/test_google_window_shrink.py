"""The review window keeps its size: rows that fell out of the first ``sheet_rows`` and hold no
human cell leave the Google sheet, rows people typed in stay, and a row typed into while the
push runs stays with what was typed (the server's hooks type between the push's requests)."""

from __future__ import annotations

from sheets_bridge import loop
from sheets_bridge.loop.sheet_io import push_rows
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, SCHEMA, model_rows

LIMIT = 10


def window_push(sheet, rows, limit=LIMIT):
    """``loop.push``'s sheet side: read, window, merge, write."""
    _, kept, outside = push_rows(sheet, rows, SCHEMA, "v0001", CLASSES, limit=limit)
    return kept, outside


def reordered(rows):
    """The same images in the opposite review order (another round's predictions)."""
    n = len(rows)
    return {rid: {**cells, "rank": n + 1 - cells["rank"]} for rid, cells in rows.items()}


def top(rows, n=LIMIT) -> set[str]:
    return {rid for rid, cells in rows.items() if cells["rank"] <= n}


def rank_note(api, spreadsheet) -> str:
    state = api.sheet(spreadsheet, "images")
    return state.notes.get((0, state.grid[0].index("rank")), "")


def test_rows_that_leave_the_window_untouched_leave_the_sheet_and_typed_rows_stay(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    first = model_rows(40)
    window_push(sheet, first)
    people = api.people(spreadsheet, "images")
    assert set(people.by_id()) == top(first)
    voted, noted, moved, *untouched = sorted(top(first))
    people.type(voted, "annotator_1", "iv")
    people.type(noted, "note", "blurry")
    moving_to = "val" if first[moved]["subset"] == "train" else "train"
    people.type(moved, "subset", moving_to)
    size = api.sheet(spreadsheet, "images").rows

    fresh = reordered(model_rows(40, version=5))  # the first window falls out
    leaving = top(first) - top(fresh) - {voted, noted, moved}
    assert len(leaving) == LIMIT - 3
    mark = len(api.log)
    kept, outside = window_push(sheet, fresh)
    shown = people.by_id()
    assert set(shown) == top(fresh) | {voted, noted, moved}
    assert not set(shown) & leaving
    assert (shown[voted]["annotator_1"], shown[noted]["note"]) == ("iv", "blurry")
    assert shown[moved]["subset"] == moving_to  # a pending move is not overwritten
    assert kept == [] and outside == 40 - len(shown)
    assert rank_note(api, spreadsheet).startswith(f"{outside} of 40 images are outside")
    assert all(r.get("id") for r in people.rows())  # no blank rows left in the middle
    assert api.sheet(spreadsheet, "images").rows == size  # the grid keeps its size
    # one read, the values, one check (which also looked at the typed columns), one batch, and
    # one read of the ids after it (rows were deleted: did the delete hit the rows it meant to?)
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,
        "values.batchUpdate": 1,
        "values.batchGet": 2,
        "spreadsheets.batchUpdate": 1,
    }
    assert [r["rank"] for r in people.rows()][: len(top(fresh))] == [
        str(i) for i in range(1, LIMIT + 1)
    ]

    # Nothing leaves on a repeat push: no request is added.
    mark = len(api.log)
    assert window_push(sheet, fresh) == ([], outside)
    assert api.kinds(mark) == {"spreadsheets.get": 1, "spreadsheets.batchUpdate": 1}


def test_rows_leave_even_when_no_cell_changes(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    rows = model_rows(30)
    window_push(sheet, rows, limit=20)
    mark = len(api.log)
    _, outside = window_push(sheet, rows, limit=8)  # a smaller window, the same cells
    assert set(api.people(spreadsheet, "images").by_id()) == top(rows, 8)
    assert outside == 22 and rank_note(api, spreadsheet).startswith("22 of 30")
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,
        "values.batchGet": 2,  # the check right before taking rows out, the ids after it
        "spreadsheets.batchUpdate": 1,
    }


def test_a_row_typed_into_between_the_read_and_the_delete_stays_with_its_cell(
    api, spreadsheet, make_sheet
):
    sheet = make_sheet()
    first = model_rows(40)
    window_push(sheet, first)
    people = api.people(spreadsheet, "images")
    fresh = reordered(first)
    late, quiet, sorted_away = sorted(top(first) - top(fresh))[:3]

    def meanwhile():  # after the push read the sheet, before it writes or deletes anything
        people.type(late, "override", "x")
        people.type(quiet, "note", "look again")
        people.sort("rank", descending=True)  # and rows move: they are found by id

    api.after("spreadsheets.get", meanwhile)
    kept, outside = window_push(sheet, fresh)
    shown = people.by_id()
    assert set(shown) == top(fresh) | {late, quiet}
    assert sorted_away not in shown
    assert (shown[late]["override"], shown[quiet]["note"]) == ("x", "look again")
    assert sorted((k["id"], k["column"], k["current"]) for k in kept) == sorted(
        [(late, "override", "x"), (quiet, "note", "look again")]
    )
    assert outside == 40 - len(shown)
    assert rank_note(api, spreadsheet).startswith(f"{outside} of 40 images are outside")


def test_a_typed_cell_during_the_check_s_write_keeps_its_row(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    first = model_rows(40)
    window_push(sheet, first)
    people = api.people(spreadsheet, "images")
    fresh = reordered(first)
    late = sorted(top(first) - top(fresh))[0]
    # typed after the values went in, right before the check that precedes the delete
    api.after("values.batchUpdate", lambda: people.type(late, "annotator_2", "vi"))
    kept, _ = window_push(sheet, fresh)
    assert people.by_id()[late]["annotator_2"] == "vi"
    assert kept == [{"id": late, "column": "annotator_2", "current": "vi"}]


def test_pull_after_a_shrink_leaves_rows_outside_the_window_as_they_are(
    api, spreadsheet, google_workspace
):
    ws = google_workspace(sheet_rows=12)
    loop.push(ws)
    people = api.people(spreadsheet, "images")
    shown = list(people.by_id())
    voted = shown[-1]  # the 12th by rank: outside the smaller window below
    people.type(voted, "annotator_1", "ii")
    people.type(voted, "annotator_2", "ii")
    toml = ws.root / "sheets-bridge.toml"
    toml.write_text(toml.read_text().replace("sheet_rows = 12", "sheet_rows = 4"))
    ws = Workspace(ws.root)
    assert ws.config.sheet_rows == 4
    before = ws.current.manifest().set_index("id")
    again = loop.push(ws)
    now = set(people.by_id())
    assert now == set(shown[:4]) | {voted}
    assert again.outside == len(before.query("split in ['train', 'val']")) - 5

    pulled = loop.pull(Workspace(ws.root))
    assert (pulled.removed, pulled.moved) == (0, 0)
    after = Workspace(ws.root).current.manifest().set_index("id")
    assert list(after.index) == list(before.index)  # nothing outside the window was removed
    changed = {rid for rid in after.index if after.at[rid, "label"] != before.at[rid, "label"]}
    assert changed <= {voted}
    assert (after["split"] == before["split"]).all()
