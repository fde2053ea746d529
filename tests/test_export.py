"""export: a version in layouts other tools read, checked by loading it back."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge.cli import main
from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.loop.export import export, safe_part


def test_folder_export_is_an_image_folder_tree(workspace, tmp_path):
    from torchvision.datasets import ImageFolder

    report = export(workspace, "v0001", tmp_path / "out", format="folder")
    train = ImageFolder(str(tmp_path / "out" / "train"))
    assert len(train) == 6 * len(workspace.classes)
    assert sorted(train.classes) == sorted(workspace.classes)
    assert report.images == len(workspace.current.manifest())


def test_csv_export_registers_again_as_the_same_dataset(workspace, tmp_path):
    from sheets_bridge import loop

    export(workspace, "v0001", tmp_path / "out", format="csv")
    table = pd.read_csv(tmp_path / "out" / "manifest.csv", keep_default_na=False)
    assert list(table.columns) == ["path", "label", "split"]
    details = pd.read_csv(tmp_path / "out" / "details.csv", keep_default_na=False)
    assert {"path", "id", "reasons", "version"} <= set(details.columns)
    again = loop.init(tmp_path / "out" / "manifest.csv", tmp_path / "ws2")
    a = workspace.current.manifest().sort_values("sha256")
    b = again.current.manifest().sort_values("sha256")
    assert list(a["label"]) == list(b["label"]) and list(a["split"]) == list(b["split"])


def test_hf_export_loads_with_the_datasets_library(workspace, tmp_path):
    datasets = pytest.importorskip("datasets")
    report = export(workspace, "v0001", tmp_path / "hf", format="hf")
    assert report.skipped == len(workspace.classes)  # the label book stays out
    ds = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "hf"))
    assert set(ds) == {"train", "validation"}
    assert len(ds["train"]) == 6 * len(workspace.classes)
    row = ds["validation"][0]
    assert row["version"] == "v0001" and row["image"].size[0] > 0
    assert {"id", "reasons", "label"} <= set(ds["train"].column_names)


def test_fiftyone_export_follows_its_classification_layout(workspace, tmp_path):
    export(workspace, "v0001", tmp_path / "fo", format="fiftyone")
    labels = json.loads((tmp_path / "fo" / "labels.json").read_text())
    files = sorted(p.stem for p in (tmp_path / "fo" / "data").iterdir())
    assert sorted(labels["labels"]) == files and labels["classes"] == list(workspace.classes)
    m = workspace.current.manifest().set_index("id")
    assert all(labels["classes"][k] == m.at[i, "label"] for i, k in labels["labels"].items())


@pytest.mark.parametrize("bad", ["../../x", "/etc", "a/b", "..", "a\\b", ""])
def test_names_that_would_leave_the_folder_are_refused(bad):
    with pytest.raises(WorkspaceError, match="not usable"):
        safe_part(bad, "label")


def test_the_command_refuses_a_folder_that_is_not_empty(workspace, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(
        main,
        ["export", "-w", str(workspace.root), "v0001", str(tmp_path / "full"), "--format", "csv"],
    )
    assert result.exit_code == 1 and "is not empty" in result.output
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
