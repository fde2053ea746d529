"""Pure planning for the Google backend: where every cell of a write goes, and how to undo a race.

Nothing here does I/O. :func:`plan_write` maps a :class:`~sheets_bridge.sheets.SheetWrite` (rows by
id) onto the worksheet as it was read (rows by position); :func:`value_ranges` packs the cells into
``values:batchUpdate`` bodies under the payload limit. What to do when people moved rows or
columns under a write is in :mod:`~sheets_bridge.sheets.google.repair`.
"""

from __future__ import annotations

import json
import math
import numbers
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from gspread.utils import absolute_range_name, rowcol_to_a1

from sheets_bridge.core.cells import Cell, Formula, SheetTable, SheetWrite
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.schema import duplicate_ids

KEY = "id"
#: Google recommends request bodies of at most about 2 MB; leave room for the JSON around values.
MAX_PAYLOAD = 1_900_000
#: Developer metadata key that marks a worksheet this tool has set up (frozen header, dropdowns...).
SETUP_KEY = "sheets_bridge"

RawCell = str | int | float | bool | None


def col_letter(index: int) -> str:
    """0 -> ``A``, 25 -> ``Z``, 26 -> ``AA``."""
    return rowcol_to_a1(1, index + 1)[:-1]


def quote_title(title: str) -> str:
    """The worksheet's name as a range (``'it''s'``)."""
    return absolute_range_name(title)


def a1(title: str, row0: int, col0: int, row1: int | None = None, col1: int | None = None) -> str:
    """A1 range of 0-based inclusive cell coordinates on worksheet ``title``."""
    start = rowcol_to_a1(row0 + 1, col0 + 1)
    end = rowcol_to_a1((row0 if row1 is None else row1) + 1, (col0 if col1 is None else col1) + 1)
    return absolute_range_name(title, start if end == start else f"{start}:{end}")


@dataclass
class Grid:
    """One read of a worksheet: texts as people see them, and what the metadata said.

    ``cells[0]`` is the header row; ``cells[i]`` is sheet row ``i + 1`` (1-based). Rows are trimmed
    of trailing blanks, as the API sends them. ``formulas`` holds the cells entered as formulas
    (the tool's ``=IMAGE()`` among them), so that a write can leave alone the ones that are current.
    """

    title: str
    cells: list[list[str]]
    sheet_id: int | None = None
    row_count: int = 0
    col_count: int = 0
    set_up: bool = False
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def header(self) -> list[str]:
        return [h.strip() for h in self.cells[0]] if self.cells else []

    @property
    def data_rows(self) -> int:
        return max(0, len(self.cells) - 1)

    @property
    def width(self) -> int:
        return max((len(r) for r in self.cells), default=0)

    def column(self, name: str) -> int | None:
        header = self.header
        return header.index(name) if name in header else None

    def cell(self, row: int, col: int) -> str:
        if row < len(self.cells) and col < len(self.cells[row]):
            return self.cells[row][col]
        return ""

    def ids(self) -> list[str]:
        """The id of each data row (``""`` where blank), in sheet order."""
        c = self.column(KEY)
        if c is None:
            return [""] * self.data_rows
        return [self.cell(r, c).strip() for r in range(1, len(self.cells))]

    def with_cells(self, changes: Mapping[tuple[int, int], RawCell]) -> Grid:
        """A copy with some cells replaced (what the sheet holds after writing them)."""
        cells = [list(r) for r in self.cells]
        formulas = dict(self.formulas)
        for (r, c), value in changes.items():
            while len(cells) <= r:
                cells.append([])
            row = cells[r]
            row.extend([""] * (c + 1 - len(row)))
            row[c] = _as_text(value)
            formulas.pop((r, c), None)
        return Grid(
            self.title,
            _trim(cells),
            self.sheet_id,
            self.row_count,
            self.col_count,
            self.set_up,
            formulas,
        )


def _trim(rows: list[list[str]]) -> list[list[str]]:
    out = []
    for r in rows:
        while r and r[-1] == "":
            r = r[:-1]
        out.append(r)
    while out and not out[-1]:
        out.pop()
    return out


def grid_from_values(title: str, values: Iterable[Iterable[object]]) -> Grid:
    """A grid from a ``values.get`` answer (``values`` may be absent for an empty sheet)."""
    return Grid(title, _trim([[_as_text(v) for v in row] for row in values]))


