"""Runs from predictions made elsewhere: a team's own model gives out-of-fold probabilities (and
optionally embeddings); this writes the same run files as a trained run, so the sheet, the map and
the dashboard work unchanged.

``model.pt`` is the one file an imported run lacks (there is no model of ours to reload).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: probabilities of one image must sum to 1 within this (CSV round trips lose some digits)
SUM_TOLERANCE = 1e-3


def check_probabilities(probs: np.ndarray, ids: Sequence[str]) -> list[str]:
    """Problems with a probability matrix, each naming the image (empty when it is usable)."""
    problems = []
    bad = ~np.isfinite(probs).all(axis=1)
    problems += [f"{ids[i]}: a probability is empty or not a number" for i in np.flatnonzero(bad)]
    neg = ((probs < 0) | (probs > 1)).any(axis=1) & ~bad
    problems += [f"{ids[i]}: a probability is outside 0..1" for i in np.flatnonzero(neg)]
    sums = np.where(bad, 1.0, probs.sum(axis=1))
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    problems += [
        f"{ids[i]}: probabilities sum to {sums[i]:.4f}, not 1 (tolerance {SUM_TOLERANCE})"
        for i in np.flatnonzero(off)
    ]
    return problems


def write_imported_run(
    out_dir: Path,
    *,
    ids: Sequence[str],
    splits: Sequence[str],
    labels: Sequence[str],
    classes: Sequence[str],
    probs: np.ndarray,
    embeddings: np.ndarray | None = None,
    sha256s: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    seed: int = 0,
    source: str = "",
) -> dict[str, Any]:
    """Score imported probabilities and write predictions.csv, embeddings.npy, umap.npy,
    scores.csv and metrics.json into ``out_dir``; return the metrics.

    Without ``embeddings`` the probabilities stand in for them (the map then shows the model's
    view of the classes) and label quality is cleanlab's self-confidence alone: neighbour
    smoothing, duplicates and outliers need real features.
    """
    from model.embed import neighbours, umap_2d
    from model.scores import OUTLIER_K, score_table

    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    classes = list(classes)
    index = {c: k for k, c in enumerate(classes)}
    y = np.asarray([index[lab] for lab in labels], dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=1, keepdims=True)  # exact sums after the tolerance check
    n = len(ids)
    if embeddings is None:
        features = probs.astype(np.float32)
        knn = (np.arange(n)[:, None], np.ones((n, 1), dtype=np.float32))  # each image alone
        map_knn = neighbours(features, min(max(16, OUTLIER_K + 1), n))
    else:
        features = np.asarray(embeddings, dtype=np.float32)
        knn = map_knn = neighbours(features, min(max(16, OUTLIER_K + 1), n))
    xy = umap_2d(features, seed=seed, knn=map_knn)
    scores = score_table(
        ids=list(ids),
        labels=y,
        splits=list(splits),
        sha256s=list(sha256s) if sha256s is not None else [""] * n,
        families=list(families) if families is not None else list(ids),
        probs=probs,
        embeddings=features,
        knn=knn,
        classes=classes,
        seed=seed,
        no_look="imported predictions come without a model",
    )
    predictions = pd.DataFrame(
        {
            "id": list(ids),
            "split": list(splits),
            "label": list(labels),
            "pred": np.asarray(classes, dtype=object)[probs.argmax(1)],
            "confidence": probs.max(1),
            "fold": -1,  # unknown: the importer vouches that they are out-of-sample
        }
    )
    for c, name in enumerate(classes):
        predictions[f"p_{name}"] = probs[:, c]
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    np.save(out_dir / "embeddings.npy", features)
    np.save(out_dir / "umap.npy", np.asarray(xy, dtype=np.float32))
    scores.to_csv(out_dir / "scores.csv", index=False)
    splits_arr = np.asarray(splits)
    val = splits_arr == "val"
    correct = probs.argmax(1) == y
    metrics = {
        "preset": "imported",
        "source": source,
        "seed": seed,
        "classes": classes,
        "embeddings": "imported" if embeddings is not None else "probabilities",
        "n_train": int((splits_arr == "train").sum()),
        "n_val": int(val.sum()),
        "val_accuracy": float(correct[val].mean()) if val.any() else None,
        "oof_accuracy": float(correct.mean()),
        "eval": {},
        "n_suspect": int(scores["suspect"].sum()),
        "n_junk": int(scores["junk"].sum()),
        "junk_evidence": scores.attrs.get("junk_evidence", {}),
        "timings": {"total": round(time.perf_counter() - t0, 3)},
    }
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
