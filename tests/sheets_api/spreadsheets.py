"""The ``spreadsheets.get`` endpoint: properties, grid data and field masks."""

from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any

from tests.sheets_api.a1 import Box
from tests.sheets_api.cells import formatted, user_entered_value
from tests.sheets_api.masks import apply_mask, parse_mask, strip_row_data
from tests.sheets_api.model import Sheet, Spreadsheet, bounded


def _sheet_json(sheet: Sheet) -> dict:
    grid = {"rowCount": sheet.rows, "columnCount": sheet.cols}
    if sheet.frozen_rows:
        grid["frozenRowCount"] = sheet.frozen_rows
    if sheet.frozen_cols:
        grid["frozenColumnCount"] = sheet.frozen_cols
    props = {
        "sheetId": sheet.sheet_id,
        "title": sheet.title,
        "index": sheet.index,
        "sheetType": "GRID",
        "gridProperties": grid,
    }
    out: dict = {"properties": props}
    if sheet.protected:
        out["protectedRanges"] = copy.deepcopy(sheet.protected)
    if sheet.conditional:
        out["conditionalFormats"] = copy.deepcopy(sheet.conditional)
    if sheet.metadata:
        out["developerMetadata"] = copy.deepcopy(sheet.metadata)
    return out


def _grid_data(sheet: Sheet, box: Box, wanted: dict | None) -> dict:
    """GridData of a range; ``wanted`` is the CellData field mask (None: all fields).

    A nested mask such as ``userEnteredValue.formulaValue`` keeps only that part; a cell whose
    masked value is empty carries no such field (the API omits empty messages).
    """
    r0, c0, r1, c1 = bounded(sheet, box)
    # Cells that hold a value or a rule count: the API sends rows up to the last such cell.
    last: dict[int, int] = defaultdict(lambda: -1)
    for r in range(r0, min(r1 + 1, len(sheet.grid))):
        row = sheet.grid[r]
        for c in range(min(c1 + 1, len(row)) - 1, c0 - 1, -1):
            if row[c] is not None:
                last[r] = c
                break
    for rng, _ in sheet.validations + sheet.formats:
        top = min(r1 + 1, rng.get("endRowIndex", sheet.rows))
        for r in range(max(r0, rng.get("startRowIndex", 0)), top):
            last[r] = max(last[r], min(c1, rng.get("endColumnIndex", sheet.cols) - 1))
    want_value = wanted is None or "userEnteredValue" in wanted
    value_mask = None if wanted is None else wanted.get("userEnteredValue")
    want_text = wanted is None or "formattedValue" in wanted
    want_rule = wanted is None or "dataValidation" in wanted
    want_format = wanted is None or "userEnteredFormat" in wanted
    rows = []
    end = max((r for r, c in last.items() if c >= c0), default=r0 - 1)
    for r in range(r0, end + 1):
        stored = sheet.texts(r, c0, r, last[r])[0] if last[r] >= c0 else []
        cells = []
        for j, v in enumerate(stored):
            cell: dict = {}
            if v is not None:
                if want_value:
                    value = apply_mask(user_entered_value(v), value_mask)
                    if value:
                        cell["userEnteredValue"] = value
                shown = formatted(v) if want_text else None
                if shown is not None:
                    cell["formattedValue"] = shown
            fmt = sheet.format_at(r, c0 + j) if want_format else None
            if fmt:
                cell["userEnteredFormat"] = _with_styles(fmt)
            rule = sheet.validation_at(r, c0 + j) if want_rule else None
            if rule:
                cell["dataValidation"] = rule
            cells.append(cell)
        rows.append({"values": cells} if cells else {})
    data: dict = {"rowData": rows}
    if r0:
        data["startRow"] = r0
    if c0:
        data["startColumn"] = c0
    return data


def get(ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
    mask = parse_mask(query["fields"][0]) if query.get("fields") else None
    want = (query.get("includeGridData") or ["false"])[0].lower() == "true"
    cell_fields: dict | None = None
    if mask is not None:
        # With a field mask, grid data comes back when the mask asks for it.
        node: Any = mask
        for key in ("sheets", "data", "rowData", "values"):
            node = node.get(key, {}) if isinstance(node, dict) else None
        want = node is None or bool(node)
        cell_fields = None if node is None else dict(node)
    picked: dict[int, list[Box]] = {}
    for text in query.get("ranges", []):
        sheet, box = ss.parse(text)
        bounded(sheet, box)
        picked.setdefault(sheet.sheet_id, []).append(box)
    sheets = [s for s in ss.sheets if not picked or s.sheet_id in picked]
    out = {
        "spreadsheetId": ss.id,
        "properties": {
            "title": ss.title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
        },
        "sheets": [_sheet_json(s) for s in sheets],
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{ss.id}/edit",
    }
    out = apply_mask(out, mask)
    if want:  # built already trimmed to the mask: masking 20,000 rows afterwards is slow
        for s, part in zip(sheets, out.setdefault("sheets", [{} for _ in sheets]), strict=True):
            boxes = picked.get(s.sheet_id) or [Box(0, 0, None, None)]
            data = [_grid_data(s, b, cell_fields) for b in boxes]
            sub = (
                mask["sheets"].get("data")
                if mask and isinstance(mask.get("sheets"), dict)
                else None
            )
            part["data"] = [
                apply_mask({k: v for k, v in d.items() if k != "rowData"}, strip_row_data(sub))
                | {"rowData": d["rowData"]}
                for d in data
            ]
    return out


def _with_styles(fmt: dict) -> dict:
    """Sheets answers every colour twice: as ``xColor`` and as ``xColorStyle.rgbColor``."""
    out = copy.deepcopy(fmt)
    for holder in (out, out.get("textFormat", {})):
        for key in [k for k in holder if k.endswith("Color")]:
            holder[key + "Style"] = {"rgbColor": holder[key]}
    return out
