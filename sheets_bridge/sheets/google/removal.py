"""Taking rows out of a worksheet (the review window) without losing what people typed.

Pure, like :mod:`~sheets_bridge.sheets.google.plan`: :class:`DropCheck` looks at a read taken right
before the write's last batch (the header row, the id column and the columns people type in) and
decides which rows of ``SheetWrite.drop`` can go: a row whose cells hold something else than the
writer read (a person typed there meanwhile) stays, and so does every row when the header moved.
The rows are found by id in that read, so rows sorted or moved since the first read are found
where they are now.

Google has no conditional delete: rows are deleted by position, and a person who sorts, inserts or
deletes rows in the one request between that read and the delete makes the positions hit other
rows. :meth:`DropCheck.missed` compares a read taken after the delete with the check's read, and
:func:`restore_requests` puts back the rows that were hit (their model cells from the write, their
human cells from the check's read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sheets_bridge.core.cells import Cell, Formula
from sheets_bridge.sheets.google.plan import KEY, Grid, Plan, _runs, _trim_list, raw_value


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
        #: The read :meth:`check` decided on.
        self.seen: Layout | None = None

    def check(self, plan: Plan, seen: Layout) -> None:
        """Decide on ``seen``, read after ``plan`` was written; nothing goes when the header or
        the id column's place is not what ``plan`` wrote (columns moved: look next push)."""
        self.seen = seen
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

    def missed(self, now: Iterable[str]) -> tuple[list[str], list[str]]:
        """Compare the ids the sheet holds after the delete (``now``) with the check's read:
        ``(lost, survived)``, the rows that were to stay and are gone (in the check's order), and
        the rows that were to leave and are still there. Both are empty when the delete hit the
        rows it meant to."""
        if self.seen is None or not self.rows:
            return [], []
        ids = [rid.strip() for rid in self.seen.ids]
        leaving = {ids[r] for r in self.rows}
        present = {rid.strip() for rid in now}
        lost: list[str] = []
        for rid in ids[1:]:
            if rid and rid not in leaving and rid not in present and rid not in lost:
                lost.append(rid)
        return lost, sorted(leaving & present)

    def human_cells(self, rid: str) -> dict[str, str]:
        """The cells people type in of row ``rid``, as the check's read found them."""
        if self.seen is None:
            return {}
        ids = [r.strip() for r in self.seen.ids]
        if rid not in ids:
            return {}
        r = ids.index(rid)
        return {c: (v[r] if r < len(v) else "") for c, v in self.seen.columns.items()}


def restored_row(
    header: list[str],
    written: Grid,
    rid: str,
    model: Mapping[str, Cell] | None,
    human: Mapping[str, str],
) -> list[dict]:
    """``CellData`` of row ``rid`` as the write left it: the ``human`` cells (read right before the
    delete), else the write's ``model`` cells, else what ``written`` (the grid with the write's
    cells) shows there. Values are entered raw: text stays text, numbers stay numbers."""
    ids = written.ids()
    r = ids.index(rid) + 1 if rid in ids else None
    out: list[dict] = []
    for c, name in enumerate(header):
        value: Cell
        if name in human:
            value = human[name]
        elif model is not None and name in model:
            value = model[name]
        elif r is not None and (r, c) in written.formulas:
            value = Formula(written.formulas[(r, c)])
        elif r is not None:
            value = written.cell(r, c)
        else:
            value = ""
        out.append(cell_data(value))
    return out


def cell_data(value: Cell) -> dict:
    """One ``CellData`` entering ``value`` raw (a :class:`Formula` as an explicit formula)."""
    if isinstance(value, Formula):
        return {"userEnteredValue": {"formulaValue": str(value)}}
    raw = raw_value(value)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, bool):
        return {"userEnteredValue": {"boolValue": raw}}
    if isinstance(raw, int | float):
        return {"userEnteredValue": {"numberValue": raw}}
    return {"userEnteredValue": {"stringValue": str(raw)}}


def restore_requests(sheet_id: int, at: int, rows: list[list[dict]]) -> list[dict]:
    """``batchUpdate`` requests putting ``rows`` back: as many fresh rows inserted at 0-based sheet
    row ``at`` (so nothing already there is written over, wherever people moved it), filled."""
    if not rows:
        return []
    span = {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": at, "endIndex": at + len(rows)}
    start = {"sheetId": sheet_id, "rowIndex": at, "columnIndex": 0}
    return [
        {"insertDimension": {"range": span, "inheritFromBefore": at > 1}},
        {
            "updateCells": {
                "start": start,
                "rows": [{"values": r} for r in rows],
                "fields": "userEnteredValue",
            }
        },
    ]
