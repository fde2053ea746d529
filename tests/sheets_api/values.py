"""The ``spreadsheets.values`` endpoints: get, batchGet, update, batchUpdate, append, clear."""

from __future__ import annotations

import json
from typing import Any

from tests.sheets_api.a1 import col_letters, show_range
from tests.sheets_api.cells import formatted, unformatted, user_entered
from tests.sheets_api.errors import ApiError
from tests.sheets_api.model import Spreadsheet, bounded, grid_error, snapshot


def _read_range(ss: Spreadsheet, text: str, query: dict) -> dict:
    sheet, box = ss.parse(text)
    r0, c0, r1, c1 = bounded(sheet, box)
    render = (query.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
    major = (query.get("majorDimension") or ["ROWS"])[0]
    rows = sheet.texts(r0, c0, r1, c1)
    conv = formatted if render == "FORMATTED_VALUE" else (lambda v: unformatted(v, render))
    values = [[conv(v) for v in row] for row in rows]
    if major == "COLUMNS":
        values = [list(col) for col in zip(*values, strict=True)] if values else []
    out = []
    for row in values:
        while row and (row[-1] is None or row[-1] == ""):
            row.pop()
        out.append(["" if v is None else v for v in row])
    while out and not out[-1]:
        out.pop()
    answer = {"range": show_range(sheet.title, r0, c0, r1, c1), "majorDimension": major}
    if out:
        answer["values"] = out
    return answer


def get(ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
    return _read_range(ss, rng, query)


def batch_get(ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
    return {
        "spreadsheetId": ss.id,
        "valueRanges": [_read_range(ss, r, query) for r in query.get("ranges", [])],
    }


def _write_range(
    ss: Spreadsheet, text: str, values: Any, option: str | None, major: str | None
) -> tuple[dict, set, set, int]:
    if option not in ("RAW", "USER_ENTERED"):
        raise ApiError(
            400,
            "'valueInputOption' is required but not specified"
            if not option
            else f"Invalid value at 'value_input_option' ({option})",
        )
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        raise ApiError(
            400,
            f"Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), {json.dumps(values)}",
        )
    if major == "COLUMNS":
        width = max((len(r) for r in values), default=0)
        values = [[col[i] if i < len(col) else None for col in values] for i in range(width)]
    sheet, box = ss.parse(text)
    height, width = len(values), max((len(r) for r in values), default=0)
    if box.r1 is not None and box.r1 != box.r0 or box.c1 is not None and box.c1 != box.c0:
        r1 = box.r1 if box.r1 is not None else box.r0 + height - 1
        c1 = box.c1 if box.c1 is not None else box.c0 + width - 1
        if box.r0 + height - 1 > r1:
            raise ApiError(
                400,
                f"Requested writing within range [{text}], but tried writing to row [{box.r0 + height}]",
            )
        if box.c0 + width - 1 > c1:
            raise ApiError(
                400,
                f"Requested writing within range [{text}], but tried writing to column [{col_letters(box.c0 + width - 1)}]",
            )
    if height == 0 or width == 0:
        empty = {
            "spreadsheetId": ss.id,
            "updatedRange": show_range(sheet.title, box.r0, box.c0, box.r0, box.c0),
        }
        return empty, set(), set(), 0
    if box.r0 + height > sheet.rows or box.c0 + width > sheet.cols:
        bad_r = box.r0 + height - 1 if box.r0 + height > sheet.rows else box.r0
        bad_c = box.c0 + width - 1 if box.c0 + width > sheet.cols else box.c0
        raise grid_error(sheet, bad_r, bad_c)
    rows_hit, cols_hit, cells = set(), set(), 0
    parse = option == "USER_ENTERED"
    while len(sheet.grid) < box.r0 + height:
        sheet.grid.append([])
    for i, row in enumerate(values):
        target = sheet.grid[box.r0 + i]
        if len(target) < box.c0 + len(row):
            target.extend([None] * (box.c0 + len(row) - len(target)))
        for j, v in enumerate(row):
            if v is None:
                continue  # null: leave the cell as it is
            kind = type(v)
            if kind is str:
                stored = (user_entered(v) if parse else v) or None  # "" clears
            elif kind is int or kind is float:
                stored = float(v)
            elif kind is bool:
                stored = v
            else:
                raise ApiError(400, f"Invalid values[{i}][{j}]: {json.dumps(v)}")
            target[box.c0 + j] = stored
            cols_hit.add(box.c0 + j)
            cells += 1
        if row and any(v is not None for v in row):
            rows_hit.add(box.r0 + i)
    answer = {
        "spreadsheetId": ss.id,
        "updatedRange": show_range(
            sheet.title, box.r0, box.c0, box.r0 + height - 1, box.c0 + width - 1
        ),
        "updatedRows": len(rows_hit),
        "updatedColumns": len(cols_hit),
        "updatedCells": cells,
    }
    return answer, rows_hit, cols_hit, cells


def update(ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
    body = body or {}
    option = (query.get("valueInputOption") or [None])[0]
    answer, *_ = _write_range(ss, rng, body.get("values"), option, body.get("majorDimension"))
    return answer


def batch_update(ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
    body = body or {}
    data = body.get("data") or []
    backup = snapshot(ss.sheets)  # a batch is atomic
    try:
        responses, rows, cols, cells, sheets = [], set(), set(), 0, set()
        for item in data:
            answer, r, c, n = _write_range(
                ss,
                item.get("range", ""),
                item.get("values"),
                body.get("valueInputOption"),
                item.get("majorDimension"),
            )
            sheet, _ = ss.parse(item.get("range", ""))
            responses.append(answer)
            rows |= {(sheet.sheet_id, x) for x in r}
            cols |= {(sheet.sheet_id, x) for x in c}
            cells += n
            if n:
                sheets.add(sheet.sheet_id)
    except ApiError:
        ss.sheets = backup
        raise
    out = {
        "spreadsheetId": ss.id,
        "totalUpdatedRows": len(rows),
        "totalUpdatedColumns": len(cols),
        "totalUpdatedCells": cells,
        "totalUpdatedSheets": len(sheets),
        "responses": responses,
    }
    return {k: v for k, v in out.items() if v != 0}


def append(ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
    sheet, box = ss.parse(rng)
    values = (body or {}).get("values") or []
    nrows, _ = sheet.extent()
    start = max(nrows, box.r0)
    grow = start + len(values) - sheet.rows
    if grow > 0:
        sheet.rows += grow  # append inserts the rows it needs
    width = max((len(r) for r in values), default=0)
    if box.c0 + width > sheet.cols:
        sheet.cols = box.c0 + width
    where = show_range(sheet.title, start, box.c0, start, box.c0)
    answer, *_ = _write_range(ss, where, values, (query.get("valueInputOption") or [None])[0], None)
    return {
        "spreadsheetId": ss.id,
        "tableRange": show_range(
            sheet.title, 0, box.c0, max(nrows - 1, 0), box.c0 + max(width - 1, 0)
        ),
        "updates": answer,
    }


def _clear_range(ss: Spreadsheet, text: str) -> str:
    sheet, box = ss.parse(text)
    r0, c0, r1, c1 = bounded(sheet, box)
    for r in range(r0, min(r1 + 1, len(sheet.grid))):
        for c in range(c0, c1 + 1):
            sheet.set(r, c, None)
    return show_range(sheet.title, r0, c0, r1, c1)


def clear(ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
    return {"spreadsheetId": ss.id, "clearedRange": _clear_range(ss, rng)}


def batch_clear(ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
    return {
        "spreadsheetId": ss.id,
        "clearedRanges": [_clear_range(ss, r) for r in (body or {}).get("ranges", [])],
    }
