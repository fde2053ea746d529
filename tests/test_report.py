"""The disagreement report on a hand-made sheet, checked number by number.

The run used for the model-vs-consensus matrix is written by hand (predictions.csv in a run folder
made with ``ws.new_run``), not trained: the report only reads it.
"""

import json

import pandas as pd

from sheets_bridge import loop
from sheets_bridge.loop.report import describe, disagreement_report
from sheets_bridge.store.workspace import Workspace

from .conftest import make_image_folder

ANN = ("ana", "ben", "cy")


def make_workspace(tmp_path, consensus="majority"):
    data = make_image_folder(tmp_path / "data", {"train": 6, "val": 3})
    ws = loop.init(data, tmp_path / "ws", annotators=ANN, consensus=consensus)
    loop.push(ws)
    return ws


def fake_run(ws: Workspace, preds: dict[str, str]) -> None:
    """A finished run whose out-of-fold prediction for each id is ``preds[id]`` (p = 0.7)."""
    classes = ws.classes
    manifest = ws.current.manifest()
    rows = []
    for rid, label in zip(manifest["id"], manifest["label"], strict=True):
        pred = preds.get(rid, label)
        p = {f"p_{c}": (0.7 if c == pred else 0.3 / (len(classes) - 1)) for c in classes}
        rows.append({"id": rid, "label": label, "pred": pred, "confidence": 0.7, **p})
    run = ws.new_run(ws.current, "fast", 0)
    pd.DataFrame(rows).to_csv(run.path / "predictions.csv", index=False)
    (run.path / "metrics.json").write_text(json.dumps({"val_accuracy": 0.5}))
    ws.update_run(run, state="done")


EDITS = [
    # id,            ana,   ben,   cy,    override
    ("train-ii-000", "iii", "iii", "ii", ""),  # annotators split ii/iii; majority relabels to iii
    ("train-ii-001", "ii", "iii", "", ""),  # 1 against 1: conflict
    ("train-iv-000", "iv", "iv", "iv", ""),  # all agree with the label
    ("train-i-000", "x", "x", "i", ""),  # removal votes are not classes
    ("train-iii-000", "", "", "", "ii"),  # override only: reviewed, no annotator vote
    ("val-i-000", "vij", "?", "", ""),  # invalid and unsure: not reviewed
]


def edit(ws):
    cells = []
    for rid, *values in EDITS:
        for col, v in zip((*ANN, "override"), values, strict=True):
            if v:
                cells.append((rid, col, v))
    ws.sheet().edit(cells, author="test")


def test_report_counts_pairs_agreement_and_unreviewed_rows(tmp_path):
    ws = make_workspace(tmp_path)
    edit(ws)
    r = disagreement_report(ws)
    json.dumps(r)  # serialisable as it is
    assert (r["version"], r["run"], r["rows"], r["reviewed"]) == ("v0001", None, 36, 5)
    assert r["decisions"] == {
        "keep": 1,
        "relabel": 2,
        "remove": 1,
        "conflict": 1,
        "blocked": 0,
        "none": 31,
    }
    i = {c: k for k, c in enumerate(r["classes"])}
    aa = r["matrices"]["annotator_vs_annotator"]["matrix"]
    # train-ii-000: ana/ben iii-iii, ana/cy and ben/cy iii-ii; train-ii-001: ii-iii; train-iv-000: 3 x iv-iv
    assert aa[i["ii"]][i["iii"]] == aa[i["iii"]][i["ii"]] == 3
    assert aa[i["iii"]][i["iii"]] == 1 and aa[i["iv"]][i["iv"]] == 3
    assert sum(map(sum, aa)) == 3 + 3 + 1 + 3
    al = r["matrices"]["annotator_vs_label"]["matrix"]  # rows: given label, columns: typed
    assert al[i["ii"]][i["iii"]] == 3 and al[i["ii"]][i["ii"]] == 2 and al[i["iv"]][i["iv"]] == 3
    assert al[i["i"]][i["i"]] == 1
    assert r["top_pairs"][0] == {"a": "ii", "b": "iii", "count": 6}
    assert r["matrices"]["annotator_vs_annotator"]["top"] == [{"a": "ii", "b": "iii", "count": 3}]
    ana, cy = r["annotator_stats"]["ana"], r["annotator_stats"]["cy"]
    assert (ana["votes"], ana["removes"], ana["invalid"]) == (3, 1, 1)
    # ana agreed in 4 of 6 pairings: ben on ii-000, iv-000, i-000; cy on iv-000
    assert ana["agreement_with_others"] == round(4 / 7, 4)
    # cy: with consensus on iv-000 only (ii-000 -> iii, i-000 -> remove)
    assert cy["agreement_with_consensus"] == round(1 / 3, 4)
    assert cy["agreement_with_label"] == 1.0 and ana["agreement_with_label"] == round(2 / 3, 4)
    assert ana["crowdlab_quality"] is None and not r["crowdlab"]["used"]
    # no model yet: every row has an empty label quality and the rank follows the id
    ranked = sorted(ws.sheet().read().rows, key=lambda row: int(row["rank"]))
    top50 = {row["id"] for row in ranked[:50]}
    reviewed = {"train-ii-000", "train-ii-001", "train-iv-000", "train-i-000", "train-iii-000"}
    assert r["unreviewed"][0] == {"top": 50, "rows": 36, "unreviewed": 36 - len(reviewed & top50)}
    text = describe(r)
    assert "ii / iii" in text and "31 of the top 36" in text and "ana:" in text


def test_report_compares_the_model_with_the_consensus_and_scores_annotators(tmp_path):
    ws = make_workspace(tmp_path, consensus="crowdlab")
    fake_run(ws, {"train-ii-000": "ii", "train-iv-000": "iii"})
    loop.push(ws)
    edit(ws)
    # enough rows with two votes for CROWDLAB: ana and ben agree on 30 more rows, cy is wrong on half
    edited = {e[0] for e in EDITS}
    extra = [row for row in ws.sheet().read().rows if row["id"] not in edited]
    cells = []
    for k, row in enumerate(extra):
        cells += [(row["id"], "ana", row["label"]), (row["id"], "ben", row["label"])]
        if k % 2:
            cells.append((row["id"], "cy", "i" if row["label"] != "i" else "ii"))
    ws.sheet().edit(cells)
    r = disagreement_report(ws)
    assert r["rule"] == "crowdlab" and r["crowdlab"]["used"]
    q = {a: s["crowdlab_quality"] for a, s in r["annotator_stats"].items()}
    assert q["ana"] > q["cy"] and q["ben"] > q["cy"]
    i = {c: k for k, c in enumerate(r["classes"])}
    mc = r["matrices"]["model_vs_consensus"]["matrix"]  # rows: consensus, columns: model
    assert mc[i["iv"]][i["iii"]] == 1  # train-iv-000: everyone says iv, the model iii
    assert {"a": "iv", "b": "iii", "count": 1} in r["matrices"]["model_vs_consensus"]["top"]
    assert "crowdlab quality" in describe(r)
