"""How well the sheet's order finds the planted wrong labels of the RGB shapes demo, for three
sources of predictions, and what the linear probe costs on CPU.

    .venv/bin/python benchmarks/bench_rgb_ranking.py [--images 600] [--epochs 6] [--seed 0]

Sources, each run through the tool's own workspace (init -> train or import-run -> scores):

- ``fast``: the scratch CNN preset (gray 32x32, trained here);
- ``probe-test_resnet@64``: the pretrained-family linear probe on timm's tiny ``test_resnet`` with
  RANDOM weights (no pretrained weights can be fetched here: its ranking says nothing about a real
  pretrained backbone, only that the path works end to end);
- ``imported``: out-of-fold probabilities made outside the tool (scikit-learn logistic regression on
  16x16 RGB pixels, 4-fold ``cross_val_predict``) brought in with ``import-run``.

Reported per source: ROC-AUC and precision@k (k = the number of planted wrong labels in train+val)
of the sheet order (``label_quality`` ascending) against the ground truth, and the run's seconds.

Measured on 2 CPU cores, 1,200 images, 12 epochs (86 planted wrong labels in train+val):

| source | ROC-AUC | precision@k | seconds |
|---|---|---|---|
| fast (scratch CNN) | 0.978 | 0.70 | 35.9 |
| probe-test_resnet@64 (random weights) | 0.652 | 0.14 | 5.5 |
| imported (pixel logistic regression) | 0.640 | 0.15 | 21.8 |
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ranking(scores: pd.DataFrame, wrong: set[str]) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    y = scores["id"].isin(wrong).to_numpy()
    q = scores["label_quality"].to_numpy(dtype=float)
    order = np.argsort(q, kind="stable")
    k = max(int(y.sum()), 1)
    return {
        "roc_auc": round(float(roc_auc_score(y, -q)), 4) if 0 < y.sum() < len(y) else None,
        "precision_at_k": round(float(y[order[:k]].mean()), 4),
        "k": k,
    }


def imported_probabilities(ws, out: Path, seed: int) -> Path:
    """Out-of-fold probabilities from a model the tool does not know (pixels + logistic regression)."""
    from PIL import Image
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    m = ws.current.manifest()
    pool = m[m["split"].isin(["train", "val"])].reset_index(drop=True)
    x = np.stack(
        [
            np.asarray(Image.open(ws.root / p).convert("RGB").resize((16, 16)), np.float32).ravel()
            / 255.0
            for p in pool["path"]
        ]
    )
    classes = list(ws.classes)
    y = np.array([classes.index(lab) for lab in pool["label"]])
    folds = StratifiedKFold(4, shuffle=True, random_state=seed)
    probs = cross_val_predict(
        LogisticRegression(max_iter=500), x, y, cv=folds, method="predict_proba"
    )
    frame = pd.DataFrame(probs, columns=classes)
    frame.insert(0, "id", pool["id"])
    path = out / "probs.csv"
    frame.to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from sheets_bridge import loop
    from sheets_bridge.loop.demo_shapes import make_shapes_data
    from sheets_bridge.loop.import_run import import_run

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "shapes"
        make_shapes_data(data, n_images=args.images, seed=args.seed)
        truth = pd.read_csv(data / "ground_truth.csv", keep_default_na=False, dtype=str)
        wrong = set(truth["id"][truth["problem"] == "wrong_label"])
        for source in ("fast", "probe-test_resnet@64", "imported"):
            ws_dir = tmp / f"ws-{source.replace('@', '-')}"
            preset = "fast" if source == "imported" else source
            settings = {"preset": preset, "seed": args.seed, "weights": "random"}
            ws = loop.init(data, ws_dir, **settings)
            t = time.perf_counter()
            if source == "imported":
                import_run(ws, imported_probabilities(ws, tmp, args.seed))
            else:
                loop.train(ws, epochs=args.epochs, progress=False)
            seconds = time.perf_counter() - t
            run = ws.latest_run()
            results[source] = {
                **ranking(run.scores(), wrong),
                "seconds": round(seconds, 1),
                "oof_accuracy": run.metrics().get("oof_accuracy"),
            }
            print(source, json.dumps(results[source]), flush=True)
    print(json.dumps({"images": args.images, "epochs": args.epochs, "results": results}, indent=2))


if __name__ == "__main__":
    main()
