"""`sheet update --from-csv` is a compare-and-set against the export: only edited cells are
written, cells teammates changed after the export are reported and kept, empty cells clear nothing
they did not hold, bad files are refused whole with the line named; `sheet undo` takes it back."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.errors import CsvError
from sheets_bridge.loop.sheet_csv import BASE, MAX_CELL, render, update_from_csv


@pytest.fixture
def ws(workspace):
    loop.push(workspace)
    workspace.sheet().edit(
        [("train-i-000", "annotator_1", "i"), ("train-i-001", "note", "blurry")], author="bo"
    )
    return workspace


def export(ws) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(render(ws.sheet().read(), "csv", ws.schema))))


def save(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def cli(*args):
    return CliRunner().invoke(main, list(args))


def test_an_old_export_never_erases_what_teammates_changed_after_it(ws, tmp_path):
    rows = export(ws)  # ana exports ...
    ws.sheet().edit(
        [("train-i-000", "annotator_1", "ii"), ("train-i-002", "override", "x")], author="bo"
    )  # ... bo changes two cells afterwards ...
    by_id = {r["id"]: r for r in rows}
    by_id["train-i-000"]["annotator_1"] = "iii"  # ana edited a cell bo changed: conflict
    by_id["train-i-003"]["annotator_2"] = "iv"  # and one nobody touched
    by_id["train-i-001"]["note"] = ""  # ana really cleared this one
    report = update_from_csv(ws.sheet(), ws.schema, save(tmp_path / "e.csv", rows), "ana")
    sheet = ws.sheet().read().by_id()
    assert sheet["train-i-002"]["override"] == "x"  # bo's later cell: not in ana's edits, kept
    assert sheet["train-i-000"]["annotator_1"] == "ii"  # conflict: kept
    assert sheet["train-i-003"]["annotator_2"] == "iv" and sheet["train-i-001"]["note"] == ""
    assert report.changed == 2 and report.conflicts == [
        {
            "id": "train-i-000",
            "column": "annotator_1",
            "expected": "i",
            "current": "ii",
            "value": "iii",
        }
    ]


def test_an_empty_cell_in_a_hand_made_file_clears_nothing(ws, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("id,annotator_1,note\ntrain-i-000,,\ntrain-i-001,,\ntrain-i-002,iv,\n")
    report = update_from_csv(ws.sheet(), ws.schema, path, "ana")
    sheet = ws.sheet().read().by_id()
    assert sheet["train-i-000"]["annotator_1"] == "i" and sheet["train-i-001"]["note"] == "blurry"
    assert report.changed == 1 and sheet["train-i-002"]["annotator_1"] == "iv"


def test_dry_run_shows_every_change_and_conflict_and_applies_nothing(ws, tmp_path):
    rows = export(ws)
    ws.sheet().edit([("train-i-000", "annotator_1", "ii")], author="bo")
    by_id = {r["id"]: r for r in rows}
    by_id["train-i-000"]["annotator_1"] = "iii"
    by_id["train-i-004"]["override"] = "x"
    path = save(tmp_path / "e.csv", rows)
    before = ws.sheet().read()
    out = cli("sheet", "update", "--from-csv", str(path), "-w", str(ws.root), "--dry-run")
    assert out.exit_code == 0, out.output
    assert "would update 1 cell(s)" in out.output
    assert "train-i-004 override: '' -> 'x'" in out.output
    assert "train-i-000 annotator_1: exported 'i', the sheet now holds 'ii'" in out.output
    assert ws.sheet().read() == before


def test_undo_from_the_cli_takes_back_an_import(ws, tmp_path):
    rows = export(ws)
    for r in rows[:3]:
        r["override"] = "x"
    path = save(tmp_path / "e.csv", rows)
    assert (
        "updated 3 cell(s)"
        in cli(
            "sheet", "update", "--from-csv", str(path), "-w", str(ws.root), "--author", "ana"
        ).output
    )
    ws.sheet().edit([(rows[0]["id"], "override", "ii")], author="bo")
    out = cli("sheet", "undo", "-w", str(ws.root), "--author", "ana")
    assert out.exit_code == 0 and "restored 2 cell(s) of ana's last action" in out.output
    assert f"kept {rows[0]['id']} override: changed since to 'ii'" in out.output
    overrides = [ws.sheet().read().by_id()[r["id"]]["override"] for r in rows[:3]]
    assert overrides == ["ii", "", ""]
    again = cli("sheet", "undo", "-w", str(ws.root), "--author", "ana")
    assert again.exit_code == 1 and again.output.count("\n") == 1
    assert "ana has no edit left to undo" in again.output


HEADER = "id,annotator_1,note"
LONG = "a" * (MAX_CELL + 1)


@pytest.mark.parametrize(
    "text, line, message",
    [
        (f"{HEADER}\ntrain-i-002,iv,ok\ntrain-i-003,ii\n", 3, "2 cells where the header has 3"),
        (f"{HEADER}\ntrain-i-002,iv,ok,extra\n", 2, "4 cells where the header has 3"),
        (f'{HEADER}\ntrain-i-002,iv,ok\ntrain-i-003,ii,"open\n', 3, "unclosed quote"),
        (f'{HEADER}\ntrain-i-002,iv,"a"b\n', 2, "not valid CSV"),
        (
            f"{HEADER}\ntrain-i-002,iv,\ntrain-i-003,,\ntrain-i-002,ii,\n",
            4,
            "again (first on line 2)",
        ),
        (f"{HEADER}\ntrain-i-002,iv,{LONG}\n", 2, f"at most {MAX_CELL}"),
        (f"{HEADER},colour\ntrain-i-002,iv,,red\n", 1, "unknown column(s) colour"),
        ("id,note,note\ntrain-i-002,a,b\n", 1, "note appear more than once"),
        ("annotator_1,note\niv,a\n", 1, "needs an 'id' column"),
        ("id,,note\ntrain-i-002,,a\n", 1, "column 2 has no name"),
        (f"{HEADER},{BASE}\ntrain-i-002,iv,,not json\n", 2, f"the {BASE} cell was changed"),
        ("", None, "the file is empty"),
        (f"{HEADER}\ntrain-i-002,iv,a\0b\n", 2, "NUL byte"),
    ],
)
def test_a_bad_file_is_refused_whole_with_its_line_named(ws, tmp_path, text, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    before = ws.sheet().read()
    with pytest.raises(CsvError, match="nothing was applied") as caught:
        update_from_csv(ws.sheet(), ws.schema, path, "ana")
    assert message in str(caught.value) and caught.value.line == line
    out = cli("sheet", "update", "--from-csv", str(path), "-w", str(ws.root))
    assert out.exit_code == 1 and out.output.count("\n") == 1 and "Traceback" not in out.output
    assert message in out.output and ws.sheet().read() == before


def test_a_file_that_is_not_utf8_is_refused_by_name(ws, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("id,note\ntrain-i-002,caf\xe9\n".encode("latin-1"))
    out = cli("sheet", "update", "--from-csv", str(path), "-w", str(ws.root))
    assert out.exit_code == 1 and "not UTF-8" in out.output and "latin.csv" in out.output
