"""Where the model is weak, and what the style clusters look like: the model-side half of the report.

Three parts, each plain data for the dashboard, ``sheets-bridge report`` and ``/api/report``:

- :func:`label_confusion`: the model's out-of-fold prediction against the label each image has in
  the current version, per class pair ("label A predicted as B"), with the images behind the top
  pairs (most confident first);
- :func:`group_accuracy`: accuracy per group (class, or style cluster) on the fixed evaluation set
  (the first version's val images still in val: the same images for every version), weakest
  first, with the images the model got wrong: which kinds of images the dataset under-serves;
- :func:`cluster_overview`: each style cluster's train/val make-up and a few of its most typical
  images.

:func:`audit` reads them from a workspace and a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from sheets_bridge.store.workspace import Run, Workspace

#: images shown per class pair, per weak group and per style cluster
EXAMPLES = 4
#: class pairs listed with their images
TOP_PAIRS = 6
#: groups called "weakest" (the dashboard shows their wrong images)
WEAKEST = 3
#: a group needs this many images before its accuracy ranks it among the weakest
MIN_GROUP = 5


def _cluster_key(c: str) -> tuple[int, int | str]:
    return (0, int(c)) if c.lstrip("-").isdigit() else (1, c)


def count_matrix(classes: Sequence[str]) -> list[list[int]]:
    """A classes x classes matrix of zeros, to count pairs into."""
    return [[0] * len(classes) for _ in classes]


def top_pairs(m: list[list[int]], classes: Sequence[str], symmetric: bool, n: int) -> list[dict]:
    """The off-diagonal cells of ``m`` with the highest counts, in class order on ties (for a
    symmetric matrix, each pair once)."""
    cells = [
        {"a": classes[i], "b": classes[j], "count": m[i][j]}
        for i in range(len(classes))
        for j in range(len(classes))
        if i != j and m[i][j] > 0 and (not symmetric or i < j)
    ]
    cells.sort(key=lambda c: (-c["count"], classes.index(c["a"]), classes.index(c["b"])))
    return cells[:n]


def label_confusion(
    frame: pd.DataFrame, classes: Sequence[str], *, top: int = TOP_PAIRS, examples: int = EXAMPLES
) -> dict:
    """Label (rows) against the model's prediction (columns) over ``frame`` (``id, label, pred``,
    optional ``confidence``). ``top`` lists the most frequent off-diagonal pairs, each with up to
    ``examples`` image ids, the model's most confident mistakes first.

    >>> f = pd.DataFrame({"id": ["a", "b", "c"], "label": ["i", "i", "v"], "pred": ["v", "i", "v"]})
    >>> label_confusion(f, ["i", "v"])["top"]
    [{'a': 'i', 'b': 'v', 'count': 1, 'examples': ['a']}]
    """
    classes = list(classes)
    idx = {c: k for k, c in enumerate(classes)}
    f = frame[frame["label"].isin(idx) & frame["pred"].isin(idx)]
    m = count_matrix(classes)
    for lab, pred in zip(f["label"], f["pred"], strict=True):
        m[idx[lab]][idx[pred]] += 1
    wrong = f[f["label"] != f["pred"]]
    if "confidence" in wrong:
        wrong = wrong.assign(_c=pd.to_numeric(wrong["confidence"], errors="coerce").fillna(0))
    else:
        wrong = wrong.assign(_c=0.0)
    wrong = wrong.sort_values(["_c", "id"], ascending=[False, True], kind="stable")
    pairs = top_pairs(m, classes, symmetric=False, n=top)
    for p in pairs:
        ids = wrong["id"][(wrong["label"] == p["a"]) & (wrong["pred"] == p["b"])]
        p["examples"] = [str(i) for i in ids[:examples]]
    return {"images": int(len(f)), "wrong": int(len(wrong)), "matrix": m, "top": pairs}


def group_accuracy(
    frame: pd.DataFrame, by: str, *, examples: int = EXAMPLES, min_group: int = MIN_GROUP
) -> list[dict]:
    """Accuracy per value of column ``by`` over ``frame`` (``id, label, pred, <by>``), weakest
    first (then the larger group first). Each group lists up to ``examples`` images the model got
    wrong; ``weak`` marks the :data:`WEAKEST` lowest groups with at least ``min_group`` images
    (fewer when no group is that large).

    >>> f = pd.DataFrame({"id": list("abc"), "label": list("iiv"), "pred": list("ivv"), "k": list("xxy")})
    >>> [(g["group"], g["n"], g["correct"]) for g in group_accuracy(f, "k")]
    [('x', 2, 1), ('y', 1, 1)]
    """
    out = []
    for key, g in frame.groupby(frame[by].astype(str), sort=False):
        ok = g["label"] == g["pred"]
        wrong = g[~ok]
        out.append(
            {
                "group": str(key),
                "n": int(len(g)),
                "correct": int(ok.sum()),
                "accuracy": round(float(ok.mean()), 4),
                "wrong": [
                    {"id": str(i), "label": str(lab), "pred": str(p)}
                    for i, lab, p in zip(
                        wrong["id"][:examples],
                        wrong["label"][:examples],
                        wrong["pred"][:examples],
                        strict=True,
                    )
                ],
            }
        )
    out.sort(key=lambda r: (r["accuracy"], -r["n"], _cluster_key(r["group"])))
    floor = min(min_group, max((r["n"] for r in out), default=0))
    weak = [r for r in out if r["n"] >= floor and r["accuracy"] < 1][:WEAKEST]
    for r in out:
        r["weak"] = any(r is w for w in weak)
    return out


def cluster_overview(
    scores: pd.DataFrame, manifest: pd.DataFrame, *, examples: int = EXAMPLES
) -> list[dict]:
    """Per style cluster of ``scores`` (``id, cluster``, optional ``cluster_split``,
    ``typicality``): its images in ``manifest`` (the current version) by split, the scores'
    verdict, and its ``examples`` most typical images. Images no longer in the version are left
    out."""
    if "cluster" not in scores:
        return []
    split = dict(zip(manifest["id"].astype(str), manifest["split"].astype(str), strict=True))
    s = scores[scores["id"].astype(str).isin(split) & (scores["cluster"].astype(str) != "")]
    s = s.assign(_split=s["id"].astype(str).map(split), _cluster=s["cluster"].astype(str))
    typ = pd.to_numeric(s["typicality"], errors="coerce") if "typicality" in s else None
    s = s.assign(_t=typ.fillna(0) if typ is not None else 0.0)
    out = []
    for key in sorted(s["_cluster"].unique(), key=_cluster_key):
        g = s[s["_cluster"] == key].sort_values(["_t", "id"], ascending=[False, True])
        verdict = g["cluster_split"].astype(str).mode() if "cluster_split" in g else pd.Series()
        counts = g["_split"].value_counts()
        out.append(
            {
                "cluster": key,
                "images": int(len(g)),
                "train": int(counts.get("train", 0)),
                "val": int(counts.get("val", 0)),
                "split": str(verdict.iloc[0]) if len(verdict) else "",
                "examples": [str(i) for i in g["id"][:examples]],
            }
        )
    return out


def fixed_set_predictions(ws: Workspace, run: Run) -> tuple[pd.DataFrame, str]:
    """The fixed evaluation set of the run's version (``id, label, pred``) and whose predictions
    they are: the final model's (``eval_predictions.csv``, the numbers behind the versions
    table's fixed accuracy) or, for runs made before that file existed, the out-of-fold ones."""
    from sheets_bridge.loop.training import FIXED_EVAL, fixed_eval_set

    version = ws.version(run.info().get("version") or ws.current.name)
    fixed = fixed_eval_set(ws, version)
    f = run.path / "eval_predictions.csv"
    if f.exists():
        ev = pd.read_csv(f, dtype=str, keep_default_na=False)
        ev = ev[ev["set"] == FIXED_EVAL]
        if len(ev) and (ev["id"] != "").all():
            return ev[["id", "label", "pred"]].reset_index(drop=True), "final model"
    preds = run.predictions()
    pred_of = dict(zip(preds["id"].astype(str), preds["pred"].astype(str), strict=True))
    fixed = fixed[fixed["id"].isin(pred_of)]
    return (
        pd.DataFrame(
            {
                "id": fixed["id"].tolist(),
                "label": fixed["label"].tolist(),
                "pred": [pred_of[i] for i in fixed["id"]],
            }
        ),
        "out-of-fold",
    )


