"""Every human write is a compare-and-set: conflicts are reported and left alone, actions undo,
note appends are atomic, and a push never overwrites what a person types while it runs."""

import threading

import pytest

from sheets_bridge import loop
from sheets_bridge.core.errors import SheetError
from sheets_bridge.sheets import CellChange, EditLog, Sheet, SheetWrite
from sheets_bridge.sheets.local import LocalSheet


@pytest.fixture
def sheet(tmp_path):
    s = LocalSheet(tmp_path / "sheet.db")
    s.write(
        SheetWrite(
            ("id", "label", "subset", "annotator_1", "override", "note"),
            appends=[{"id": f"r{i}", "label": "ii", "subset": "train"} for i in range(5)],
        )
    )
    return s


def test_the_local_sheet_keeps_an_edit_log_behind_a_named_interface(sheet):
    assert isinstance(sheet, Sheet) and isinstance(sheet, EditLog)


def test_a_cell_changed_since_the_writer_looked_is_a_conflict_and_keeps_its_value(sheet):
    sheet.edit([("r1", "override", "iii")], author="bo")
    result = sheet.compare_and_set(
        [
            CellChange("r1", "override", "x", expected=""),  # ana saw it empty: bo typed since
            CellChange("r2", "override", "x", expected=""),
        ],
        author="ana",
    )
    assert result.conflicts == [
        {"id": "r1", "column": "override", "expected": "", "current": "iii", "value": "x"}
    ]
    assert [a["id"] for a in result.applied] == ["r2"]
    rows = sheet.read().by_id()
    assert rows["r1"]["override"] == "iii" and rows["r2"]["override"] == "x"
    log = sheet.edit_log()
    assert log[-1]["author"] == "ana" and log[-1]["action"] == result.action


def test_only_cells_that_differ_are_written_and_a_same_value_is_no_conflict(sheet):
    sheet.edit([("r1", "note", "blurry")])
    result = sheet.compare_and_set(
        [CellChange("r1", "note", "blurry", expected=""), CellChange("r2", "note", "", expected="")]
    )
    assert result.changed == 0 and result.conflicts == []


def test_an_unknown_cell_applies_nothing(sheet):
    with pytest.raises(SheetError, match="no row"):
        sheet.compare_and_set([CellChange("r1", "note", "a"), CellChange("nope", "note", "b")])
    assert sheet.read().by_id()["r1"]["note"] == ""


def test_a_dry_run_reports_without_writing(sheet):
    result = sheet.compare_and_set([CellChange("r1", "note", "a", expected="")], dry_run=True)
    assert result.changed == 1 and sheet.read().by_id()["r1"]["note"] == ""
    assert sheet.edit_log() == []


def test_keep_typed_never_replaces_a_value_someone_typed(sheet):
    sheet.edit([("r1", "override", "iii")], author="bo")
    result = sheet.compare_and_set(
        [CellChange(f"r{i}", "override", "x") for i in range(3)], "ana", keep_typed=("override",)
    )
    assert [k["id"] for k in result.kept] == ["r1"] and result.changed == 2
    assert sheet.read().by_id()["r1"]["override"] == "iii"


def test_undo_takes_back_a_persons_last_action_and_reports_cells_changed_since(sheet):
    first = sheet.compare_and_set([CellChange("r0", "override", "x")], "ana")
    second = sheet.compare_and_set([CellChange(f"r{i}", "override", "x") for i in (1, 2, 3)], "ana")
    sheet.edit([("r3", "override", "iv")], author="bo")  # bo changes one cell of ana's action
    undone = sheet.undo("ana")
    assert [a["id"] for a in undone.applied] == ["r1", "r2"]
    assert undone.conflicts[0]["id"] == "r3" and undone.conflicts[0]["current"] == "iv"
    rows = sheet.read().by_id()
    assert [rows[f"r{i}"]["override"] for i in range(4)] == ["x", "", "", "iv"]
    assert sheet.edit_log()[-1]["undoes"] == second.action
    again = sheet.undo("ana")  # the next undo goes one action further back
    assert [a["id"] for a in again.applied] == ["r0"] and first.action
    with pytest.raises(SheetError, match="ana has no edit left to undo"):
        sheet.undo("ana")
    assert sheet.read().by_id()["r3"]["override"] == "iv"


def test_concurrent_note_appends_keep_every_note(sheet):
    barrier = threading.Barrier(10)

    def writer(n):
        own = LocalSheet(sheet.path)
        barrier.wait()
        for k in range(5):
            own.compare_and_set([CellChange("r0", "note", f"w{n}-{k}", append=True)], f"w{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    notes = sheet.read().by_id()["r0"]["note"].split("; ")
    assert sorted(notes) == sorted(f"w{n}-{k}" for n in range(10) for k in range(5))


class EditsWhileRead(LocalSheet):
    """A local sheet whose read lets a person (another thread, own connection) type right after
    the push has read: the moment between the push's read and its write."""

    def __init__(self, path, edits):
        super().__init__(path)
        self.edits = edits

    def read(self):
        table = super().read()
        if self.edits:
            edits, self.edits = self.edits, None
            person = threading.Thread(
                target=lambda: LocalSheet(self.path).edit(edits, author="ana")
            )
            person.start()
            person.join()
        return table


def test_push_never_overwrites_a_subset_move_typed_while_it_runs(workspace):
    loop.push(workspace)
    rid = "train-ii-000"
    typed = [(rid, "subset", "val"), (rid, "annotator_1", "iii"), (rid, "note", "moved")]
    report = loop.push(workspace, sheet=EditsWhileRead(workspace.sheet_path, typed))
    row = workspace.sheet().read().by_id()[rid]
    assert (row["subset"], row["annotator_1"], row["note"]) == ("val", "iii", "moved")
    assert report.kept == [{"id": rid, "column": "subset", "current": "val"}]
    assert "typed during the push kept" in report.describe()
