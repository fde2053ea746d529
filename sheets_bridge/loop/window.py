"""The review window: which rows a push to a remote sheet (Google) writes.

A Google sheet stops at 10 million cells and is slow to use long before. A push writes the top
``sheet_rows`` rows in review order (``rank``, 1 first) plus every row the sheet already holds
(people's work lives there, and a row left behind would go stale or look deleted). The rest stay
in the dataset versions, the runs and exports; pull applies what the sheet says and leaves every
row it does not show as it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sheets_bridge.core.cells import Cell, SheetTable


def _rank(cells: Mapping[str, Cell]) -> float:
    value = cells.get("rank")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.inf  # no predictions yet: after every ranked row


def review_window(
    rows: Mapping[str, Mapping[str, Cell]], table: SheetTable, limit: int
) -> tuple[dict[str, Mapping[str, Cell]], int]:
    """The rows to push and how many stay outside: the ``limit`` first in review order plus every
    row already in ``table``. ``limit`` 0 means no window (every row)."""
    if limit <= 0 or len(rows) <= limit:
        return dict(rows), 0
    order = sorted(rows, key=lambda rid: (_rank(rows[rid]), rid))
    keep = set(order[:limit]) | (set(table.ids) & set(rows))
    picked = {rid: rows[rid] for rid in order if rid in keep}
    return picked, len(rows) - len(picked)


def window_note(outside: int, total: int, limit: int) -> str:
    """The note on the ``rank`` header cell ("" removes it when every row is in the sheet)."""
    if not outside:
        return ""
    return (
        f"{outside:,} of {total:,} images are outside this sheet's review window (the first "
        f"{limit:,} by rank, plus rows already here; setting sheet_rows). They stay in the "
        "dataset versions and exports; push again after a pull to bring the next ones in."
    )
