"""The local grid's API: one page of rows at a time, filtered and sorted by the server, and the
people who vote (their columns and progress).

``GET /api/sheet/page?offset=0&limit=100&sort=rank&dir=asc&q=text&issues=1&unvoted=Ana&filters=[...]``
answers ``{"columns", "rows" (arrays), "matched", "total", "more", "seq", ...}``: only the page's
rows leave the server, so a sheet of 1,000,000 rows opens as fast as one of 10,000. ``filters`` is
a JSON list of ``{"column", "op", "value"}`` (ops: ``contains``, ``=``, ``>=``, ``<=``, ``empty``,
``filled``; Tabulator's ``like`` reads as ``contains``). ``unvoted=NAME``: rows whose NAME column is
blank (a person's "my unvoted rows").

``GET /api/annotators``: each annotator's column and how many rows hold their vote.
``POST /api/annotators {"name"}``: give a person a column (see :mod:`sheets_bridge.loop.annotators`).
"""

from __future__ import annotations

import json
from typing import Any

from flask import current_app, g, jsonify, request

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.row_filter import FILTER_OPS, RowFilter
from sheets_bridge.core.rows import image_url_of
from sheets_bridge.core.schema import IMAGE_COLUMNS, OVERRIDE
from sheets_bridge.loop.annotators import add_annotator, progress
from sheets_bridge.web.api import _edit_log, api, body, editable_columns, int_arg
from sheets_bridge.web.errors import ApiError

#: The most rows one page may ask for.
MAX_PAGE = 1000
#: Counting the rows a filter matches stops this far past the page ("10,100+ rows"): the count
#: is a scan, and a reviewer pages on long before reaching the end of it.
COUNT_LIMIT = 10_000
#: Not sent to the grid: the image columns carry the URL the grid needs.
_SKIP = ("url",)
ISSUES = "issues"
#: Where the search box looks (every text a reviewer might search for; numbers have their own
#: header filters).
_SEARCHED = ("id", "label", "pred", ISSUES, "note", OVERRIDE, "consensus", "status", "subset")
_OPS = {"like": "contains", "contains": "contains", "=": "=", ">=": ">=", "<=": "<="}
_OPS.update({op: op for op in FILTER_OPS})


def image_src(value: object, image_id: str | None = None) -> str:
    """The URL an image cell shows: the URL of ``=IMAGE("...")``, a URL or path as it is, or an
    image id (this server's ``/images/<id>``); ``image_id`` stands in for an empty cell."""
    text = "" if value is None else image_url_of(str(value))
    if text.startswith(("http://", "https://", "/")):
        return text
    if ":" in text:  # another scheme (javascript:, data:): not an image this grid shows
        text = ""
    key = text or image_id
    if not key:
        return ""
    from urllib.parse import quote

    return "/images/" + quote(key, safe="")


def _filters(ws, header: tuple[str, ...]) -> list[RowFilter]:
    out: list[RowFilter] = []
    raw = request.args.get("filters", "")
    if raw:
        try:
            given = json.loads(raw)
        except ValueError:
            raise ApiError(400, "filters must be a JSON list of {column, op, value}") from None
        if not isinstance(given, list) or not all(isinstance(f, dict) for f in given):
            raise ApiError(400, "filters must be a JSON list of {column, op, value}")
        for f in given:
            column, op, value = f.get("column"), f.get("op", "contains"), f.get("value")
            if op not in _OPS:
                raise ApiError(400, f"unknown filter op {op!r}; known: {', '.join(FILTER_OPS)}")
            if not isinstance(column, str) or column not in header:
                raise ApiError(400, f"the sheet has no column {column!r} to filter")
            if value in (None, "") and _OPS[op] not in ("empty", "filled"):
                continue  # a cleared header filter
            try:
                out.append(RowFilter(column, _OPS[op], value))
            except SheetError as exc:
                raise ApiError(400, str(exc)) from None
    text = request.args.get("q", "").strip()
    if text:
        out.append(RowFilter(tuple(c for c in _SEARCHED if c in header), "contains", text))
    if request.args.get("issues") not in (None, "", "0"):
        out.append(RowFilter(ISSUES, "filled"))
    unvoted = request.args.get("unvoted", "")
    if unvoted:
        if unvoted not in ws.config.annotators:
            raise ApiError(
                400,
                f"{unvoted!r} is not an annotator; add them first (annotators: "
                f"{', '.join(ws.config.annotators)})",
            )
        if unvoted in header:  # not in the sheet yet: every row is unvoted
            out.append(RowFilter(unvoted, "empty"))
    return out


@api.get("/sheet/page")
def sheet_page():
    """One page of the local sheet (see the module's docstring)."""
    ws = g.ws
    sheet = _edit_log(ws)
    offset = int_arg("offset")
    limit = min(int_arg("limit", 100), MAX_PAGE)
    header = sheet.header()
    sort = request.args.get("sort") or None
    if sort is not None and sort not in (*header, "id"):
        raise ApiError(400, f"the sheet has no column {sort!r} to sort by")
    direction = request.args.get("dir", "asc").lower()
    if direction not in ("asc", "desc"):
        raise ApiError(400, f"dir must be asc or desc, not {direction!r}")
    filters = _filters(ws, (*header, "id"))
    try:
        found = sheet.page(
            offset,
            limit,
            filters=filters,
            sort=sort,
            descending=direction == "desc",
            count_limit=COUNT_LIMIT,
        )
    except SheetError as exc:
        raise ApiError(400, str(exc)) from None
    images = [c for c in IMAGE_COLUMNS if c in found.header]
    columns = ["id", *[c for c in found.header if c not in ("id", *_SKIP)]]
    rows = []
    for r in found.rows:
        for c in images:
            r[c] = image_src(r.get(c), str(r["id"]) if c == IMAGE_COLUMNS[0] else None)
        rows.append([r.get(c) for c in columns])
    return jsonify(
        {
            "columns": columns,
            "rows": rows,
            "offset": offset,
            "matched": found.matched,
            "more": found.more,
            "total": found.total,
            "editable": list(editable_columns(ws)),
            "label_columns": [*ws.config.annotators, OVERRIDE],
            "annotators": list(ws.config.annotators),
            "image_columns": images,
            "seq": sheet.last_edit(),
        }
    )


@api.get("/annotators")
def annotators():
    """Each annotator and how many rows of the sheet hold their vote."""
    return jsonify({"annotators": [p.as_dict() for p in progress(g.ws)]})


@api.post("/annotators")
def annotators_add():
    """Give a person an annotator column: ``{"name": "Ana"}``."""
    if current_app.config.get("SB_READ_ONLY"):
        raise ApiError(503, "the workspace is read-only here (viewing only)")
    data: dict[str, Any] = body(("name",))
    name = data.get("name")
    if not isinstance(name, str):
        raise ApiError(400, "name must be the person's name")
    try:
        added = add_annotator(g.ws, name)
    except SheetError as exc:
        raise ApiError(400, str(exc)) from None
    return jsonify(added.as_dict()), 201 if added.added else 200
