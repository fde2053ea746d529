"""Split rebalancing: every style cluster in both splits, few moves, deterministic, applied as a
new version or shown as suggestions.

Clusters (``scores.csv``) and embeddings (``embeddings.npy`` + ``predictions.csv``) are written by
hand into run folders, not trained.
"""

import json

import numpy as np
import pandas as pd
import pytest

from sheets_bridge import loop
from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.loop.rebalance import (
    PROPOSAL_COLUMNS,
    apply,
    plan_moves,
    propose,
    suggestion_text,
    write_suggestions,
)
from sheets_bridge.store.workspace import Workspace

from .conftest import make_image_folder


def finished_run(ws, **files):
    run = ws.new_run(ws.current, "fast", 0)
    for name, frame in files.items():
        if name == "embeddings":
            np.save(run.path / "embeddings.npy", frame)
        else:
            frame.to_csv(run.path / f"{name}.csv", index=False)
    (run.path / "metrics.json").write_text(json.dumps({}))
    ws.update_run(run, state="done")
    return run


@pytest.fixture
def ws(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 6, "val": 3})
    return loop.init(data, tmp_path / "ws")


def skewed_clusters(manifest):
    """Cluster "a": all train images with an even index; "b": the rest of train; "c": all val."""
    out = {}
    for rid, split in zip(manifest["id"], manifest["split"], strict=True):
        n = int(rid.rsplit("-", 1)[1])
        out[rid] = "c" if split == "val" else ("a" if n % 2 == 0 else "b")
    return out


def split_by_cluster(manifest, clusters):
    m = manifest[manifest["split"].isin(["train", "val"])]
    return {c: set(m[m["id"].map(clusters) == c]["split"]) for c in set(clusters.values())}


def test_proposals_put_every_cluster_in_both_splits_with_few_moves(ws):
    m = ws.current.manifest()
    clusters = skewed_clusters(m)
    assert split_by_cluster(m, clusters)["c"] == {"val"}
    moves = plan_moves(m, clusters)
    assert list(moves.columns) == PROPOSAL_COLUMNS
    after = m.set_index("id")
    after.loc[moves["id"], "split"] = moves["to_split"].to_numpy()
    assert all(
        s == {"train", "val"} for s in split_by_cluster(after.reset_index(), clusters).values()
    )
    share = 12 / 36
    for c in "abc":  # each cluster's val share is now near the dataset's third
        part = after[after.index.map(clusters) == c]
        assert abs((part["split"] == "val").mean() - share) <= 0.1 + 1e-9
    # moves go in both directions and stay within a class
    assert set(moves["to_split"]) == {"train", "val"}
    assert (m.set_index("id").loc[moves["id"], "label"].to_numpy() == moves["label"]).all()
    assert moves["reason"].str.startswith("cluster ").all()
    assert len(moves) <= 16  # a: 12 train, b: 12 train, c: 12 val; about a third of each moves
    assert plan_moves(m, clusters).equals(moves)  # deterministic


def test_a_cluster_already_in_proportion_is_left_alone(ws):
    m = ws.current.manifest()
    even = {rid: "all" for rid in m["id"]}
    assert plan_moves(m, even).empty


def test_images_with_augmented_children_or_twins_do_not_move_to_val(ws):
    m = ws.current.manifest()
    clusters = {rid: ("a" if rid.startswith("train-") else "v") for rid in m["id"]}
    train = m[m["split"] == "train"]["id"].tolist()
    parent, twin1, twin2 = train[0], train[1], train[2]
    child = m[m["id"] == parent].assign(id="aug-1", origin="augmented", parent_id=parent)
    m = pd.concat([m, child], ignore_index=True)
    m.loc[m["id"] == twin1, "sha256"] = m.loc[m["id"] == twin2, "sha256"].item()
    moves = plan_moves(m, clusters)
    to_val = moves[moves["to_split"] == "val"]
    assert len(to_val) == 6  # 24 train images in "a": at least (1/3 - 0.1) x 24 go to val
    assert not set(moves["id"]) & {"aug-1", parent, twin1, twin2}


