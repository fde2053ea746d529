"""Sheet backends. A backend stores one table: a header row and one row per image, keyed by ``id``.

Two implementations of :class:`Sheet`: ``local.LocalSheet`` (SQLite, no account) and
``google.GoogleSheet`` (a worksheet through gspread). The bridge never touches a backend's storage
directly; it reads a :class:`SheetTable` and hands back a :class:`SheetWrite`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from sheets_bridge.core.cells import Cell, Formula, SheetTable, SheetWrite

__all__ = ["Cell", "Formula", "Sheet", "SheetTable", "SheetWrite"]


@runtime_checkable
class Sheet(Protocol):
    """A sheet backend."""

    #: Where people open the sheet (a Google URL, or the local grid path ``/sheet``).
    url: str

    def read(self) -> SheetTable:
        """Read the whole sheet (one request for remote backends)."""
        ...

    def write(self, change: SheetWrite) -> None:
        """Apply a write; rows are matched by id, never by position."""
        ...

    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """Set cells ``(id, column, value)`` as a person would (grid, UMAP actions, `sheet update`).

        Values are written raw. Raises SheetError for an unknown id or column. Returns how many
        cells changed.
        """
        ...
