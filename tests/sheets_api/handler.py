"""The HTTP side: one request handler that logs each request, injects faults and answers JSON."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.sheets_api.auth import grant_token
from tests.sheets_api.errors import ApiError

if TYPE_CHECKING:
    from tests.sheets_api.server import SheetsApiServer

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
}


_FAULT_MESSAGES = {
    400: "Invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Request timed out.",
    429: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user' "
    "of service 'sheets.googleapis.com'.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
}


@dataclass
class Record:
    """One request in the server's log, as tests count and inspect it."""

    method: str
    path: str
    kind: str
    status: int | str
    at: float
    bytes_in: int
    principal: str
    body: Any = None  # the parsed JSON body of writes (tests look at what was sent)
    bytes_out: int = 0  # the answer's body


class Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests for ``api`` (a subclass binds it)."""

    api: SheetsApiServer
    protocol_version = "HTTP/1.1"  # keep-alive, like Google's front ends

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _send(
        self,
        status: int,
        payload: Any,
        headers: dict[str, str] | None = None,
        record: Record | None = None,
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if record is not None:
            record.bytes_out = len(data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self, method: str) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        record = Record(method, parts.path, "?", 0, time.time(), len(raw), "anonymous")
        with api.lock:
            api.log.append(record)
        if parts.path == "/token" and method == "POST":
            record.kind = "token"
            status, payload = grant_token(api, parse_qs(raw.decode()))
            record.status = status
            return self._send(status, payload)
        with contextlib.suppress(ApiError):
            record.kind = api.route(method, self.path)[0]
        fault = api.pick_fault(record.kind) if record.kind != "?" else None
        if fault is not None and fault.isdigit():
            code = int(fault)
            record.status = code
            headers = {}
            if code in (429, 503) and api.faults.retry_after is not None:
                headers["Retry-After"] = api.faults.retry_after
            message = _FAULT_MESSAGES.get(code, "Injected failure.")
            error = {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}
            return self._send(code, {"error": error}, headers)
        if fault == "drop":
            record.status = "drop"
            return self._drop()
        if fault == "slow":
            time.sleep(api.faults.slow_seconds)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            record.status = 400
            return self._send(
                400,
                {
                    "error": {
                        "code": 400,
                        "message": "Invalid JSON payload received.",
                        "status": "INVALID_ARGUMENT",
                    }
                },
            )
        if method != "GET":
            record.body = body
        record.principal = api.principal_of(self.headers)
        try:
            kind, result, _ = api.handle(method, self.path, query, body, self.headers)
        except Exception as exc:  # a bug in this server: answer 500 and keep it for the test to see
            if not isinstance(exc, ApiError):
                api.errors.append(exc)
                exc = ApiError(500, f"server bug: {type(exc).__name__}: {exc}")
            record.status = exc.code
            return self._send(
                exc.code,
                {
                    "error": {
                        "code": exc.code,
                        "message": exc.message,
                        "status": _STATUS.get(exc.code, "UNKNOWN"),
                    }
                },
            )
        api.run_hooks(kind)
        if fault == "drop_after":
            record.status = "drop_after"
            return self._drop()
        record.status = 200
        self._send(200, result, record=record)
