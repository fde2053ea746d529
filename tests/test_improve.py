"""`sheets-bridge improve`: the recipe end to end on a tiny generated dataset with 1 epoch, through
the real CLI: pull, rebalance, augment, train, each data step a version with its reasons."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge.cli import main
from sheets_bridge.loop.demo_data import make_demo_data
from sheets_bridge.store.workspace import Workspace


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A trained, pushed workspace where people fixed one wrong label and disagree about one image."""
    root = tmp_path_factory.mktemp("improve")
    make_demo_data(root / "data", n_images=120, seed=3)
    truth = pd.read_csv(root / "data" / "ground_truth.csv", dtype=str, keep_default_na=False)
    ws_dir = root / "ws"
    cli("init", str(root / "data"), "-w", str(ws_dir))
    cli("train", "-w", str(ws_dir), "--epochs", "1", "--no-progress")
    cli("push", "-w", str(ws_dir))
    ws = Workspace(ws_dir)
    wrong = truth[(truth["problem"] == "wrong_label") & (truth["split"] == "train")].iloc[0]
    m = ws.current.manifest()
    clean = truth[(truth["problem"] == "") & (truth["split"] == "train")]["id"]
    disputed = m[m["id"].isin(clean) & (m["split"] == "train")].iloc[0]
    other = "i" if disputed["label"] != "i" else "ii"
    ws.sheet().edit(
        [
            (wrong["id"], "annotator_1", wrong["true_label"]),
            (wrong["id"], "annotator_2", wrong["true_label"]),
            (disputed["id"], "annotator_1", disputed["label"]),
            (disputed["id"], "annotator_2", other),
        ]
    )
    return ws_dir, wrong, disputed["id"]


def copy_of(ws_dir, tmp_path):
    target = tmp_path / "ws"
    shutil.copytree(ws_dir, target)
    return target


def test_dry_run_shows_the_plan_and_writes_nothing(reviewed, tmp_path):
    ws_dir = copy_of(reviewed[0], tmp_path)
    ws = Workspace(ws_dir)
    versions, runs = [v.name for v in ws.versions()], len(ws.runs())
    size = len(ws.current.manifest())
    out = cli("improve", "-w", str(ws_dir), "--dry-run", "--budget", str(size + 30))
    assert "dry run" in out
    assert "would apply 1 relabels, 0 removals; 1 conflicts" in out
    assert "would add 30 images (targeted at weak classes and styles" in out
    assert "per class:" in out
    ws = Workspace(ws_dir)
    assert [v.name for v in ws.versions()] == versions and len(ws.runs()) == runs


def test_improve_pulls_rebalances_augments_trains_and_reports_before_and_after(reviewed, tmp_path):
    ws_dir = copy_of(reviewed[0], tmp_path)
    _, wrong, disputed = reviewed
    ws = Workspace(ws_dir)
    start = ws.current.name
    before_run = ws.latest_run(start)
    size = len(ws.current.manifest())
    heldout = shutil.copytree(reviewed[0].parent / "data" / "label_book", tmp_path / "heldout")
    out = cli(
        "improve",
        *("-w", str(ws_dir), "--epochs", "1", "--budget", str(size + 40), "--seed", "2"),
        *("--eval", str(heldout)),
    )
    ws = Workspace(ws_dir)
    made = [v for v in ws.versions() if v.name > start]
    messages = [v.meta()["message"] for v in made]
    assert messages[0].startswith("pull: 1 relabelled")
    assert messages[-1].startswith("augment: 40 images")
    assert ws.current.name == made[-1].name
    m = ws.current.manifest().set_index("id")
    assert m.at[wrong["id"], "label"] == wrong["true_label"]
    aug = m[m["origin"] == "augmented"]
    assert len(aug) == 40 and len(m) == size + 40 and disputed not in set(aug["parent_id"])
    reasons = ws.current.changes()["reason"]
    assert reasons.str.contains("out-of-fold").all()  # targeted: each copy says why
    # before/after on the same yardsticks
    after_run = ws.latest_run(ws.current.name)
    assert after_run.id != before_run.id
    summary = json.loads((after_run.path / "improve.json").read_text())
    assert summary["before"]["run"] == before_run.id and summary["after"]["run"] == after_run.id
    for key in ("val_accuracy", "fixed_val", "label_book", "heldout"):  # --eval: a set of its own
        assert isinstance(summary["after"][key], float), key
        assert key in out
    assert f"sheets-bridge checkout {start}" in out
    # the result rolls back like any version
    cli("checkout", "-w", str(ws_dir), start)
    assert Workspace(ws_dir).current.name == start


def test_unknown_op_is_a_one_line_error_before_anything_is_written(reviewed, tmp_path):
    ws_dir = copy_of(reviewed[0], tmp_path)
    versions = [v.name for v in Workspace(ws_dir).versions()]
    result = CliRunner().invoke(main, ["improve", "-w", str(ws_dir), "--ops", "slant,sparkle"])
    assert result.exit_code != 0
    assert "unknown augmentation op(s): sparkle" in result.output
    assert "Traceback" not in result.output
    assert [v.name for v in Workspace(ws_dir).versions()] == versions
