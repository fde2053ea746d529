"""Trained models of an unfinished run, saved as they finish, so that a rerun resumes.

``<run>/partial/`` holds ``run.json`` (a fingerprint of what the run trains: recipe, seed, folds,
images and labels) and one ``<name>.pt`` per finished model (``final``, ``fold0``, ...): its
held-out probabilities, losses, the indices it trained on and, for the final model, its weights.
A rerun into the same folder with the same fingerprint trains only the models that have no file;
any other fingerprint clears the folder. A finished run removes it, so a finished run's folder
looks the same whether or not it was ever interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.fit import JobResult

FOLDER = "partial"


def fingerprint(**parts: Any) -> str:
    """SHA-256 of JSON-able parts (lists of ids, labels, the recipe, the seed...)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class PartialRun:
    """The ``partial/`` folder of one run folder."""

    def __init__(self, out_dir: Path, key: str) -> None:
        self.dir = Path(out_dir) / FOLDER
        marker = self.dir / "run.json"
        try:
            same = json.loads(marker.read_text()).get("fingerprint") == key
        except (FileNotFoundError, ValueError):
            same = False
        if not same:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir.mkdir(parents=True)
            marker.write_text(json.dumps({"fingerprint": key}))

    def load(self, name: str) -> JobResult | None:
        path = self.dir / f"{name}.pt"
        if not path.is_file():
            return None
        doc = torch.load(path, map_location="cpu", weights_only=True)
        return JobResult(
            name=doc["name"],
            losses=list(doc["losses"]),
            select_accuracy=list(doc["select_accuracy"]),
            best_epoch=int(doc["best_epoch"]),
            state=doc["state"],
            holdout_probs={int(e): p.numpy() for e, p in doc["holdout_probs"].items()},
            trained_on=doc["trained_on"].numpy(),
            images_seen=int(doc["images_seen"]),
        )

    def save(self, name: str, result: JobResult) -> None:
        doc = {
            "name": result.name,
            "losses": [float(v) for v in result.losses],
            "select_accuracy": [float(v) for v in result.select_accuracy],
            "best_epoch": int(result.best_epoch),
            "state": result.state,
            "holdout_probs": {
                int(e): torch.from_numpy(np.array(p, dtype=np.float32))
                for e, p in result.holdout_probs.items()
            },
            "trained_on": torch.from_numpy(np.array(result.trained_on, dtype=np.int64)),
            "images_seen": int(result.images_seen),
        }
        # written aside and renamed: an interruption never leaves half a file behind
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(doc, tmp)
            os.replace(tmp, self.dir / f"{name}.pt")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def finished_models(out_dir: Path) -> list[str]:
    """Names of the models an unfinished run in ``out_dir`` kept (``final``, ``fold0``, ...)."""
    folder = Path(out_dir) / FOLDER
    if not (folder / "run.json").is_file():
        return []
    return sorted(p.stem for p in folder.glob("*.pt"))
