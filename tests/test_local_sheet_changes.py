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
