"""A run's files: predictions, embeddings, map, scores, folds, eval predictions, checkpoint, metrics.

Example (inside :meth:`model.train.OutOfFoldRun.execute`)::

    write_outputs(run, oof, fold_of, emb, xy, scores, final, fold_jobs, fold_results, fold_epoch)
    write_eval_predictions(run, embedded)
    metrics = write_metrics(run, engine, final, fold_results, fold_epoch, oof, labels, ...)
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from model.train import OutOfFoldRun


def write_outputs(
    run: OutOfFoldRun, oof, fold_of, emb, xy, scores, final, fold_jobs, fold_results, fold_epoch
):
    """``predictions.csv``, ``embeddings.npy``, ``umap.npy``, ``scores.csv`` and ``folds.json``
    (which ids each model trained on and held out)."""
    pool, out = run.pool, run.out_dir
    predictions = pd.DataFrame(
        {
            "id": pool["id"],
            "split": pool["split"],
            "label": pool["label"],
            "pred": np.asarray(run.classes, dtype=object)[oof.argmax(1)],
            "confidence": oof.max(1),
            "fold": fold_of,
        }
    )
    for c, name in enumerate(run.classes):
        predictions[f"p_{name}"] = oof[:, c]
    predictions.to_csv(out / "predictions.csv", index=False)
    np.save(out / "embeddings.npy", emb)
    np.save(out / "umap.npy", xy.astype(np.float32))
    scores.to_csv(out / "scores.csv", index=False)
    ids = pool["id"].to_numpy()
    folds_doc = {
        "fold_epoch": fold_epoch,
        "folds": [
            {
                "fold": k,
                "heldout": ids[job.holdout_idx].tolist(),
                "trained_on": ids[res.trained_on].tolist(),
            }
            for k, (job, res) in enumerate(zip(fold_jobs, fold_results, strict=True))
        ],
        "final": {"trained_on": ids[final.trained_on].tolist(), "best_epoch": final.best_epoch},
    }
    (out / "folds.json").write_text(json.dumps(folds_doc))


def write_eval_predictions(run: OutOfFoldRun, embedded) -> None:
    """``eval_predictions.csv``: the final model's prediction for every row of every labelled
    extra set (``set, id, path, label, pred``), so accuracy can be broken down by group."""
    frames = []
    for name, f in run.eval_sets.items():
        pred = embedded.eval_pred.get(name)
        if pred is None or len(pred) != len(f):
            continue
        frames.append(
            pd.DataFrame(
                {
                    "set": name,
                    "id": f["id"].astype(str) if "id" in f else "",
                    "path": f["path"].astype(str),
                    "label": f["label"].astype(str),
                    "pred": np.asarray(run.classes, dtype=object)[pred],
                }
            )
        )
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(
            run.out_dir / "eval_predictions.csv", index=False
        )


def write_metrics(
    run: OutOfFoldRun,
    engine,
    final,
    fold_results,
    fold_epoch,
    oof,
    labels,
    scores,
    embedded,
    t_start,
) -> dict[str, Any]:
    """The checkpoint and ``metrics.json``; returns the metrics."""
    import torch

    from model.predict import save_checkpoint

    pool, n = run.pool, len(run.pool)
    has_val = bool((pool["split"] == "val").any())
    train_time = run.timings["folds"] + run.timings["final"]
    seen = final.images_seen + sum(r.images_seen for r in fold_results)
    run.timings["total"] = time.perf_counter() - t_start
    metrics = {
        "preset": run.config.name,
        "config": run.config.to_dict(),
        "seed": run.seed,
        "folds": run.folds,
        "epochs": run.config.epochs,
        "fold_epoch": fold_epoch,
        "device": engine.device_name,
        "engine": engine.name,
        "engine_note": run.engine_note,
        "grouped": run.grouped,
        "torch_version": torch.__version__,
        "classes": run.classes,
        "n_train": int((pool["split"] == "train").sum()),
        "n_val": int((pool["split"] == "val").sum()),
        "val_accuracy": final.select_accuracy[final.best_epoch - 1] if has_val else None,
        "oof_accuracy": float((oof.argmax(1) == labels[:n]).mean()),
        "eval": embedded.eval_accuracy,
        "best_epoch": final.best_epoch,
        "n_suspect": int(scores["suspect"].sum()),
        "n_junk": int(scores["junk"].sum()),
        "junk_evidence": run.junk_evidence,
        "history": {"train_loss": final.losses, "val_accuracy": final.select_accuracy},
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
        "images_per_s": round(seen / train_time, 1) if train_time > 0 else None,
    }
    save_checkpoint(
        run.out_dir / "model.pt",
        state_dict=final.state,
        config=run.config,
        classes=run.classes,
        seed=run.seed,
        best_epoch=final.best_epoch,
        val_accuracy=metrics["val_accuracy"],
    )
    (run.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
