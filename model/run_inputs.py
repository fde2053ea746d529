"""What a run is given, checked before any work: the classes, the manifest, the device.

Example::

    classes = check_classes(["i", "ii", "iii"])
    rows = check_manifest(manifest, classes, folds=4)  # a clean copy, or a one-line ValueError
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

SPLITS = ("train", "val", "label_book", "test")
REQUIRED = ("id", "path", "label", "split")


def check_classes(classes: Sequence[str]) -> list[str]:
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise ValueError(f"need at least 2 classes, got {classes}")
    if len(set(classes)) != len(classes) or "" in classes:
        raise ValueError(f"class names must be unique and non-empty, got {classes}")
    return classes


def check_labelled(frame: pd.DataFrame, classes: list[str], what: str) -> None:
    unknown = sorted(set(frame["label"]) - set(classes))
    if unknown:
        raise ValueError(f"{what}: labels {unknown} are not among the classes {classes}")
    missing = [p for p in frame["path"] if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"{what}: {len(missing)} image file(s) not found, e.g. {missing[0]}")


def check_manifest(manifest: pd.DataFrame, classes: list[str], folds: int) -> pd.DataFrame:
    absent = [c for c in REQUIRED if c not in manifest.columns]
    if absent:
        raise ValueError(f"manifest lacks column(s) {absent}; it needs {list(REQUIRED)}")
    rows = manifest.reset_index(drop=True).copy()
    for col in ("id", "path", "label", "split", "sha256", "origin", "parent_id"):
        rows[col] = rows[col].fillna("").astype(str) if col in rows else ""
    if (rows["id"] == "").any() or rows["id"].duplicated().any():
        dup = rows.loc[rows["id"].duplicated(), "id"].head(3).tolist()
        raise ValueError(f"manifest ids must be unique and non-empty (repeated: {dup})")
    bad = sorted(set(rows["split"]) - set(SPLITS))
    if bad:
        raise ValueError(f"unknown split value(s) {bad}; use {list(SPLITS)}")
    if not isinstance(folds, int) or folds < 2:
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    labelled = rows[rows["split"].isin(["train", "val", "label_book"])]
    check_labelled(labelled, classes, "manifest")
    pool = rows[rows["split"].isin(["train", "val"])]
    if not (pool["split"] == "train").any():
        raise ValueError("manifest has no train rows")
    counts = pool["label"].value_counts()
    for c in classes:
        if counts.get(c, 0) < folds:
            raise ValueError(
                f"class {c!r} has {counts.get(c, 0)} train+val image(s), fewer than folds={folds}: "
                "add images of it or lower folds"
            )
    return rows


def resolve_device(device: str | None) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available")
    return dev
