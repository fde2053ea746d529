"""The web app: dashboard, UMAP view, local sheet grid, images and the JSON API.

>>> app = create_app("demo/workspace")        # doctest: +SKIP
>>> app.test_client().get("/").status_code    # doctest: +SKIP
200

``serve()`` runs it; on 127.0.0.1 the pages need no token, on any other address every page and edit
needs the workspace token (see :mod:`sheets_bridge.web.security`).
"""

from __future__ import annotations

import gzip
import secrets
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from flask import Flask, Request, Response, g, request

from sheets_bridge.core.config import ensure_token
from sheets_bridge.core.errors import StorageError, WorkspaceError
from sheets_bridge.loop.jobs import Jobs
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import security

__all__ = ["create_app", "page_urls", "serve"]

_COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")


def create_app(
    workspace: Path | str,
    *,
    token: str | None = None,
    testing: bool = False,
    pages_need_token: bool = False,
) -> Flask:
    """Build the app for one workspace.

    ``token`` defaults to :func:`sheets_bridge.core.config.ensure_token` (generated into the workspace's
    config on first use). ``pages_need_token`` is set by :func:`serve` when it binds to an address
    other than loopback: then every page and edit needs the token too.
    """
    root = Path(workspace).resolve()
    Workspace(root)  # fail now, with the config's message, when this is not a workspace
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(
        TESTING=testing,
        SB_ROOT=root,
        SB_TOKEN=token or ensure_token(root),
        SB_PAGES_NEED_TOKEN=pages_need_token,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    try:
        jobs = Jobs(root)
    except StorageError:
        # A read-only workspace is still served for viewing; its jobs (which write) are refused.
        jobs = Jobs(Path(tempfile.mkdtemp(prefix="sheets-bridge-jobs-")))
        app.config["SB_READ_ONLY"] = True
    app.extensions["sheets_bridge.loop.jobs"] = jobs
    app.extensions["sheets_bridge.cache"] = {}
    app.extensions["sheets_bridge.cache_lock"] = threading.Lock()

    from sheets_bridge.web import grid  # noqa: F401  (the grid's routes join the api blueprint)
    from sheets_bridge.web.api import api
    from sheets_bridge.web.errors import register_error_handlers
    from sheets_bridge.web.pages import pages

    app.register_blueprint(api)
    app.register_blueprint(pages)
    register_error_handlers(app)

    @app.before_request
    def _open_workspace() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)
        # One Workspace per request: it re-reads the settings and the current version, so a CLI
        # command run beside the server (pull, checkout) shows up on the next page load.
        g.ws = Workspace(root)

    app.after_request(_compress)
    app.after_request(_security_headers)
    app.jinja_env.globals["quote"] = lambda s: quote(str(s), safe="")
    app.jinja_env.globals["csp_nonce"] = lambda: g.get("csp_nonce", "")
    return app


def _security_headers(response: Response) -> Response:
    nonce = g.get("csp_nonce") or secrets.token_urlsafe(16)
    security.security_headers(response.headers, nonce, allow_eval=g.get("csp_eval", False))
    return response


def _accepts_gzip(req: Request) -> bool:
    return "gzip" in req.headers.get("Accept-Encoding", "").lower()


def _compress(response: Response) -> Response:
    """gzip text responses: the UMAP page and the grid's rows shrink about five times."""
    if (
        response.status_code != 200
        or "Content-Encoding" in response.headers
        or not response.mimetype.startswith(_COMPRESSIBLE)
        or not _accepts_gzip(request)
    ):
        return response
    from flask import current_app

    response.direct_passthrough = False
    key = (request.path, response.get_etag()[0]) if response.get_etag()[0] else None
    cache = current_app.extensions["sheets_bridge.cache"].setdefault("gzip", {})
    body = cache.get(key) if key else None
    if body is None:
        data = response.get_data()
        if len(data) < 1024:
            return response
        body = gzip.compress(data, compresslevel=6)
        if key:  # static files: compress once
            cache[key] = body
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(body))
    response.vary.add("Accept-Encoding")
    return response


def page_urls(base_url: str, token: str | None = None) -> dict[str, str]:
    """The URLs to print after starting the server; with ``token`` they log the browser in."""
    base = base_url.rstrip("/")
    suffix = f"?token={quote(token, safe='')}" if token else ""
    return {
        "dashboard": f"{base}/{suffix}",
        "umap": f"{base}/umap{suffix}",
        "sheet": f"{base}/sheet{suffix}",
        "api": f"{base}/api/status",
    }


def serve(
    workspace: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    on_ready: Callable[[dict[str, str]], None] | None = None,
) -> None:
    """Serve the app until interrupted (Ctrl-C).

    ``on_ready`` receives :func:`page_urls` once the socket is bound (``port=0`` picks a free
    port); the CLI prints them. Binding to anything but a loopback address makes every page need
    the token; the URLs then carry it once (``?token=``), which sets a cookie.
    """
    from werkzeug.serving import make_server

    root = Path(workspace)
    if not root.exists():
        raise WorkspaceError(f"{root} does not exist")
    local = security.is_loopback(host)
    app = create_app(root, pages_need_token=not local)
    server = make_server(host, port, app, threaded=True, request_handler=security.request_handler())
    shown_host = host if host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in shown_host:
        shown_host = f"[{shown_host}]"
    urls = page_urls(
        f"http://{shown_host}:{server.server_port}", None if local else app.config["SB_TOKEN"]
    )
    if on_ready:
        on_ready(urls)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(urls["dashboard"],)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
