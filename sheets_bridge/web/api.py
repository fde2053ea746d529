"""The JSON API (``/api/*``): jobs for the sheet menu, status, the disagreement report, and cell
edits for the pages.

Every route needs ``Authorization: Bearer <token>``. Errors are ``{"error": message}`` with 400
(bad JSON or field), 401 (token), 404 (unknown job or route), 409 (a job is already running, or a
cell changed since the page read it: the body says what it holds now), 428 (a bulk edit over
``BULK_CONFIRM`` rows without ``"confirm": true``).

Cell edits are compare-and-set (:meth:`sheets_bridge.sheets.Sheet.compare_and_set`): each edit may
carry ``expected``, what the page showed; a cell that holds something else now is not written.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from sheets_bridge.core.errors import ConfigError, SheetError
from sheets_bridge.core.labels import normalize
from sheets_bridge.core.rows import image_url_of
from sheets_bridge.core.schema import IMAGE_COLUMNS, NOTE, OVERRIDE, SHEET_SPLITS
from sheets_bridge.loop.jobs import Jobs
from sheets_bridge.loop.presets import check_preset
from sheets_bridge.sheets import CellChange, EditLog, EditResult
from sheets_bridge.web import security
from sheets_bridge.web.data import sheet_link
from sheets_bridge.web.errors import ApiError

api = Blueprint("api", __name__, url_prefix="/api")

MAX_EDITS = 20_000
MAX_NOTE = 2_000
#: An edit touching more rows than this (one lasso) must say ``"confirm": true``.
BULK_CONFIRM = 20


def jobs() -> Jobs:
    return current_app.extensions["sheets_bridge.loop.jobs"]


@api.before_request
def _require_token() -> None:
    if not security.api_allowed(request, current_app.config["SB_TOKEN"]):
        raise ApiError(
            401,
            "missing or wrong token: send the header 'Authorization: Bearer <token>' (the token is "
            "`token` in the workspace's sheets-bridge.toml, or SHEETS_BRIDGE_TOKEN)",
        )


@api.after_request
def _no_store(response):  # job states and cells change: never cache them
    response.headers["Cache-Control"] = "no-store"
    return response


def raw_body() -> bytes:
    """The request body, read once, at most ``MAX_CONTENT_LENGTH`` bytes: a longer body (declared
    or sent in chunks without a length) is 413, never silently cut."""
    limit = int(current_app.config.get("MAX_CONTENT_LENGTH") or 8 * 1024 * 1024)
    cached = g.get("raw_body")
    if cached is not None:
        return cached
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    stream = request.environ.get("wsgi.input")
    if request.content_length is None and stream is not None and _chunked():
        data = b""
        while len(data) <= limit:
            chunk = stream.read(min(65536, limit + 1 - len(data)))
            if not chunk:
                break
            data += chunk
        if len(data) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    else:
        data = request.get_data(cache=True)
    g.raw_body = data
    return data


def _chunked() -> bool:
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); 400 for anything else, 413 when too
    large. Every route that takes a body reads it here."""
    raw = raw_body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {type(data).__name__}")
    try:  # "\ud800" parses, but no cell, log or file can hold half a surrogate pair
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, "the body holds text that is not valid Unicode (a lone surrogate)"
        ) from None
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        raise ApiError(
            400, f"unknown field(s) {', '.join(map(repr, unknown))[:200]}; known: {known}"
        )
    return data


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def int_arg(name: str, default: int = 0) -> int:
    """A non-negative integer query argument that fits SQLite's integers; 400 otherwise."""
    text = request.args.get(name, str(default))
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not 0 <= value < 2**63:
        raise ApiError(400, f"{name} must be between 0 and {2**63 - 1}")
    return value


# -- jobs --------------------------------------------------------------------------------------
def _start(kind: str, params: dict[str, Any]):
    if current_app.config.get("SB_READ_ONLY"):
        raise ApiError(503, f"cannot {kind}: the workspace is read-only here (viewing only)")
    job = jobs().start(kind, params)
    return jsonify({"job": job}), 202


@api.post("/retrain")
def retrain():
    data = body(("preset", "yes"))
    preset = data.get("preset")
    yes = _flag(data, "yes")
    if preset is not None:
        try:
            check_preset(str(preset))
        except ConfigError as exc:
            raise ApiError(400, str(exc)) from None
    params: dict[str, Any] = {"preset": preset} if preset else {}
    if yes:
        params["yes"] = True
    return _start("retrain", params)


@api.post("/push")
def push():
    return _start("push", body(()))


def _flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false, not {value!r}")
    return value


