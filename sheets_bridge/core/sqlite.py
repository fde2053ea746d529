"""SQLite connections shared by the local sheet and the job store: WAL, a busy timeout, and
``BEGIN IMMEDIATE`` transactions so concurrent writers queue instead of failing.

SQLite's own errors never leave this module: a damaged file, a full disk or a read-only file
becomes a :class:`~sheets_bridge.core.errors.StorageError` that names the file and says what to do.
A file that this process may not write (a read-only workspace) is opened read-only, so that
viewing still works.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sheets_bridge.core.errors import StorageError

_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_FULL = ("SQLITE_FULL",)
_READ_ONLY = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")


def storage_error(path: Path, exc: sqlite3.Error) -> StorageError:
    """The one-line error for a SQLite failure on ``path``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    code = next((c for c in (*_DAMAGED, *_FULL, *_READ_ONLY) if name.startswith(c)), "")
    if code in _DAMAGED:
        return StorageError(
            f"{path} is damaged ({exc}): move it aside (e.g. to {path.name}.broken) and restore it "
            "from a backup, or run `sheets-bridge push` to write a fresh sheet"
        )
    if code in _FULL:
        return StorageError(f"the disk is full while writing {path}: free some space and run again")
    if code in _READ_ONLY:
        return StorageError(
            f"{path} cannot be written ({exc}): the workspace is read-only here; "
            "viewing works, changes need write access"
        )
    if "no such table" in str(exc):
        return StorageError(
            f"{path} is not a sheets-bridge database ({exc}): move it aside (e.g. to "
            f"{path.name}.broken) and restore it from a backup, or run `sheets-bridge push`"
        )
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StorageError(f"{path} is busy ({exc}): another process holds it; try again")
    return StorageError(f"{path}: {exc}")


def writable(path: Path) -> bool:
    """Whether this process may change ``path`` (and create SQLite's side files beside it)."""
    folder = path.parent
    return os.access(folder, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


@contextmanager
def connect(path: Path, *, rows: bool = False) -> Iterator[sqlite3.Connection]:
    """An autocommit connection; ``rows=True`` returns :class:`sqlite3.Row` objects."""
    path = Path(path)
    read_only = path.exists() and not writable(path)
    try:
        if read_only:
            # immutable: no lock or WAL side files, which a read-only folder could not hold
            uri = f"file:{quote(str(path.resolve()))}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
        else:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise storage_error(path, exc) from None
    if rows:
        db.row_factory = sqlite3.Row
    try:
        if not read_only:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
        yield db
    except sqlite3.Error as exc:
        raise storage_error(path, exc) from None
    finally:
        db.close()


@contextmanager
def transaction(path: Path, *, rows: bool = False) -> Iterator[sqlite3.Connection]:
    """One write transaction, taken at once (``BEGIN IMMEDIATE``), rolled back on any error."""
    with connect(path, rows=rows) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