def weak_groups(ws: Workspace, run: Run, scores: pd.DataFrame | None) -> dict | None:
    """Accuracy per class and per style cluster on the fixed evaluation set; None without one."""
    frame, source = fixed_set_predictions(ws, run)
    if not len(frame):
        return None
    cluster_of: Mapping[str, str] = {}
    if scores is not None and "cluster" in scores:
        cluster_of = dict(zip(scores["id"].astype(str), scores["cluster"].astype(str), strict=True))
    frame = frame.assign(cluster=[cluster_of.get(i, "") or "none" for i in frame["id"]])
    correct = int((frame["label"] == frame["pred"]).sum())
    return {
        "set": "fixed_val",
        "predictions": source,
        "n": int(len(frame)),
        "correct": correct,
        "accuracy": round(correct / len(frame), 4),
        "per_class": group_accuracy(frame, "label"),
        "per_cluster": group_accuracy(frame, "cluster") if cluster_of else [],
    }


def audit(ws: Workspace, run: Run | None) -> dict:
    """``label_confusion`` (model vs labels), ``weak`` (see :func:`weak_groups`) and
    ``clusters`` (see :func:`cluster_overview`) for ``run`` on the current version."""
    empty = {"label_confusion": None, "weak": None, "clusters": []}
    if run is None or not (run.path / "predictions.csv").exists():
        return empty
    manifest = ws.current.manifest()
    label = dict(zip(manifest["id"].astype(str), manifest["label"].astype(str), strict=True))
    preds = run.predictions()
    preds = preds[preds["id"].astype(str).isin(label)]
    frame = pd.DataFrame(
        {
            "id": preds["id"].astype(str),
            "label": preds["id"].astype(str).map(label),
            "pred": preds["pred"].astype(str),
            "confidence": preds.get("confidence", 0.0),
        }
    )
    scores = run.scores()
    return {
        "label_confusion": label_confusion(frame, ws.classes),
        "weak": weak_groups(ws, run, scores),
        "clusters": cluster_overview(scores, manifest) if scores is not None else [],
    }
