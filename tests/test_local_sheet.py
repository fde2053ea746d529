import threading

import pytest

from sheets_bridge.core.errors import SheetError
from sheets_bridge.sheets import Formula, Sheet, SheetWrite
from sheets_bridge.sheets.local import LocalSheet


@pytest.fixture
def sheet(tmp_path):
    s = LocalSheet(tmp_path / "sheet.db")
    s.write(
        SheetWrite(
            ("id", "label", "rank", "annotator_1", "note"),
            appends=[{"id": f"r{i}", "label": "ii", "rank": 10 - i} for i in range(10)],
            sort_by="rank",
            human_columns=("annotator_1", "note"),
        )
    )
    return s


def test_local_sheet_implements_the_protocol(sheet):
    assert isinstance(sheet, Sheet)


def test_rows_are_sorted_by_rank_and_read_back_as_text(sheet):
    table = sheet.read()
    assert table.ids == [f"r{i}" for i in range(9, -1, -1)]
    assert table.rows[0] == {"id": "r9", "label": "ii", "rank": "1", "annotator_1": "", "note": ""}


def test_a_write_may_not_touch_human_columns():
    with pytest.raises(ValueError, match="human columns"):
        SheetWrite(("id", "note"), updates={"r1": {"note": "hi"}}, human_columns=("note",))


def test_values_are_stored_raw_even_when_they_look_like_formulas(sheet):
    sheet.edit([("r1", "note", "=1+1"), ("r2", "note", "+cmd|' /C calc'!A0")])
    rows = sheet.read().by_id()
    assert rows["r1"]["note"] == "=1+1" and rows["r2"]["note"].startswith("+cmd")


def test_formulas_are_kept_as_their_text(sheet):
    sheet.write(SheetWrite(("id", "image"), updates={"r1": {"image": Formula('=IMAGE("u")')}}))
    assert sheet.read().by_id()["r1"]["image"] == '=IMAGE("u")'


def test_edit_logs_who_changed_what_and_skips_unchanged(sheet):
    assert sheet.edit([("r1", "annotator_1", "vii"), ("r2", "annotator_1", "")], author="ana") == 1
    assert sheet.edit([("r1", "annotator_1", "vii")], author="ana") == 0
    log = sheet.edit_log()
    assert [(e["id"], e["column"], e["old"], e["new"], e["author"]) for e in log] == [
        ("r1", "annotator_1", "", "vii", "ana")
    ]


@pytest.mark.parametrize(
    "edit, message", [(("nope", "note", "x"), "no row"), (("r1", "nope", "x"), "no column")]
)
def test_edit_rejects_unknown_rows_and_columns(sheet, edit, message):
    with pytest.raises(SheetError, match=message):
        sheet.edit([edit])


def test_concurrent_cell_edits_from_many_writers_lose_nothing(sheet):
    def writer(n):
        other = LocalSheet(sheet.path)  # its own connection, like a second browser
        for i in range(10):
            other.edit([(f"r{i}", "note" if n % 2 else "annotator_1", f"w{n}-{i}")], author=f"w{n}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = sheet.read().by_id()
    assert all(
        rows[f"r{i}"]["annotator_1"] == f"w0-{i}" and rows[f"r{i}"]["note"] == f"w1-{i}"
        for i in range(10)
    )


def test_appending_an_existing_id_is_refused(sheet):
    with pytest.raises(SheetError, match="already in the sheet"):
        sheet.write(SheetWrite(("id",), appends=[{"id": "r1"}]))
