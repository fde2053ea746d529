"""Registering datasets: folders, CSV manifests and every kind of bad input, reported by name."""

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.errors import DatasetError, WorkspaceError
from sheets_bridge.store.workspace import Workspace

from .conftest import make_image_folder


def test_init_registers_v0001_with_stable_ids_and_copies_images(image_folder, tmp_path):
    ws = loop.init(image_folder, tmp_path / "ws")
    m = ws.current.manifest()
    assert ws.current.name == "v0001" and len(m) == 4 * 10
    assert set(m["split"]) == {"train", "val", "label_book"} and ws.classes == (
        "i",
        "ii",
        "iii",
        "iv",
    )
    assert "train-ii-003" in set(m["id"]) and (m["origin"] == "source").all()
    assert all((ws.root / p).exists() for p in m["path"])
    again = loop.init(image_folder, tmp_path / "ws2").current.manifest()
    assert list(again["id"]) == list(m["id"])  # stable across re-runs


def test_unreadable_png_empty_class_and_unknown_split_are_all_reported_by_name(
    image_folder, tmp_path
):
    (image_folder / "train" / "ii" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (image_folder / "train" / "vii").mkdir()
    (image_folder / "holdout" / "i").mkdir(parents=True)
    with pytest.raises(DatasetError) as err:
        loop.init(image_folder, tmp_path / "ws")
    text = str(err.value)
    assert "train/ii/broken.png: unreadable image" in text
    assert "train/vii/: empty class folder" in text
    assert "unknown split 'holdout'" in text
    assert not (tmp_path / "ws").exists()  # nothing left behind


def test_truncated_png_is_reported(image_folder, tmp_path):
    good = image_folder / "train" / "i" / "train-i-000.png"
    good.write_bytes(good.read_bytes()[:60])
    with pytest.raises(DatasetError, match="train-i-000.png: unreadable image"):
        loop.init(image_folder, tmp_path / "ws")


def test_csv_manifest_with_messy_labels_is_normalised(image_folder, tmp_path):
    files = sorted((image_folder / "train").rglob("*.png"))[:8]
    labels = ["VII", " vii ", "7", "ii", "II", "2", "ii", "vii"]
    rows = [(str(f), lab, "train") for f, lab in zip(files, labels, strict=True)]
    rows += [(str(f), "ii", "val") for f in sorted((image_folder / "val").rglob("*.png"))[:2]]
    csv = tmp_path / "m.csv"
    pd.DataFrame(rows, columns=["path", "label", "split"]).to_csv(csv, index=False)
    ws = loop.init(csv, tmp_path / "ws")
    assert ws.classes == ("ii", "vii")
    assert sorted(ws.current.manifest()["label"].value_counts().items()) == [("ii", 6), ("vii", 4)]


@pytest.mark.parametrize(
    "columns, message",
    [
        (["path", "label", "split", "extra"], "unknown: ['extra']"),
        (["path", "label"], "missing: ['split']"),
    ],
)
def test_csv_with_unknown_or_missing_columns_is_refused(tmp_path, columns, message):
    csv = tmp_path / "m.csv"
    csv.write_text(",".join(columns) + "\n")
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        loop.init(csv, tmp_path / "ws")


def test_csv_with_formula_like_or_unknown_labels_names_them(image_folder, tmp_path):
    files = sorted((image_folder / "train").rglob("*.png"))[:3]
    csv = tmp_path / "m.csv"
    pd.DataFrame(
        [
            (str(files[0]), "=1+1", "train"),
            (str(files[1]), "cat", "train"),
            (str(files[2]), "dog", "tran"),
        ],
        columns=["path", "label", "split"],
    ).to_csv(csv, index=False)
    with pytest.raises(DatasetError) as err:
        loop.init(csv, tmp_path / "ws")
    assert "invalid label '=1+1'" in str(err.value) and "unknown split 'tran'" in str(err.value)


def test_init_refuses_an_existing_workspace_or_a_non_empty_folder(image_folder, tmp_path):
    loop.init(image_folder, tmp_path / "ws")
    with pytest.raises(WorkspaceError, match="already a workspace"):
        loop.init(image_folder, tmp_path / "ws")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file.txt").write_text("mine")
    with pytest.raises(WorkspaceError, match="not empty"):
        loop.init(image_folder, tmp_path / "busy")


def test_cli_init_prints_counts_and_errors_without_traceback(tmp_path):
    data = make_image_folder(tmp_path / "d", {"train": 2, "val": 1})
    runner = CliRunner()
    ok = runner.invoke(main, ["init", str(data), "-w", str(tmp_path / "ws")])
    assert ok.exit_code == 0, ok.output
    assert "registered 12 images (train 8, val 4)" in ok.output
    (data / "train" / "i" / "bad.png").write_text("nope")
    bad = runner.invoke(main, ["init", str(data), "-w", str(tmp_path / "ws2")])
    assert bad.exit_code == 1 and "train/i/bad.png: unreadable image" in bad.output
    assert "Traceback" not in bad.output


def test_workspace_cleans_up_half_written_versions(image_folder, tmp_path):
    ws = loop.init(image_folder, tmp_path / "ws")
    (ws.versions_dir / ".v0002-abc").mkdir()
    (ws.versions_dir / ".v0002-abc" / "manifest.csv").write_text("id\n")
    again = Workspace(ws.root)
    assert [v.name for v in again.versions()] == ["v0001"] and not (
        ws.versions_dir / ".v0002-abc"
    ).exists()