def grid_from_spreadsheet(payload: Mapping, title: str) -> Grid | None:
    """The worksheet ``title`` from a ``spreadsheets.get`` answer with grid data; None if absent."""
    for sheet in payload.get("sheets", []):
        props = sheet.get("properties", {})
        if props.get("title") != title:
            continue
        data = (sheet.get("data") or [{}])[0]
        first = int(data.get("startRow", 0))
        rows: list[list[str]] = [[""] for _ in range(first)]
        formulas: dict[tuple[int, int], str] = {}
        for r, rd in enumerate(data.get("rowData", []), start=first):
            values = rd.get("values", [])
            rows.append([c.get("formattedValue", "") for c in values])
            for c, cell in enumerate(values):
                f = cell.get("userEnteredValue", {}).get("formulaValue")
                if f is not None:
                    formulas[(r, c)] = f
        grid = props.get("gridProperties", {})
        marks = sheet.get("developerMetadata", [])
        return Grid(
            title,
            _trim(rows),
            sheet_id=int(props.get("sheetId", 0)),
            row_count=int(grid.get("rowCount", 0)),
            col_count=int(grid.get("columnCount", 0)),
            set_up=any(m.get("metadataKey") == SETUP_KEY for m in marks),
            formulas=formulas,
        )
    return None


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def raw_value(value: Cell) -> RawCell:
    """A cell as JSON for a RAW write: numbers stay numbers, text stays text, nothing is parsed."""
    kind = type(value)
    if kind is str or kind is int or kind is bool:  # the common cases, without ABC checks
        return value  # type: ignore[return-value]
    if kind is float:
        return value if math.isfinite(value) else ""  # type: ignore[arg-type,return-value]
    if hasattr(value, "dtype") and hasattr(value, "item"):  # numpy scalars from pandas frames
        value = value.item()  # type: ignore[union-attr]
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else ""
    return str(value)


@dataclass
class Plan:
    """Cells to write in sheet coordinates (row 0 = header), and what the write expects to find."""

    cells: dict[tuple[int, int], RawCell] = field(default_factory=dict)
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)
    new_columns: list[int] = field(default_factory=list)
    new_rows: list[int] = field(default_factory=list)
    rows_needed: int = 0
    cols_needed: int = 0

    def expected(self, grid: Grid) -> tuple[list[str], list[str]]:
        """The header row and the id column (rows 1...) the sheet holds once this plan is written
        onto ``grid`` (trailing blanks trimmed)."""
        ids = grid.ids()
        for r, rid in self.ids.items():
            ids.extend([""] * (r - len(ids)))
            ids[r - 1] = rid
        return _trim_list([h.strip() for h in self.header]), _trim_list(ids)


def check_grid(grid: Grid) -> None:
    """Stop on a header the write could not map, or on rows it could not tell apart."""
    names = [h for h in grid.header if h]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SheetError(
            f"the worksheet {grid.title!r} repeats header(s) {repeated}; rename or delete the "
            "copies, then try again"
        )
    if grid.data_rows and any(grid.cells[1:]) and KEY not in names:
        raise SheetError(
            f"the worksheet {grid.title!r} has no {KEY!r} column; rows are matched by id. Restore "
            f"the header cell {KEY!r} or clear the worksheet to start over"
        )
    dup = duplicate_ids(i for i in grid.ids() if i)
    if dup:
        more = f" and {len(dup) - 20} more" if len(dup) > 20 else ""
        raise SheetError(
            f"the worksheet {grid.title!r} has several rows with the same id: "
            f"{', '.join(dup[:20])}{more}; delete the extra rows, then try again"
        )


def keep_typed_cells(grid: Grid, change: SheetWrite) -> tuple[SheetWrite, list[dict[str, str]]]:
    """``change`` without the cells of ``change.expected`` that the grid shows changed (a person
    typed them after the writer read the sheet), and those cells."""
    if not change.expected:
        return change, []
    col = {n: i for i, n in enumerate(grid.header) if n}
    row = {rid: r for r, rid in enumerate(grid.ids(), start=1) if rid}
    kept: list[dict[str, str]] = []
    updates = dict(change.updates)
    for rid, guarded in change.expected.items():
        if rid not in updates or rid not in row:
            continue
        cells = dict(updates[rid])
        for name, want in guarded.items():
            if name in cells and name in col:
                now = grid.cell(row[rid], col[name])
                if now.strip() != want.strip():
                    kept.append({"id": rid, "column": name, "current": now})
                    del cells[name]
        updates[rid] = cells
    return replace(change, updates=updates), kept


