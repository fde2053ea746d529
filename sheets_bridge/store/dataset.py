"""Registering an input dataset: an image folder ``<root>/<split>/<label>/<file>`` or a CSV manifest
``path,label,split``. Problems are collected and reported by name, all at once.

What is refused (each with the file or label named):
- class names that could not be a folder name or would confuse people: empty, leading or trailing
  spaces, ``/`` or ``\\``, ``.`` or ``..``, control or invisible format characters, longer than
  :data:`MAX_LABEL` characters, or starting like a formula (``= + - @``);
- file and folder names that are not valid UTF-8 (they cannot be written to the manifest);
- symbolic links to folders anywhere in an image folder (a linked class folder would register the
  same images again under another class), and links to a file that is registered anyway;
- images that cannot be decoded, and decompression bombs (more than
  :data:`MAX_PIXELS` pixels).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import warnings
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
#: Longest class name: it becomes a folder name, a sheet value and a dropdown entry.
MAX_LABEL = 64
#: Largest image accepted (pixels); Pillow's own bomb limit, so nothing larger is ever decoded.
MAX_PIXELS = 89_478_485


def name_problem(name: str, *, what: str = "class name", limit: int = MAX_LABEL) -> str | None:
    """Why ``name`` cannot be a class name (or one folder name in an export), or None."""
    if not name:
        return f"empty {what}"
    if name != name.strip():
        return f"{what} {name!r} has leading or trailing spaces"
    if not _utf8(name):
        return f"{what} {ascii(name)} is not valid UTF-8"
    if "/" in name or "\\" in name or os.sep in name:
        return f"{what} {name!r} contains a path separator"
    if name in (".", ".."):
        return f"{what} {name!r} is not a folder name"
    bad = [c for c in name if unicodedata.category(c).startswith("C")]
    if bad:
        return f"{what} {name!r} contains control character(s) {ascii(''.join(bad))}"
    if len(name) > limit:
        return f"{what} {name[:20]!r}... is {len(name)} characters long (at most {limit})"
    return None


def _utf8(text: str) -> bool:
    """False for names the file system gave as undecodable bytes (surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Entry:
    source: Path
    label: str
    split: str


def _scan_folder(root: Path, problems: list[str]) -> list[Entry]:
    entries: list[Entry] = []
    split_dirs = [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    for d in split_dirs:
        if not _utf8(d.name):
            problems.append(f"{ascii(d.name)}/: folder name is not valid UTF-8; rename it")
            continue
        if d.name not in SPLITS:
            problems.append(
                f"{d.name}/: unknown split {d.name!r} (expected one of {', '.join(SPLITS)})"
            )
            continue
        if d.is_symlink():
            problems.append(f"{d.name}/: a link to a folder; copy the folder in instead")
            continue
        for label_dir in sorted(p for p in d.iterdir() if not p.name.startswith(".")):
            shown = f"{d.name}/{label_dir.name}" if _utf8(label_dir.name) else ascii(label_dir.name)
            if not label_dir.is_dir():
                problems.append(f"{shown}: a file where a class folder was expected")
                continue
            if label_dir.is_symlink():
                problems.append(
                    f"{shown}/: a link to a folder (its images would be registered twice or under "
                    "another class); copy the folder in instead"
                )
                continue
            files = _files(label_dir, root, problems)
            if not files:
                problems.append(f"{shown}/: empty class folder")
            for f in files:
                if f.suffix.lower() not in IMAGE_SUFFIXES:
                    problems.append(f"{_shown(f, root)}: not an image file")
                    continue
                entries.append(Entry(f, label_dir.name, d.name))
    if not split_dirs:
        problems.append(f"{root}: no split folders (expected {root}/train/<label>/<image>)")
    return entries


def _shown(path: Path, root: Path) -> str:
    rel = str(path.relative_to(root))
    return rel if _utf8(rel) else ascii(rel)


def _files(folder: Path, root: Path, problems: list[str]) -> list[Path]:
    """The files under ``folder`` (links to folders are refused, not followed)."""
    found = []
    for here, dirs, names in os.walk(folder):
        base = Path(here)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                problems.append(
                    f"{_shown(base / name, root)}/: a link to a folder; copy it in instead"
                )
        dirs[:] = sorted(n for n in dirs if not n.startswith(".") and not (base / n).is_symlink())
        for name in sorted(names):
            path = base / name
            if name.startswith("."):
                continue
            if not _utf8(name):
                problems.append(f"{_shown(path, root)}: file name is not valid UTF-8; rename it")
                continue
            stem_problem = name_problem(path.stem, what="file name", limit=200)
            if stem_problem and "control" in stem_problem:
                problems.append(f"{_shown(path, root)}: {stem_problem}; rename it")
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)


def _scan_csv(path: Path, problems: list[str]) -> list[Entry]:
    try:
        # utf-8-sig: spreadsheet programs often start a CSV with a byte-order mark
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
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
        if not row.path.strip() or "\x00" in row.path:
            problems.append(f"{path.name} line {n}: invalid image path {row.path!r}")
            continue
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
    """Labels from folders or a CSV: Roman numerals normalised ("VII", " vii " -> vii); any other
    class name must pass :func:`name_problem` (it becomes a folder, a sheet value and a dropdown
    entry)."""
    raw = {e.label for e in entries}
    votes = {r: normalize(r) for r in raw}
    roman = bool(raw) and all(v.kind == "label" or r.strip() == "x" for r, v in votes.items())
    fixed = []
    refused: dict[str, str] = {}
    for e in entries:
        label = e.label
        if roman:
            label = "x" if label.strip() == "x" else votes[e.label].label or label.strip()
        elif label in refused:
            continue
        else:
            problem = name_problem(label)
            if problem is None and label.startswith(_FORMULA_START):
                problem = f"invalid label {label!r} (it would start a formula)"
            if problem:
                refused[label] = problem
                problems.append(f"{_source_name(e.source)}: {problem}")
                continue
        fixed.append(Entry(e.source, label, e.split))
    labels = {e.label for e in fixed}
    classes = tuple(c for c in ROMAN_CLASSES if c in labels) if roman else tuple(sorted(labels))
    train = Counter(e.label for e in fixed if e.split == "train")
    for c in classes:
        if train[c] == 0:
            problems.append(f"class {c!r} has no training images")
    return fixed, classes


def _source_name(path: Path) -> str:
    text = str(path)
    return text if _utf8(text) else ascii(text)


def _read_image(path: Path) -> tuple[bytes, str | None]:
    from PIL import Image

    try:
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        return b"", f"cannot read ({getattr(exc, 'strerror', None) or exc})"
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                pixels = im.width * im.height
                if pixels > MAX_PIXELS:
                    return data, _bomb(im.width, im.height)
                im.verify()
            with Image.open(
                path
            ) as im:  # verify() does not decode pixels; a truncated file fails here
                im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return data, f"refused: too many pixels, a decompression bomb? ({str(exc)[:80]})"
    except Exception as exc:  # any decoder failure is this file's problem, not a crash
        return data, f"unreadable image ({exc.__class__.__name__}: {str(exc)[:80]})"
    return data, None


def _bomb(width: int, height: int) -> str:
    return (
        f"refused: {width}x{height} is more than {MAX_PIXELS:,} pixels "
        "(a decompression bomb?); shrink it"
    )


def register(source: Path, workspace: Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Validate a dataset and copy its images into ``<workspace>/media/`` (content-addressed).

    Returns the manifest (``MANIFEST_COLUMNS``, paths relative to the workspace) and the classes.
    Raises :class:`DatasetError` listing every problem found.
    """
    source = Path(source)
    problems: list[str] = []
    if not _utf8(str(source)):
        raise DatasetError([f"{ascii(str(source))}: the path is not valid UTF-8; rename it"])
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
    linked: dict[Path, Path] = {}
    for e in entries:
        real = e.source.resolve()
        if real in linked:
            problems.append(
                f"{_source_name(e.source)}: the same file as {_source_name(linked[real])} "
                "(a link); register each image once"
            )
            continue
        linked[real] = e.source
        data, error = _read_image(e.source)
        if error:
            shown = _shown(e.source, source) if source.is_dir() else _source_name(e.source)
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