def test_propose_uses_the_latest_runs_clusters_and_apply_makes_a_version(ws):
    m = ws.current.manifest()
    clusters = skewed_clusters(m)
    finished_run(
        ws, scores=pd.DataFrame({"id": list(clusters), "cluster": list(clusters.values())})
    )
    proposals = propose(ws)
    assert not proposals.empty and proposals.equals(propose(ws))
    write_suggestions(ws, proposals)
    text = suggestion_text(ws)
    first = proposals.iloc[0]
    assert (
        text[first["id"]]
        == f"suggest: move to {first['to_split']} ({first['reason'].split(' (')[0]}): "
        f"type {first['to_split']} in subset to accept"
    )
    version = apply(ws, proposals)
    ws = Workspace(ws.root)
    assert ws.current.name == version.name == "v0002"
    changes = version.changes()
    assert set(changes["field"]) == {"split"} and set(changes["source"]) == {"rebalance"}
    new = version.manifest().set_index("id")
    assert (new.loc[proposals["id"], "split"].to_numpy() == proposals["to_split"]).all()
    assert suggestion_text(ws) == {}  # applied: nothing left to suggest
    with pytest.raises(WorkspaceError, match="no proposed move"):
        apply(ws, proposals)


def test_without_cluster_column_kmeans_runs_on_the_embeddings(ws):
    m = ws.current.manifest()
    m = m[m["split"].isin(["train", "val"])]
    # two tight blobs: "mixed" holds every val image and 8 train images, "train_only" the rest
    mixed = (m["split"].eq("val") | m["id"].str.endswith(("000", "001"))).to_numpy()
    rng = np.random.default_rng(0)
    emb = np.where(mixed[:, None], [5.0, 0.0, 0.0], [0.0, 5.0, 0.0])
    emb = (emb + rng.normal(0, 0.1, size=emb.shape)).astype(np.float32)
    preds = pd.DataFrame({"id": m["id"], "pred": m["label"], "confidence": 1.0})
    finished_run(ws, predictions=preds, embeddings=emb)
    proposals = propose(ws)
    blob = dict(zip(m["id"], np.where(mixed, "mixed", "train_only"), strict=True))
    moved = proposals.assign(blob=proposals["id"].map(blob))
    assert set(moved[moved["blob"] == "train_only"]["to_split"]) == {"val"}
    assert set(moved[moved["blob"] == "mixed"]["to_split"]) == {"train"}  # it was 60% val
    assert moved.groupby("blob")["cluster"].nunique().eq(1).all()  # k-means found the blobs


def test_no_run_means_no_proposals(ws):
    assert propose(ws).empty


def test_near_duplicate_pairs_are_joined_and_never_separated_and_junk_never_moves():
    from sheets_bridge.loop.rebalance import plan_moves as plan

    rows = []
    for k in range(40):
        split = "val" if k < 20 and k % 4 == 0 else "train"  # cluster "1" has no val image
        rows.append((f"a{k:02d}", f"m/a{k}.png", "i", split, "source", "", f"sha-a{k}"))
    m = pd.DataFrame(
        rows, columns=["id", "path", "label", "split", "origin", "parent_id", "sha256"]
    )
    clusters = {i: "0" if int(i[1:]) < 20 else "1" for i in m["id"]}
    dup = {"a00": "a01", "a11": "a12", "a13": "a11"}  # a00, a12 in val; a01, a11, a13 in train
    moves = plan(m, clusters, duplicate_of=dup, frozen={"a05", "a06", "a07", "a08", "a09"})
    after = m.set_index("id")["split"].to_dict()
    for r in moves.itertuples(index=False):
        after[r.id] = r.to_split
    assert after["a00"] == after["a01"] == "train"  # joined, in train
    assert after["a11"] == after["a12"] == after["a13"] == "train"
    assert not set(moves["id"]) & {"a05", "a06", "a07", "a08", "a09", "a11", "a13", "a01"}
    assert (moves["to_split"] == "val").any()  # balancing still happens with the others
