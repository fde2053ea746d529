"""Push and pull on the local sheet, without a model: the merge rules that keep people's work safe."""

import pandas as pd
import pytest

from sheets_bridge import loop
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.rows import plan_push
from sheets_bridge.loop.sheet_csv import render, update_from_csv
from sheets_bridge.sheets import SheetWrite
from sheets_bridge.sheets.local import LocalSheet
from sheets_bridge.store.workspace import Workspace


def edit_csv(tmp_path, rows, name="edits.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_push_writes_one_row_per_train_and_val_image_with_the_schema(workspace):
    report = loop.push(workspace)
    table = workspace.sheet().read()
    assert report.appended == 36 and report.rows == 36  # label_book stays out of the sheet
    assert table.header == workspace.schema.columns
    row = table.by_id()["train-ii-000"]
    assert row["label"] == "ii" and row["subset"] == "train"
    assert row["image"] == '=IMAGE("/images/train-ii-000")'  # works on any port
    assert sorted(int(r["rank"]) for r in table.rows) == list(range(1, 37))


def test_push_never_overwrites_annotator_cells_and_survives_sorting_and_deletes(
    workspace, tmp_path
):
    loop.push(workspace)
    sheet: LocalSheet = workspace.sheet()
    sheet.edit(
        [
            ("train-i-000", "annotator_1", "ii"),
            ("train-i-000", "note", "=HYPERLINK(1)"),
            ("val-iv-001", "override", "x"),
            ("val-iv-001", "subset", "train"),
        ],
        author="ana",
    )
    sheet.move_row("train-i-000", -5)  # a person moved it to the top
    sheet.delete_rows(["train-iii-002"])  # and deleted another row
    report = loop.push(workspace)
    rows = sheet.read().by_id()
    assert report.appended == 1 and "train-iii-002" in rows
    assert (
        rows["train-i-000"]["annotator_1"] == "ii"
        and rows["train-i-000"]["note"] == "=HYPERLINK(1)"
    )
    assert rows["val-iv-001"]["override"] == "x"
    assert rows["val-iv-001"]["subset"] == "train"  # a pending move typed by a person is kept


def test_rows_whose_image_left_the_dataset_are_marked_and_keep_human_cells(workspace, tmp_path):
    loop.push(workspace)
    workspace.sheet().edit([("train-ii-001", "override", "x"), ("train-ii-001", "note", "blurry")])
    pull = loop.pull(workspace)
    assert pull.version == "v0002" and pull.removed == 1
    ws = Workspace(workspace.root)
    loop.push(ws)
    row = ws.sheet().read().by_id()["train-ii-001"]
    assert row["issues"] == "not in dataset v0002" and row["rank"] == "" and row["note"] == "blurry"


def test_pull_applies_override_majority_moves_and_reports_invalid_cells(workspace, tmp_path):
    loop.push(workspace)
    csv = edit_csv(
        tmp_path,
        [
            {"id": "train-i-000", "annotator_1": "II", "annotator_2": "2", "override": ""},
            {"id": "train-i-001", "annotator_1": "iii", "annotator_2": "ii", "override": ""},
            {"id": "train-ii-000", "annotator_1": "vij", "annotator_2": "", "override": "=1+1"},
            {"id": "train-iv-000", "annotator_1": "", "annotator_2": "", "override": " IV "},
            {"id": "val-iii-000", "annotator_1": "x", "annotator_2": "remove", "override": ""},
        ],
    )
    update_from_csv(workspace.sheet(), workspace.schema, csv, author="ana")
    workspace.sheet().edit([("val-i-000", "subset", "train"), ("val-i-001", "subset", "tran")])
    report = loop.pull(workspace)
    assert (report.relabelled, report.removed, report.moved, report.conflicts) == (1, 1, 1, 1)
    assert len(report.invalid) == 3 and any("'vij'" in i for i in report.invalid)
    ws = Workspace(workspace.root)
    assert (
        ws.current.name == "v0002" and ws.version("v0001").manifest().shape[0] == 40
    )  # old version intact
    m = ws.current.manifest().set_index("id")
    assert m.at["train-i-000", "label"] == "ii" and "val-iii-000" not in m.index
    assert m.at["val-i-000", "split"] == "train" and m.at["val-i-001", "split"] == "val"
    assert m.at["train-ii-000", "label"] == "ii"  # invalid cells never applied
    changes = ws.current.changes()
    assert set(zip(changes["id"], changes["field"], changes["source"], strict=True)) == {
        ("train-i-000", "label", "annotator_1,annotator_2"),
        ("val-iii-000", "removed", "annotator_1,annotator_2"),
        ("val-i-000", "split", "subset"),
    }
    rows = ws.sheet().read().by_id()
    assert rows["train-i-000"]["consensus"] == "ii" and rows["train-i-000"]["agreement"] == "1"
    assert (
        rows["train-i-000"]["status"].startswith("relabel -> ii")
        and "[in v0002]" in rows["train-i-000"]["status"]
    )
    assert rows["train-i-001"]["status"].startswith("conflict")
    assert "invalid annotator_1: unknown label 'vij'" in rows["train-ii-000"]["status"]
    assert rows["train-iv-000"]["status"] == "ok: label confirmed"
    again = loop.pull(ws)  # nothing new typed: idempotent
    assert again.version is None and Workspace(ws.root).current.name == "v0002"


def test_sheet_update_reports_unknown_ids_and_ignores_model_columns(workspace, tmp_path):
    loop.push(workspace)
    csv = edit_csv(
        tmp_path,
        [
            {"id": "train-i-000", "annotator_2": "i", "label": "iv"},
            {"id": "ghost", "annotator_2": "i", "label": ""},
        ],
    )
    report = update_from_csv(workspace.sheet(), workspace.schema, csv)
    assert (report.changed, report.rows) == (1, 1)
    assert report.unknown_ids == ["ghost"] and report.ignored_columns == ["label"]
    assert workspace.sheet().read().by_id()["train-i-000"]["label"] == "i"


def test_sheet_show_round_trips_through_update(workspace, tmp_path):
    loop.push(workspace)
    workspace.sheet().edit([("train-i-002", "note", 'has "quotes", commas\nand a newline')])
    exported = tmp_path / "sheet.csv"
    exported.write_text(render(workspace.sheet().read(), "csv"))
    report = update_from_csv(workspace.sheet(), workspace.schema, exported)
    assert report.changed == 0 and not report.unknown_ids
    assert (
        workspace.sheet().read().by_id()["train-i-002"]["note"]
        == 'has "quotes", commas\nand a newline'
    )


def test_push_stops_on_duplicate_ids_and_names_them(workspace):
    loop.push(workspace)
    table = workspace.sheet().read()
    pasted_twice = type(table)(table.header, table.rows + (dict(table.rows[3]),))
    with pytest.raises(SheetError, match=table.rows[3]["id"]):
        plan_push(pasted_twice, {}, workspace.schema, "v0001", ())


def test_push_refuses_a_sheet_without_an_id_column(workspace):
    sheet = workspace.sheet()
    sheet.write(SheetWrite(("name", "label")))
    with pytest.raises(SheetError, match="no 'id' column"):
        loop.push(workspace)
