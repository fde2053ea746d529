"""The pages: dashboard ``/``, UMAP view ``/umap``, local sheet grid ``/sheet``, ``/images/<id>``."""

from __future__ import annotations

import json
import mimetypes
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
)

from sheets_bridge.core.errors import BridgeError
from sheets_bridge.core.signing import image_signature
from sheets_bridge.web import security
from sheets_bridge.web.data import (
    COLOUR_OPTIONS,
    ImageRef,
    accuracy_chart,
    image_index,
    sheet_link,
    thumbnail,
    umap_points,
    umap_run,
)
from sheets_bridge.web.errors import ApiError

pages = Blueprint("pages", __name__)

IMAGE_MAX_AGE = (
    24 * 3600
)  # ids are stable and files content-addressed; a day, then revalidate by ETag


@pages.before_request
def _require_page_access():
    cfg = current_app.config
    token = cfg["SB_TOKEN"]
    if request.endpoint == "pages.bokeh_static":
        return None  # the library's own scripts: no secrets
    given = request.args.get("token")
    if given is not None and request.method == "GET":
        if not security.same(given, token):
            raise ApiError(401, "wrong token in the link")
        # Swap the token in the URL for a cookie, then drop it from the address bar and history.
        args = {k: v for k, v in request.args.items(multi=True) if k != "token"}
        response = redirect(request.path + (f"?{urlencode(args)}" if args else ""))
        response.set_cookie(
            security.COOKIE,
            security.cookie_value(token),
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
            max_age=30 * 24 * 3600,
        )
        return response
    if request.endpoint == "pages.image" and request.args.get("sig"):
        image_id = (request.view_args or {}).get("image_id", "")
        if security.same(request.args["sig"], image_signature(token, image_id)):
            return None
    if not security.page_allowed(request, token, pages_need_token=cfg["SB_PAGES_NEED_TOKEN"]):
        raise ApiError(
            401,
            "this server needs the token: open the link printed by `sheets-bridge serve` "
            "(it ends in ?token=...), or enter the token as the password",
        )
    return None


def _context(**extra):
    ws = g.ws
    return {
        "token": current_app.config["SB_TOKEN"],
        "workspace": ws.root.name,
        "sheet_url": sheet_link(ws),
        "backend": ws.config.backend,
        **extra,
    }


# -- dashboard ---------------------------------------------------------------------------------
@pages.get("/")
def dashboard():
    from sheets_bridge.loop import versions_table

    ws = g.ws
    rows = versions_table(ws)
    jobs = current_app.extensions["sheets_bridge.loop.jobs"]
    return render_template(
        "dashboard.html",
        **_context(
            page="dashboard",
            versions=rows,
            chart=accuracy_chart(rows),
            job=jobs.current(),
            recent=jobs.list(8),
            run=umap_run(ws),
        ),
    )


# -- UMAP view ---------------------------------------------------------------------------------
def _sheet_rows(ws) -> tuple[dict[str, dict[str, str]], str]:
    """What people typed, by id; with a warning instead when the sheet cannot be read now."""
    try:
        return ws.sheet().read().by_id(), ""
    except BridgeError as exc:
        return {}, f"the sheet could not be read ({exc}); colours from it are missing"


@pages.get("/umap")
def umap():
    from sheets_bridge.web.umap_plot import figure_components

    ws = g.ws
    colour = request.args.get("colour", "label")
    if colour not in dict(COLOUR_OPTIONS):
        colour = "label"
    rows, warning = _sheet_rows(ws)
    points = umap_points(ws, rows)
    if points is None:
        return render_template("umap.html", **_context(page="umap", script="", div="", empty=True))
    script, div, legends, data = figure_components(points, ws.classes, colour)
    # Bokeh's inline script runs under the page's CSP by this response's nonce.
    script = script.replace("<script>", f'<script nonce="{g.csp_nonce}">')
    script = script.replace('<script type="text/javascript">', f'<script nonce="{g.csp_nonce}">')
    g.csp_eval = True
    run = umap_run(ws)
    info = run.info() if run else {}
    from sheets_bridge.core.rows import label_choices

    return render_template(
        "umap.html",
        **_context(
            page="umap",
            # "<" escaped: the JSON sits in a <script> element and must not be able to close it.
            points_json=json.dumps(data, separators=(",", ":")).replace("<", "\\u003c"),
            script=script,
            div=div,
            empty=False,
            legends=legends,
            colour=colour,
            options=COLOUR_OPTIONS,
            choices=label_choices(ws.classes),
            n_points=len(points),
            run_id=run.id if run else "",
            run_version=info.get("version", ""),
            current=ws.current.name,
            warning=warning,
            bokeh_js=[f"/bokeh/static/js/bokeh.min.js?v={_bokeh_version()}"],
        ),
    )


def _bokeh_version() -> str:
    import bokeh

    return bokeh.__version__


@pages.get("/bokeh/static/<path:filename>")
def bokeh_static(filename: str):
    """BokehJS from the installed bokeh package (no CDN), cached for a year: the URL has its version."""
    from bokeh.util.paths import bokehjs_path

    response = send_from_directory(bokehjs_path(), filename, max_age=365 * 24 * 3600)
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


# -- the local grid ----------------------------------------------------------------------------
@pages.get("/sheet")
def sheet():
    ws = g.ws
    if ws.remote_sheet:
        return redirect(sheet_link(ws))
    from sheets_bridge.core.rows import label_choices
    from sheets_bridge.core.schema import DESCRIPTIONS, IMAGE_COLUMNS

    return render_template(
        "sheet.html",
        **_context(
            page="sheet",
            choices=label_choices(ws.classes),
            classes=list(ws.classes),
            descriptions=DESCRIPTIONS,
            annotators=list(ws.config.annotators),
            image_columns=list(IMAGE_COLUMNS),
        ),
    )


# -- images ------------------------------------------------------------------------------------
def _index() -> dict[str, ImageRef]:
    """The id -> file index, rebuilt only when the set of versions changes (versions never change)."""
    ws = g.ws
    key = (tuple(v.name for v in ws.versions()), ws.current.name)
    cache = current_app.extensions["sheets_bridge.cache"]
    with current_app.extensions["sheets_bridge.cache_lock"]:
        cached = cache.get("images")
        if cached is None or cached[0] != key:
            cached = (key, image_index(ws))
            cache["images"] = cached
    return cached[1]


@pages.get("/images/<image_id>")
def image(image_id: str):
    ref = _index().get(image_id)
    if ref is None or not ref.path.is_file():
        abort(404)
    thumb = request.args.get("thumb") not in (None, "", "0")
    path = thumbnail(g.ws, ref) if thumb else ref.path
    etag = f"{ref.sha256}-thumb" if thumb else ref.sha256
    mimetype = (
        "image/png" if thumb else (mimetypes.guess_type(path.name)[0] or "application/octet-stream")
    )
    response = send_file(
        path, mimetype=mimetype, etag=etag, max_age=IMAGE_MAX_AGE, conditional=True
    )
    response.cache_control.public = False
    response.cache_control.private = True  # may need the token: shared caches must not keep it
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
