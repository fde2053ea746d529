"""The values that travel between the bridge and a sheet backend: cells, a table read, a write.

The core builds and reads these; backends (``sheets_bridge.sheets``) import them from here, so the
rules never depend on a backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


class Formula(str):
    """A cell value the backend must enter as a formula (only the tool's own ``=IMAGE(url)``).

    Every other value, whatever it starts with, is written raw so that a file name or a label such
    as ``=1+1`` can never run as a formula.
    """


Cell = str | int | float | bool | None  # Formula is a str


@dataclass(frozen=True)
class SheetTable:
    """What a sheet holds: the header, and the data rows in sheet order as ``{column: text}``.

    Cells come back as text (what a person sees); empty cells are ``""``. Columns without a header
    name are not reported.
    """

    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    @property
    def ids(self) -> list[str]:
        return [r.get("id", "") for r in self.rows]

    def by_id(self) -> dict[str, dict[str, str]]:
        return {r["id"]: r for r in self.rows if r.get("id")}


@dataclass
class SheetWrite:
    """One push or pull, as a backend should apply it in as few requests as it can.

    ``header`` is the full header after the write: the existing columns where they are, missing
    ones added at the end. ``updates`` maps an existing row's id to the cells to set; it never holds
    human-owned columns. ``appends`` are new rows (each with an ``id``). After writing, the backend
    sorts the data rows by ``sort_by`` ascending (blank last) when it is set. ``human_columns`` and
    ``choices`` let a backend add dropdowns (the allowed label values) and protect other columns.
    ``notes`` maps a column to a note for its header cell ("" removes it), for backends that
    show notes (Google); others may ignore them.
    """

    header: tuple[str, ...]
    updates: dict[str, dict[str, Cell]] = field(default_factory=dict)
    appends: list[dict[str, Cell]] = field(default_factory=list)
    sort_by: str | None = None
    human_columns: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    #: For cells people may also type (``subset``): the text the writer read. A backend that can
    #: check leaves a cell that holds something else now (a person typed it during the push).
    expected: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    #: id -> fingerprint of the model cells this write brings (``rows.row_digest``), for rows in
    #: ``updates`` or ``appends``. A backend that keeps them (the local sheet) tells the next push
    #: which rows it can skip; others ignore them.
    digests: dict[str, int] = field(default_factory=dict)
    #: Rows to take out of the sheet (a review window's rows that left it): id -> the text of each
    #: cell people may type there, as the writer read it. A backend takes a row out only while
    #: those cells still hold that text, checked right before removing it: a row a person typed
    #: into meanwhile stays, and its changed cells are returned with the kept cells. A backend
    #: that removes rows by position and checks afterwards also returns ``{"id", "row":
    #: "restored"}`` for a row its delete hit by mistake and put back, and ``{"id", "row":
    #: "stayed"}`` for a row of ``drop`` that is still there.
    drop: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Header notes that depend on how many rows of ``drop`` stayed: column -> a function of that
    #: number giving the note (written like ``notes``).
    drop_notes: dict[str, Callable[[int], str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(
            {c for cells in self.updates.values() for c in cells} & set(self.human_columns)
        )
        if clash:
            raise ValueError(f"a write may not touch human columns {clash}")


@dataclass(frozen=True)
class CellChange:
    """One cell a person wants to set, as a compare-and-set.

    ``expected`` is the text the writer believed the cell held (what its page, export or read
    showed); a cell that holds something else now is a conflict and is left alone. ``None`` means
    the writer saw nothing and asks for no check (scripts that set a cell outright). ``append``
    adds ``value`` to the cell's ``;``-separated list (notes) inside the write, so two people
    appending at once both keep their text; it needs no ``expected``.
    """

    id: str
    column: str
    value: Cell
    expected: str | None = None
    append: bool = False


@dataclass
class EditResult:
    """What a compare-and-set did: the cells it changed, the conflicts, the typed cells it kept.

    Each applied item is ``{"id", "column", "old", "new"}``; each conflict ``{"id", "column",
    "expected", "current", "value"}``: the writer expected ``expected``, the sheet holds
    ``current`` and keeps it; ``kept`` lists cells left alone because they already held a value
    someone typed and the write asked not to replace such cells (bulk actions).
    """

    action: str
    applied: list[dict[str, str]] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def changed(self) -> int:
        return len(self.applied)

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "changed": self.changed,
            "applied": self.applied,
            "conflicts": self.conflicts,
            "kept": self.kept,
            "dry_run": self.dry_run,
        }


def append_note(old: str, new: str) -> str:
    """``old`` with ``new`` added as one more ``;``-separated item (unchanged if already there)."""
    old, new = old.strip(), new.strip()
    if not new or new in [p.strip() for p in old.split(";")]:
        return old
    return f"{old}; {new}" if old else new
