"""Where the model is weak, model vs labels, and counts that add up: on a real run and a real pull.

One workspace per module: init, train (1 epoch), push, people's edits, pull. Every number the
report shows is recomputed here from the run's own files (``eval_predictions.csv``,
``scores.csv``, ``predictions.csv``, ``metrics.json``) and the versions' manifests.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.web import create_app

from .conftest import make_image_folder

TOKEN = "audit-token"


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """(workspace, the run, the pull's report, the sheet's row count)."""
    tmp = tmp_path_factory.mktemp("audit")
    data = make_image_folder(tmp / "data", {"train": 6, "val": 3, "label_book": 1})
    ws = loop.init(data, tmp / "ws", annotators=("ana", "ben"))
    run = loop.train(ws, epochs=1, progress=False)
    loop.push(ws, run=run)
    m = ws.current.manifest()
    label = dict(zip(m["id"], m["label"], strict=True))
    train = sorted(m["id"][m["split"] == "train"])
    val = sorted(m["id"][m["split"] == "val"])
    other = {i: next(c for c in ws.classes if c != label[i]) for i in m["id"]}
    ws.sheet().edit(
        [
            (train[0], "ana", "x"),
            (train[0], "ben", "x"),  # removed, 2 x votes
            (train[1], "ana", other[train[1]]),
            (train[1], "ben", other[train[1]]),  # relabelled
            (train[2], "ana", "x"),
            (train[2], "ben", label[train[2]]),  # conflict: 1 x vote on a row that stays
            (train[3], "ben", label[train[3]]),  # kept: reviewed
            (val[0], "override", "x"),  # removed from val: leaves the fixed set
            (val[1], "subset", "train"),  # moved: leaves the fixed set
        ]
    )
    report = loop.pull(ws)
    ws = loop.workspace_or_error(ws.root)
    return ws, run, report, len(ws.sheet().read().rows)


def _report(ws, how: str) -> dict:
    if how == "cli":
        out = CliRunner().invoke(main, ["report", "--json", "-w", str(ws.root)])
        assert out.exit_code == 0, out.output
        return json.loads(out.output)
    client = create_app(ws.root, token=TOKEN).test_client()
    return client.get("/api/report", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()


@pytest.mark.parametrize("how", ["cli", "api"])
def test_accuracy_per_class_and_cluster_on_the_fixed_set_matches_the_run_files(pulled, how):
    ws, run, _, _ = pulled
    weak = _report(ws, how)["weak"]
    # recomputed from the run's files: the final model's predictions on the first version's val
    ev = pd.read_csv(run.path / "eval_predictions.csv", dtype=str, keep_default_na=False)
    ev = ev[ev["set"] == "fixed_val"]
    first = ws.version("v0001").manifest()
    assert sorted(ev["id"]) == sorted(first["id"][first["split"] == "val"])  # the run's version
    right = ev["label"] == ev["pred"]
    assert weak["predictions"] == "final model"
    assert (weak["n"], weak["correct"]) == (len(ev), int(right.sum()))
    fixed = json.loads((run.path / "metrics.json").read_text())["eval"]["fixed_val"]
    assert weak["accuracy"] == pytest.approx(fixed, abs=1e-4)  # the versions table's number
    by_class = {g["group"]: (g["correct"], g["n"]) for g in weak["per_class"]}
    assert by_class == {
        c: (int(right[ev["label"] == c].sum()), int((ev["label"] == c).sum()))
        for c in set(ev["label"])
    }
    scores = pd.read_csv(run.path / "scores.csv", dtype=str, keep_default_na=False)
    cluster = ev["id"].map(dict(zip(scores["id"], scores["cluster"], strict=True)))
    by_cluster = {g["group"]: (g["correct"], g["n"]) for g in weak["per_cluster"]}
    assert by_cluster == {
        k: (int(right[cluster == k].sum()), int((cluster == k).sum())) for k in set(cluster)
    }
    accs = [g["accuracy"] for g in weak["per_class"]]
    assert accs == sorted(accs)  # weakest first
    for g in weak["per_class"] + weak["per_cluster"]:  # the examples are the group's mistakes
        for w in g["wrong"]:
            row = ev[ev["id"] == w["id"]].iloc[0]
            assert (w["label"], w["pred"]) == (row["label"], row["pred"]) and w["label"] != w[
                "pred"
            ]
    assert any(g["weak"] for g in weak["per_class"]) == (weak["correct"] < weak["n"])


def test_model_vs_labels_counts_every_class_pair_of_the_version(pulled):
    ws, run, _, _ = pulled
    conf = _report(ws, "cli")["label_confusion"]
    m = ws.current.manifest()
    preds = run.predictions()
    preds = preds[preds["id"].isin(set(m["id"]))]
    label = preds["id"].map(dict(zip(m["id"], m["label"], strict=True)))
    classes = list(ws.classes)
    expected = [
        [int(((label == a) & (preds["pred"] == b)).sum()) for b in classes] for a in classes
    ]
    assert conf["matrix"] == expected
    assert conf["images"] == len(preds) and conf["wrong"] == int((label != preds["pred"]).sum())
    for p in conf["top"]:
        assert p["count"] == expected[classes.index(p["a"])][classes.index(p["b"])]
        for i in p["examples"]:
            row = preds[preds["id"] == i].iloc[0]
            assert (label[row.name], row["pred"]) == (p["a"], p["b"])


def test_style_clusters_show_their_train_and_val_counts_and_typical_images(pulled):
    ws, run, _, _ = pulled
    clusters = _report(ws, "api")["clusters"]
    m = ws.current.manifest()
    split = dict(zip(m["id"], m["split"], strict=True))
    scores = run.scores()
    scores = scores[scores["id"].isin(split)]
    assert sum(c["images"] for c in clusters) == len(scores)
    for c in clusters:
        members = scores[scores["cluster"].astype(str) == c["cluster"]]
        assert c["train"] == sum(split[i] == "train" for i in members["id"])
        assert c["val"] == sum(split[i] == "val" for i in members["id"])
        assert c["train"] + c["val"] == c["images"]
        assert c["examples"] and set(c["examples"]) <= set(members["id"])


def test_counts_add_up_after_a_pull_with_edits(pulled):
    ws, _, pull, sheet_rows = pulled
    assert (pull.relabelled, pull.removed, pull.moved, pull.conflicts) == (1, 2, 1, 1)
    assert pull.reviewed == 5 and pull.removes_by_annotator == {"ana": 2, "ben": 1}
    rows = loop.versions_table(ws)
    for r in rows:  # the versions table's columns add up, label-book images included
        assert r["images"] == r["train"] + r["val"] + r["label_book"] + r["test"]
    v1, v2 = rows
    assert v1["label_book"] == 4 and v2["label_book"] == 4
    assert v2["images"] == v1["images"] - pull.removed
    assert v2["changes"] == pull.relabelled + pull.removed + pull.moved
    assert (v2["train"], v2["val"]) == (v1["train"] - 1 + 1, v1["val"] - 1 - 1)
    for how in ("cli", "api"):
        r = _report(ws, how)
        gone = r["removed_rows"]
        assert r["sheet_rows"] == sheet_rows == r["rows"] + gone["rows"]
        assert r["rows"] == v2["train"] + v2["val"]  # the version's rows in the sheet
        assert r["reviewed"] + gone["reviewed"] == pull.reviewed == r["last_pull"]["reviewed"]
        per = {
            a: s["removes"] + gone["removes_by_annotator"][a]
            for a, s in r["annotator_stats"].items()
        }
        assert per == pull.removes_by_annotator == r["last_pull"]["removes_by_annotator"]
    text = CliRunner().invoke(main, ["report", "-w", str(ws.root)]).output
    assert f"{sheet_rows} rows in the sheet: {v2['train'] + v2['val']} of v0002" in text
    assert "where the model is weak, on the fixed evaluation set" in text
    versions = CliRunner().invoke(main, ["versions", "-w", str(ws.root)]).output
    assert "l.book" in versions and "images = train + val + l.book" in versions


def test_rebalance_shows_each_clusters_counts_before_and_after_its_moves(pulled):
    from sheets_bridge.loop.rebalance import RebalanceReport, cluster_table, propose

    ws, run, _, _ = pulled
    moves = propose(ws)
    table = cluster_table(ws, moves)
    m = ws.current.manifest()
    cluster = dict(zip(run.scores()["id"], run.scores()["cluster"].astype(str), strict=True))
    moved = dict(zip(moves["id"], moves["to_split"], strict=True))
    for c in table:
        members = m[m["id"].map(cluster) == c["cluster"]]
        after = [moved.get(i, s) for i, s in zip(members["id"], members["split"], strict=True)]
        assert (c["train"], c["val"]) == (
            int((members["split"] == "train").sum()),
            int((members["split"] == "val").sum()),
        )
        assert (c["train_after"], c["val_after"]) == (after.count("train"), after.count("val"))
    text = RebalanceReport(moves, clusters=table).describe()
    assert "style clusters (train / val now -> after the moves" in text
    assert all(c["examples"][0] in text for c in table)
