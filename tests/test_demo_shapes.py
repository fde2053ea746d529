"""The RGB shapes demo through the CLI: make the data, init with a backbone preset (timm's tiny
``test_resnet`` with RANDOM weights: nothing downloads), train, push, and find the planted junk's
quality issues in the sheet."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from sheets_bridge.cli import main
from sheets_bridge.loop.demo_shapes import SHAPE_CLASSES, SIZE


def _ok(runner: CliRunner, args: list[str]) -> str:
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_make_demo_data_shapes_writes_rgb_images_and_ground_truth(tmp_path):
    root = tmp_path / "shapes"
    out = _ok(CliRunner(), ["make-demo-data", str(root), "--kind", "shapes", "--images", "100"])
    assert "100 images" in out and "junk" in out
    truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False, dtype=str)
    assert len(truth) == 100 and truth["id"].is_unique
    assert set(truth["given_label"]) == set(SHAPE_CLASSES)
    assert {"wrong_label", "junk", "near_duplicate"} <= set(truth["problem"])
    wrong = truth[truth["problem"] == "wrong_label"]
    assert (wrong["given_label"] != wrong["true_label"]).all()
    dups = truth[truth["problem"] == "near_duplicate"]
    assert set(dups["duplicate_of"]) <= set(truth["id"])
    assert (truth.loc[truth["split"] == "label_book", "problem"] == "").all()
    for r in truth.itertuples():
        with Image.open(root / r.split / r.given_label / f"{r.id}.png") as im:
            assert im.mode == "RGB"
            if r.style != "junk-strip":
                assert im.size == (SIZE, SIZE)
    # same seed, same bytes
    again = tmp_path / "again"
    _ok(CliRunner(), ["make-demo-data", str(again), "--kind", "shapes", "--images", "100"])
    first = sorted(p.read_bytes() for p in root.rglob("*.png"))
    assert first == sorted(p.read_bytes() for p in again.rglob("*.png"))


@pytest.mark.slow
def test_shapes_demo_trains_with_a_backbone_preset_and_pushes_issues(tmp_path):
    pytest.importorskip("timm")
    runner = CliRunner()
    data, ws = tmp_path / "shapes", tmp_path / "ws"
    _ok(runner, ["make-demo-data", str(data), "--kind", "shapes", "--images", "120"])
    _ok(runner, ["init", str(data), "-w", str(ws), "--preset", "probe-test_resnet@64"])
    toml = ws / "sheets-bridge.toml"
    text = toml.read_text()
    assert 'weights = ""' in text
    toml.write_text(text.replace('weights = ""', 'weights = "random"'))
    out = _ok(runner, ["train", "-w", str(ws), "--no-progress"])
    assert "out-of-fold accuracy" in out
    _ok(runner, ["push", "-w", str(ws)])
    rows = json.loads(_ok(runner, ["sheet", "show", "--format", "json", "-w", str(ws)]))
    rows = rows["rows"] if isinstance(rows, dict) else rows
    issues = {r["id"]: r["issues"] for r in rows}
    truth = pd.read_csv(data / "ground_truth.csv", keep_default_na=False, dtype=str)
    pool = truth[truth["split"] != "label_book"]
    assert set(issues) == set(pool["id"])
    dark = pool.loc[pool["style"] == "junk-dark", "id"]
    assert len(dark) and all("very dark" in issues[i] for i in dark)
    emb = np.load(next((ws / "runs").glob("*/embeddings.npy")))
    assert emb.shape == (len(pool), 96)


def test_unknown_preset_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["init", str(tmp_path), "--preset", "resnet18"])
    assert result.exit_code == 2 and "probe-<timm architecture>" in result.output
