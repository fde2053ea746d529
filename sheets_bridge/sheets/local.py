"""The embedded local sheet: a SQLite file (``<workspace>/sheet.db``) that needs no account.

Each row is stored as a JSON object keyed by column name; a cell edit is one
``json_set`` statement, so two people editing different cells of the same row at once never lose
each other's work. Every human edit is recorded in the ``edits`` table (who, when, old, new).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from sheets_bridge.core.cells import Cell, SheetTable, SheetWrite
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.sqlite import connect as db_connect
from sheets_bridge.core.sqlite import transaction as db_transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS header (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    position REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rows_position ON rows(position);
CREATE TABLE IF NOT EXISTS edits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    id TEXT NOT NULL,
    column TEXT NOT NULL,
    old TEXT,
    new TEXT,
    author TEXT
);
"""


def as_text(value: object) -> str:
    """How a stored cell reads back: what a person would see in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.4g}" if value == value else ""
    return str(value)


def _storable(value: Cell) -> object:
    if isinstance(value, str):  # Formula included: stored as its text
        return str(value)
    if isinstance(value, float) and value != value:  # NaN -> empty
        return None
    return value


class LocalSheet:
    """The :class:`~sheets_bridge.sheets.Sheet` stored in one SQLite file.

    >>> sheet = LocalSheet(tmp_path / "sheet.db")   # doctest: +SKIP
    >>> sheet.read().rows                           # doctest: +SKIP
    ()
    """

    url = "/sheet"

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def from_config(cls, config: object, workspace_root: Path) -> LocalSheet:
        """The workspace's embedded sheet, ``<workspace>/sheet.db``."""
        return cls(Path(workspace_root) / "sheet.db")

    def _connect(self):
        return db_connect(self.path)

    def _transaction(self):
        return db_transaction(self.path)

    # -- reading ---------------------------------------------------------------------------------
    def header(self) -> tuple[str, ...]:
        with self._connect() as db:
            return tuple(n for (n,) in db.execute("SELECT name FROM header ORDER BY position"))

    def read(self) -> SheetTable:
        with self._connect() as db:
            header = tuple(n for (n,) in db.execute("SELECT name FROM header ORDER BY position"))
            rows = []
            for rid, data in db.execute("SELECT id, data FROM rows ORDER BY position, rowid"):
                cells = json.loads(data)
                row = {c: as_text(cells.get(c)) for c in header}
                row["id"] = rid
                rows.append(row)
        return SheetTable(header, tuple(rows))

    def records(self) -> list[dict[str, object]]:
        """Rows with their stored types (numbers stay numbers), in sheet order, for the grid."""
        with self._connect() as db:
            header = [n for (n,) in db.execute("SELECT name FROM header ORDER BY position")]
            out = []
            for rid, data in db.execute("SELECT id, data FROM rows ORDER BY position, rowid"):
                cells = json.loads(data)
                rec = {c: cells.get(c) for c in header}
                rec["id"] = rid
                out.append(rec)
        return out

    # -- writing (the bridge) --------------------------------------------------------------------
    def write(self, change: SheetWrite) -> None:
        """Apply a push or pull: header, model/bridge cells of existing rows, appended rows."""
        with self._transaction() as db:
            existing = [n for (n,) in db.execute("SELECT name FROM header ORDER BY position")]
            merged = existing + [c for c in change.header if c not in existing]
            if merged != existing:
                db.execute("DELETE FROM header")
                db.executemany("INSERT INTO header VALUES (?, ?)", list(enumerate(merged)))
            known = {rid for (rid,) in db.execute("SELECT id FROM rows")}
            missing = sorted(set(change.updates) - known)
            if missing:
                raise SheetError(f"rows vanished while writing: {missing[:10]}")
            for rid, cells in change.updates.items():
                self._set(db, rid, cells)
            (last,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM rows").fetchone()
            for i, cells in enumerate(change.appends, start=1):
                rid = str(cells["id"])
                if rid in known:
                    raise SheetError(f"cannot append row {rid!r}: it is already in the sheet")
                data = {k: _storable(v) for k, v in cells.items() if k != "id"}
                db.execute(
                    "INSERT INTO rows (id, position, data) VALUES (?, ?, ?)",
                    (rid, last + i, json.dumps(data)),
                )
                known.add(rid)
            if change.sort_by:
                self._sort(db, change.sort_by)

    @staticmethod
    def _set(db: sqlite3.Connection, rid: str, cells: Mapping[str, Cell]) -> None:
        if not cells:
            return
        args: list[object] = []
        path = []
        for col, value in cells.items():
            path.append("?, json(?)")
            args += [f'$."{col}"', json.dumps(_storable(value))]
        db.execute(
            f"UPDATE rows SET data = json_set(data, {', '.join(path)}) WHERE id = ?", [*args, rid]
        )

    @staticmethod
    def _sort(db: sqlite3.Connection, column: str) -> None:
        rows = list(
            db.execute("SELECT id, json_extract(data, ?), position FROM rows", (f'$."{column}"',))
        )

        def key(item: tuple[str, object, float]) -> tuple[int, float, float]:
            _, value, pos = item
            try:
                return (0, float(value), pos)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return (1, 0.0, pos)

        rows.sort(key=key)
        db.executemany(
            "UPDATE rows SET position = ? WHERE id = ?", [(i, r[0]) for i, r in enumerate(rows, 1)]
        )

    # -- editing (people: the grid, `sheet update`) ----------------------------------------------
    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """Set cells ``(id, column, value)`` and log each change; returns how many changed.

        The caller decides which columns people may edit; this only requires that the row and the
        column exist.
        """
        changed = 0
        with self._transaction() as db:
            header = {n for (n,) in db.execute("SELECT name FROM header")}
            now = time.time()
            for rid, column, value in edits:
                if column not in header:
                    raise SheetError(f"the sheet has no column {column!r}")
                row = db.execute(
                    "SELECT json_extract(data, ?) FROM rows WHERE id = ?", (f'$."{column}"', rid)
                ).fetchone()
                if row is None:
                    raise SheetError(f"the sheet has no row with id {rid!r}")
                old = as_text(row[0])
                new = as_text(value)
                if old == new:
                    continue
                self._set(db, rid, {column: value})
                db.execute(
                    "INSERT INTO edits (ts, id, column, old, new, author) VALUES (?, ?, ?, ?, ?, ?)",
                    (now, rid, column, old, new, author),
                )
                changed += 1
        return changed

    def delete_rows(self, ids: Iterable[str]) -> int:
        """Delete rows by id (people may delete rows; the next push adds them back)."""
        with self._transaction() as db:
            return sum(db.execute("DELETE FROM rows WHERE id = ?", (i,)).rowcount for i in ids)

    def move_row(self, rid: str, position: float) -> None:
        """Put a row at another place in the order (people may sort and move rows)."""
        with self._transaction() as db:
            db.execute("UPDATE rows SET position = ? WHERE id = ?", (position, rid))

    def edit_log(self, since: int = 0) -> list[dict[str, object]]:
        with self._connect() as db:
            cur = db.execute(
                "SELECT seq, ts, id, column, old, new, author FROM edits WHERE seq > ? ORDER BY seq",
                (since,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur]
