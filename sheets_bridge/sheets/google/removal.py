"""Taking rows out of a worksheet (the review window) without losing what people typed.

Pure, like :mod:`~sheets_bridge.sheets.google.plan`: :class:`DropCheck` looks at a read taken right
before the write's last batch (the header row, the id column and the columns people type in) and
decides which rows of ``SheetWrite.drop`` can go: a row whose cells hold something else than the
writer read (a person typed there meanwhile) stays, and so does every row when the header moved.
The rows are found by id in that read, so rows sorted or moved since the first read are found
where they are now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from sheets_bridge.sheets.google.plan import KEY, Plan, _runs, _trim_list


class Layout(NamedTuple):
    """One read of the header row, the id column and some columns by name (each list indexed by
    0-based sheet row: ``ids[0]`` is the id column's header cell)."""

    header: list[str]
    ids: list[str]
    columns: dict[str, list[str]]


class DropCheck:
    """Which rows of a write's ``drop`` to take out, and the cells that kept the others."""

    def __init__(self, drop: Mapping[str, Mapping[str, str]]):
        self.drop = drop
        #: 0-based sheet rows to delete, ascending.
        self.rows: list[int] = []
        #: Cells people changed in rows that were to leave (those rows stay).
        self.kept: list[dict[str, str]] = []
        #: How many rows of ``drop`` stay in the sheet.
        self.stayed = len(drop)

    def check(self, plan: Plan, seen: Layout) -> None:
        """Decide on ``seen``, read after ``plan`` was written; nothing goes when the header or
        the id column's place is not what ``plan`` wrote (columns moved: look next push)."""
        header = _trim_list([h.strip() for h in seen.header])
        if header != _trim_list([h.strip() for h in plan.header]) or not seen.ids:
            return
        if seen.ids[0].strip() != KEY:
            return
        where: dict[str, int] = {}
        twice: set[str] = set()
        for r, rid in enumerate(seen.ids[1:], start=1):
            rid = rid.strip()
            if rid in where:
                twice.add(rid)
            where.setdefault(rid, r)
        stayed = 0
        for rid, want in self.drop.items():
            r = where.get(rid)
            if r is None:
                continue  # already gone (a person deleted it)
            if rid in twice:
                stayed += 1  # never guess which of two rows to delete
                continue
            typed = []
            for column, text in want.items():
                values = seen.columns.get(column)
                if values is None:  # not read: cannot tell, keep the row
                    typed.append({"id": rid, "column": column, "current": ""})
                    continue
                now = values[r] if r < len(values) else ""
                if now.strip() != str(text).strip():
                    typed.append({"id": rid, "column": column, "current": now})
            if typed:
                self.kept += typed
                stayed += 1
            else:
                self.rows.append(r)
        self.rows.sort()
        self.stayed = stayed

    def requests(self, sheet_id: int) -> list[dict]:
        """``batchUpdate`` requests: as many blank rows added at the end as rows leave (the grid
        keeps its size, so the next push's new rows need no growth, and the sheet never runs out
        of rows), then the rows deleted bottom-up."""
        if not self.rows:
            return []
        out: list[dict] = [
            {
                "appendDimension": {
                    "sheetId": sheet_id,
                    "dimension": "ROWS",
                    "length": len(self.rows),
                }
            }
        ]
        for first, last in reversed(_runs(self.rows)):
            span = {
                "sheetId": sheet_id,
                "dimension": "ROWS",
                "startIndex": first,
                "endIndex": last + 1,
            }
            out.append({"deleteDimension": {"range": span}})
        return out
