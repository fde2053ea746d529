"""A person who sorts or inserts rows in the one request between the push's last read and its
delete makes the delete (by position: Google has no other) hit other rows. The push reads the ids
once after deleting, puts back every row that was to stay (model cells from the push, human cells
from its last read), and says so; no human cell is lost. The server's hooks act in that exact gap:
after the check's ``values:batchGet``, before the ``batchUpdate`` that deletes."""

from __future__ import annotations

from sheets_bridge import loop
from sheets_bridge.loop.sheet_io import push_rows
from sheets_bridge.store.workspace import Workspace
from tests.conftest_google import *  # noqa: F403
from tests.conftest_google import CLASSES, SCHEMA, model_rows

LIMIT = 10


def window_push(sheet, rows, limit=LIMIT):
    _, kept, outside = push_rows(sheet, rows, SCHEMA, "v0001", CLASSES, limit=limit)
    return kept, outside


def reranked(rows, new_rank):
    return {rid: {**cells, "rank": new_rank(cells["rank"])} for rid, cells in rows.items()}


def by_rank(rows, ranks) -> list[str]:
    return sorted(rid for rid, cells in rows.items() if cells["rank"] in ranks)


def top(rows, n=LIMIT) -> set[str]:
    return {rid for rid, cells in rows.items() if cells["rank"] <= n}


def rows_of(kept, what):
    return sorted(k["id"] for k in kept if k.get("row") == what)


def assert_sorted_by_rank(people):
    ranks = [float(r["rank"]) for r in people.rows() if r.get("id")]
    assert ranks == sorted(ranks)
    assert all(r.get("id") for r in people.rows())  # no blank rows in the middle


def test_a_sort_right_before_the_delete_loses_no_row(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    first = model_rows(40)
    window_push(sheet, first)
    people = api.people(spreadsheet, "images")
    # The next round: the first window's ranks 1-5 leave, its 6-10 become 1-5.
    fresh = reranked(first, lambda r: r + 35 if r <= 5 else r - 5)
    leaving = set(by_rank(first, range(1, 6)))
    voted, moved = by_rank(first, [6, 7])  # fresh ranks 1 and 2
    people.type(voted, "annotator_1", "iv")
    people.type(voted, "note", "check the tail")
    moving_to = "val" if first[moved]["subset"] == "train" else "train"
    people.type(moved, "subset", moving_to)
    # Sorted by rank right before the delete: the rows with fresh ranks 1 and 2 (the typed ones)
    # sort next to the stale ranks 1 and 2 of the rows leaving, into the positions to delete.
    api.after("values.batchGet", lambda: people.sort("rank"))
    mark = len(api.log)
    kept, outside = window_push(sheet, fresh)

    shown = people.by_id()
    assert top(fresh) <= set(shown)  # every row that was to stay is there
    assert set(shown) - top(fresh) <= leaving
    assert (shown[voted]["annotator_1"], shown[voted]["note"]) == ("iv", "check the tail")
    assert shown[moved]["subset"] == moving_to
    assert shown[voted]["label_quality"] == str(fresh[voted]["label_quality"])
    assert shown[voted]["url"] == fresh[voted]["url"]
    assert people.stored(voted, "image").text == fresh[voted]["image"]  # a formula again
    restored = rows_of(kept, "restored")
    assert {voted, moved} <= set(restored)  # the delete hit them, and the push says so
    assert set(rows_of(kept, "stayed")) == set(shown) - top(fresh)
    assert outside == 40 - len(shown)
    assert_sorted_by_rank(people)
    # one read, values, check, batch, the read after the delete, the batch that puts rows back
    assert api.kinds(mark) == {
        "spreadsheets.get": 1,
        "values.batchUpdate": 1,
        "values.batchGet": 2,
        "spreadsheets.batchUpdate": 2,
    }

    kept, outside = window_push(sheet, fresh)  # a quiet push takes out what stayed
    assert set(people.by_id()) == top(fresh) and kept == [] and outside == 30
    assert people.by_id()[voted]["annotator_1"] == "iv"


def test_rows_inserted_right_before_the_delete_lose_no_row(api, spreadsheet, make_sheet):
    sheet = make_sheet()
    first = model_rows(40)
    window_push(sheet, first)
    people = api.people(spreadsheet, "images")
    # The first window's ranks 6-10 leave (sheet rows 7-11); 1-5 stay at sheet rows 2-6.
    fresh = reranked(first, lambda r: r if r <= 5 else r + 30 if r <= 10 else r - 5)
    leaving = set(by_rank(first, range(6, 11)))
    staying = by_rank(first, range(1, 6))
    for rid in staying:
        people.type(rid, "annotator_2", "ii")
    # five blank rows above: the rows that stay now sit where the delete strikes
    api.after("values.batchGet", lambda: people.insert_rows(2, 5))
    kept, outside = window_push(sheet, fresh)

    shown = people.by_id()
    assert set(shown) == top(fresh) | leaving  # the rows that were to leave were not hit
    assert all(shown[rid]["annotator_2"] == "ii" for rid in staying)
    assert rows_of(kept, "restored") == staying
    assert set(rows_of(kept, "stayed")) == leaving
    assert outside == 40 - len(shown)
    assert_sorted_by_rank(people)
    assert len(people.rows()) == len(shown)  # the blank rows people inserted went to the end


def test_the_push_report_names_the_rows_put_back(api, spreadsheet, google_workspace):
    ws = google_workspace(sheet_rows=12)
    loop.push(ws)
    people = api.people(spreadsheet, "images")
    shown = list(people.by_id())
    people.type(shown[0], "annotator_1", "iii")
    toml = ws.root / "sheets-bridge.toml"
    toml.write_text(toml.read_text().replace("sheet_rows = 12", "sheet_rows = 4"))
    # the 4 rows that stay move down onto the rows the delete strikes
    api.after("values.batchGet", lambda: people.insert_rows(2, 4))
    report = loop.push(Workspace(ws.root))
    now = people.by_id()
    assert set(shown[:4]) <= set(now)
    assert now[shown[0]]["annotator_1"] == "iii"
    assert sorted(report.restored) == sorted(shown[:4])
    text = report.describe()
    assert "warning: rows were sorted, inserted or deleted" in text
    assert all(rid in text for rid in shown[:4])
    assert "cell(s) typed during the push kept" not in text
