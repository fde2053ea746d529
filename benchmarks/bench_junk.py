"""``junk?`` against the planted junk of demo datasets (ground_truth.csv).

    .venv/bin/python benchmarks/bench_junk.py DATA_DIR [DATA_DIR ...] [--epochs N] [--preset fast]
    .venv/bin/python benchmarks/bench_junk.py DATA_DIR --workspace WS   # re-score WS's last run

Each DATA_DIR is a folder written by ``sheets-bridge make-demo-data`` (numerals or shapes). For each
one: init a workspace in a temporary folder and train (``fast`` preset), or, with ``--workspace``
(one per DATA_DIR), re-score the latest saved run of that workspace without training. Printed:

- ``junk?`` (:func:`model.junk.junk_flags`): far from every class, the model unsure and no label
  common among the image's nearest neighbours; the flag count, precision and recall;
- with the foreground-cropped view (the run's ``model.pt`` embedding each image cut to its
  foreground, :func:`model.predict.cropped_view`) and the blur test, each alone and together, and
  the combined rule's precision/recall on two random halves of the images;
- as a run computes it (:func:`model.second_look.junk_evidence`: the cropped view for the first
  rule's candidates only, blur for images at least ``BLUR_FAR`` from every class, both judged
  against a seeded reference sample): its flags, how many differ from the whole-pool computation
  above, and its wall and CPU seconds against the whole-pool cropped view's;
- baselines from the same run: far and unsure without the label-share test, and the earliest rule
  (``outlier >= 0.95`` and confidence < 0.5);
- per signal: ROC-AUC against the planted junk, and precision/recall of the signal's own test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.metrics import roc_auc_score  # noqa: E402

from model import junk as J  # noqa: E402
from model.embed import neighbours, normalize  # noqa: E402
from model.junk_model import junk_probability  # noqa: E402
from model.predict import cropped_view, load_checkpoint  # noqa: E402
from model.quality import precision_recall  # noqa: E402
from model.robust import robust_z  # noqa: E402
from model.scores import JUNK_OUTLIER, OUTLIER_K, outlier_scores  # noqa: E402
from model.second_look import ImageLook, junk_evidence  # noqa: E402

Timed = tuple[float, float]  # wall and CPU seconds


def _timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, (time.perf_counter() - wall, time.process_time() - cpu)


def _latest_run(ws: Path, data: Path) -> tuple[pd.DataFrame, np.ndarray, tuple, ImageLook, Timed]:
    runs = sorted(p for p in (ws / "runs").iterdir() if (p / "predictions.csv").is_file())
    if not runs:
        raise SystemExit(f"{ws} holds no run with predictions.csv; train first")
    preds = pd.read_csv(runs[-1] / "predictions.csv", dtype={"id": str, "label": str})
    files = {p.stem: p for p in data.rglob("*.png")}
    paths = [files[i] for i in preds["id"]]
    ckpt = load_checkpoint(runs[-1] / "model.pt")
    crop, spent = _timed(cropped_view, ckpt, paths)
    return preds, np.load(runs[-1] / "embeddings.npy"), crop, ImageLook(ckpt, paths), spent


def _trained(data: Path, preset: str, epochs: int | None):
    from sheets_bridge import loop

    with tempfile.TemporaryDirectory() as tmp:
        ws = loop.init(data, Path(tmp) / "ws")
        loop.train(ws, preset=preset, epochs=epochs, progress=False)
        return _latest_run(ws, data)


def _split_halves(score_flags, junk: np.ndarray) -> str:
    """Precision/recall on two random halves of the images (seed 0), as a check that one
    half's result holds on the other."""
    half = np.random.default_rng(0).random(len(junk)) < 0.5
    parts = []
    for h in (half, ~half):
        p, r = precision_recall(score_flags[h], junk[h])
        parts.append(f"{p:.2f}/{r:.2f}")
    return " and ".join(parts)


