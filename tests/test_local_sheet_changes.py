"""A write to the local sheet touches only rows whose cells or place change (what keeps a repeat
push of a large sheet cheap); a trigger in the real SQLite file counts the rows written."""

from __future__ import annotations

import sqlite3

from sheets_bridge.core.cells import CellChange
from sheets_bridge.core.schema import Schema
from sheets_bridge.loop.sheet_io import pull_table, push_rows
from sheets_bridge.sheets.local import LocalSheet

CLASSES = ("a", "b")


def _rows(n: int) -> dict[str, dict]:
    return {
        f"r{i:03d}": {"label": CLASSES[i % 2], "subset": "train", "confidence": 0.5, "rank": i + 1}
        for i in range(n)
    }


def _count_updates(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE written (id TEXT, what TEXT)")
        db.execute(
            "CREATE TRIGGER w1 AFTER UPDATE OF data ON rows BEGIN"
            " INSERT INTO written VALUES (new.id, 'data'); END"
        )
        db.execute(
            "CREATE TRIGGER w2 AFTER UPDATE OF position ON rows BEGIN"
            " INSERT INTO written VALUES (new.id, 'position'); END"
        )


def _written(path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        out = sorted(db.execute("SELECT id, what FROM written"))
        db.execute("DELETE FROM written")
    return out


def test_a_repeat_push_writes_only_rows_whose_cells_or_rank_changed(tmp_path):
    sheet, rows, schema = LocalSheet(tmp_path / "sheet.db"), _rows(30), Schema()
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    push_rows(sheet, rows, schema, "v0001", CLASSES)  # settles the stored form once
    _count_updates(sheet.path)
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    assert _written(sheet.path) == []
    rows["r005"]["confidence"] = 0.9
    rows["r010"]["rank"], rows["r020"]["rank"] = rows["r020"]["rank"], rows["r010"]["rank"]
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    assert _written(sheet.path) == [
        ("r005", "data"),
        ("r010", "data"),
        ("r010", "position"),
        ("r020", "data"),
        ("r020", "position"),
    ]
    order = [r["id"] for r in sheet.read().rows]
    assert order.index("r020") == 10 and order.index("r010") == 20


def test_pull_reads_rows_people_worked_on_and_a_move_they_typed(tmp_path):
    sheet, rows, schema = LocalSheet(tmp_path / "sheet.db"), _rows(30), Schema()
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    assert pull_table(sheet, schema).rows == ()
    sheet.compare_and_set(
        [
            CellChange("r003", "annotator_1", "b", expected=""),
            CellChange("r004", "subset", "val", expected="train"),
        ],
        "ana",
    )
    sheet.write(_bridge(sheet, "r007"))  # a decision an earlier pull wrote
    assert sorted(r["id"] for r in pull_table(sheet, schema).rows) == ["r003", "r004", "r007"]
    # a move typed and typed back is still read (its row may need its status cleared)
    sheet.compare_and_set([CellChange("r004", "subset", "train", expected="val")], "ana")
    assert "r004" in {r["id"] for r in pull_table(sheet, schema).rows}


def _bridge(sheet: LocalSheet, rid: str):
    from sheets_bridge.core.cells import SheetWrite

    return SheetWrite(sheet.header(), {rid: {"status": "relabelled"}})


def test_a_row_changed_since_the_last_push_is_compared_again(tmp_path):
    """The push skips rows by the fingerprint of what it last wrote; any other change to a row
    (a model cell set by a script, a typed subset) makes the next push look at that row again."""
    sheet, rows, schema = LocalSheet(tmp_path / "sheet.db"), _rows(10), Schema()
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    sheet.edit([("r001", "confidence", "0.99"), ("r002", "subset", "nonsense")], author="bot")
    sheet.edit([("r003", "subset", "val"), ("r004", "annotator_1", "b")], author="ana")
    plan, _, _ = push_rows(sheet, rows, schema, "v0001", CLASSES)
    after = sheet.read().by_id()
    assert after["r001"]["confidence"] == "0.5"  # the model's cell is back
    assert after["r002"]["subset"] == "train"  # not a split: the model's value is back
    assert after["r003"]["subset"] == "val"  # a pending move stays until pull applies it
    assert after["r004"]["annotator_1"] == "b"
    assert plan.updated == 10 and plan.appended == 0
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    assert sheet.read().by_id()["r003"]["subset"] == "val"


def test_a_cell_typed_during_a_push_that_skips_rows_is_kept(tmp_path):
    sheet, rows, schema = LocalSheet(tmp_path / "sheet.db"), _rows(10), Schema()
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    rows["r001"]["confidence"] = 0.7  # r001 is written by the next push, r002 is skipped

    def person() -> None:  # between the push's read and its write, on its own connection
        LocalSheet(sheet.path).edit(
            [("r001", "subset", "val"), ("r002", "subset", "junk"), ("r002", "note", "hi")], "ana"
        )

    _, kept, _ = push_rows(sheet, rows, schema, "v0001", CLASSES, on_write=person)
    assert kept == [{"id": "r001", "column": "subset", "current": "val"}]
    after = sheet.read().by_id()
    assert (after["r001"]["subset"], after["r001"]["confidence"]) == ("val", "0.7")
    assert (after["r002"]["subset"], after["r002"]["note"]) == ("junk", "hi")
    push_rows(sheet, rows, schema, "v0001", CLASSES)  # the next push looks at both again
    after = sheet.read().by_id()
    assert (after["r001"]["subset"], after["r002"]["subset"]) == ("val", "train")
    assert after["r002"]["note"] == "hi"


def test_rows_gone_or_deleted_are_handled_by_a_push_that_skips_rows(tmp_path):
    sheet, rows, schema = LocalSheet(tmp_path / "sheet.db"), _rows(6), Schema()
    push_rows(sheet, rows, schema, "v0001", CLASSES)
    sheet.delete_rows(["r002"])
    del rows["r005"]
    plan, _, _ = push_rows(sheet, rows, schema, "v0002", CLASSES)
    assert (plan.appended, plan.updated, plan.gone) == (1, 4, ["r005"])
    after = sheet.read().by_id()
    assert "r002" in after and after["r005"]["issues"] == "not in dataset v0002"
    plan, _, _ = push_rows(sheet, rows, schema, "v0002", CLASSES)
    assert plan.gone == ["r005"]  # still reported, though its row is not written again
    assert [r["id"] for r in sheet.read().rows] == [*sorted(rows), "r005"]


def test_a_sheet_from_before_push_fingerprints_gets_them(tmp_path):
    path = tmp_path / "sheet.db"
    with sqlite3.connect(path) as db:  # the tables as an older version made them
        db.executescript(
            "CREATE TABLE header (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
            "CREATE TABLE rows (id TEXT PRIMARY KEY, position REAL NOT NULL,"
            " data TEXT NOT NULL DEFAULT '{}');"
            "INSERT INTO header VALUES (0, 'id'), (1, 'label');"
            "INSERT INTO rows VALUES ('r000', 1, '{\"label\": \"b\"}');"
        )
    sheet, rows = LocalSheet(path), _rows(3)
    assert sheet.push_state() == {"r000": None}
    push_rows(sheet, rows, Schema(), "v0001", CLASSES)
    assert sheet.read().by_id()["r000"]["label"] == "a"
    assert None not in sheet.push_state().values()
