"""Registering an input dataset: an image folder ``<root>/<split>/<label>/<file>`` or a CSV manifest
``path,label,split``. Problems are collected and reported by name, all at once.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sheets_bridge.core.errors import DatasetError
from sheets_bridge.core.labels import ROMAN_CLASSES, normalize
from sheets_bridge.core.schema import SPLITS
from sheets_bridge.store.versions import MANIFEST_COLUMNS

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
CSV_COLUMNS = ("path", "label", "split")
_FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Entry:
    source: Path
    label: str
    split: str


def _scan_folder(root: Path, problems: list[str]) -> list[Entry]:
    entries: list[Entry] = []
    split_dirs = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    for d in split_dirs:
        if d.name not in SPLITS:
            problems.append(
                f"{d.name}/: unknown split {d.name!r} (expected one of {', '.join(SPLITS)})"
            )
            continue
        for label_dir in sorted(p for p in d.iterdir() if not p.name.startswith(".")):
            if not label_dir.is_dir():
                problems.append(
                    f"{d.name}/{label_dir.name}: a file where a class folder was expected"
                )
                continue
            files = sorted(
                p for p in label_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
            if not files:
                problems.append(f"{d.name}/{label_dir.name}/: empty class folder")
            for f in files:
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    problems.append(f"{f.relative_to(root)}: not an image file")
                    continue
                entries.append(Entry(f, label_dir.name, d.name))
    if not split_dirs:
        problems.append(f"{root}: no split folders (expected {root}/train/<label>/<image>)")
    return entries


def _scan_csv(path: Path, problems: list[str]) -> list[Entry]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DatasetError([f"{path.name}: not a readable CSV ({exc})"]) from None
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    unknown = [c for c in cols if c not in CSV_COLUMNS]
    missing = [c for c in CSV_COLUMNS if c not in cols]
    if unknown or missing:
        raise DatasetError(
            [
                f"{path.name}: columns must be exactly {','.join(CSV_COLUMNS)}"
                + (f"; unknown: {unknown}" if unknown else "")
                + (f"; missing: {missing}" if missing else "")
            ]
        )
    entries = []
    for n, row in enumerate(df.itertuples(index=False), start=2):
        p = Path(row.path.strip())
        p = p if p.is_absolute() else path.parent / p
        split = row.split.strip()
        if split not in SPLITS:
            problems.append(
                f"{path.name} line {n}: unknown split {row.split!r} (expected one of {', '.join(SPLITS)})"
            )
            continue
        entries.append(Entry(p, row.label, split))
    return entries


def _clean_labels(entries: list[Entry], problems: list[str]) -> tuple[list[Entry], tuple[str, ...]]:
    """Labels from folders or a CSV: Roman numerals normalised ("VII", " vii " -> vii)."""
    raw = {e.label for e in entries}
    votes = {r: normalize(r) for r in raw}
    roman = all(v.kind == "label" or r.strip() == "x" for r, v in votes.items())
    fixed = []
    for e in entries:
        label = e.label.strip()
        if roman:
            label = "x" if label == "x" else votes[e.label].label or label
        elif not label or label.startswith(_FORMULA_START):
            problems.append(f"{e.source}: invalid label {e.label!r}")
            continue
        fixed.append(Entry(e.source, label, e.split))
    labels = {e.label for e in fixed}
    classes = tuple(c for c in ROMAN_CLASSES if c in labels) if roman else tuple(sorted(labels))
    train = Counter(e.label for e in fixed if e.split == "train")
    for c in classes:
        if train[c] == 0:
            problems.append(f"class {c!r} has no training images")
    return fixed, classes


def _read_image(path: Path) -> tuple[bytes, str | None]:
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except OSError as exc:
        return b"", f"cannot read ({exc.strerror})"
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:  # verify() does not decode pixels; a truncated file fails here
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return data, f"unreadable image ({exc.__class__.__name__}: {str(exc)[:80]})"
    return data, None


def register(source: Path, workspace: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validate a dataset and copy its images into ``<workspace>/media/`` (content-addressed).

    Returns the manifest (``MANIFEST_COLUMNS``, paths relative to the workspace) and the classes.
    Raises :class:`DatasetError` listing every problem found.
    """
    source = Path(source)
    problems: list[str] = []
    if not source.exists():
        raise DatasetError([f"{source}: no such file or folder"])
    if source.is_dir():
        entries = _scan_folder(source, problems)
    elif source.suffix.lower() == ".csv":
        entries = _scan_csv(source, problems)
    else:
        raise DatasetError([f"{source}: expected an image folder or a .csv manifest"])
    entries, classes = _clean_labels(entries, problems)
    if len(classes) < 2:
        problems.append(f"found {len(classes)} class(es) {list(classes)}; at least 2 are needed")
    rows = []
    for e in entries:
        data, error = _read_image(e.source)
        if error:
            shown = e.source.relative_to(source) if source.is_dir() else e.source
            problems.append(f"{shown}: {error}")
            continue
        rows.append((e, hashlib.sha256(data).hexdigest(), data))
    if problems:
        raise DatasetError(problems)
    stems = Counter(e.source.stem for e, _, _ in rows)
    records, seen = [], set()
    for e, sha, data in rows:
        image_id = e.source.stem if stems[e.source.stem] == 1 else f"{e.source.stem}-{sha[:8]}"
        if image_id in seen:  # same stem and same bytes: tell them apart by their place
            image_id = f"{e.source.stem}-{hashlib.sha256(str(e.source).encode()).hexdigest()[:8]}"
        seen.add(image_id)
        rel = Path("media") / sha[:2] / f"{sha}{e.source.suffix.lower()}"
        target = workspace / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        records.append((image_id, rel.as_posix(), e.label, e.split, "source", "", sha))
    manifest = pd.DataFrame(records, columns=MANIFEST_COLUMNS)
    return manifest, classes


def copy_tree_images(manifest: pd.DataFrame, workspace: Path, out: Path) -> int:
    """Export a manifest to ``<out>/<split>/<label>/<id><ext>``; returns the number of files."""
    n = 0
    for row in manifest.itertuples(index=False):
        src = workspace / row.path
        dst = out / row.split / row.label / f"{row.id}{src.suffix}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        n += 1
    return n