@api.post("/pull")
def pull():
    """Start a pull job; ``{"dry_run": true}`` answers the preview at once and writes nothing,
    ``{"yes": true}`` confirms a pull that removes more than ``max_remove_share``."""
    data = body(("dry_run", "yes"))
    if _flag(data, "dry_run"):
        from sheets_bridge import loop

        preview = loop.pull(g.ws, dry_run=True)
        return jsonify({"dry_run": True, **preview.as_dict(), "message": preview.describe()})
    return _start("pull", {"yes": True} if _flag(data, "yes") else {})


@api.get("/jobs")
def job_list():
    return jsonify({"jobs": jobs().list(20)})


@api.get("/jobs/<job_id>")
def job(job_id: str):
    found = jobs().get(job_id)
    if found is None:
        raise ApiError(404, f"no job {job_id!r}")
    return jsonify({"job": found})


@api.get("/status")
def status():
    ws = g.ws
    current = ws.current
    run = ws.latest_run(current.name) or ws.latest_run()
    run_json = None
    if run is not None:
        info = run.info()
        run_json = {
            "id": run.id,
            "version": info.get("version"),
            "preset": info.get("preset"),
            "val_accuracy": run.metrics().get("val_accuracy"),
        }
    base = request.host_url.rstrip("/")
    return jsonify(
        {
            "workspace": str(ws.root),
            "version": current.name,
            "versions": len(ws.versions()),
            "images": int(current.meta().get("counts", {}).get("images", len(current.manifest()))),
            "run": run_json,
            "job": jobs().current(),
            "sheet_url": sheet_link(ws, base),
            "umap_url": f"{base}/umap",
        }
    )


@api.get("/report")
def report():
    """The disagreement report (:func:`sheets_bridge.loop.report.disagreement_report`) as JSON.

    A workspace whose sheet has no rows yet answers with empty sections; a sheet that cannot be read
    goes through the central handler like every other failure.
    """
    from sheets_bridge.loop.report import disagreement_report

    return jsonify(disagreement_report(g.ws))


# -- edits from the pages ----------------------------------------------------------------------
def editable_columns(ws) -> tuple[str, ...]:
    """People may edit the human columns and ``subset`` (to move an image); nothing else."""
    return ws.schema.editable


def _check_edit(ws, item: Any, n: int) -> CellChange:
    if not isinstance(item, dict):
        raise ApiError(400, f"edits[{n}] must be an object with id, column and value")
    unknown = sorted(set(item) - {"id", "column", "value", "append", "expected"})
    if unknown:
        raise ApiError(400, f"edits[{n}]: unknown field(s) {', '.join(unknown)}")
    rid, column, value = item.get("id"), item.get("column"), item.get("value", "")
    if not isinstance(rid, str) or not rid:
        raise ApiError(400, f"edits[{n}]: id must be a non-empty string")
    if column not in editable_columns(ws):
        raise ApiError(
            400,
            f"edits[{n}]: column {column!r} is not editable; editable: {', '.join(editable_columns(ws))}",
        )
    if value is None:
        value = ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ApiError(400, f"edits[{n}]: value must be a string")
    expected = item.get("expected")
    if expected is not None and not isinstance(expected, (str, int, float)):
        raise ApiError(400, f"edits[{n}]: expected must be the text the cell showed")
    value = str(value).strip()
    append = item.get("append", False) is True
    if append and column != NOTE:
        raise ApiError(400, f"edits[{n}]: only {NOTE} can be appended to")
    if column == "subset":
        value = value.lower()
        if value not in SHEET_SPLITS:
            raise ApiError(400, f"edits[{n}]: subset must be train or val, not {value!r}")
    elif column == NOTE:
        if len(value) > MAX_NOTE:
            raise ApiError(400, f"edits[{n}]: a note may hold at most {MAX_NOTE} characters")
    else:  # an annotator column or the override: a label, x, ? or empty
        vote = normalize(value, ws.classes)
        if vote.kind == "invalid":
            shown = ", ".join("X" if c == "x" else c for c in ws.classes)
            raise ApiError(
                400,
                f"{rid} {column}: {vote.reason}; type one of {shown}, x (remove), ? (unsure) or nothing",
            )
    return CellChange(
        rid, column, value, expected=None if expected is None else str(expected), append=append
    )


def _answer(result: EditResult, asked: list[CellChange] | None = None):
    """200 with what changed, or 409 when a cell had changed since the page read it."""
    now = {(a["id"], a["column"]): a["new"] for a in result.applied}
    now.update({(c["id"], c["column"]): c["current"] for c in result.conflicts + result.kept})
    if asked is None:
        cells = [(r, c, v) for (r, c), v in now.items()]
    else:
        cells = [(c.id, c.column, str(c.value)) for c in asked]
    payload: dict[str, Any] = {
        **result.as_dict(),
        "edits": [{"id": r, "column": c, "value": now.get((r, c), v)} for r, c, v in cells],
    }
    if result.conflicts:
        first = result.conflicts[0]
        payload["error"] = (
            f"{len(result.conflicts)} cell(s) changed since you looked (e.g. {first['id']} "
            f"{first['column']} now holds {first['current']!r}); they were left alone: "
            "check them and edit again"
        )
        return jsonify(payload), 409
    return jsonify(payload)