def measure(
    data: Path,
    preds: pd.DataFrame,
    emb: np.ndarray,
    crop: tuple,
    look: ImageLook,
    whole_pool: Timed,
) -> list[tuple[str, str]]:
    truth = pd.read_csv(data / "ground_truth.csv", dtype=str, keep_default_na=False)
    junk = truth.set_index("id").loc[preds["id"], "problem"].eq("junk").to_numpy()
    classes = [c[2:] for c in preds.columns if c.startswith("p_")]
    probs = preds[[f"p_{c}" for c in classes]].to_numpy(float)
    labels = preds["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    knn = neighbours(emb, max(16, OUTLIER_K + 1), seed=0)
    z = J.class_distance(normalize(emb), probs.argmax(axis=1), len(classes))
    share = J.neighbour_label_share(knn[0], labels)
    conf = probs.max(axis=1)
    chance = 1.0 / len(classes)
    unsure = conf < chance + J.JUNK_CONFIDENCE * (1 - chance)
    entropy = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1) / np.log(len(classes))
    outlier = outlier_scores(knn[1])

    def pr(name: str, flags: np.ndarray) -> tuple[str, str]:
        p, r = precision_recall(flags, junk)
        return name, f"{int(flags.sum())} flagged, precision {p:.3f}, recall {r:.3f}"

    crop_emb, crop_probs, sharp = crop
    crop_z = J.class_distance(normalize(crop_emb), crop_probs.argmax(axis=1), len(classes))
    sharp_z = robust_z(sharp)
    flags = J.junk_flags(z, probs, share, crop_z, sharp_z)
    run, spent = _timed(lambda: junk_evidence(z, probs, share, look, labels=labels))
    junk_p = np.nan_to_num(run.junk_p, nan=-np.inf)
    # the run's cropped view and blur (NaN where not looked at), the junk model left out
    without_model = J.junk_flags(
        z,
        probs,
        share,
        np.nan_to_num(run.crop_z, nan=-np.inf),
        np.nan_to_num(run.sharpness_z, nan=np.inf),
    )
    rows = [
        ("planted junk", f"{int(junk.sum())} of {len(junk)} images"),
        pr("junk? as a run computes it (with the junk model)", run.flags),
        ("  precision/recall on two random halves", _split_halves(run.flags, junk)),
        ("  what it read", str(run.summary)),
        (
            "  seconds, wall / CPU",
            f"{spent[0]:.2f} / {spent[1]:.2f}; whole-pool cropped view {whole_pool[0]:.2f} / "
            f"{whole_pool[1]:.2f}",
        ),
        pr("  the junk model's flags alone", J.junk_model_adds(z, junk_p)),
        pr("  without the junk model", without_model),
        pr("without the junk model, whole pool (also far when cropped; or far blurrier)", flags),
        (
            "  images flagged differently from the run's computation without the junk model",
            str(int((without_model != flags).sum())),
        ),
        pr("  without the blur test", J.junk_flags(z, probs, share, crop_z)),
        pr("  without the cropped view", J.junk_flags(z, probs, share, None, sharp_z)),
        pr("earlier: far, unsure, no common label", J.junk_flags(z, probs, share)),
        pr("baseline: far and unsure", (z >= J.JUNK_Z) & unsure),
        pr("baseline: outlier >= 0.95, confidence < 0.5", (outlier >= JUNK_OUTLIER) & (conf < 0.5)),
    ]
    whole_p, _ = junk_probability(look.read, labels, len(classes), np.arange(len(junk)), seed=0)
    for name, score, flags in [
        (f"class distance (z >= {J.JUNK_Z:g})", z, z >= J.JUNK_Z),
        ("1 - confidence (unsure)", -conf, unsure),
        ("entropy (>= 0.5)", entropy, entropy >= 0.5),
        (f"1 - label share (share <= {J.JUNK_SHARE:g})", -share, share <= J.JUNK_SHARE),
        ("outlier (>= 0.95)", outlier, outlier >= JUNK_OUTLIER),
        (f"cropped-view distance (z >= {J.CROP_Z:g})", crop_z, crop_z >= J.CROP_Z),
        (f"blur (sharpness z <= {J.BLUR_Z:g})", -sharp_z, sharp_z <= J.BLUR_Z),
        (f"junk model, whole pool (p >= {J.JUNK_P:g})", whole_p, whole_p >= J.JUNK_P),
    ]:
        label, text = pr(f"signal {name}", flags)
        rows.append((label, f"ROC-AUC {roc_auc_score(junk, score):.3f}; alone: {text}"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", nargs="+", type=Path)
    ap.add_argument("--workspace", nargs="*", type=Path, default=None, help="re-score these")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--epochs", type=int, default=None)
    args = ap.parse_args()
    if args.workspace is not None and len(args.workspace) != len(args.data):
        raise SystemExit("give one --workspace per DATA_DIR")
    for k, data in enumerate(args.data):
        if args.workspace is not None:
            preds, emb, crop, look, spent = _latest_run(args.workspace[k], data)
            how = f"re-scored {args.workspace[k]}"
        else:
            preds, emb, crop, look, spent = _trained(data, args.preset, args.epochs)
            how = f"trained, preset {args.preset}"
        print(f"\n== {data} ({how})")
        for name, text in measure(data, preds, emb, crop, look, spent):
            print(f"  {name}: {text}")


if __name__ == "__main__":
    main()
