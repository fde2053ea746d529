"""One error handler for the whole app: JSON ``{"error": ...}`` for ``/api/*``, a page otherwise."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from sheets_bridge.core.errors import BridgeError, JobConflict, StorageError, WorkspaceBusy

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status and extra JSON fields (e.g. the running job on a 409)."""

    def __init__(self, status: int, message: str, **extra: object):
        super().__init__(message)
        self.status = status
        self.extra = extra


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def _respond(status: int, message: str, extra: dict | None = None) -> Response:
    if wants_json():
        response = jsonify({"error": message, **(extra or {})})
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="sheets-bridge"'
    else:
        response = Response(
            render_template("error.html", status=status, message=message), status=status
        )
        if status == 401:
            # Lets a browser ask for the token (any user name; the token as password).
            response.headers["WWW-Authenticate"] = 'Basic realm="sheets-bridge", charset="UTF-8"'
    response.headers["Cache-Control"] = "no-store"
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return _respond(exc.status, str(exc), exc.extra)

    @app.errorhandler(JobConflict)
    def _conflict(exc: JobConflict) -> Response:
        jobs = current_app.extensions["sheets_bridge.loop.jobs"]
        return _respond(409, str(exc), {"job": jobs.get(exc.running_id)})

    @app.errorhandler(WorkspaceBusy)
    def _busy(exc: WorkspaceBusy) -> Response:
        # a CLI command (or another server's job) is writing the workspace
        return _respond(409, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        message = exc.description or exc.name
        if exc.code == 404:
            message = f"not found: {request.path}"
        elif exc.code == 405:
            message = f"{request.method} is not allowed on {request.path}"
        return _respond(exc.code or 500, message)

    @app.errorhandler(StorageError)
    def _storage(exc: StorageError) -> Response:
        # A damaged, missing or read-only workspace file: the server is fine, the data is not.
        log.warning("%s %s: %s", request.method, request.path, exc)
        return _respond(503, str(exc))

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        return _respond(400, "the request is nested too deeply")

    @app.errorhandler(BridgeError)
    def _bridge(exc: BridgeError) -> Response:
        log.warning("%s %s: %s", request.method, request.path, exc)
        return _respond(500, str(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.path)
        return _respond(500, f"{request.method} {request.path} failed: {type(exc).__name__}: {exc}")
