"""Augmentation: a new version within the budget, classes balanced, content-addressed images,
byte-identical for a seed, visible in the sheet and removable there.

The style clusters (``scores.csv``) used here are written by hand into a run folder, not trained.
"""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from model.distort import OPS, distort
from sheets_bridge import loop
from sheets_bridge.loop.augment import augment, held_back, plan, water_fill, weakness
from sheets_bridge.store.workspace import Workspace

from .conftest import make_image_folder


@pytest.fixture
def unbalanced(tmp_path):
    """Train: i and ii have 8 images each, iii and iv 3; val 2 each."""
    root = tmp_path / "data"
    make_image_folder(root, {"train": 8, "val": 2}, classes=("i", "ii"))
    make_image_folder(root, {"train": 3, "val": 2}, classes=("iii", "iv"), seed=1)
    return root


def train_counts(manifest):
    return manifest[manifest["split"] == "train"]["label"].value_counts().to_dict()


def test_augment_fills_the_budget_and_balances_classes(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    before = ws.current.manifest()
    report = augment(ws, budget=len(before) + 12, seed=3)
    assert report.version == "v0002" and Workspace(ws.root).current.name == "v0002"
    m = ws.current.manifest()
    assert len(m) == len(before) + 12 == report.after
    # 10 copies lift iii and iv to 8, the last 2 go to the first classes in order
    assert train_counts(m) == {"i": 9, "ii": 9, "iii": 8, "iv": 8}
    aug = m[m["origin"] == "augmented"]
    assert (aug["split"] == "train").all() and aug["parent_id"].isin(before["id"]).all()
    parents = before.set_index("id")
    assert (aug["label"].to_numpy() == parents.loc[aug["parent_id"], "label"].to_numpy()).all()
    for row in aug.itertuples():
        data = (ws.root / row.path).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        assert row.sha256 == sha and row.id == f"aug-{sha[:12]}"
        assert row.path == f"media/{sha[:2]}/{sha}.png"
        with Image.open(ws.root / row.path) as im:
            assert im.mode == "L"
    changes = ws.current.changes()
    assert set(changes["field"]) == {"added"} and set(changes["source"]) == {"augment"}
    assert set(changes["id"]) == set(aug["id"])
    assert changes["reason"].str.startswith("augmented from ").all()
    assert ws.version("v0001").manifest().equals(before)  # the base version is untouched
    assert "added 12 images" in report.describe()


def test_augment_is_byte_identical_for_a_seed(unbalanced, tmp_path):
    made = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        ws = loop.init(unbalanced, tmp_path / name)
        augment(ws, budget=40, seed=seed)
        m = ws.current.manifest()
        made[name] = m[m["origin"] == "augmented"][["id", "parent_id", "sha256"]]
    assert made["a"].equals(made["b"])
    assert set(made["a"]["sha256"]).isdisjoint(made["c"]["sha256"])


def test_no_room_under_the_budget_writes_nothing(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    report = augment(ws, budget=len(ws.current.manifest()))
    assert report.version is None and "budget" in report.reason
    assert [v.name for v in ws.versions()] == ["v0001"]


def test_augmenting_again_makes_new_images_and_counts_the_old_ones(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    augment(ws, budget=40, seed=0)
    report = augment(ws, budget=48, seed=0)
    m = ws.current.manifest()
    assert report.version == "v0003" and len(m) == 48 and not m["id"].duplicated().any()
    assert train_counts(m) == {"i": 10, "ii": 10, "iii": 10, "iv": 10}


def test_small_style_clusters_get_more_copies(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    m = ws.current.manifest()
    ids = m[(m["split"] == "train") & (m["label"] == "i")]["id"].tolist()
    cluster = {i: ("rare" if i == ids[0] else "common") for i in m["id"]}
    run = ws.new_run(ws.current, "fast", 0)
    pd.DataFrame({"id": list(cluster), "cluster": list(cluster.values())}).to_csv(
        run.path / "scores.csv", index=False
    )
    (run.path / "metrics.json").write_text(json.dumps({}))
    ws.update_run(run, state="done")
    report = augment(ws, budget=len(m) + 2 + 10, seed=0)  # iii, iv +5 each; i and ii +1 each
    assert report.clusters == run.id
    aug = ws.current.manifest().query("origin == 'augmented' and label == 'i'")
    assert aug["parent_id"].tolist() == [ids[0]]  # the rare style of class i gets the copy
    reasons = ws.current.changes().set_index("id").loc[aug["id"], "reason"]
    assert reasons.str.endswith("cluster rare").all()


def test_augmented_rows_appear_in_the_sheet_and_x_removes_them(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    augment(ws, budget=len(ws.current.manifest()) + 4, seed=0)
    loop.push(ws)
    rows = ws.sheet().read().by_id()
    aug = ws.current.manifest().query("origin == 'augmented'")
    first = aug.iloc[0]
    assert rows[first["id"]]["issues"].startswith(f"augmented from {first['parent_id']}")
    ws.sheet().edit([(first["id"], "override", "x")])
    report = loop.pull(ws)
    assert report.removed == 1
    assert first["id"] not in set(Workspace(ws.root).current.manifest()["id"])


def test_water_fill_and_plan_respect_capacity_and_order():
    assert water_fill({"a": 5, "b": 1, "c": 2}, 4) == {"a": 0, "b": 3, "c": 1}
    assert water_fill({"a": 0, "b": 0}, 10, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
    manifest = pd.DataFrame(
        {
            "id": ["p1", "p2", "q1"],
            "path": ["", "", ""],
            "label": ["i", "i", "ii"],
            "split": ["train", "train", "train"],
            "origin": ["source"] * 3,
            "parent_id": [""] * 3,
            "sha256": ["1", "2", "3"],
        }
    )
    picks = plan(manifest, ["i", "ii"], 5)
    assert sorted(p for p, _ in picks).count("q1") == 3  # ii: 1 -> 4, i: 2 -> 3
    assert plan(manifest, ["i", "ii"], 5) == picks


def test_distort_keeps_the_size_and_changes_the_image():
    import torch

    img = torch.ones(1, 40, 30)
    img[0, 5:35, 12:18] = 0.0  # one dark stroke
    out, ops = distort(img, 1)
    again, _ = distort(img, 1)
    assert out.shape == (40, 30) and out.dtype == np.uint8 and ops
    assert np.array_equal(out, again) and not np.array_equal(out, (img[0].numpy() * 255))
    assert (out < 128).sum() > 0.5 * (img < 0.5).sum()  # the stroke is still there


def stroke_image():
    import torch

    img = torch.ones(1, 40, 30)
    img[0, 5:35, 12:18] = 0.0
    return img


@pytest.mark.parametrize("name", list(OPS))
def test_each_op_alone_is_deterministic_and_changes_the_image(name):
    img = stroke_image()
    out, applied = distort(img, 5, ops=[name])
    again, _ = distort(img, 5, ops=[name])
    assert np.array_equal(out, again) and out.shape == (40, 30)
    assert set(applied) <= {name}
    if applied:
        assert not np.array_equal(out, np.rint(img[0].numpy() * 255).astype(np.uint8))


def test_a_subset_of_ops_uses_only_those_and_unknown_ops_are_refused():
    img = stroke_image()
    seen = set()
    for seed in range(30):
        seen |= set(distort(img, seed, ops=["slant", "background"])[1])
    assert seen == {"slant", "background"}
    seen_all = set()
    for seed in range(60):
        seen_all |= set(distort(img, seed)[1])
    assert seen_all == set(OPS)
    with pytest.raises(ValueError, match="unknown augmentation op"):
        distort(img, 0, ops=["sparkle"])


def toy_manifest():
    """Class i: 4 train images, two styles (a: i1 i2, b: i3 i4); class v: 4 train images, style a."""
    ids = ["i1", "i2", "i3", "i4", "v1", "v2", "v3", "v4"]
    return pd.DataFrame(
        {
            "id": ids,
            "path": [""] * 8,
            "label": ["i"] * 4 + ["v"] * 4,
            "split": ["train"] * 8,
            "origin": ["source"] * 8,
            "parent_id": [""] * 8,
            "sha256": ids,
        }
    )


def test_weakness_reads_out_of_fold_accuracy_val_only_styles_and_confused_pairs():
    preds = pd.DataFrame(
        {
            "id": ["i1", "i2", "i3", "i4", "v1", "v2", "v3", "v4", "aug-1"],
            "split": ["train"] * 9,
            "label": ["i"] * 4 + ["v"] * 4 + ["i"],
            "pred": ["i", "i", "v", "v", "v", "v", "v", "i", "v"],
        }
    )
    scores = pd.DataFrame(
        {
            "id": preds["id"],
            "cluster": ["a", "a", "b", "b", "a", "a", "a", "a", "b"],
            "cluster_split": ["", "", "val-only", "val-only", "", "", "", "", "val-only"],
        }
    )
    weak = weakness(preds, scores)
    assert weak.class_accuracy == {"i": 0.5, "v": 0.75}  # the augmented row does not count
    assert weak.cluster_accuracy == {"a": 5 / 6, "b": 0.0}
    assert weak.val_only == {"b"} and weak.pairs == (("i", "v", 3),)
    assert weak.class_weight("i") > weak.class_weight("v")
    assert weak.cluster_weight("b") > 2 * weak.cluster_weight("a")


def test_targeted_plan_spends_on_the_weak_class_and_style_and_never_on_held_images():
    manifest = toy_manifest()
    preds = manifest[["id", "split", "label"]].assign(pred=["i", "i", "v", "v", "v", "v", "v", "v"])
    clusters = {"i1": "a", "i2": "a", "i3": "b", "i4": "b", **{f"v{k}": "a" for k in range(1, 5)}}
    scores = pd.DataFrame(
        {"id": list(clusters), "cluster": list(clusters.values()), "cluster_split": [""] * 8}
    )
    weak = weakness(preds, scores)
    picks = plan(manifest, ["i", "v"], 8, clusters, weak=weak)
    parents = [p for p, _ in picks]
    assert sum(p.startswith("i") for p in parents) >= 6  # class i is at 50%, v at 100%
    assert {p for p in parents if p.startswith("i")} <= {"i3", "i4"}  # style b is the weak one
    reason = dict(picks)["i3"]
    assert reason.startswith("class i out-of-fold 50%") and "cluster b (0%)" in reason
    # uniform balancing would split evenly
    plain = [p for p, _ in plan(manifest, ["i", "v"], 8, clusters)]
    assert sum(p.startswith("i") for p in plain) == 4
    held = held_back({"i3": "conflict: annotators disagree; set override", "i4": "ok"}, None)
    assert held == {"i3": "sheet status conflict"}
    picks = plan(manifest, ["i", "v"], 8, clusters, weak=weak, held=held)
    assert "i3" not in {p for p, _ in picks} and "i4" in {p for p, _ in picks}
    assert plan(manifest, ["i", "v"], 8, clusters, weak=weak, held=held) == picks


def test_held_back_reads_statuses_and_scores():
    scores = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "suspect": [True, False, False, False],
            "duplicate_of": ["", "a", "", ""],
            "issues": ["label? (pred v 0.9)", "duplicate of a", "junk?", ""],
        }
    )
    got = held_back({"d": "invalid annotator_1: unknown label 'q'", "e": "relabel -> v"}, scores)
    assert got == {
        "a": "suspect",
        "b": "duplicate",
        "c": "junk?",
        "d": "sheet status invalid",
    }
    # a model near chance: only what does not come from it
    assert held_back({"d": "conflict"}, scores, trust_model=False) == {
        "b": "duplicate",
        "d": "sheet status conflict",
    }


def test_augment_skips_an_image_left_in_conflict_in_the_sheet(unbalanced, tmp_path):
    ws = loop.init(unbalanced, tmp_path / "ws")
    loop.push(ws)
    m = ws.current.manifest()
    small = m[(m["split"] == "train") & (m["label"] == "iii")]["id"].tolist()
    ws.sheet().edit([(small[0], "annotator_1", "iii"), (small[0], "annotator_2", "iv")])
    assert loop.pull(ws).conflicts == 1
    report = augment(ws, budget=len(m) + 10, seed=0)
    aug = ws.current.manifest().query("origin == 'augmented'")
    assert report.held == 1 and small[0] not in set(aug["parent_id"])
    assert set(aug[aug["label"] == "iii"]["parent_id"]) == set(small[1:])