def writes_guarded(grid: Grid, change: SheetWrite) -> bool:
    """Whether ``change`` would write a cell of ``change.expected`` (one people may type too):
    only then does the write need to see what the sheet holds now rather than what was read."""
    col = {n: i for i, n in enumerate(grid.header) if n}
    row = {rid: r for r, rid in enumerate(grid.ids(), start=1) if rid}
    for rid, guarded in change.expected.items():
        cells = change.updates.get(rid, {})
        for name in guarded:
            if name not in cells:
                continue
            if rid not in row or name not in col:
                return True
            if not shows_as(grid.cell(row[rid], col[name]), raw_value(cells[name])):
                return True
    return False


def plan_write(grid: Grid, change: SheetWrite) -> Plan:
    """Place a write on the grid: existing rows by id, new rows below, missing columns at the end.

    An update for an id the sheet no longer has becomes an appended row; an append for an id it
    already has becomes an update of its non-human cells. Human cells of existing rows are never in
    the plan.
    """
    check_grid(grid)
    human = set(change.human_columns)
    plan = Plan(header=list(grid.header))
    index = {n: i for i, n in enumerate(plan.header) if n}
    wanted = [*change.header]
    wanted += [c for cells in change.updates.values() for c in cells]
    wanted += [c for cells in change.appends for c in cells]
    if KEY not in index and KEY not in wanted and (change.appends or change.updates):
        wanted.insert(0, KEY)
    nxt = grid.width if grid.cells else 0
    for name in dict.fromkeys(wanted):
        if name in index:
            continue
        plan.header.extend([""] * (nxt + 1 - len(plan.header)))
        plan.header[nxt] = name
        index[name] = nxt
        plan.cells[(0, nxt)] = name
        plan.new_columns.append(nxt)
        nxt += 1

    def put(row: int, col: str, value: Cell) -> None:
        # Only cells that would change are written: a repeat push of unchanged rows sends nothing.
        at = (row, index[col])
        if isinstance(value, Formula):
            if grid.formulas.get(at) != str(value):
                plan.formulas[at] = str(value)
            return
        raw = raw_value(value)
        if at in grid.formulas or not shows_as(grid.cell(*at), raw):
            plan.cells[at] = raw

    position = {rid: i + 1 for i, rid in enumerate(grid.ids()) if rid}
    updates: dict[str, dict[str, Cell]] = {}
    appends: dict[str, dict[str, Cell]] = {}
    for rid, cells in change.updates.items():
        target = updates if rid in position else appends
        target.setdefault(rid, {}).update(cells)
    for cells in change.appends:
        rid = str(cells[KEY]).strip()
        if rid in position:
            rest = {k: v for k, v in cells.items() if k != KEY and k not in human}
            updates.setdefault(rid, {}).update(rest)
        else:
            appends.setdefault(rid, {}).update({k: v for k, v in cells.items() if k != KEY})
    for rid, cells in updates.items():
        row = position[rid]
        plan.ids[row] = rid
        for col, value in cells.items():
            if col not in human:
                put(row, col, value)
    row = grid.data_rows + 1
    for rid, cells in appends.items():
        plan.ids[row] = rid
        plan.new_rows.append(row)
        plan.cells[(row, index[KEY])] = rid  # always written: the race check reads ids back
        for col, value in cells.items():
            if value is None or (col in human and value == ""):
                continue  # a new row is empty: nothing to clear
            put(row, col, value)
        row += 1
    plan.rows_needed = max(row, len(grid.cells), 1)
    plan.cols_needed = max(len(plan.header), grid.width)
    return plan


def shows_as(text: str, value: RawCell) -> bool:
    """Whether a cell showing ``text`` already holds ``value`` (as a RAW write would store it)."""
    if value is None:
        return True  # null leaves a cell as it is
    if isinstance(value, bool):
        return text == ("TRUE" if value else "FALSE")
    if isinstance(value, (int, float)):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return text == value


