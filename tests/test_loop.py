"""The whole loop twice, with a tiny real model on generated images, through the real CLI.

push -> people edit via `sheet update` -> pull -> retrain -> push, then a second round with the
model-aware consensus. Every human cell must survive; the new versions hold exactly the decisions.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import config as config_mod
from sheets_bridge.cli import main
from sheets_bridge.loop.demo_data import make_demo_data
from sheets_bridge.store.workspace import Workspace


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop")
    make_demo_data(root / "data", n_images=120, seed=3)
    truth = pd.read_csv(root / "data" / "ground_truth.csv", dtype=str, keep_default_na=False)
    return root, truth


def human_cells(ws_dir: Path) -> dict[tuple[str, str], str]:
    ws = Workspace(ws_dir)
    human = ws.schema.human_columns
    return {(r["id"], c): r[c] for r in ws.sheet().read().rows for c in human if r.get(c)}


def test_the_full_loop_twice_keeps_every_human_cell_and_applies_the_decisions(demo, tmp_path):
    root, truth = demo
    ws_dir = root / "ws"
    cli("init", str(root / "data"), "-w", str(ws_dir))
    out = cli("train", "-w", str(ws_dir), "--epochs", "2", "--no-progress")
    assert "validation accuracy" in out
    out = cli("push", "-w", str(ws_dir))
    assert "pushed" in out and "human cells untouched" in out

    sheet = Workspace(ws_dir).sheet().read()
    ranks = {r["id"]: int(r["rank"]) for r in sheet.rows}
    assert sorted(ranks.values()) == list(range(1, len(ranks) + 1))
    assert [r["id"] for r in sheet.rows] == sorted(
        ranks, key=ranks.get
    )  # sheet order = review order
    # the first 10% of the order say why, name the prediction and what to type
    top = [r for r in sheet.rows if ranks[r["id"]] <= math.ceil(0.1 * len(ranks))]
    for r in top:
        assert r["issues"] and r["pred"] in r["issues"] and "type " in r["issues"], r
        assert "x if it does not belong in the dataset" in r["issues"] or "type x" in r["issues"]
    # reference pictures beside every row: the label book holds every class of the demo
    assert all(r["label_example"].startswith('=IMAGE("') for r in sheet.rows)
    assert all(r["pred_example"].startswith('=IMAGE("') for r in sheet.rows)

    # round 1: fix two planted wrong labels, remove one junk image, a typo, a note with a formula
    flips = truth[(truth.problem == "wrong_label") & truth.split.isin(["train", "val"])].head(2)
    junk = truth[(truth.problem == "junk") & truth.split.isin(["train", "val"])].head(1)
    clean = truth[(truth.problem == "") & (truth.split == "train")].iloc[0]
    edits = [
        {
            "id": r.id,
            "annotator_1": r.true_label.upper(),
            "annotator_2": r.true_label,
            "override": "",
            "note": "",
        }
        for r in flips.itertuples()
    ]
    edits += [
        {
            "id": junk.iloc[0].id,
            "annotator_1": "x",
            "annotator_2": "",
            "override": "",
            "note": "blank page",
        }
    ]
    edits += [
        {
            "id": clean.id,
            "annotator_1": "vij",
            "annotator_2": "",
            "override": "",
            "note": "=SUM(A1:A9)",
        }
    ]
    cli(
        "sheet",
        "update",
        "-w",
        str(ws_dir),
        "--from-csv",
        str(write_csv(tmp_path / "r1.csv", edits)),
        "--author",
        "ana",
    )
    before = human_cells(ws_dir)
    assert len(before) == 8

    out = cli("retrain", "-w", str(ws_dir), "--epochs", "2")
    assert "pulled (v0002)" in out
    ws = Workspace(ws_dir)
    assert ws.current.name == "v0002"
    m = ws.current.manifest().set_index("id")
    for r in flips.itertuples():
        assert m.at[r.id, "label"] == r.true_label
    assert junk.iloc[0].id not in m.index and m.at[clean.id, "label"] == clean.given_label
    assert human_cells(ws_dir) == before  # pull, train and push left every human cell alone
    rows = ws.sheet().read().by_id()
    assert rows[junk.iloc[0].id]["issues"] == "not in dataset v0002"
    assert "invalid annotator_1: unknown label 'vij'" in rows[clean.id]["status"]
    assert (
        rows[flips.iloc[0].id]["label"] == flips.iloc[0].true_label
    )  # the push shows the new label
    latest = ws.latest_run("v0002")
    assert latest is not None and latest.info()["version"] == "v0002"

    # round 2: three annotators disagree on one row, the override settles another; CROWDLAB decides
    config_mod.save(
        ws_dir,
        ws.config.replace(consensus="crowdlab", annotators=("annotator_1", "annotator_2", "cy")),
    )
    cli("push", "-w", str(ws_dir))  # adds the new annotator column, keeps the others
    ids = [i for i in m.index if m.at[i, "split"] == "train"][:3]
    edits = [
        {"id": ids[0], "annotator_1": "ii", "annotator_2": "iii", "cy": "", "override": "iv"},
        {"id": ids[1], "annotator_1": "v", "annotator_2": "v", "cy": "5", "override": ""},
        {"id": ids[2], "annotator_1": "?", "annotator_2": "", "cy": "", "override": "x"},
    ]
    cli(
        "sheet",
        "update",
        "-w",
        str(ws_dir),
        "--from-csv",
        str(write_csv(tmp_path / "r2.csv", edits)),
    )
    before = human_cells(ws_dir)
    out = cli("retrain", "-w", str(ws_dir), "--epochs", "2")
    ws = Workspace(ws_dir)
    assert ws.current.name == "v0003" and ws.current.meta()["rule"] == "crowdlab"
    m3 = ws.current.manifest().set_index("id")
    assert (
        m3.at[ids[0], "label"] == "iv" and m3.at[ids[1], "label"] == "v" and ids[2] not in m3.index
    )
    assert human_cells(ws_dir) == before
    changes = ws.current.changes()
    assert set(changes["id"]) == {ids[0], ids[2]} | (
        {ids[1]} if m.at[ids[1], "label"] != "v" else set()
    )

    listing = json.loads(cli("versions", "-w", str(ws_dir), "--json"))
    assert [v["version"] for v in listing] == ["v0001", "v0002", "v0003"]
    assert all(0.0 <= v["val_accuracy"] <= 1.0 for v in listing) and listing[-1]["current"]


def test_push_after_rows_were_deleted_and_reordered_restores_them_in_review_order(demo, tmp_path):
    root, _ = demo
    ws_dir = tmp_path / "ws"
    cli("init", str(root / "data"), "-w", str(ws_dir))
    cli("train", "-w", str(ws_dir), "--epochs", "1", "--no-progress")
    cli("push", "-w", str(ws_dir))
    ws = Workspace(ws_dir)
    sheet = ws.sheet()
    first = sheet.read()
    victims = [r["id"] for r in first.rows[:5]]
    sheet.edit([(victims[5 - 1], "note", "keep me")])
    sheet.delete_rows(victims[:3])
    for k, r in enumerate(reversed(first.rows)):
        sheet.move_row(r["id"], k)  # a person reversed the sheet
    out = cli("push", "-w", str(ws_dir))
    assert "3 new" in out
    after = sheet.read()
    assert [r["id"] for r in after.rows] == [r["id"] for r in first.rows]
    assert after.by_id()[victims[4]]["note"] == "keep me"


def test_run_files_line_up_with_the_sheet(demo, tmp_path):
    root, _ = demo
    ws_dir = tmp_path / "ws"
    cli("init", str(root / "data"), "-w", str(ws_dir))
    cli("train", "-w", str(ws_dir), "--epochs", "1", "--no-progress")
    run = Workspace(ws_dir).latest_run()
    preds = run.predictions()
    assert (
        len(np.load(run.path / "umap.npy"))
        == len(preds)
        == len(np.load(run.path / "embeddings.npy"))
    )
    info = run.info()
    assert info["state"] == "done" and info["version"] == "v0001" and info["preset"] == "fast"


def test_the_installed_console_script_runs_a_small_demo_without_serving(tmp_path):
    exe = Path(sys.executable).with_name("sheets-bridge")
    result = subprocess.run(
        [
            str(exe),
            "demo",
            "--images",
            "100",
            "--epochs",
            "1",
            "--no-serve",
            "--dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "validation accuracy" in result.stdout and "took" in result.stdout
    assert (tmp_path / "demo" / "workspace" / "sheet.db").exists()
