"""The review window of a Google sheet: a push writes the first ``sheet_rows`` rows by rank plus the
rows the sheet already holds; pull never loses or removes the rows it does not show."""

from __future__ import annotations

from sheets_bridge import loop
from sheets_bridge.core.cells import SheetTable
from sheets_bridge.loop.window import Window, review_window, window_note, without
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403


def test_the_window_is_the_first_rows_by_rank_plus_every_row_people_typed_in():
    rows = {f"r{i:02d}": {"rank": 20 - i, "subset": "train"} for i in range(20)}  # r19 first
    rows["norank"] = {"rank": "", "subset": "train"}
    header = ("id", "annotator_1", "note", "subset")
    table = SheetTable(
        header,
        (
            {"id": "r00", "annotator_1": "ii", "note": "", "subset": "train"},  # voted: stays
            {"id": "r01", "annotator_1": "", "note": "", "subset": "val"},  # a move: stays
            {"id": "r02", "annotator_1": " ", "note": "", "subset": "Train"},  # untouched: leaves
            {"id": "r18", "annotator_1": "", "note": "", "subset": "train"},  # in the top 3
            {"id": "gone", "annotator_1": "", "note": "", "subset": "train"},  # not in the data
        ),
    )
    window = review_window(rows, table, 3, ("annotator_1", "note"))
    assert list(window.rows) == ["r19", "r18", "r17", "r01", "r00"] and window.outside == 16
    assert window.drop == {"r02": {"annotator_1": " ", "note": "", "subset": "Train"}}
    assert without(table, window.drop).ids == ["r00", "r01", "r18", "gone"]
    assert review_window(rows, table, 0) == Window(rows, 0)  # 0: no window
    assert review_window(rows, SheetTable((), ()), 100) == Window(rows, 0)
    assert window_note(0, 21, 3) == ""
    assert window_note(16, 21, 3).startswith("16 of 21 images are outside")


def test_a_windowed_push_and_pull_keep_every_row_and_say_how_many_are_outside(
    api, spreadsheet, google_workspace
):
    ws = google_workspace(sheet_rows=10)
    total = len(ws.current.manifest().query("split in ['train', 'val']"))
    first = loop.push(ws)
    assert first.outside == total - 10 and f"{total - 10} rows outside" in first.describe()
    people = api.people(spreadsheet, "images")
    shown = people.by_id()
    assert len(shown) == 10
    assert [r["rank"] for r in people.rows()] == [str(i) for i in range(1, 11)]
    state = api.sheet(spreadsheet, "images")
    rank_col = state.grid[0].index("rank")
    assert state.notes[(0, rank_col)].startswith(f"{total - 10} of {total} images are outside")

    # People vote in the window: one relabel, one removal.
    one, two = list(shown)[:2]
    people.type(one, "annotator_1", "ii")
    people.type(one, "annotator_2", "ii")
    people.type(two, "override", "x")
    pulled = loop.pull(Workspace(ws.root))
    assert (pulled.relabelled, pulled.removed) == (1 - (shown[one]["label"] == "ii"), 1)
    after = Workspace(ws.root).current.manifest()
    assert len(after.query("split in ['train', 'val']")) == total - 1  # nothing else lost
    assert two not in set(after["id"])

    # The next push keeps the rows people worked in (the removed one is marked, not dropped) and
    # brings in the next row by rank to keep 10 in the window.
    mark = len(api.log)
    again = loop.push(Workspace(ws.root))
    assert again.gone == [two] and again.appended == 1 and again.outside == total - 1 - 10
    shown = people.by_id()
    assert len(shown) == 11 and shown[one]["annotator_1"] == "ii"
    assert shown[two]["issues"].startswith("not in dataset")
    assert api.kinds(mark)["spreadsheets.get"] == 1