def _runs(values: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted distinct integers, as inclusive ``(first, last)`` pairs."""
    runs: list[tuple[int, int]] = []
    for v in sorted(set(values)):
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def json_size(obj: object) -> int:
    """Bytes of ``obj`` as a JSON request body (UTF-8)."""
    return len(json.dumps(obj, ensure_ascii=False).encode("utf-8"))


def value_ranges(
    title: str, cells: Mapping[tuple[int, int], RawCell], budget: int = MAX_PAYLOAD
) -> list[tuple[dict, int]]:
    """``ValueRange`` objects covering ``cells`` with as few ranges as possible, each under ``budget``.

    A range spans consecutive columns that all hold cells to write; inside it, a cell that is not
    written is sent as JSON null, which the API skips (it does not clear it).
    """
    by_col: dict[int, set[int]] = defaultdict(set)
    for r, c in cells:
        by_col[c].add(r)
    out: list[tuple[dict, int]] = []
    # Pieces much smaller than a request, so that packing them fills each request nearly full.
    budget = max(1, budget // 8)
    for c0, c1 in _runs(by_col):
        rows: set[int] = set()
        for c in range(c0, c1 + 1):
            rows |= by_col[c]
        for r0, r1 in _runs(rows):
            piece: list[list[RawCell]] = []
            size, first = 0, r0
            for r in range(r0, r1 + 1):
                values = [cells.get((r, c)) for c in range(c0, c1 + 1)]
                n = json_size(values) + 1
                if piece and size + n > budget:
                    out.append(({"range": a1(title, first, c0, r - 1, c1), "values": piece}, size))
                    piece, size, first = [], 0, r
                piece.append(values)
                size += n
            out.append(({"range": a1(title, first, c0, r1, c1), "values": piece}, size))
    return out


def pack(items: Iterable[tuple[dict, int]], budget: int = MAX_PAYLOAD) -> list[list[dict]]:
    """Group sized items into request bodies of at most ``budget`` bytes, keeping their order."""
    batches: list[list[dict]] = []
    size = 0
    for item, n in items:
        n += 64  # the range string and JSON punctuation around each item
        if not batches or size + n > budget:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += n
    return batches


def formula_requests(
    sheet_id: int, formulas: Mapping[tuple[int, int], str], budget: int = MAX_PAYLOAD
) -> list[tuple[dict, int]]:
    """``updateCells`` requests entering the tool's formulas as explicit ``formulaValue``s.

    Only these cells are ever entered as formulas; nothing else is parsed.
    """
    by_col: dict[int, dict[int, str]] = defaultdict(dict)
    for (r, c), f in formulas.items():
        by_col[c][r] = f
    out: list[tuple[dict, int]] = []
    budget = max(1, budget // 8)  # small pieces pack into nearly full requests
    for c in sorted(by_col):
        for r0, r1 in _runs(by_col[c]):
            rows: list[dict] = []
            size, first = 0, r0
            for r in range(r0, r1 + 1):
                row = {"values": [{"userEnteredValue": {"formulaValue": by_col[c][r]}}]}
                n = json_size(row) + 1
                if rows and size + n > budget:
                    out.append((_update_cells(sheet_id, first, c, rows), size))
                    rows, size, first = [], 0, r
                rows.append(row)
                size += n
            out.append((_update_cells(sheet_id, first, c, rows), size))
    return out


def _update_cells(sheet_id: int, row: int, col: int, rows: list[dict]) -> dict:
    start = {"sheetId": sheet_id, "rowIndex": row, "columnIndex": col}
    return {"updateCells": {"start": start, "rows": rows, "fields": "userEnteredValue"}}


def _trim_list(values: list[str]) -> list[str]:
    while values and values[-1] == "":
        values = values[:-1]
    return values


def table(grid: Grid) -> SheetTable:
    """What ``read`` returns: named columns only, blank rows dropped, cells as shown."""
    header = grid.header
    named = [(i, n) for i, n in enumerate(header) if n]
    first: dict[str, int] = {}
    for i, n in named:
        first.setdefault(n, i)
    rows = []
    for r in range(1, len(grid.cells)):
        if not any(v.strip() for v in grid.cells[r]):
            continue
        rows.append({n: grid.cell(r, i) for n, i in first.items()})
    return SheetTable(tuple(n for _, n in named), tuple(rows))
