"""The review window: which rows a push to a remote sheet (Google) writes, and which it takes out.

A Google sheet stops at 10 million cells and is slow to use long before. A push writes the top
``sheet_rows`` rows in review order (``rank``, 1 first) plus every row that holds a human cell
(an annotator vote, an override, a note, or a ``subset`` move typed by a person). Rows the sheet
holds that are outside the top ``sheet_rows`` and hold no human cell leave the sheet, so the
window keeps its size as the order changes between rounds. The backend takes a row out only
while those cells still hold what the push read (a row someone typed into meanwhile stays).
Every row stays in the dataset versions, the runs and exports; pull applies what the sheet says
and leaves every row it does not show as it is.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from sheets_bridge.core.cells import Cell, SheetTable


@dataclass(frozen=True)
class Window:
    """What a windowed push writes: ``rows`` (id -> model cells, in review order), how many rows
    of the dataset stay ``outside`` the sheet, and the rows to take out of it (``drop``: id -> the
    text of each cell people may type, as read; see :attr:`SheetWrite.drop`)."""

    rows: dict[str, Mapping[str, Cell]]
    outside: int
    drop: dict[str, dict[str, str]] = field(default_factory=dict)


def _rank(cells: Mapping[str, Cell]) -> float:
    value = cells.get("rank")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.inf  # no predictions yet: after every ranked row


def holds_human_cell(
    row: Mapping[str, str], model: Mapping[str, Cell], human: Collection[str]
) -> bool:
    """Whether a sheet row holds something a person typed: a non-blank cell of a ``human``
    column, or a ``subset`` that differs from the one the model cells give (a pending move)."""
    if any(str(row.get(c, "")).strip() for c in human):
        return True
    typed = str(row.get("subset", "")).strip().lower()
    return bool(typed) and typed != str(model.get("subset", "")).strip().lower()


def review_window(
    rows: Mapping[str, Mapping[str, Cell]],
    table: SheetTable,
    limit: int,
    human: Collection[str] = (),
) -> Window:
    """The rows to push, how many stay outside, and the sheet's rows to take out.

    The window is the ``limit`` first rows in review order plus every row of ``table`` that holds
    a human cell (``human`` columns, or a typed ``subset``). Rows of ``table`` in ``rows`` but not
    in the window are dropped; rows of ``table`` whose image left the dataset are not this
    function's business (the push marks them). ``limit`` 0 means no window (every row).
    """
    if limit <= 0:
        return Window(dict(rows), 0)
    in_sheet = table.by_id()
    order = sorted(rows, key=lambda rid: (_rank(rows[rid]), rid))
    keep = set(order[:limit])
    drop: dict[str, dict[str, str]] = {}
    editable = [c for c in (*human, "subset") if c in table.header]
    for rid in order[limit:]:
        row = in_sheet.get(rid)
        if row is None:
            continue
        if holds_human_cell(row, rows[rid], human):
            keep.add(rid)
        else:
            drop[rid] = {c: row.get(c, "") for c in editable}
    picked = {rid: rows[rid] for rid in order if rid in keep}
    return Window(picked, len(rows) - len(picked), drop)


def without(table: SheetTable, ids: Collection[str]) -> SheetTable:
    """``table`` without the rows of ``ids`` (the rows a windowed push takes out)."""
    if not ids:
        return table
    gone = set(ids)
    return SheetTable(table.header, tuple(r for r in table.rows if r.get("id") not in gone))


def window_note(outside: int, total: int, limit: int) -> str:
    """The note on the ``rank`` header cell ("" removes it when every row is in the sheet)."""
    if not outside:
        return ""
    return (
        f"{outside:,} of {total:,} images are outside this sheet's review window (the first "
        f"{limit:,} by rank, plus rows people typed in; setting sheet_rows). They stay in the "
        "dataset versions and exports; push again after a pull to bring the next ones in."
    )
