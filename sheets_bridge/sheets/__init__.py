"""Sheet backends. A backend stores one table: a header row and one row per image, keyed by ``id``.

Two implementations of :class:`Sheet`: ``local.LocalSheet`` (SQLite, no account) and
``google.GoogleSheet`` (a worksheet through gspread). The bridge never touches a backend's storage
directly; it reads a :class:`SheetTable` and hands back a :class:`SheetWrite`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sheets_bridge.core.cells import Cell, Formula, SheetTable, SheetWrite
from sheets_bridge.core.errors import ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "Cell",
    "Formula",
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

    def write(self, change: SheetWrite) -> None:
        """Apply a write; rows are matched by id, never by position."""
        ...

    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """Set cells ``(id, column, value)`` as a person would (grid, UMAP actions, `sheet update`).

        Values are written raw. Raises SheetError for an unknown id or column. Returns how many
        cells changed.
        """
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
            "sheets_bridge.sheets.google:GoogleSheet",
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
