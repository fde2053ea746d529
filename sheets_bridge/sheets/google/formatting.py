"""The worksheet's look: the first push's set-up, formats for what later writes add, the sort.

Pure request builders for ``spreadsheets:batchUpdate``. The set-up ends with a developer-metadata
marker (:data:`~sheets_bridge.sheets.google.plan.SETUP_KEY`): later writes see it and leave people's
formatting alone, formatting only the rows and columns they add.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sheets_bridge.core.schema import IMAGE_COLUMNS
from sheets_bridge.sheets.google.plan import SETUP_KEY, _runs, col_letter

WIDTHS = {
    **dict.fromkeys(IMAGE_COLUMNS, 90),
    "id": 150,
    "url": 200,
    "issues": 260,
    "note": 220,
    "nearest_label_book": 160,
}
ROW_HEIGHT = 64  # pixels: enough for a legible =IMAGE() thumbnail
NOTE = "note"


def _column_range(sheet_id: int, col: int, first_row: int = 0, end_row: int | None = None) -> dict:
    rng = {
        "sheetId": sheet_id,
        "startColumnIndex": col,
        "endColumnIndex": col + 1,
        "startRowIndex": first_row,
    }
    if end_row is not None:
        rng["endRowIndex"] = end_row
    return rng


def _validation(
    sheet_id: int, col: int, choices: tuple[str, ...], first: int, end: int | None
) -> dict:
    rule = {
        "condition": {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in choices]},
        # Not strict: people also type accepted spellings the list does not show ("7", "VII").
        "strict": False,
        "showCustomUi": True,
    }
    return {"setDataValidation": {"range": _column_range(sheet_id, col, first, end), "rule": rule}}


def _protect(sheet_id: int, c0: int, c1: int) -> dict:
    rng = {"sheetId": sheet_id, "startColumnIndex": c0, "endColumnIndex": c1 + 1}
    return {
        "addProtectedRange": {
            "protectedRange": {
                "range": rng,
                "description": "sheets-bridge: rewritten on every push; type in the annotator, override and note columns",
                "warningOnly": True,
            }
        }
    }


def _width(sheet_id: int, col: int, pixels: int) -> dict:
    dim = {"sheetId": sheet_id, "dimension": "COLUMNS", "startIndex": col, "endIndex": col + 1}
    return {
        "updateDimensionProperties": {
            "range": dim,
            "properties": {"pixelSize": pixels},
            "fields": "pixelSize",
        }
    }


def _row_heights(sheet_id: int, first: int, end: int) -> dict:
    dim = {"sheetId": sheet_id, "dimension": "ROWS", "startIndex": first, "endIndex": end}
    return {
        "updateDimensionProperties": {
            "range": dim,
            "properties": {"pixelSize": ROW_HEIGHT},
            "fields": "pixelSize",
        }
    }


def setup_requests(
    sheet_id: int,
    header: list[str],
    human: Iterable[str],
    choices: tuple[str, ...],
    data_rows: int,
    tool_columns: Iterable[str],
) -> list[dict]:
    """The first push's formatting: frozen bold header, dropdowns, disagreement highlight,
    warning-only protection of tool-owned columns, widths, thumbnail row height, and the marker."""
    human = set(human)
    tool = set(tool_columns) - human
    idx = {n: i for i, n in enumerate(header) if n}
    reqs: list[dict] = [
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                "fields": "gridProperties.frozenRowCount",
            }
        },
        {
            "repeatCell": {
                "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": 1},
                "cell": {"userEnteredFormat": {"textFormat": {"bold": True}}},
                "fields": "userEnteredFormat.textFormat.bold",
            }
        },
    ]
    if choices:
        for name in sorted(human & set(idx), key=idx.__getitem__):
            if name != NOTE:
                reqs.append(_validation(sheet_id, idx[name], choices, 1, None))
    if "pred" in idx and "label" in idx:
        p, lab = col_letter(idx["pred"]), col_letter(idx["label"])
        formula = f'=AND(${p}2<>"",${lab}2<>"",${p}2<>${lab}2)'
        whole = {
            "sheetId": sheet_id,
            "startRowIndex": 1,
            "startColumnIndex": 0,
            "endColumnIndex": len(header),
        }
        rule = {
            "ranges": [whole],
            "booleanRule": {
                "condition": {"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": formula}]},
                "format": {"backgroundColor": {"red": 1.0, "green": 0.9, "blue": 0.8}},
            },
        }
        reqs.append({"addConditionalFormatRule": {"rule": rule, "index": 0}})
    reqs += [_protect(sheet_id, a, b) for a, b in _runs(idx[n] for n in tool if n in idx)]
    reqs += [_width(sheet_id, idx[n], px) for n, px in WIDTHS.items() if n in idx]
    if any(c in idx for c in IMAGE_COLUMNS) and data_rows:
        reqs.append(_row_heights(sheet_id, 1, data_rows + 1))
    marker = {
        "metadataKey": SETUP_KEY,
        "metadataValue": json.dumps({"setup": 1}),
        "location": {"sheetId": sheet_id},
        "visibility": "DOCUMENT",
    }
    reqs.append({"createDeveloperMetadata": {"developerMetadata": marker}})
    return reqs


def growth_requests(
    sheet_id: int,
    header: list[str],
    new_columns: Iterable[int],
    new_rows: Iterable[int],
    human: Iterable[str],
    choices: tuple[str, ...],
) -> list[dict]:
    """On later writes, format only what the write added (new columns, new rows).

    Everything else stays as people left it.
    """
    human = set(human)
    reqs: list[dict] = []
    new_columns = list(new_columns)
    for c in new_columns:
        name = header[c]
        if name in human:
            if name != NOTE and choices:
                reqs.append(_validation(sheet_id, c, choices, 1, None))
        else:
            reqs.append(_protect(sheet_id, c, c))
        if name in WIDTHS:
            reqs.append(_width(sheet_id, c, WIDTHS[name]))
    for r0, r1 in _runs(new_rows):
        if choices:
            for c, name in enumerate(header):
                if name in human and name != NOTE and c not in new_columns:
                    reqs.append(_validation(sheet_id, c, choices, r0, r1 + 1))
        if any(c in header for c in IMAGE_COLUMNS):
            reqs.append(_row_heights(sheet_id, r0, r1 + 1))
    return reqs


def sort_request(sheet_id: int, column: int, data_rows: int, width: int) -> dict:
    """Sort the data rows (not the header) by one column, ascending; the API puts blanks last."""
    rng = {
        "sheetId": sheet_id,
        "startRowIndex": 1,
        "endRowIndex": data_rows + 1,
        "startColumnIndex": 0,
        "endColumnIndex": width,
    }
    return {
        "sortRange": {
            "range": rng,
            "sortSpecs": [{"dimensionIndex": column, "sortOrder": "ASCENDING"}],
        }
    }


def header_notes(sheet_id: int, header: list[str], notes: dict[str, str]) -> list[dict]:
    """Notes on header cells (hover text in Sheets); an empty note removes one."""
    return [
        {
            "updateCells": {
                "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": header.index(name)},
                "rows": [{"values": [{"note": text}]}],
                "fields": "note",
            }
        }
        for name, text in notes.items()
        if name in header
    ]
