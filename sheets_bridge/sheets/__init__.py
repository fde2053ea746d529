"""Sheet backends. A backend stores one table: a header row and one row per image, keyed by ``id``.

Two implementations of :class:`Sheet`: ``local.LocalSheet`` (SQLite, no account) and
``google.GoogleSheet`` (a worksheet through gspread, in the ``google`` package). The bridge never touches a backend's storage
directly; it reads a :class:`SheetTable` and hands back a :class:`SheetWrite`.
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sheets_bridge.core.cells import Cell, CellChange, EditResult, Formula, SheetTable, SheetWrite
from sheets_bridge.core.errors import ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "Cell",
    "CellChange",
    "EditLog",
    "EditResult",
    "Formula",
    "PartReader",
    "Sheet",
    "SheetTable",
    "SheetWrite",
    "backend",
    "check_config",
]


@runtime_checkable
class Sheet(Protocol):
    """A sheet backend."""

    #: Where people open the sheet (a Google URL, or the local grid path ``/sheet``).
    url: str

    def read(self) -> SheetTable:
        """Read the whole sheet (one request for remote backends)."""
        ...

    def write(self, change: SheetWrite) -> object:
        """Apply a write; rows are matched by id, never by position.

        Cells in ``change.expected`` that a person changed since the writer read them keep the
        person's value where the backend can check (the local sheet checks inside its transaction).
        """
        ...

    def compare_and_set(
        self,
        changes: Iterable[CellChange],
        author: str | None = None,
        *,
        keep_typed: Collection[str] = (),
        dry_run: bool = False,
    ) -> EditResult:
        """The one door for people's writes (grid, UMAP actions, CSV import, notes, undo).

        A change whose ``expected`` text is not what the cell holds is a reported conflict and the
        cell is left alone; only cells that differ are written; ``append`` changes add to the cell
        inside the write; cells of the ``keep_typed`` columns that already hold a value are kept
        and reported (a bulk action never replaces what a colleague typed).
        Values are written raw. Raises SheetError, applying nothing, for an unknown id or column.
        """
        ...

    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """``compare_and_set`` without expected values (a script setting cells outright).

        Returns how many cells changed.
        """
        ...


@runtime_checkable
class EditLog(Sheet, Protocol):
    """A sheet that keeps its own edit log (the local sheet): the grid reads it and undo uses it."""

    def header(self) -> tuple[str, ...]: ...

    def records(self) -> list[dict[str, object]]:
        """Rows with their stored types, in sheet order."""
        ...

    def edit_log(self, since: int = 0) -> list[dict[str, object]]:
        """Logged changes after sequence number ``since`` (seq, ts, id, column, old, new, author,
        action, undoes)."""
        ...

    def undo(self, author: str | None, *, dry_run: bool = False) -> EditResult:
        """Take back ``author``'s last action, as a compare-and-set."""
        ...


@runtime_checkable
class PartReader(Sheet, Protocol):
    """A sheet that can read part of itself (the local sheet): what push and pull need of a large
    sheet, without every cell of every row."""

    def read(
        self, columns: Collection[str] | None = None, ids: Collection[str] | None = None
    ) -> SheetTable:
        """The header and, of each row (of the rows ``ids`` when given), ``id`` and only
        ``columns`` (every column when None)."""
        ...

    def read_touched(self, columns: Collection[str], logged: Collection[str] = ()) -> SheetTable:
        """Whole rows where any of ``columns`` holds a value or whose ``logged`` columns people
        changed (its edit log)."""
        ...

    def row_count(self) -> int: ...

    def push_state(self) -> dict[str, int | None]:
        """Every row's id and the fingerprint (``SheetWrite.digests``) of the model cells the
        last push wrote there, ``None`` where the row changed since or has none."""
        ...


@dataclass(frozen=True)
class Backend:
    """A registered sheet backend: where its class lives (imported only when used) and whether
    the sheet lives on another service (remote: images need signed URLs, the grid is elsewhere)."""

    name: str
    target: str  # "module:Class"; the class has ``from_config(config, workspace_root)``
    remote: bool
    help: str
    requires: tuple[str, ...] = ()  # settings that must not be empty

    def load(self) -> type:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


#: Every sheet backend, by the name the ``backend`` setting uses. Adding a backend: one entry here
#: plus its module (a class with ``from_config(config, workspace_root)`` implementing :class:`Sheet`).
BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("local", "sheets_bridge.sheets.local:LocalSheet", False, "SQLite, no account"),
        Backend(
            "google",
            "sheets_bridge.sheets.google.sheet:GoogleSheet",
            True,
            "a Google worksheet",
            requires=("spreadsheet",),
        ),
    )
}


def backend(name: str) -> Backend:
    """The registered backend called ``name``; ConfigError naming the known ones otherwise."""
    try:
        return BACKENDS[name]
    except KeyError:
        known = ", ".join(BACKENDS)
        raise ConfigError(
            f"unknown sheet backend {name!r}: set backend to one of {known}"
        ) from None


def check_config(config: object) -> None:
    """Raise ConfigError when the settings name an unknown backend or lack what it needs."""
    b = backend(config.backend)
    for name in b.requires:
        if not getattr(config, name):
            raise ConfigError(
                f"backend = {b.name!r} needs {name} = '...' in sheets-bridge.toml "
                f"(e.g. `sheets-bridge google setup`)"
                if name == "spreadsheet"
                else f"backend = {b.name!r} needs {name} = '...' in sheets-bridge.toml"
            )
