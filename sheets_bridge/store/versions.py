"""Immutable dataset versions: ``<workspace>/versions/vNNNN/{manifest.csv, changes.csv, meta.json}``.

A version is written into a hidden temporary folder and renamed into place in one step, so a crash
or Ctrl-C mid-way leaves no half-written version and the previous one intact. Nothing in a version
folder is ever modified afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.core.process import pid_alive
from sheets_bridge.store.faults import faultpoint

MANIFEST_COLUMNS = ["id", "path", "label", "split", "origin", "parent_id", "sha256"]
CHANGE_COLUMNS = ["id", "field", "old", "new", "reason", "source"]
_NAME = re.compile(r"^v(\d{4,})$")


@dataclass(frozen=True)
class Version:
    name: str
    path: Path

    @property
    def number(self) -> int:
        return int(self.name[1:])

    def manifest(self) -> pd.DataFrame:
        return read_manifest(self.path / "manifest.csv")

    def changes(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "changes.csv", dtype=str, keep_default_na=False)

    def meta(self) -> dict:
        return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))


def read_manifest(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise WorkspaceError(f"{path} lacks columns {missing}")
    return df[MANIFEST_COLUMNS]


def version_name(number: int) -> str:
    return f"v{number:04d}"


def list_versions(versions_dir: Path) -> list[Version]:
    if not versions_dir.exists():
        return []
    found = [
        Version(p.name, p) for p in versions_dir.iterdir() if p.is_dir() and _NAME.match(p.name)
    ]
    return sorted(found, key=lambda v: v.number)


def summarize(manifest: pd.DataFrame) -> dict:
    """Counts per split and class, stored in meta.json and shown by `versions`."""
    return {
        "images": int(len(manifest)),
        "splits": {k: int(v) for k, v in manifest["split"].value_counts().sort_index().items()},
        "classes": {k: int(v) for k, v in manifest["label"].value_counts().sort_index().items()},
        "augmented": int((manifest["origin"] == "augmented").sum()),
    }


def create_version(
    versions_dir: Path,
    manifest: pd.DataFrame,
    changes: pd.DataFrame | None = None,
    *,
    parent: str | None,
    message: str,
    extra: dict | None = None,
    before_rename: Callable[[str], None] | None = None,
) -> Version:
    """Write the next version atomically and return it.

    The manifest must have :data:`MANIFEST_COLUMNS` and unique ids. ``before_rename(name)`` runs
    when the folder is complete, just before it appears under its name (the workspace writes its
    journal there). A full disk raises WorkspaceError and leaves nothing behind.
    """
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks columns {missing}")
    dup = manifest["id"][manifest["id"].duplicated()].tolist()
    if dup:
        raise ValueError(f"manifest ids repeat: {dup[:10]}")
    changes = pd.DataFrame(columns=CHANGE_COLUMNS) if changes is None else changes[CHANGE_COLUMNS]
    versions_dir.mkdir(parents=True, exist_ok=True)
    existing = list_versions(versions_dir)
    name = version_name(existing[-1].number + 1 if existing else 1)
    # the builder's pid in the name tells a build in progress from the leftover of a dead one
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-{os.getpid()}-", dir=versions_dir))
    try:
        faultpoint("version.write")
        manifest[MANIFEST_COLUMNS].to_csv(tmp / "manifest.csv", index=False)
        faultpoint("version.manifest-written")
        changes.to_csv(tmp / "changes.csv", index=False)
        meta = {
            "name": name,
            "parent": parent,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "message": message,
            "counts": summarize(manifest),
            "changes": int(len(changes)),
            **(extra or {}),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o755)
        if before_rename:
            before_rename(name)
        faultpoint("version.before-rename")
        os.rename(tmp, versions_dir / name)  # atomic on one filesystem; fails if the name exists
        faultpoint("version.renamed")
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise WorkspaceError(
                f"no space left on the device while writing version {name} in {versions_dir}; "
                "nothing was changed: free some space and run the command again"
            ) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Version(name, versions_dir / name)


def _builder_alive(folder: str) -> bool:
    """Whether the process that named this temporary folder (``.vNNNN-<pid>-...``) still runs."""
    parts = folder.split("-")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    return pid_alive(int(parts[1]))


def clean_partial(versions_dir: Path) -> list[str]:
    """Remove leftovers of interrupted version builds (hidden temporary folders).

    A folder whose builder is still running (another job, another process) is left alone: this
    runs whenever a workspace is opened, also while a pull is building the next version.
    """
    removed = []
    if versions_dir.exists():
        for p in versions_dir.iterdir():
            if p.is_dir() and p.name.startswith(".v") and not _builder_alive(p.name):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p.name)
    return removed


def diff(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """What changed between two manifests, as change-log rows (``id, field, old, new``).

    ``field`` is ``added``, ``removed``, ``label`` or ``split``.
    """
    a, b = old.set_index("id"), new.set_index("id")
    rows: list[tuple[str, str, str, str]] = []
    for rid in a.index.difference(b.index):
        rows.append((rid, "removed", f"{a.at[rid, 'split']}/{a.at[rid, 'label']}", ""))
    for rid in b.index.difference(a.index):
        rows.append((rid, "added", "", f"{b.at[rid, 'split']}/{b.at[rid, 'label']}"))
    both = a.index.intersection(b.index)
    for col in ("label", "split"):
        changed = both[(a.loc[both, col] != b.loc[both, col]).to_numpy()]
        rows += [(rid, col, a.at[rid, col], b.at[rid, col]) for rid in changed]
    out = pd.DataFrame(rows, columns=["id", "field", "old", "new"])
    return out.sort_values(["field", "id"], kind="stable").reset_index(drop=True)