def _author(data: dict[str, Any]) -> str:
    author = data.get("author") or "web"
    if not isinstance(author, str) or len(author) > 100:
        raise ApiError(400, "author must be a short string")
    return author


@api.post("/edit")
def edit():
    """Set cells: ``{"edits": [{"id", "column", "value", "expected"?, "append"?}], "author"?,
    "bulk"?, "confirm"?, "force"?}``.

    ``bulk`` (a UMAP action) keeps cells that already hold a value and reports them, unless
    ``force``; more than :data:`BULK_CONFIRM` rows need ``confirm``.
    """
    ws = g.ws
    data = body(("edits", "author", "bulk", "confirm", "force"))
    edits = data.get("edits")
    if not isinstance(edits, list) or not edits:
        raise ApiError(400, "edits must be a non-empty list of {id, column, value}")
    if len(edits) > MAX_EDITS:
        raise ApiError(400, f"at most {MAX_EDITS} edits per request")
    author = _author(data)
    changes = [_check_edit(ws, item, n) for n, item in enumerate(edits)]
    rows = len({c.id for c in changes})
    if rows > BULK_CONFIRM and data.get("confirm") is not True:
        raise ApiError(
            428,
            f'this edit changes {rows} rows; send it again with "confirm": true to apply it',
            rows=rows,
        )
    # A bulk action keeps what people typed (annotators, override, note); subset is the model's
    # value until someone moves the image, so moving many images at once replaces it.
    bulk = data.get("bulk") is True and data.get("force") is not True
    keep_typed = ws.schema.human_columns if bulk else ()
    try:
        result = ws.sheet().compare_and_set(changes, author, keep_typed=keep_typed)
    except SheetError as exc:
        raise ApiError(400, str(exc)) from None
    return _answer(result, changes)


@api.post("/undo")
def undo():
    """Take back the last action of ``author`` (``{"author"}``); cells changed since are kept."""
    data = body(("author",))
    sheet = _edit_log(g.ws)
    try:
        result = sheet.undo(_author(data))
    except SheetError as exc:
        raise ApiError(404, str(exc)) from None
    return _answer(result)


# -- the local grid's data ---------------------------------------------------------------------
def _edit_log(ws) -> EditLog:
    """The workspace's sheet when it keeps an edit log (the local one); Google keeps its own."""
    sheet = None if ws.remote_sheet else ws.sheet()
    if not isinstance(sheet, EditLog):
        raise ApiError(404, f"this workspace's sheet is in Google Sheets: {sheet_link(ws)}")
    return sheet


#: Not sent to the grid: it draws the row's own image from the id and does not need the URL.
_GRID_SKIP = ("image", "url")


def _grid_cell(column: str, value: object) -> object:
    """What the grid gets for a cell: the image URL for a picture column (``=IMAGE("url")`` in the
    sheet), else the value."""
    if column in IMAGE_COLUMNS and isinstance(value, str):
        return image_url_of(value)
    return value


@api.get("/sheet/rows")
def sheet_rows():
    """All rows as ``{"columns": [...], "rows": [[...], ...]}`` (arrays: half the bytes of objects)."""
    ws = g.ws
    sheet = _edit_log(ws)
    log = sheet.edit_log(0)
    records = sheet.records()
    columns = ["id", *[c for c in sheet.header() if c not in ("id", *_GRID_SKIP)]]
    rows = [[_grid_cell(c, r.get(c)) for c in columns] for r in records]
    return jsonify(
        {
            "columns": columns,
            "rows": rows,
            "editable": list(editable_columns(ws)),
            "label_columns": [*ws.config.annotators, OVERRIDE],
            "image_columns": [c for c in IMAGE_COLUMNS if c in columns or c == "image"],
            "seq": log[-1]["seq"] if log else 0,
        }
    )


@api.get("/sheet/edits")
def sheet_edits():
    """Cell edits after ``since`` (the grid polls this to show what others typed)."""
    since = int_arg("since")
    log = _edit_log(g.ws).edit_log(since)
    return jsonify(
        {
            "seq": log[-1]["seq"] if log else since,
            "edits": [
                {
                    "seq": e["seq"],
                    "id": e["id"],
                    "column": e["column"],
                    "value": e["new"],
                    "author": e["author"],
                }
                for e in log[-1000:]
            ],
        }
    )
