"""The embedded local sheet: a SQLite file (``<workspace>/sheet.db``) that needs no account.

Each row is stored as a JSON object keyed by column name; a cell edit is one
``json_set`` statement, so two people editing different cells of the same row at once never lose
each other's work. This module holds the table and the bridge's side (reading, and the writes of
push and pull); people's edits, undo and the edit log are in ``local_edits``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from sheets_bridge.core.cells import Cell, SheetTable, SheetWrite
from sheets_bridge.core.errors import SheetError, StorageError
from sheets_bridge.core.sqlite import connect as db_connect
from sheets_bridge.core.sqlite import transaction as db_transaction
from sheets_bridge.core.sqlite import writable as db_writable
from sheets_bridge.sheets.local_edits import LocalEdits, as_text, storable
from sheets_bridge.sheets.local_query import LocalQuery

__all__ = ["LocalSheet", "as_text"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS header (position INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS rows (
    id TEXT PRIMARY KEY,
    position REAL NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    pushed INTEGER
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
#: Added after the first release: sheets made before them get the columns on open.
_EDIT_COLUMNS = {"action": "TEXT", "undoes": "TEXT"}
_ROW_COLUMNS = {"pushed": "INTEGER"}
#: ``rows.pushed`` is the fingerprint of the model cells the last push wrote into the row
#: (``core.rows.row_digest``): while it holds, the next push can skip the row. Any other change
#: to the row's cells (a person's edit, a pull, a script) makes it unknown again, whichever code
#: wrote it, so the next push compares that row in full.
_PUSHED_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS rows_pushed_stale AFTER UPDATE OF data ON rows
WHEN NEW.pushed IS OLD.pushed AND OLD.pushed IS NOT NULL
BEGIN UPDATE rows SET pushed = NULL WHERE rowid = NEW.rowid; END
"""


