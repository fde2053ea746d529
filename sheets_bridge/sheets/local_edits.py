"""The local sheet's edits by people: compare-and-set, undo and the edit log.

Every human edit goes through :meth:`LocalEdits.compare_and_set`: one transaction that checks
what the writer believed each cell held, writes only cells that differ, and records each change
in the ``edits`` table (who, when, old, new, and the action it belonged to, so that
:meth:`LocalEdits.undo` can take a person's last action back). ``LocalSheet`` (``local.py``)
has these methods; this module holds them and how a stored cell reads as text.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Collection, Iterable, Mapping

from sheets_bridge.core.cells import Cell, CellChange, EditResult, append_note
from sheets_bridge.core.errors import SheetError


class _DryRun(Exception):
    """Raised inside a transaction to roll a dry run back."""


def as_text(value: object) -> str:
    """How a stored cell reads back: what a person would see in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.4g}" if value == value else ""
    return str(value)


def storable(value: Cell) -> object:
    """A cell as the sheet stores it in a row's JSON."""
    if isinstance(value, str):  # Formula included: stored as its text
        return str(value)
    if isinstance(value, float) and value != value:  # NaN -> empty
        return None
    return value


class LocalEdits:
    """People's writes to the local sheet; mixed into ``LocalSheet``, whose ``_transaction``
    and ``_connect`` they use."""

    @staticmethod
    def _cell(db: sqlite3.Connection, rid: str, column: str) -> str | None:
        """A cell's text, or None when the row does not exist."""
        row = db.execute(
            "SELECT json_extract(data, ?) FROM rows WHERE id = ?", (f'$."{column}"', rid)
        ).fetchone()
        return None if row is None else as_text(row[0])

    @staticmethod
    def _set(db: sqlite3.Connection, rid: str, cells: Mapping[str, Cell]) -> None:
        if not cells:
            return
        args: list[object] = []
        path = []
        for col, value in cells.items():
            path.append("?, json(?)")
            args += [f'$."{col}"', json.dumps(storable(value))]
        db.execute(
            f"UPDATE rows SET data = json_set(data, {', '.join(path)}) WHERE id = ?", [*args, rid]
        )

    # -- editing (people: the grid, UMAP actions, `sheet update`, undo) ------------------------
    def compare_and_set(
        self,
        changes: Iterable[CellChange],
        author: str | None = None,
        *,
        keep_typed: Collection[str] = (),
        dry_run: bool = False,
    ) -> EditResult:
        """Apply people's cell changes in one transaction; the one door for every human write.

        A change whose ``expected`` differs from what the cell holds is a conflict and is left
        alone; cells already holding the value are not rewritten; a cell of a ``keep_typed``
        column that holds a value is kept (and reported) rather than replaced. Every applied change
        is logged with ``author`` and the result's ``action`` id. Raises SheetError, applying
        nothing, for an unknown row or column. ``dry_run`` reports without writing.
        """
        result = EditResult(_new_action(), dry_run=dry_run)
        try:
            with self._transaction() as db:
                self._apply(db, list(changes), author, result, keep_typed=keep_typed)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return result

    def _apply(
        self,
        db: sqlite3.Connection,
        changes: list[CellChange],
        author: str | None,
        result: EditResult,
        *,
        keep_typed: Collection[str] = (),
        undoes: str | None = None,
    ) -> None:
        header = {n for (n,) in db.execute("SELECT name FROM header")}
        for ch in changes:  # check everything first: a bad change applies nothing
            if ch.column not in header:
                raise SheetError(f"the sheet has no column {ch.column!r}")
        now = time.time()
        for ch in changes:
            old = self._cell(db, ch.id, ch.column)
            if old is None:
                raise SheetError(f"the sheet has no row with id {ch.id!r}")
            value: Cell = append_note(old, as_text(ch.value)) if ch.append else ch.value
            new = as_text(value)
            if old == new:
                continue
            if not ch.append and ch.expected is not None and old.strip() != ch.expected.strip():
                if old.strip() != new.strip():
                    result.conflicts.append(
                        {
                            "id": ch.id,
                            "column": ch.column,
                            "expected": ch.expected,
                            "current": old,
                            "value": new,
                        }
                    )
                continue
            if ch.column in keep_typed and not ch.append and old.strip():
                result.kept.append({"id": ch.id, "column": ch.column, "current": old, "value": new})
                continue
            self._set(db, ch.id, {ch.column: value})
            db.execute(
                "INSERT INTO edits (ts, id, column, old, new, author, action, undoes)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (now, ch.id, ch.column, old, new, author, result.action, undoes),
            )
            result.applied.append({"id": ch.id, "column": ch.column, "old": old, "new": new})

    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """Set cells ``(id, column, value)`` outright (no expected values); returns how many changed.

        The caller decides which columns people may edit; this only requires that the row and the
        column exist.
        """
        changes = [CellChange(rid, col, value) for rid, col, value in edits]
        return self.compare_and_set(changes, author).changed

    def undo(self, author: str | None, *, dry_run: bool = False) -> EditResult:
        """Take back ``author``'s last action not undone yet, itself as a compare-and-set.

        A cell changed since that action is reported as a conflict and keeps its value. The undo
        is an action of its own in the log (``undoes`` names the action it took back). Raises
        SheetError when the person has nothing left to undo.
        """
        result = EditResult(_new_action(), dry_run=dry_run)
        try:
            with self._transaction() as db:
                found = db.execute(
                    "SELECT action FROM edits WHERE author IS ? AND action IS NOT NULL"
                    " AND undoes IS NULL AND action NOT IN"
                    " (SELECT undoes FROM edits WHERE undoes IS NOT NULL)"
                    " ORDER BY seq DESC LIMIT 1",
                    (author,),
                ).fetchone()
                if found is None:
                    raise SheetError(f"{author or 'nobody'} has no edit left to undo")
                cells: dict[tuple[str, str], list[str]] = {}
                for rid, col, old, new in db.execute(
                    "SELECT id, column, old, new FROM edits WHERE action = ? ORDER BY seq",
                    (found[0],),
                ):
                    cells.setdefault((rid, col), [old or "", new or ""])[1] = new or ""
                back = [CellChange(r, c, old, expected=new) for (r, c), (old, new) in cells.items()]
                self._apply(db, back, author, result, undoes=found[0])
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
        return result

    def edit_log(self, since: int = 0) -> list[dict[str, object]]:
        with self._connect() as db:
            cur = db.execute(
                "SELECT seq, ts, id, column, old, new, author, action, undoes FROM edits"
                " WHERE seq > ? ORDER BY seq",
                (since,),
            )
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur]


def _new_action() -> str:
    return uuid.uuid4().hex[:12]
