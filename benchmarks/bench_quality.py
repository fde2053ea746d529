"""How well the sheet's ordering finds planted label flips in the DCAI data.

    .venv/bin/python benchmarks/bench_quality.py [--data /work/shared/data/dcai]
        [--rates 0.05,0.1,0.2] [--presets fast] [--device cpu] [--seed 0]

For each flip rate, that share of the train+val images gets a random other label; the whole
out-of-fold pipeline (``run_training``) then runs on the flipped manifest. Reported against the
planted flips (images whose original label is kept count as clean, although the released DCAI
labels are themselves noisy, which caps every number below):

- ROC-AUC and precision@k (k = number of flips, and the first 100 rows) of the sheet order, i.e.
  ``scores.csv``'s ``label_quality`` ascending;
- the same for plain cleanlab self-confidence on the same probabilities, and for the normalized
  margin, as references;
- precision / recall of the ``suspect`` flag (cleanlab ``find_label_issues``);
- the val accuracy (and out-of-fold accuracy) of a run on the original, unflipped data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_train import CLASSES, dcai_manifest  # noqa: E402


def flip(manifest: pd.DataFrame, rate: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Copy of the manifest with ``rate`` of train+val relabelled; mask of flipped pool rows."""
    rng = np.random.default_rng(seed)
    out = manifest.copy()
    pool = np.flatnonzero(out["split"].isin(["train", "val"]).to_numpy())
    chosen = rng.choice(pool, size=int(round(rate * len(pool))), replace=False)
    for i in chosen:
        others = [c for c in CLASSES if c != out.at[i, "label"]]
        out.at[i, "label"] = others[int(rng.integers(len(others)))]
    flipped = np.zeros(len(out), dtype=bool)
    flipped[chosen] = True
    return out, flipped[pool]


def ranking(order_score: np.ndarray, flipped: np.ndarray) -> dict[str, float]:
    """ROC-AUC and precision@k of sorting by ``order_score`` ascending (lowest first)."""
    from sklearn.metrics import roc_auc_score

    order = np.argsort(order_score, kind="stable")
    k = int(flipped.sum())
    return {
        "roc_auc": round(float(roc_auc_score(flipped, -order_score)), 4),
        "precision_at_k": round(float(flipped[order[:k]].mean()), 4),
        "precision_at_100": round(float(flipped[order[:100]].mean()), 4),
    }


def one_run(manifest, preset, device, seed, cache, epochs):
    from model.train import run_training

    with tempfile.TemporaryDirectory() as tmp:
        metrics = run_training(
            manifest,
            CLASSES,
            Path(tmp),
            preset=preset,
            device=device,
            seed=seed,
            epochs=epochs,
            cache_dir=cache,
            progress=False,
        )
        preds = pd.read_csv(Path(tmp) / "predictions.csv")
        scores = pd.read_csv(Path(tmp) / "scores.csv", keep_default_na=False)
    return metrics, preds, scores


def evaluate(preds: pd.DataFrame, scores: pd.DataFrame, flipped: np.ndarray) -> dict:
    from cleanlab.rank import get_label_quality_scores

    probs = preds[[f"p_{c}" for c in CLASSES]].to_numpy()
    labels = preds["label"].map(CLASSES.index).to_numpy()
    suspect = scores["suspect"].astype(str).eq("True").to_numpy()
    tp = int((suspect & flipped).sum())
    return {
        "n_flipped": int(flipped.sum()),
        "sheet_order": ranking(scores["label_quality"].to_numpy(float), flipped),
        "cleanlab_self_confidence": ranking(
            get_label_quality_scores(labels, probs, method="self_confidence"), flipped
        ),
        "cleanlab_normalized_margin": ranking(
            get_label_quality_scores(labels, probs, method="normalized_margin"), flipped
        ),
        "suspect_flag": {
            "flagged": int(suspect.sum()),
            "precision": round(tp / max(int(suspect.sum()), 1), 4),
            "recall": round(tp / max(int(flipped.sum()), 1), 4),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/dcai"))
    parser.add_argument("--rates", default="0.05,0.1,0.2")
    parser.add_argument("--presets", default="fast", help="comma-separated, e.g. fast,dcai")
    parser.add_argument("--device", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    manifest = dcai_manifest(args.data)
    cache = Path(tempfile.gettempdir()) / "sheets-bridge-bench-cache"
    results: dict = {}
    for preset in args.presets.split(","):
        t = time.perf_counter()
        metrics, _, _ = one_run(manifest, preset, args.device, args.seed, cache, args.epochs)
        row: dict = {
            "original": {
                "val_accuracy": metrics["val_accuracy"],
                "oof_accuracy": metrics["oof_accuracy"],
                "eval": metrics["eval"],
                "run_s": round(time.perf_counter() - t, 1),
            }
        }
        for rate in (float(r) for r in args.rates.split(",")):
            flipped_manifest, flipped = flip(manifest, rate, args.seed)
            t = time.perf_counter()
            _, preds, scores = one_run(
                flipped_manifest, preset, args.device, args.seed, cache, args.epochs
            )
            row[f"flip_{rate:g}"] = {
                **evaluate(preds, scores, flipped),
                "run_s": round(time.perf_counter() - t, 1),
            }
            print(json.dumps({preset: {f"flip_{rate:g}": row[f"flip_{rate:g}"]}}), flush=True)
        results[preset] = row
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
