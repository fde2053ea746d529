"""``import-run``: a run from predictions made outside the tool (cleanlab's convention: an ``id``
column and one probability column per class), so a team with its own training pipeline uses the
sheet workflow without our model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sheets_bridge.core.errors import DatasetError
from sheets_bridge.core.schema import SHEET_SPLITS
from sheets_bridge.store.workspace import Run, Workspace

PRESET = "imported"


@dataclass
class ImportReport:
    run: str
    images: int
    embeddings: str
    val_accuracy: float | None

    def describe(self) -> str:
        acc = f"{self.val_accuracy:.1%}" if self.val_accuracy is not None else "n/a"
        return (
            f"imported {self.images} predictions as {self.run} (embeddings: {self.embeddings}; "
            f"val accuracy of the imported predictions {acc}); next: sheets-bridge push"
        )


def _listed(ids: list[str], limit: int = 10) -> str:
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype={"id": str}, keep_default_na=False, na_values=[""])
    except FileNotFoundError:
        raise DatasetError([f"{path}: no such file ({what})"]) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError([f"{path}: not a readable CSV file ({what}): {exc}"]) from None


def read_probabilities(path: Path, classes: tuple[str, ...], ids: list[str]) -> np.ndarray:
    """The probability matrix in the order of ``ids``; DatasetError listing every problem."""
    from model.imported import check_probabilities

    frame = _read_csv(path, "id plus one probability column per class")
    if "id" not in frame.columns:
        raise DatasetError([f"{path}: no 'id' column (expected: id, {', '.join(classes)})"])
    columns = list(classes)
    if not set(columns) <= set(frame.columns):
        prefixed = [f"p_{c}" for c in classes]
        if set(prefixed) <= set(frame.columns):
            columns = prefixed  # the layout of a run's own predictions.csv
        else:
            missing = [c for c in classes if c not in frame.columns]
            raise DatasetError(
                [
                    f"{path}: no probability column for class(es) {', '.join(missing)}; name one "
                    f"column per class exactly as the dataset's classes: {', '.join(classes)}"
                ]
            )
    frame["id"] = frame["id"].astype(str).str.strip()
    repeated = sorted(frame["id"][frame["id"].duplicated()].unique())
    problems = [f"{path}: id {i} appears more than once" for i in repeated[:20]]
    known = set(ids)
    given = set(frame["id"])
    missing = [i for i in ids if i not in given]
    extra = sorted(given - known)
    if missing:
        problems.append(
            f"{path}: {len(missing)} image(s) of the dataset missing: {_listed(missing)}"
        )
    if extra:
        problems.append(
            f"{path}: {len(extra)} id(s) not in the current version's train/val: {_listed(extra)}"
        )
    if problems:
        raise DatasetError(problems)
    values = frame.set_index("id").loc[ids, columns]
    probs = values.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = check_probabilities(probs, ids)
    if bad:
        raise DatasetError([f"{path}: {b}" for b in bad])
    return probs


def read_embeddings(path: Path, ids: list[str], probs_ids: list[str]) -> np.ndarray:
    """Embeddings in the order of ``ids``: ``.npy`` rows in the order of the probabilities file,
    or a CSV with an ``id`` column and one column per dimension."""
    if path.suffix.lower() == ".npy":
        try:
            emb = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError([f"{path}: not a readable .npy array: {exc}"]) from None
        if emb.ndim != 2 or len(emb) != len(probs_ids):
            raise DatasetError(
                [
                    f"{path}: expected a 2-D array with one row per line of the probabilities "
                    f"file ({len(probs_ids)} rows), got shape {emb.shape}"
                ]
            )
        order = {i: k for k, i in enumerate(probs_ids)}
        emb = emb[[order[i] for i in ids]]
    else:
        frame = _read_csv(path, "id plus one column per embedding dimension")
        if "id" not in frame.columns:
            raise DatasetError([f"{path}: no 'id' column"])
        frame["id"] = frame["id"].astype(str).str.strip()
        missing = [i for i in ids if i not in set(frame["id"])]
        if missing:
            raise DatasetError(
                [f"{path}: no embedding for {len(missing)} id(s): {_listed(missing)}"]
            )
        emb = (
            frame.drop_duplicates("id")
            .set_index("id")
            .loc[ids]
            .apply(pd.to_numeric, errors="coerce")
            .to_numpy(dtype=np.float64)
        )
    if not np.isfinite(emb).all():
        raise DatasetError([f"{path}: embeddings hold empty or non-numeric values"])
    return emb.astype(np.float32)


def import_run(
    ws: Workspace, probabilities: Path | str, *, embeddings: Path | str | None = None
) -> ImportReport:
    """Make a run of the current version from ``probabilities`` (and ``embeddings``)."""
    from model.imported import write_imported_run

    version = ws.current
    manifest = version.manifest()
    pool = manifest[manifest["split"].isin(SHEET_SPLITS)].reset_index(drop=True)
    ids = [str(i) for i in pool["id"]]
    probs_path = Path(probabilities)
    probs = read_probabilities(probs_path, ws.classes, ids)
    emb = None
    if embeddings is not None:
        given = _read_csv(probs_path, "probabilities")["id"].astype(str).str.strip().tolist()
        emb = read_embeddings(Path(embeddings), ids, given)
    run: Run = ws.new_run(version, PRESET, ws.config.seed)
    try:
        families = [
            p if o == "augmented" and p else i
            for i, o, p in zip(pool["id"], pool["origin"], pool["parent_id"], strict=True)
        ]
        metrics = write_imported_run(
            run.path,
            ids=ids,
            splits=list(pool["split"]),
            labels=list(pool["label"]),
            classes=ws.classes,
            probs=probs,
            embeddings=emb,
            sha256s=list(pool["sha256"]),
            families=families,
            seed=ws.config.seed,
            source=str(probs_path.resolve()),
        )
    except BaseException as exc:
        ws.update_run(run, state="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    ws.update_run(
        run,
        state="done",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        val_accuracy=metrics["val_accuracy"],
        source=str(probs_path.resolve()),
    )
    return ImportReport(run.id, len(ids), metrics["embeddings"], metrics["val_accuracy"])
