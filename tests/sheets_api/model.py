"""Spreadsheet and worksheet state: the grid of stored values, its rules, and range bounds."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from tests.sheets_api.a1 import Box, col_letters, parse_cells, show_title
from tests.sheets_api.errors import ApiError


@dataclass
class Sheet:
    sheet_id: int
    title: str
    index: int
    rows: int = 1000
    cols: int = 26
    frozen_rows: int = 0
    frozen_cols: int = 0
    grid: list[list[Any]] = field(default_factory=list)
    protected: list[dict] = field(default_factory=list)
    conditional: list[dict] = field(default_factory=list)
    validations: list[tuple[dict, dict]] = field(default_factory=list)
    metadata: list[dict] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    heights: dict[int, int] = field(default_factory=dict)
    formats: list[tuple[dict, dict]] = field(default_factory=list)  # (range, userEnteredFormat)
    notes: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> cell note

    def get(self, r: int, c: int) -> Any:
        if r < len(self.grid) and c < len(self.grid[r]):
            return self.grid[r][c]
        return None

    def set(self, r: int, c: int, v: Any) -> None:
        if v == "":
            v = None
        while len(self.grid) <= r:
            self.grid.append([])
        row = self.grid[r]
        if len(row) <= c:
            if v is None:
                return
            row.extend([None] * (c + 1 - len(row)))
        row[c] = v

    def extent(self) -> tuple[int, int]:
        """Rows and columns up to the last non-empty cell."""
        nrows = ncols = 0
        for i, row in enumerate(self.grid):
            last = max((j + 1 for j, v in enumerate(row) if v is not None and v != ""), default=0)
            if last:
                nrows, ncols = i + 1, max(ncols, last)
        return nrows, ncols

    def texts(self, r0: int, c0: int, r1: int, c1: int) -> list[list[Any]]:
        """Stored values of a block (None for empty), row by row."""
        width = c1 - c0 + 1
        out = []
        for r in range(r0, r1 + 1):
            part = self.grid[r][c0 : c1 + 1] if r < len(self.grid) else []
            out.append(part + [None] * (width - len(part)))
        return out

    def format_at(self, r: int, c: int) -> dict | None:
        merged: dict = {}
        for rng, fmt in self.formats:
            if _in(rng, r, c, self):
                for k, v in fmt.items():
                    merged[k] = (
                        {**merged[k], **v}
                        if isinstance(v, dict) and isinstance(merged.get(k), dict)
                        else v
                    )
        return merged or None

    def validation_at(self, r: int, c: int) -> dict | None:
        found = None
        for rng, rule in self.validations:
            if _in(rng, r, c, self):
                found = rule
        return found


def _in(rng: dict, r: int, c: int, sheet: Sheet) -> bool:
    return rng.get("startRowIndex", 0) <= r < rng.get("endRowIndex", sheet.rows) and rng.get(
        "startColumnIndex", 0
    ) <= c < rng.get("endColumnIndex", sheet.cols)


@dataclass
class Spreadsheet:
    id: str
    title: str
    sheets: list[Sheet]
    editors: set[str] | None = None  # principals allowed; None = anyone

    def by_title(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def by_id(self, sheet_id: int) -> Sheet:
        for s in self.sheets:
            if s.sheet_id == sheet_id:
                return s
        raise ApiError(400, f"No grid with id: {sheet_id}")

    def parse(self, text: str) -> tuple[Sheet, Box]:
        """A1 notation with or without a sheet name; a bare sheet name is the whole sheet."""
        raw = text.strip()
        title: str | None = None
        cells: str | None = None
        if raw.startswith("'"):
            m = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", raw)
            if not m:
                raise ApiError(400, f"Unable to parse range: {text}")
            title, cells = m[1].replace("''", "'"), m[2]
        elif "!" in raw:
            title, cells = raw.split("!", 1)
        else:
            if self.by_title(raw):
                title = raw
            else:
                cells = raw
        sheet = self.by_title(title) if title is not None else self.sheets[0]
        if sheet is None:
            raise ApiError(400, f"Unable to parse range: {text}")
        if cells is None or cells == "":
            return sheet, Box(0, 0, None, None)
        box = parse_cells(cells)
        if box is None:
            raise ApiError(400, f"Unable to parse range: {text}")
        return sheet, box


def grid_error(sheet: Sheet, r: int, c: int) -> ApiError:
    return ApiError(
        400,
        f"Range ({show_title(sheet.title)}!{col_letters(c)}{r + 1}) exceeds grid limits. "
        f"Max rows: {sheet.rows}, max columns: {sheet.cols}",
    )


def bounded(sheet: Sheet, box: Box) -> tuple[int, int, int, int]:
    """Clamp open ends to the grid; refuse bounded ranges outside it."""
    r1 = sheet.rows - 1 if box.r1 is None else box.r1
    c1 = sheet.cols - 1 if box.c1 is None else box.c1
    if max(box.r0, r1) >= sheet.rows or max(box.c0, c1) >= sheet.cols:
        raise grid_error(
            sheet,
            max(box.r0, r1) if max(box.r0, r1) >= sheet.rows else box.r0,
            max(box.c0, c1) if max(box.c0, c1) >= sheet.cols else box.c0,
        )
    return box.r0, box.c0, r1, c1


def snapshot(sheets: list[Sheet]) -> list[Sheet]:
    """A copy to roll a failed batch back to (cell values are immutable: rows are copied shallowly)."""
    out = []
    for s in sheets:
        grid, s.grid = s.grid, []
        twin = copy.deepcopy(s)
        s.grid, twin.grid = grid, [list(r) for r in grid]
        out.append(twin)
    return out
