"""SQLite connections shared by the local sheet and the job store: WAL, a busy timeout, and
``BEGIN IMMEDIATE`` transactions so concurrent writers queue instead of failing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def connect(path: Path, *, rows: bool = False) -> Iterator[sqlite3.Connection]:
    """An autocommit connection; ``rows=True`` returns :class:`sqlite3.Row` objects."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    if rows:
        db.row_factory = sqlite3.Row
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        yield db
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
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