class LocalSheet(LocalEdits, LocalQuery):
    """The :class:`~sheets_bridge.sheets.Sheet` stored in one SQLite file.

    >>> sheet = LocalSheet(tmp_path / "sheet.db")   # doctest: +SKIP
    >>> sheet.read().rows                           # doctest: +SKIP
    ()
    """

    url = "/sheet"

    def __init__(self, path: Path | str, *, must_exist: bool = False):
        """Opening writes nothing: the file and its tables are created by the first write, so a
        read-only workspace can still be viewed. ``must_exist``: the workspace has written this
        sheet before, so a missing file is an error rather than an empty sheet."""
        self.path = Path(path)
        self.must_exist = must_exist
        self._ready = self._migrated = False

    @classmethod
    def from_config(cls, config: object, workspace_root: Path) -> LocalSheet:
        """The workspace's embedded sheet, ``<workspace>/sheet.db``."""
        return cls(Path(workspace_root) / "sheet.db")

    def create(self) -> None:
        """Create the file and its tables now (every write does this itself)."""
        self._ensure()

    def _ensure(self) -> None:
        """The tables, and the edit log's newer columns in a file written by an older version."""
        if self._ready:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with db_connect(self.path) as db:
            db.executescript(_SCHEMA)
            self._migrate(db)
        self._ready = True

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Add the newer columns (and the push fingerprint's trigger) to a file written by an
        older version."""
        for table, columns in (("edits", _EDIT_COLUMNS), ("rows", _ROW_COLUMNS)):
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if have and name not in have:
                    try:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:  # another process added it first
                        if "duplicate column" not in str(exc):
                            raise
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'rows'").fetchone():
            db.execute(_PUSHED_TRIGGER)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A reading connection; a sheet not written yet reads as empty."""
        if self.path.exists():
            with db_connect(self.path) as db:
                if not self._migrated and db_writable(self.path):
                    self._migrate(db)  # an older file; a read-only one is only read
                    self._migrated = True
                yield db
            return
        if self.must_exist:
            raise StorageError(
                f"{self.path} is missing, but this workspace wrote its sheet there before: restore "
                "it from a backup, or start a new sheet with `sheets-bridge push --new-sheet` "
                "(cells people typed in the old one are not in it)"
            )
        db = sqlite3.connect(":memory:")
        try:
            db.executescript(_SCHEMA)
            yield db
        finally:
            db.close()

    def _transaction(self):
        self._ensure()
        return db_transaction(self.path)

    # -- reading ---------------------------------------------------------------------------------
    def header(self) -> tuple[str, ...]:
        with self._connect() as db:
            return tuple(n for (n,) in db.execute("SELECT name FROM header ORDER BY position"))

    def read(
        self, columns: Collection[str] | None = None, ids: Collection[str] | None = None
    ) -> SheetTable:
        """The sheet as text. ``columns``: read only these cells of each row (the header stays
        whole), which spares parsing every cell of a large sheet. ``ids``: only these rows (in
        sheet order; ids not in the sheet are left out)."""
        where, args = ("", []) if ids is None else (_IN_IDS, [json.dumps(list(ids))])
        with self._connect() as db:
            header = tuple(n for (n,) in db.execute("SELECT name FROM header ORDER BY position"))
            if columns is not None:
                return SheetTable(header, tuple(self._narrow(db, header, columns, where, args)))
            rows = []
            for rid, data in db.execute(
                f"SELECT id, data FROM rows {where} ORDER BY position, rowid", args
            ):
                cells = json.loads(data)
                row = {c: as_text(cells.get(c)) for c in header}
                row["id"] = rid
                rows.append(row)
        return SheetTable(header, tuple(rows))

    def read_touched(self, columns: Collection[str], logged: Collection[str] = ()) -> SheetTable:
        """The rows a pull needs, whole: those where any of ``columns`` holds a value, and those
        whose ``logged`` columns a person ever changed (the edit log). Other rows are left
        unread, so the cost follows the rows people worked on, not the size of the sheet."""
        with self._connect() as db:
            header = tuple(n for (n,) in db.execute("SELECT name FROM header ORDER BY position"))
            held = [c for c in columns if c in header]
            tests = ["COALESCE(json_extract(data, ?), '') <> ''" for _ in held]
            args: list[object] = [_path(c) for c in held]
            if logged:
                marks = ", ".join("?" for _ in logged)
                tests.append(f"id IN (SELECT id FROM edits WHERE column IN ({marks}))")
                args += list(logged)
            if not tests:
                return SheetTable(header, ())
            rows = []
            for rid, data in db.execute(
                f"SELECT id, data FROM rows WHERE {' OR '.join(tests)} ORDER BY position, rowid",
                args,
            ):
                cells = json.loads(data)
                row = {c: as_text(cells.get(c)) for c in header}
                row["id"] = rid
                rows.append(row)
        return SheetTable(header, tuple(rows))

    def row_count(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]

    def push_state(self) -> dict[str, int | None]:
        """Every row's id and the fingerprint of the model cells the last push wrote there
        (``None`` where unknown: a row changed since, or never pushed with one)."""
        with self._connect() as db:
            try:
                return dict(db.execute("SELECT id, pushed FROM rows").fetchall())
            except sqlite3.OperationalError:  # an older file opened read-only: no fingerprints
                return dict.fromkeys(i for (i,) in db.execute("SELECT id FROM rows"))

    @staticmethod
    def _narrow(
        db: sqlite3.Connection,
        header: tuple[str, ...],
        columns: Collection[str],
        where: str,
        args: list[object] = (),  # type: ignore[assignment]
    ) -> Iterator[dict[str, str]]:
        cols = [c for c in header if c in columns and c != "id"]
        picks = "".join(", json_extract(data, ?)" for _ in cols)
        for rid, *values in db.execute(
            f"SELECT id{picks} FROM rows {where} ORDER BY position, rowid",
            [*(_path(c) for c in cols), *args],
        ):
            row = {c: as_text(v) for c, v in zip(cols, values, strict=True)}
            row["id"] = rid
            yield row

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
    def write(self, change: SheetWrite) -> list[dict[str, str]]:
        """Apply a push or pull: header, model/bridge cells of existing rows, appended rows.

        A cell listed in ``change.expected`` is written only while it still holds what the writer
        read; one a person changed meanwhile keeps the person's value. Returns those cells.

        Rows of ``change.drop`` are taken out while their cells still hold what the writer read.
        Only rows whose cells differ are rewritten, and only rows whose place in the order changes
        are moved: the work is compared inside SQLite, so a repeat push of a large sheet costs
        what changed.
        """
        kept: list[dict[str, str]] = []
        with self._transaction() as db:
            existing = [n for (n,) in db.execute("SELECT name FROM header ORDER BY position")]
            merged = existing + [c for c in change.header if c not in existing]
            if merged != existing:
                db.execute("DELETE FROM header")
                db.executemany("INSERT INTO header VALUES (?, ?)", list(enumerate(merged)))
            db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS incoming"
                " (id TEXT PRIMARY KEY, cells TEXT NOT NULL, guard TEXT, digest INTEGER)"
            )
            db.execute("DELETE FROM incoming")
            try:
                self._stage(db, change)
                missing = [
                    r
                    for (r,) in db.execute(
                        "SELECT id FROM incoming WHERE id NOT IN (SELECT id FROM rows)"
                        " ORDER BY id LIMIT 10"
                    )
                ]
                if missing:
                    raise SheetError(f"rows vanished while writing: {missing}")
                kept = self._guard(db)
                db.execute(
                    "UPDATE rows SET data = p.new, pushed = p.digest FROM (SELECT i.id,"
                    " json_patch(r.data, i.cells) AS new, i.digest FROM incoming i"
                    " JOIN rows r ON r.id = i.id) AS p WHERE rows.id = p.id AND rows.data IS NOT p.new"
                )
                db.execute(  # rows that already held these cells: remember the push
                    "UPDATE rows SET pushed = i.digest FROM incoming i WHERE rows.id = i.id"
                    " AND i.digest IS NOT NULL AND rows.pushed IS NOT i.digest"
                )
            finally:
                db.execute("DELETE FROM incoming")
            self._append(db, change.appends, change.digests)
            kept += self._drop(db, change.drop)
            if change.sort_by:
                self._sort(db, change.sort_by)
        return kept

    @staticmethod
    def _stage(db: sqlite3.Connection, change: SheetWrite) -> None:
        """The updates into the temporary ``incoming`` table, one JSON object per row."""
        db.executemany(
            "INSERT INTO incoming (id, cells, guard, digest) VALUES (?, ?, ?, ?)",
            (
                (
                    rid,
                    json.dumps({c: storable(v) for c, v in cells.items()}),
                    json.dumps(g) if (g := change.expected.get(rid)) else None,
                    change.digests.get(rid),
                )
                for rid, cells in change.updates.items()
            ),
        )

    def _guard(self, db: sqlite3.Connection) -> list[dict[str, str]]:
        """Compare-and-set for guarded cells: a cell that no longer holds what the writer read
        (a person typed there meanwhile) keeps its value and leaves the update. SQLite picks
        the rows whose cell differs in any way; the exact check (as people read the cell) runs
        here on those few."""
        kept: list[dict[str, str]] = []
        suspects = db.execute(
            "SELECT i.id, i.cells, i.guard, r.data FROM incoming i JOIN rows r ON r.id = i.id"
            " WHERE i.guard IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(i.guard) g"
            " WHERE json_extract(r.data, '$.\"' || g.key || '\"') IS NOT g.value)"
        ).fetchall()
        for rid, cells_text, guard_text, data in suspects:
            cells, now_cells = json.loads(cells_text), json.loads(data)
            dropped = False
            for col, want in json.loads(guard_text).items():
                now = as_text(now_cells.get(col))
                if col in cells and now.strip() != str(want).strip():
                    kept.append({"id": rid, "column": col, "current": now})
                    del cells[col]
                    dropped = True
            if dropped:
                # the row keeps what the person typed: not what this push meant to write
                db.execute(
                    "UPDATE incoming SET cells = ?, digest = NULL WHERE id = ?",
                    (json.dumps(cells), rid),
                )
        return kept

    @staticmethod
    def _drop(
        db: sqlite3.Connection, drop: Mapping[str, Mapping[str, str]]
    ) -> list[dict[str, str]]:
        """Take out the rows of ``drop`` whose cells still hold what the writer read (inside the
        write's transaction); a row a person typed into stays, and its typed cells are returned."""
        kept: list[dict[str, str]] = []
        for rid, want in drop.items():
            found = db.execute("SELECT data FROM rows WHERE id = ?", (rid,)).fetchone()
            if found is None:
                continue
            now = json.loads(found[0])
            typed = [
                {"id": rid, "column": c, "current": as_text(now.get(c))}
                for c, text in want.items()
                if as_text(now.get(c)).strip() != str(text).strip()
            ]
            if typed:
                kept += typed
            else:
                db.execute("DELETE FROM rows WHERE id = ?", (rid,))
        return kept

    @staticmethod
    def _append(
        db: sqlite3.Connection, appends: list[dict[str, Cell]], digests: Mapping[str, int]
    ) -> None:
        if not appends:
            return
        ids = [str(cells["id"]) for cells in appends]
        (last,) = db.execute("SELECT COALESCE(MAX(position), 0) FROM rows").fetchone()
        db.execute("SAVEPOINT appending")
        try:
            db.executemany(
                "INSERT INTO rows (id, position, data, pushed) VALUES (?, ?, json(?), ?)",
                (
                    (
                        rid,
                        last + i,
                        json.dumps({k: storable(v) for k, v in c.items() if k != "id"}),
                        digests.get(rid),
                    )
                    for i, (rid, c) in enumerate(zip(ids, appends, strict=True), start=1)
                ),
            )
        except sqlite3.IntegrityError:  # an id is taken: name it (the whole write rolls back)
            db.execute("ROLLBACK TO appending")
            seen: set[str] = set()
            rid = next(i for i in ids if i in seen or seen.add(i) or _has_row(db, i))
            raise SheetError(f"cannot append row {rid!r}: it is already in the sheet") from None
        db.execute("RELEASE appending")

    @staticmethod
    def _sort(db: sqlite3.Connection, column: str) -> None:
        """Order rows by ``column`` ascending, numbers first, blanks and text last, ties kept in
        their order; only rows whose place changes are written."""
        db.execute(
            "UPDATE rows SET position = o.k FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY"
            " CASE WHEN typeof(v) IN ('integer', 'real') THEN 0 WHEN typeof(v) = 'text'"
            " AND trim(v) <> '' AND trim(v) NOT GLOB '*[^0-9.eE+-]*' THEN 0 ELSE 1 END,"
            " CASE WHEN typeof(v) IN ('integer', 'real') THEN v WHEN typeof(v) = 'text'"
            " THEN CAST(trim(v) AS REAL) END, position, rid) AS k FROM (SELECT id, rowid AS rid,"
            " position, json_extract(data, ?) AS v FROM rows)) AS o"
            " WHERE rows.id = o.id AND rows.position IS NOT o.k",
            (_path(column),),
        )

    def replace(self, header: list[str], rows: list[dict[str, str]]) -> None:
        """Replace the whole table in one transaction (``sheet repair``); the edit log stays.

        ``rows`` are in sheet order and each has a distinct ``id``.
        """
        with self._transaction() as db:
            db.execute("DELETE FROM header")
            db.executemany("INSERT INTO header VALUES (?, ?)", list(enumerate(header)))
            db.execute("DELETE FROM rows")
            db.executemany(
                "INSERT INTO rows (id, position, data) VALUES (?, ?, ?)",
                [
                    (
                        str(row["id"]),
                        i,
                        json.dumps({k: v for k, v in row.items() if k != "id" and v != ""}),
                    )
                    for i, row in enumerate(rows, start=1)
                ],
            )

    def delete_rows(self, ids: Iterable[str]) -> int:
        """Delete rows by id (people may delete rows; the next push adds them back)."""
        with self._transaction() as db:
            return sum(db.execute("DELETE FROM rows WHERE id = ?", (i,)).rowcount for i in ids)

    def move_row(self, rid: str, position: float) -> None:
        """Put a row at another place in the order (people may sort and move rows)."""
        with self._transaction() as db:
            db.execute("UPDATE rows SET position = ? WHERE id = ?", (position, rid))


def _has_row(db: sqlite3.Connection, rid: str) -> bool:
    return db.execute("SELECT 1 FROM rows WHERE id = ? LIMIT 1", (rid,)).fetchone() is not None


#: ``WHERE`` for the rows whose id is in a JSON array given as the argument.
_IN_IDS = "WHERE id IN (SELECT value FROM json_each(?))"


def _path(column: str) -> str:
    """The JSON path of a column's cell in a row's ``data``."""
    return f'$."{column}"'
