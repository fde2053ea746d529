"""``export``: a dataset version written where other tools read it.

Formats:

- ``folder``: ``<dir>/<split>/<label>/<id><ext>``; each split folder is FiftyOne's
  image-classification directory tree and torchvision's ``ImageFolder``.
- ``csv``: ``<dir>/images/<id><ext>``, ``<dir>/manifest.csv`` (``path,label,split``: what
  ``sheets-bridge init`` and most tools read) and ``<dir>/details.csv`` (``path, id, origin,
  parent_id, sha256, version, reasons``).
- ``hf``: a Hugging Face ``imagefolder``: ``<dir>/<split>/<label>/<id><ext>`` with
  ``<dir>/<split>/metadata.csv`` (``file_name, label, id, version, origin, parent_id, reasons``);
  ``val`` loads as the validation split. The label book is left out (not a split HF knows).
- ``fiftyone``: FiftyOne's ``FiftyOneImageClassificationDataset``: ``<dir>/data/<id><ext>`` and
  ``<dir>/labels.json`` (``{"classes": [...], "labels": {"<id>": class index}}``), plus
  ``<dir>/splits.json`` (id -> split), since that format has no splits of its own.

Every path is built from ids and labels that are checked first: nothing is written outside ``dir``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.store.workspace import Workspace

FORMATS = ("folder", "csv", "hf", "fiftyone")


@dataclass
class ExportReport:
    version: str
    format: str
    directory: Path
    images: int
    skipped: int = 0

    def describe(self) -> str:
        skipped = f" ({self.skipped} label-book images left out)" if self.skipped else ""
        return (
            f"exported {self.images} images of {self.version} as {self.format} to "
            f"{self.directory}{skipped}"
        )


def safe_part(value: str, what: str) -> str:
    """``value`` as one path component, or WorkspaceError: no separators, no ``..``, no NUL."""
    text = str(value)
    if (
        not text
        or text in (".", "..")
        or "/" in text
        or "\\" in text
        or "\x00" in text
        or text.startswith("~")
    ):
        raise WorkspaceError(
            f"cannot export: {what} {text!r} is not usable as a file or folder name; relabel it "
            "(no slashes, no '..') and export again"
        )
    return text


def _reasons(ws: Workspace, version: str) -> dict[str, str]:
    """Every change reason along the version's history, per image id (oldest first)."""
    chain = []
    name: str | None = version
    while name:
        v = ws.version(name)
        chain.append(v)
        name = v.meta().get("parent")
    out: dict[str, list[str]] = {}
    for v in reversed(chain):
        changes = v.changes()
        for r in changes.itertuples(index=False):
            out.setdefault(str(r.id), []).append(
                f"{v.name}: {r.field} {r.old}->{r.new} ({r.reason})"
            )
    return {k: "; ".join(v) for k, v in out.items()}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def export(ws: Workspace, version: str, directory: Path, *, format: str = "folder") -> ExportReport:
    """Write ``version`` to ``directory`` (new or empty) in ``format`` (one of :data:`FORMATS`)."""
    if format not in FORMATS:
        raise WorkspaceError(
            f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}"
        )
    v = ws.version(version)
    out = Path(directory)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WorkspaceError(f"{out} is not empty; choose a new folder")
    manifest = v.manifest()
    rows = []
    for r in manifest.itertuples(index=False):
        src = ws.root / r.path
        rows.append((r, src, safe_part(f"{r.id}{src.suffix.lower()}", "image id")))
        safe_part(r.label, "label")
        safe_part(r.split, "split")
    root = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    skipped = 0
    if format == "folder":
        for r, src, name in rows:
            _copy(src, root / r.split / r.label / name)
    elif format == "csv":
        reasons = _reasons(ws, v.name)
        table = []
        for r, src, name in rows:
            _copy(src, root / "images" / name)
            table.append(
                {
                    "path": f"images/{name}",
                    "label": r.label,
                    "split": r.split,
                    "id": r.id,
                    "origin": r.origin,
                    "parent_id": r.parent_id,
                    "sha256": r.sha256,
                    "version": v.name,
                    "reasons": reasons.get(str(r.id), ""),
                }
            )
        frame = pd.DataFrame(table)
        frame[["path", "label", "split"]].to_csv(root / "manifest.csv", index=False)
        frame.drop(columns=["label", "split"]).to_csv(root / "details.csv", index=False)
    elif format == "hf":
        reasons = _reasons(ws, v.name)
        per_split: dict[str, list[dict]] = {}
        for r, src, name in rows:
            if r.split == "label_book":
                skipped += 1
                continue
            _copy(src, root / r.split / r.label / name)
            per_split.setdefault(r.split, []).append(
                {
                    "file_name": f"{r.label}/{name}",
                    "label": r.label,
                    "id": r.id,
                    "version": v.name,
                    "origin": r.origin,
                    "parent_id": r.parent_id,
                    "reasons": reasons.get(str(r.id), ""),
                }
            )
        for split, table in per_split.items():
            pd.DataFrame(table).to_csv(root / split / "metadata.csv", index=False)
    else:  # fiftyone
        classes = list(ws.classes)
        index = {c: k for k, c in enumerate(classes)}
        labels, splits = {}, {}
        for r, src, name in rows:
            _copy(src, root / "data" / name)
            stem = Path(name).stem
            labels[stem] = index[r.label]
            splits[stem] = r.split
        (root / "labels.json").write_text(json.dumps({"classes": classes, "labels": labels}))
        (root / "splits.json").write_text(json.dumps(splits))
    return ExportReport(v.name, format, out, len(rows) - skipped, skipped)
