"""The dashboard's and the UMAP view's pure parts: colours, the accuracy chart, group accuracy."""

from __future__ import annotations

import re

import pandas as pd

from sheets_bridge.loop.audit import group_accuracy, label_confusion
from sheets_bridge.web.data import accuracy_chart
from sheets_bridge.web.umap_plot import _GREY, legends, palette


def test_forty_style_clusters_get_forty_different_colours():
    colours = palette(40)
    assert len(set(colours)) == 40 and _GREY not in colours
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    points = pd.DataFrame(
        {
            "label": ["i"] * 41,
            "pred": ["i"] * 41,
            "correct": ["yes"] * 41,
            "subset": ["train"] * 41,
            "issue": ["none"] * 41,
            "cluster": [str(k) for k in range(40)] + ["none"],
            "agreement": ["no votes"] * 41,
            "decision": ["none"] * 41,
        }
    )
    cluster = dict(legends(points, ("i",))["cluster"])
    named = [cluster[str(k)] for k in range(40)]
    assert len(set(named)) == 40 and _GREY not in named and cluster["none"] == _GREY


def test_more_than_twenty_classes_never_share_a_colour():
    classes = tuple(f"c{k}" for k in range(24))
    points = pd.DataFrame({c: list(classes) for c in ("label", "pred", "cluster", "issue")})
    for c, v in (("correct", "yes"), ("subset", "train"), ("agreement", "no votes")):
        points[c] = v
    points["decision"] = "none"
    label = legends(points, classes)["label"]
    assert len({c for _, c in label}) == 24


def test_the_chart_draws_val_fixed_val_and_label_book_across_versions_with_their_names():
    rows = [
        {
            "version": "v0001",
            "val_accuracy": 0.8,
            "eval": {"fixed_val": 0.8, "label_book": 0.75},
        },
        {
            "version": "v0002",
            "val_accuracy": 0.9,
            "eval": {"fixed_val": 0.84, "label_book": 0.8},
        },
    ]
    svg = accuracy_chart(rows)
    for series in ("val", "fixed_val", "label_book"):
        points = re.search(rf'data-series="{series}" points="([^"]+)"', svg).group(1)
        assert len(points.split()) == 2  # one point per version
    assert "fixed val (same images every version)" in svg and "label book" in svg
    assert "val (each version&#x27;s own)" in svg or "val (each version's own)" in svg


def test_group_accuracy_ranks_the_weakest_large_groups_and_lists_their_mistakes():
    f = pd.DataFrame(
        {
            "id": [f"a{k}" for k in range(10)] + [f"b{k}" for k in range(6)] + ["c0"],
            "label": ["i"] * 10 + ["ii"] * 6 + ["v"],
            "pred": ["i"] * 9 + ["v"] + ["ii", "ii", "i", "i", "i", "v"] + ["i"],
        }
    )
    f["k"] = f["label"]
    groups = group_accuracy(f, "k", min_group=5)
    assert [(g["group"], g["correct"], g["n"]) for g in groups] == [
        ("v", 0, 1),
        ("ii", 2, 6),
        ("i", 9, 10),
    ]
    weak = {g["group"]: g["weak"] for g in groups}
    assert weak == {"v": False, "ii": True, "i": True}  # one image is too few to judge
    assert [w["id"] for w in groups[1]["wrong"]] == ["b2", "b3", "b4", "b5"]


def test_model_vs_labels_lists_the_most_confident_mistakes_first():
    f = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "label": ["i", "i", "i", "v"],
            "pred": ["v", "v", "i", "v"],
            "confidence": [0.6, 0.9, 0.99, 0.5],
        }
    )
    conf = label_confusion(f, ["i", "v"])
    assert conf["matrix"] == [[1, 2], [0, 1]]
    assert conf["top"] == [{"a": "i", "b": "v", "count": 2, "examples": ["b", "a"]}]
