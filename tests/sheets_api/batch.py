"""The ``spreadsheets.batchUpdate`` endpoint and the requests it understands (``REQUESTS``)."""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Callable
from typing import Any

from tests.sheets_api.cells import Formula, sort_key
from tests.sheets_api.errors import ApiError
from tests.sheets_api.model import Sheet, Spreadsheet, grid_error, snapshot


def batch_update(ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
    """``spreadsheets.batchUpdate``: every request is validated and applied, or none is."""
    requests_ = (body or {}).get("requests") or []
    backup = snapshot(ss.sheets)
    replies = []
    try:
        for i, req in enumerate(requests_):
            if not isinstance(req, dict) or len(req) != 1:
                raise ApiError(
                    400, f"Invalid requests[{i}]: exactly one kind of request is required"
                )
            ((name, args),) = req.items()
            fn = REQUESTS.get(name)
            if fn is None:
                raise ApiError(
                    400,
                    f"Invalid JSON payload received. Unknown name \"{name}\" at 'requests[{i}]': Cannot find field.",
                )
            try:
                replies.append(fn(ss, args or {}))
            except ApiError as exc:
                raise ApiError(400, f"Invalid requests[{i}].{name}: {exc.message}") from None
    except ApiError:
        ss.sheets = backup  # nothing of a failed batch is applied
        raise
    return {"spreadsheetId": ss.id, "replies": replies}


def _check_range(sheet: Sheet, rng: dict) -> tuple[int, int, int, int]:
    r0, r1 = rng.get("startRowIndex", 0), rng.get("endRowIndex", sheet.rows)
    c0, c1 = rng.get("startColumnIndex", 0), rng.get("endColumnIndex", sheet.cols)
    if r1 > sheet.rows or c1 > sheet.cols:
        bad = (r1 - 1, c0) if r1 > sheet.rows else (r0, c1 - 1)
        raise grid_error(sheet, *bad)
    if r0 > r1 or c0 > c1:
        raise ApiError(400, "The start index must be less than or equal to the end index")
    return r0, r1, c0, c1


def _fields(text: str) -> set[str]:
    """The top-level paths of an update mask (commas inside parentheses do not split)."""
    out, depth, part = set(), 0, ""
    for ch in text + ",":
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            if part.strip():
                out.add(part.strip().replace("/", "."))
            part = ""
        else:
            part += ch
    return out


def add_sheet(ss: Spreadsheet, args: dict) -> dict:
    props = args.get("properties", {})
    title = props.get("title") or f"Sheet{len(ss.sheets) + 1}"
    if ss.by_title(title):
        raise ApiError(
            400, f'A sheet with the name "{title}" already exists. Please enter another name.'
        )
    grid = props.get("gridProperties", {})
    sid = props.get("sheetId") or random.randint(1, 2**31 - 1)
    sheet = Sheet(
        sid,
        title,
        len(ss.sheets),
        grid.get("rowCount", 1000),
        grid.get("columnCount", 26),
        grid.get("frozenRowCount", 0),
        grid.get("frozenColumnCount", 0),
    )
    ss.sheets.append(sheet)
    out = {
        "sheetId": sid,
        "title": title,
        "index": sheet.index,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": sheet.rows, "columnCount": sheet.cols},
    }
    return {"addSheet": {"properties": out}}


def delete_sheet(ss: Spreadsheet, args: dict) -> dict:
    ss.sheets.remove(ss.by_id(args.get("sheetId", 0)))
    return {}


def update_sheet_properties(ss: Spreadsheet, args: dict) -> dict:
    props = args.get("properties", {})
    sheet = ss.by_id(props.get("sheetId", 0))
    grid = props.get("gridProperties", {})
    for f in _fields(args.get("fields", "")):
        if f == "title":
            sheet.title = props.get("title", sheet.title)
        elif f in ("gridProperties.rowCount", "gridProperties.columnCount"):
            key = f.split(".")[1]
            value = grid.get(key, 0)
            if value < 1:
                raise ApiError(400, f"{key} must be at least 1")
            if key == "rowCount":
                sheet.rows = value
                del sheet.grid[value:]
            else:
                sheet.cols = value
                for row in sheet.grid:
                    del row[value:]
        elif f == "gridProperties.frozenRowCount":
            sheet.frozen_rows = grid.get("frozenRowCount", 0)
        elif f == "gridProperties.frozenColumnCount":
            sheet.frozen_cols = grid.get("frozenColumnCount", 0)
        else:
            raise ApiError(400, f"Unsupported field mask {f}")
    return {}


def append_dimension(ss: Spreadsheet, args: dict) -> dict:
    sheet = ss.by_id(args.get("sheetId", 0))
    if args.get("dimension") == "COLUMNS":
        sheet.cols += args.get("length", 0)
    else:
        sheet.rows += args.get("length", 0)
    return {}


def _dimension(args: dict, ss: Spreadsheet) -> tuple[Sheet, str, int, int]:
    rng = args.get("range", args.get("source", {}))
    sheet = ss.by_id(rng.get("sheetId", 0))
    return sheet, rng.get("dimension", "ROWS"), rng.get("startIndex", 0), rng.get("endIndex", 0)


def insert_dimension(ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    if dim == "ROWS":
        sheet.rows += b - a
        sheet.grid[a:a] = [[] for _ in range(b - a)] if a <= len(sheet.grid) else []
    else:
        sheet.cols += b - a
        for row in sheet.grid:
            if a <= len(row):
                row[a:a] = [None] * (b - a)
    return {}


def delete_dimension(ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    if dim == "ROWS":
        del sheet.grid[a:b]
        sheet.rows -= b - a
    else:
        for row in sheet.grid:
            del row[a:b]
        sheet.cols -= b - a
    return {}


def move_dimension(ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    dest = args.get("destinationIndex", 0)

    def move(seq: list) -> list:
        chunk, rest = seq[a:b], seq[:a] + seq[b:]
        at = dest if dest <= a else dest - (b - a)
        return rest[:at] + chunk + rest[at:]

    if dim == "ROWS":
        sheet.grid.extend([[] for _ in range(max(0, max(b, dest) - len(sheet.grid)))])
        sheet.grid = move(sheet.grid)
    else:
        width = max(b, dest, max((len(r) for r in sheet.grid), default=0))
        sheet.grid = [move(row + [None] * (width - len(row))) for row in sheet.grid]
    return {}


def update_dimension_properties(ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    size = args.get("properties", {}).get("pixelSize")
    target = sheet.widths if rng.get("dimension") == "COLUMNS" else sheet.heights
    limit = sheet.cols if rng.get("dimension") == "COLUMNS" else sheet.rows
    if rng.get("endIndex", 0) > limit:
        raise ApiError(
            400, f"Invalid dimension range: end index {rng.get('endIndex')} beyond {limit}"
        )
    for i in range(rng.get("startIndex", 0), rng.get("endIndex", 0)):
        target[i] = size
    return {}


def sort_range(ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    r0, r1, c0, c1 = _check_range(sheet, rng)
    block = sheet.texts(r0, c0, r1 - 1, c1 - 1)
    for spec in reversed(args.get("sortSpecs", [])):
        k = spec.get("dimensionIndex", 0) - c0
        desc = spec.get("sortOrder") == "DESCENDING"
        keyed = [(sort_key(row[k]), row) for row in block]
        filled = [kr for kr in keyed if kr[0][0] != 3]
        filled.sort(key=lambda kr: kr[0], reverse=desc)
        block = [row for _, row in filled] + [row for key, row in keyed if key[0] == 3]
    while len(sheet.grid) < r1:
        sheet.grid.append([])
    for i, row in enumerate(block):  # blanks went last in both orders, like Sheets
        target = sheet.grid[r0 + i]
        if len(target) < c1:
            target.extend([None] * (c1 - len(target)))
        target[c0:c1] = row
    return {}


def set_data_validation(ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    stored = {k: v for k, v in rng.items() if k != "sheetId"}
    sheet.validations.append((stored, args.get("rule")))
    return {}


def add_conditional_format_rule(ss: Spreadsheet, args: dict) -> dict:
    rule = copy.deepcopy(args.get("rule", {}))
    ranges = rule.get("ranges", [])
    if not ranges:
        raise ApiError(400, "A conditional format rule needs at least one range")
    sheet = ss.by_id(ranges[0].get("sheetId", 0))
    for r in ranges:
        _check_range(sheet, r)
        if not r.get("sheetId"):
            r.pop("sheetId", None)
    sheet.conditional.insert(args.get("index", len(sheet.conditional)), rule)
    return {}


def add_protected_range(ss: Spreadsheet, args: dict) -> dict:
    pr = copy.deepcopy(args.get("protectedRange", {}))
    rng = pr.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    if not rng.get("sheetId"):
        rng.pop("sheetId", None)
    pr = {k: v for k, v in pr.items() if v is not None}
    pr.update(protectedRangeId=random.randint(1, 2**31 - 1), requestingUserCanEdit=True, editors={})
    sheet.protected.append(pr)
    return {"addProtectedRange": {"protectedRange": pr}}


def create_developer_metadata(ss: Spreadsheet, args: dict) -> dict:
    md = copy.deepcopy(args.get("developerMetadata", {}))
    loc = md.get("location", {})
    if "sheetId" not in loc:
        raise ApiError(400, "Only sheet-located developer metadata is supported here")
    sheet = ss.by_id(loc["sheetId"])
    md["metadataId"] = random.randint(1, 2**31 - 1)
    md["location"] = {"locationType": "SHEET", "sheetId": loc["sheetId"]}
    sheet.metadata.append(md)
    return {"createDeveloperMetadata": {"developerMetadata": md}}


def _cell_value(cell: dict) -> Any:
    uv = cell.get("userEnteredValue")
    if not uv:
        return None
    if "formulaValue" in uv:
        return Formula(uv["formulaValue"])
    if "numberValue" in uv:
        return float(uv["numberValue"])
    if "boolValue" in uv:
        return bool(uv["boolValue"])
    return uv.get("stringValue")


def update_cells(ss: Spreadsheet, args: dict) -> dict:
    fields = _fields(args.get("fields", ""))
    if not fields:
        raise ApiError(400, "At least one field must be updated, but none were specified.")
    start = args.get("start") or {}
    rng = args.get("range")
    sheet = ss.by_id((rng or start).get("sheetId", 0))
    r0 = (rng or {}).get("startRowIndex", start.get("rowIndex", 0))
    c0 = (rng or {}).get("startColumnIndex", start.get("columnIndex", 0))
    rows = args.get("rows", [])
    height = len(rows)
    width = max((len(r.get("values", [])) for r in rows), default=0)
    _check_range(
        sheet,
        {
            "startRowIndex": r0,
            "endRowIndex": r0 + height,
            "startColumnIndex": c0,
            "endColumnIndex": c0 + width,
        },
    )
    if fields & {"userEnteredValue", "*"}:
        for i, row in enumerate(rows):
            for j, cell in enumerate(row.get("values", [])):
                sheet.set(r0 + i, c0 + j, _cell_value(cell))
    if fields & {"note", "*"}:  # an empty or absent note removes it
        for i, row in enumerate(rows):
            for j, cell in enumerate(row.get("values", [])):
                if cell.get("note"):
                    sheet.notes[(r0 + i, c0 + j)] = str(cell["note"])
                else:
                    sheet.notes.pop((r0 + i, c0 + j), None)
    return {}


def repeat_cell(ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    fields = _fields(args.get("fields", ""))
    fmt = args.get("cell", {}).get("userEnteredFormat", {})
    picked: dict = {}
    for f in fields:
        m = re.match(r"^userEnteredFormat(?:\((.*)\)|\.(.+))?$", f)
        if not m:
            continue
        names = m[1].split(",") if m[1] else [m[2]] if m[2] else list(fmt)
        for name in names:
            head, _, rest = name.strip().partition(".")
            if head in fmt:
                picked[head] = fmt[head] if not rest else _nested(fmt[head], rest)
    stored = {k: v for k, v in rng.items() if k != "sheetId"}
    sheet.formats.append((stored, copy.deepcopy(picked)))
    return {}


def _nested(value: Any, path: str) -> Any:
    head, _, rest = path.partition(".")
    inner = value.get(head) if isinstance(value, dict) else None
    return {head: inner if not rest else _nested(inner, rest)} if inner is not None else {}


#: The requests of a ``spreadsheets.batchUpdate``, by name; each takes (spreadsheet, arguments).
REQUESTS: dict[str, Callable[[Spreadsheet, dict], dict]] = {
    "addSheet": add_sheet,
    "deleteSheet": delete_sheet,
    "updateSheetProperties": update_sheet_properties,
    "appendDimension": append_dimension,
    "insertDimension": insert_dimension,
    "deleteDimension": delete_dimension,
    "moveDimension": move_dimension,
    "updateDimensionProperties": update_dimension_properties,
    "sortRange": sort_range,
    "setDataValidation": set_data_validation,
    "addConditionalFormatRule": add_conditional_format_rule,
    "addProtectedRange": add_protected_range,
    "createDeveloperMetadata": create_developer_metadata,
    "updateCells": update_cells,
    "repeatCell": repeat_cell,
}
