"""The server and its state: lifecycle, set-up for tests, routing, auth, quota, faults, counting."""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.sheets_api import batch, spreadsheets, values
from tests.sheets_api.auth import SHEETS_SCOPES
from tests.sheets_api.errors import ApiError
from tests.sheets_api.handler import Handler, Record
from tests.sheets_api.model import Sheet, Spreadsheet
from tests.sheets_api.people import People

#: The API methods by kind; each takes (spreadsheet, range from the path, query, JSON body).
ENDPOINTS: dict[str, Callable[[Spreadsheet, Any, dict, Any], dict]] = {
    "spreadsheets.get": spreadsheets.get,
    "spreadsheets.batchUpdate": batch.batch_update,
    "values.get": values.get,
    "values.batchGet": values.batch_get,
    "values.update": values.update,
    "values.batchUpdate": values.batch_update,
    "values.append": values.append,
    "values.clear": values.clear,
    "values.batchClear": values.batch_clear,
}


@dataclass
class Faults:
    """Inject failures into a share of API requests (tokens excluded), reproducibly."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "503", "drop", "drop_after", "slow")
    retry_after: str | None = "0"
    slow_seconds: float = 0.05
    seed: int = 0


class SheetsApiServer:
    """The server and its state. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, *, require_auth: bool = False):
        self.lock = threading.RLock()
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.log: list[Record] = []
        self.faults = Faults()
        self._rng = random.Random(0)
        self._scheduled: deque[tuple[str, str | None]] = deque()
        self.require_auth = require_auth
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # access token -> (principal, scopes)
        self.service_accounts: dict[str, Any] = {}  # client_email -> public key (cryptography)
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> principal
        self.quota: tuple[int, float] | None = None  # (requests, seconds) per principal and kind
        self._quota_calls: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.hooks: list[tuple[str, Callable[[], None], bool]] = []
        #: Exceptions raised by this server's own code while answering (a test should see none).
        self.errors: list[BaseException] = []
        self._httpd: ThreadingHTTPServer | None = None

    # lifecycle ------------------------------------------------------------------------------
    def start(self) -> SheetsApiServer:
        server = self

        class Bound(Handler):
            api = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Bound)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> SheetsApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "start() the server first"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # set-up for tests ---------------------------------------------------------------------------
    def create_spreadsheet(
        self,
        title: str = "Test",
        sheets: tuple[str, ...] = ("Sheet1",),
        rows: int = 1000,
        cols: int = 26,
        editors: set[str] | None = None,
    ) -> str:
        sid = "1" + secrets.token_urlsafe(30).replace("-", "x").replace("_", "y")[:43]
        ids = [0] + [random.randint(1, 2**31 - 1) for _ in sheets[1:]]
        with self.lock:
            self.spreadsheets[sid] = Spreadsheet(
                sid, title, [Sheet(ids[i], t, i, rows, cols) for i, t in enumerate(sheets)], editors
            )
        return sid

    def reset(self) -> None:
        """Forget faults, hooks, quota, auth rules and the request log (spreadsheets stay)."""
        with self.lock:
            self.faults = Faults()
            self._rng = random.Random(0)
            self._scheduled.clear()
            self.hooks.clear()
            self.quota = None
            self._quota_calls.clear()
            self.require_auth = False
            self.log.clear()

    def sheet(self, spreadsheet_id: str, title: str) -> Sheet:
        sheet = self.spreadsheets[spreadsheet_id].by_title(title)
        assert sheet is not None, f"no worksheet {title!r}"
        return sheet

    def people(self, spreadsheet_id: str, title: str) -> People:
        return People(self, spreadsheet_id, title)

    def fail_next(self, kind: str, count: int = 1, on: str | None = None) -> None:
        """The next ``count`` API requests (of API kind ``on``, when given) fail with ``kind``.

        ``kind`` is one of :class:`Faults`' kinds, or an HTTP status such as ``"404"``.
        """
        self._scheduled.extend([(kind, on)] * count)

    def after(self, kind: str, action: Callable[[], None], once: bool = True) -> None:
        """Run ``action`` after a request of ``kind`` is applied, before it is answered."""
        self.hooks.append((kind, action, once))

    def count(self, kind: str | None = None, since: int = 0) -> int:
        return sum(1 for r in self.log[since:] if kind is None or r.kind == kind)

    def kinds(self, since: int = 0) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.log[since:]:
            out[r.kind] += 1
        return dict(out)

    def traffic(self, since: int = 0) -> tuple[int, int, int]:
        """``(requests, bytes sent to the server, bytes answered)`` since log entry ``since``."""
        log = self.log[since:]
        return len(log), sum(r.bytes_in for r in log), sum(r.bytes_out for r in log)

    # dispatch -----------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[str, str, str | None]:
        """(kind, spreadsheet id, range) for an API path."""
        raw = urlsplit(path).path
        m = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", raw)
        if not m:
            raise ApiError(404, f"Method not found: {method} {raw}")
        sid, rest = m[1], m[2]
        table = {
            ("GET", ""): "spreadsheets.get",
            ("POST", ":batchUpdate"): "spreadsheets.batchUpdate",
            ("GET", "/values:batchGet"): "values.batchGet",
            ("POST", "/values:batchUpdate"): "values.batchUpdate",
            ("POST", "/values:batchClear"): "values.batchClear",
        }
        if (method, rest) in table:
            return table[(method, rest)], sid, None
        m = re.match(r"^/values/(.+?)(:append|:clear)?$", rest)
        if m:
            rng = unquote(m[1])
            if method == "GET" and not m[2]:
                return "values.get", sid, rng
            if method == "PUT" and not m[2]:
                return "values.update", sid, rng
            if method == "POST" and m[2]:
                return "values." + m[2][1:], sid, rng
        raise ApiError(404, f"Method not found: {method} {raw}")

    def principal_of(self, headers: Any) -> str:
        """Who a request's bearer token belongs to ("anonymous" without a known token)."""
        auth = headers.get("Authorization", "")
        got = self.tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
        return got[0] if got else "anonymous"

    def check_auth(self, headers: Any, spreadsheet: Spreadsheet | None) -> str:
        auth = headers.get("Authorization", "")
        principal = "anonymous"
        if auth.startswith("Bearer "):
            got = self.tokens.get(auth[7:])
            if got is None and self.require_auth:
                raise ApiError(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                    "login cookie or other valid authentication credential.",
                )
            if got is not None:
                principal, scopes = got
                if not scopes & SHEETS_SCOPES:
                    raise ApiError(403, "Request had insufficient authentication scopes.")
        elif self.require_auth:
            raise ApiError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        if (
            spreadsheet is not None
            and spreadsheet.editors is not None
            and principal not in spreadsheet.editors
        ):
            raise ApiError(403, "The caller does not have permission")
        return principal

    def check_quota(self, principal: str, kind: str) -> None:
        if self.quota is None:
            return
        limit, window = self.quota
        sort = "Read" if kind.endswith("get") or kind.endswith("batchGet") else "Write"
        calls = self._quota_calls[(principal, sort)]
        now = time.monotonic()
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) >= limit:
            raise ApiError(
                429,
                f"Quota exceeded for quota metric '{sort} requests' and limit '{sort} requests per "
                f"minute per user' of service 'sheets.googleapis.com'.",
            )
        calls.append(now)

    def pick_fault(self, kind: str) -> str | None:
        if self.faults.seed != getattr(self, "_seeded", None):
            self._rng, self._seeded = random.Random(self.faults.seed), self.faults.seed
        for i, (fault, on) in enumerate(self._scheduled):
            if on is None or on == kind:
                del self._scheduled[i]
                return fault
        if self.faults.rate and self._rng.random() < self.faults.rate:
            return self._rng.choice(self.faults.kinds)
        return None

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, principal_headers: Any
    ) -> tuple[str, Any, str]:
        kind, sid, rng = self.route(method, path)
        with self.lock:
            ss = self.spreadsheets.get(sid)
            principal = self.check_auth(principal_headers, ss)
            if ss is None:
                raise ApiError(404, "Requested entity was not found.")
            self.check_quota(principal, kind)
            result = ENDPOINTS[kind](ss, rng, query, body)
        return kind, result, principal

    def run_hooks(self, kind: str) -> None:
        for hook in list(self.hooks):
            k, action, once = hook
            if k == kind:
                if once:
                    self.hooks.remove(hook)
                action()
