"""The JSON API (``/api/*``): jobs for the sheet menu, status, the disagreement report, and cell
edits for the pages.

Every route needs ``Authorization: Bearer <token>``. Errors are ``{"error": message}`` with 400
(bad JSON or field), 401 (token), 404 (unknown job or route), 409 (a job is already running).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request

from sheets_bridge.core.errors import ConfigError, SheetError
from sheets_bridge.core.labels import normalize
from sheets_bridge.core.schema import NOTE, OVERRIDE, SHEET_SPLITS
from sheets_bridge.loop.jobs import Jobs
from sheets_bridge.loop.presets import check_preset
from sheets_bridge.web import security
from sheets_bridge.web.data import sheet_link
from sheets_bridge.web.errors import ApiError

api = Blueprint("api", __name__, url_prefix="/api")

MAX_EDITS = 20_000
MAX_NOTE = 2_000


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


def body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); 400 for anything else."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        raise ApiError(400, f"unknown field(s) {', '.join(unknown)}; known: {known}")
    return data


# -- jobs --------------------------------------------------------------------------------------
def _start(kind: str, params: dict[str, Any]):
    job = jobs().start(kind, params)
    return jsonify({"job": job}), 202


@api.post("/retrain")
def retrain():
    data = body(("preset",))
    preset = data.get("preset")
    if preset is not None:
        try:
            check_preset(str(preset))
        except ConfigError as exc:
            raise ApiError(400, str(exc)) from None
    return _start("retrain", {"preset": preset} if preset else {})


@api.post("/push")
def push():
    return _start("push", body(()))


@api.post("/pull")
def pull():
    return _start("pull", body(()))


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


def _check_edit(ws, item: Any, n: int) -> tuple[str, str, str, bool]:
    if not isinstance(item, dict):
        raise ApiError(400, f"edits[{n}] must be an object with id, column and value")
    unknown = sorted(set(item) - {"id", "column", "value", "append"})
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
    return rid, column, value, append


@api.post("/edit")
def edit():
    """Set cells: ``{"edits": [{"id", "column", "value", "append"?}], "author"?}``."""
    ws = g.ws
    data = body(("edits", "author"))
    edits = data.get("edits")
    if not isinstance(edits, list) or not edits:
        raise ApiError(400, "edits must be a non-empty list of {id, column, value}")
    if len(edits) > MAX_EDITS:
        raise ApiError(400, f"at most {MAX_EDITS} edits per request")
    author = data.get("author") or "web"
    if not isinstance(author, str) or len(author) > 100:
        raise ApiError(400, "author must be a short string")
    checked = [_check_edit(ws, item, n) for n, item in enumerate(edits)]
    sheet = ws.sheet()
    if any(append for *_, append in checked):
        current = sheet.read().by_id()
        checked = [
            (
                rid,
                col,
                _appended(current.get(rid, {}).get(col, ""), value) if append else value,
                False,
            )
            for rid, col, value, append in checked
        ]
    cells = [(rid, col, value) for rid, col, value, _ in checked]
    try:
        changed = sheet.edit(cells, author=author)
    except SheetError as exc:
        raise ApiError(400, str(exc)) from None
    return jsonify(
        {"changed": changed, "edits": [{"id": r, "column": c, "value": v} for r, c, v in cells]}
    )


def _appended(old: str, new: str) -> str:
    old = old.strip()
    if not new or new in [p.strip() for p in old.split(";")]:
        return old
    return f"{old}; {new}" if old else new


# -- the local grid's data ---------------------------------------------------------------------
def _local_sheet(ws):
    if ws.remote_sheet:
        raise ApiError(404, f"this workspace's sheet is in Google Sheets: {sheet_link(ws)}")
    return ws.sheet()  # the embedded sheet: edits with an edit log


#: Not sent to the grid: it draws the image from the id and does not need the formula or URL.
_GRID_SKIP = ("image", "url")


@api.get("/sheet/rows")
def sheet_rows():
    """All rows as ``{"columns": [...], "rows": [[...], ...]}`` (arrays: half the bytes of objects)."""
    ws = g.ws
    sheet = _local_sheet(ws)
    log = sheet.edit_log(0)
    records = sheet.records()
    columns = ["id", *[c for c in sheet.header() if c not in ("id", *_GRID_SKIP)]]
    rows = [[r.get(c) for c in columns] for r in records]
    return jsonify(
        {
            "columns": columns,
            "rows": rows,
            "editable": list(editable_columns(ws)),
            "label_columns": [*ws.config.annotators, OVERRIDE],
            "seq": log[-1]["seq"] if log else 0,
        }
    )


@api.get("/sheet/edits")
def sheet_edits():
    """Cell edits after ``since`` (the grid polls this to show what others typed)."""
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        raise ApiError(400, "since must be an integer") from None
    log = _local_sheet(g.ws).edit_log(since)
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
