"""A local Google Sheets API v4 server for the tests: real HTTP on 127.0.0.1, with state.

It speaks the subset the Google backend and gspread use (``spreadsheets.get`` with ranges, grid
data and field masks; ``values.get/batchGet/update/batchUpdate/append/clear/batchClear``;
``spreadsheets.batchUpdate`` with the requests listed in ``_BATCH``), plus an OAuth token endpoint,
and copies the quirks of the real API that clients trip over, checked against the recorded traffic
in ``shared/fixtures/sheets-api/`` (see ``tests/test_google_server.py``):

- ``values.get`` trims trailing empty cells of each row and trailing empty rows, sends ``[]`` for an
  empty row in the middle, and omits ``values`` for an empty range; an unbounded range (``A:A``, the
  whole sheet) is reported clamped to the grid (``Sheet1!A1:A10``); a single cell as ``Sheet1!A1``;
- ranges outside the grid are refused (``exceeds grid limits``), so writers must grow the grid first;
- ``RAW`` stores strings as strings; ``USER_ENTERED`` parses them like a person typing: ``=...`` and
  ``+x``/``-x`` become formulas, numbers, percentages, booleans and dates become typed values, a
  leading apostrophe keeps text; JSON ``null`` skips a cell, ``""`` clears it;
- ``values:batchUpdate`` answers with totals over distinct rows/columns and one response per range;
- a ``spreadsheets:batchUpdate`` is validated entirely and applied atomically;
- default values are omitted from JSON (``sheetId`` 0, ``frozenRowCount`` 0).

Tests can count requests (``log``, ``count``), inject faults at a rate (``faults``: 429 with
``Retry-After``, 500, 503, slow answers, connections dropped before or after the request is applied)
or on the next requests (``fail_next``), enforce a per-user quota, require OAuth tokens, run hooks
after a request (people acting between two requests of a push), and act as people in the UI
(``people``: type, sort, insert and delete rows, move and rename columns).

Not modelled: other sheet types, merged cells, named ranges, filters; inserting, deleting or moving
rows and columns does not shift validation, protection or format ranges (Sheets does).
"""

from __future__ import annotations

import ast
import base64
import contextlib
import copy
import datetime as dt
import json
import operator
import random
import re
import secrets
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SHEETS_SCOPES = {
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
}
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


class ApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# -- cell values -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Formula:
    text: str


@dataclass(frozen=True)
class Date:
    serial: float  # days since 1899-12-30, as Sheets stores dates

    @property
    def text(self) -> str:
        d = dt.date(1899, 12, 30) + dt.timedelta(days=int(self.serial))
        return f"{d.month}/{d.day}/{d.year}"


_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][+-]?\d+)?%?$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})(/(\d{2,4}))?$")


def _date(y: int, m: int, d: int) -> Date | None:
    try:
        return Date(float((dt.date(y, m, d) - dt.date(1899, 12, 30)).days))
    except ValueError:
        return None


def user_entered(text: str) -> Any:
    """What Sheets stores when a person types ``text`` (or a client sends it USER_ENTERED)."""
    if text == "":
        return None
    if text.startswith("'"):
        return text[1:]
    if text.startswith("="):
        return Formula(text)
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    if _NUMBER.match(text) and any(ch.isdigit() for ch in text):
        pct = text.endswith("%")
        n = float(text.rstrip("%").replace(",", ""))
        return n / 100 if pct else n
    if text[0] in "+-" and len(text) > 1:
        return Formula("=" + text)  # the UI turns +x / -x into a formula
    m = _ISO_DATE.match(text)
    if m and (d := _date(int(m[1]), int(m[2]), int(m[3]))):
        return d
    m = _US_DATE.match(text)
    if m:
        year = int(m[4]) if m[4] else dt.date.today().year
        year = year + 2000 if year < 100 else year
        if d := _date(year, int(m[1]), int(m[2])):
            return d
    return text


def _number_text(x: float) -> str:
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10g}".replace("e", "E")


_ARITH = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _evaluate(formula: str) -> Any:
    body = formula[1:].strip()
    if re.match(r"(?i)^IMAGE\(", body):
        return None  # shows a picture, no text
    m = re.match(r'(?i)^HYPERLINK\("[^"]*"\s*,\s*"([^"]*)"\)$', body)
    if m:
        return m[1]

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _ARITH[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise ValueError

    try:
        return ev(ast.parse(body, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return "#NAME?" if re.match(r"^[A-Za-z]", body) else "#ERROR!"


def formatted(v: Any) -> str | None:
    """FORMATTED_VALUE of a stored cell (None: the cell shows nothing)."""
    if type(v) is str:
        return v or None
    if isinstance(v, Formula):
        v = _evaluate(v.text)
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return _number_text(float(v))
    if isinstance(v, Date):
        return v.text
    return str(v)


def unformatted(v: Any, render: str) -> Any:
    if isinstance(v, Formula):
        if render == "FORMULA":
            return v.text
        v = _evaluate(v.text)
    if isinstance(v, Date):
        return v.serial
    if isinstance(v, float) and v == int(v) and abs(v) < 1e15:
        return int(v)
    return v


def _user_entered_value(v: Any) -> dict:
    if isinstance(v, Formula):
        return {"formulaValue": v.text}
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, (int, float, Date)):
        return {"numberValue": v.serial if isinstance(v, Date) else v}
    return {"stringValue": v}


def _sort_key(v: Any) -> tuple:
    if isinstance(v, Formula):
        v = _evaluate(v.text)
    if v is None or v == "":
        return (3,)
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, float(v))
    if isinstance(v, Date):
        return (0, v.serial)
    return (1, str(v).casefold())


# -- A1 ranges ---------------------------------------------------------------------------------
def col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letters(index: int) -> str:
    out, n = "", index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def show_title(title: str) -> str:
    """How the API writes a sheet name in a range: bare when simple, else quoted."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}\d+", title
    ):
        return title
    return "'" + title.replace("'", "''") + "'"


def show_range(title: str, r0: int, c0: int, r1: int, c1: int) -> str:
    a = f"{col_letters(c0)}{r0 + 1}"
    b = f"{col_letters(c1)}{r1 + 1}"
    return f"{show_title(title)}!{a}" + ("" if a == b else f":{b}")


_PART = re.compile(r"^([A-Za-z]{0,3})(\d*)$")


@dataclass
class Box:
    """A parsed range: 0-based inclusive bounds; None = open (to the grid's edge)."""

    r0: int
    c0: int
    r1: int | None
    c1: int | None


def _parse_cells(text: str) -> Box | None:
    parts = text.split(":")
    if len(parts) > 2 or not text:
        return None
    parsed = [_PART.match(p) for p in parts]
    if not all(parsed):
        return None
    (ca, ra), (cb, rb) = (parsed[0][1], parsed[0][2]), (parsed[-1][1], parsed[-1][2])
    if not (ca or ra) or not (cb or rb):
        return None
    if len(parts) == 1:
        if not (ca and ra):
            return None
        r, c = int(ra) - 1, col_index(ca)
        return Box(r, c, r, c)
    r0 = int(ra) - 1 if ra else 0
    c0 = col_index(ca) if ca else 0
    r1 = int(rb) - 1 if rb else None
    c1 = col_index(cb) if cb else None
    if (ra and not ca and cb) or (ca and not ra and rb and not cb):
        return None
    if r0 < 0 or (r1 is not None and r1 < r0) or (c1 is not None and c1 < c0):
        return None
    return Box(r0, c0, r1, c1)


# -- state -------------------------------------------------------------------------------------
@dataclass
class Sheet:
    sheet_id: int
    title: str
    index: int
    rows: int = 1000
    cols: int = 26
    frozen_rows: int = 0
    frozen_cols: int = 0
    grid: list[list[Any]] = field(default_factory=list)
    protected: list[dict] = field(default_factory=list)
    conditional: list[dict] = field(default_factory=list)
    validations: list[tuple[dict, dict]] = field(default_factory=list)
    metadata: list[dict] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    heights: dict[int, int] = field(default_factory=dict)
    formats: list[tuple[dict, dict]] = field(default_factory=list)  # (range, userEnteredFormat)

    def get(self, r: int, c: int) -> Any:
        if r < len(self.grid) and c < len(self.grid[r]):
            return self.grid[r][c]
        return None

    def set(self, r: int, c: int, v: Any) -> None:
        if v == "":
            v = None
        while len(self.grid) <= r:
            self.grid.append([])
        row = self.grid[r]
        if len(row) <= c:
            if v is None:
                return
            row.extend([None] * (c + 1 - len(row)))
        row[c] = v

    def extent(self) -> tuple[int, int]:
        """Rows and columns up to the last non-empty cell."""
        nrows = ncols = 0
        for i, row in enumerate(self.grid):
            last = max((j + 1 for j, v in enumerate(row) if v is not None and v != ""), default=0)
            if last:
                nrows, ncols = i + 1, max(ncols, last)
        return nrows, ncols

    def texts(self, r0: int, c0: int, r1: int, c1: int) -> list[list[Any]]:
        """Stored values of a block (None for empty), row by row."""
        width = c1 - c0 + 1
        out = []
        for r in range(r0, r1 + 1):
            part = self.grid[r][c0 : c1 + 1] if r < len(self.grid) else []
            out.append(part + [None] * (width - len(part)))
        return out

    def format_at(self, r: int, c: int) -> dict | None:
        merged: dict = {}
        for rng, fmt in self.formats:
            if _in(rng, r, c, self):
                for k, v in fmt.items():
                    merged[k] = (
                        {**merged[k], **v}
                        if isinstance(v, dict) and isinstance(merged.get(k), dict)
                        else v
                    )
        return merged or None

    def validation_at(self, r: int, c: int) -> dict | None:
        found = None
        for rng, rule in self.validations:
            if _in(rng, r, c, self):
                found = rule
        return found


def _in(rng: dict, r: int, c: int, sheet: Sheet) -> bool:
    return rng.get("startRowIndex", 0) <= r < rng.get("endRowIndex", sheet.rows) and rng.get(
        "startColumnIndex", 0
    ) <= c < rng.get("endColumnIndex", sheet.cols)


@dataclass
class Spreadsheet:
    id: str
    title: str
    sheets: list[Sheet]
    editors: set[str] | None = None  # principals allowed; None = anyone

    def by_title(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def by_id(self, sheet_id: int) -> Sheet:
        for s in self.sheets:
            if s.sheet_id == sheet_id:
                return s
        raise ApiError(400, f"No grid with id: {sheet_id}")

    def parse(self, text: str) -> tuple[Sheet, Box]:
        """A1 notation with or without a sheet name; a bare sheet name is the whole sheet."""
        raw = text.strip()
        title: str | None = None
        cells: str | None = None
        if raw.startswith("'"):
            m = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", raw)
            if not m:
                raise ApiError(400, f"Unable to parse range: {text}")
            title, cells = m[1].replace("''", "'"), m[2]
        elif "!" in raw:
            title, cells = raw.split("!", 1)
        else:
            if self.by_title(raw):
                title = raw
            else:
                cells = raw
        sheet = self.by_title(title) if title is not None else self.sheets[0]
        if sheet is None:
            raise ApiError(400, f"Unable to parse range: {text}")
        if cells is None or cells == "":
            return sheet, Box(0, 0, None, None)
        box = _parse_cells(cells)
        if box is None:
            raise ApiError(400, f"Unable to parse range: {text}")
        return sheet, box


def _grid_error(sheet: Sheet, r: int, c: int) -> ApiError:
    return ApiError(
        400,
        f"Range ({show_title(sheet.title)}!{col_letters(c)}{r + 1}) exceeds grid limits. "
        f"Max rows: {sheet.rows}, max columns: {sheet.cols}",
    )


def _bounded(sheet: Sheet, box: Box) -> tuple[int, int, int, int]:
    """Clamp open ends to the grid; refuse bounded ranges outside it."""
    r1 = sheet.rows - 1 if box.r1 is None else box.r1
    c1 = sheet.cols - 1 if box.c1 is None else box.c1
    if max(box.r0, r1) >= sheet.rows or max(box.c0, c1) >= sheet.cols:
        raise _grid_error(
            sheet,
            max(box.r0, r1) if max(box.r0, r1) >= sheet.rows else box.r0,
            max(box.c0, c1) if max(box.c0, c1) >= sheet.cols else box.c0,
        )
    return box.r0, box.c0, r1, c1


# -- field masks -------------------------------------------------------------------------------
def parse_mask(text: str) -> dict:
    """``a(b,c.d),e`` -> {"a": {"b": None, "c": {"d": None}}, "e": None} (None = everything)."""
    pos = 0

    def parse_list() -> dict:
        nonlocal pos
        tree: dict = {}
        while pos < len(text):
            m = re.compile(r"[A-Za-z_]+(?:[./][A-Za-z_]+)*").match(text, pos)
            if not m:
                raise ApiError(400, f"Invalid field selection {text}")
            path = re.split(r"[./]", m.group(0))
            pos = m.end()
            sub = None
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = parse_list()
                if pos >= len(text) or text[pos] != ")":
                    raise ApiError(400, f"Invalid field selection {text}")
                pos += 1
            _merge(tree, path, sub)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        return tree

    tree = parse_list()
    if pos != len(text):
        raise ApiError(400, f"Invalid field selection {text}")
    return tree


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _merge(tree: dict, path: list[str], sub: dict | None) -> None:
    node = tree
    for i, name in enumerate(path):
        name = _camel(name)
        last = i == len(path) - 1
        if name in node and node[name] is None:
            return
        if last:
            if sub is None:
                node[name] = None
            else:
                node.setdefault(name, {})
                for k, v in sub.items():
                    _merge(node[name], [k], v)
        else:
            node = node.setdefault(name, {})


def _strip(tree: dict | None) -> dict | None:
    """A GridData mask without its rowData part (rowData is built already masked)."""
    if tree is None:
        return None
    return {k: v for k, v in tree.items() if k != "rowData"}


def apply_mask(obj: Any, tree: dict | None) -> Any:
    if tree is None:
        return obj
    if isinstance(obj, list):
        return [apply_mask(x, tree) for x in obj]
    if isinstance(obj, dict):
        return {k: apply_mask(v, tree[k]) for k, v in obj.items() if k in tree}
    return obj


# -- the API -----------------------------------------------------------------------------------
@dataclass
class Faults:
    """Inject failures into a share of API requests (tokens excluded), reproducibly."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("429", "500", "503", "drop", "drop_after", "slow")
    retry_after: str | None = "0"
    slow_seconds: float = 0.05
    seed: int = 0


@dataclass
class Record:
    method: str
    path: str
    kind: str
    status: int | str
    at: float
    bytes_in: int
    principal: str
    body: Any = None  # the parsed JSON body of writes (tests look at what was sent)


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

        class Handler(_Handler):
            api = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
            fn = getattr(self, "_" + kind.replace(".", "_"))
            result = fn(ss, rng, query, body)
        return kind, result, principal

    def run_hooks(self, kind: str) -> None:
        for hook in list(self.hooks):
            k, action, once = hook
            if k == kind:
                if once:
                    self.hooks.remove(hook)
                action()

    # values -------------------------------------------------------------------------------------
    def _read_range(self, ss: Spreadsheet, text: str, query: dict) -> dict:
        sheet, box = ss.parse(text)
        r0, c0, r1, c1 = _bounded(sheet, box)
        render = (query.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
        major = (query.get("majorDimension") or ["ROWS"])[0]
        rows = sheet.texts(r0, c0, r1, c1)
        conv = formatted if render == "FORMATTED_VALUE" else (lambda v: unformatted(v, render))
        values = [[conv(v) for v in row] for row in rows]
        if major == "COLUMNS":
            values = [list(col) for col in zip(*values, strict=True)] if values else []
        out = []
        for row in values:
            while row and (row[-1] is None or row[-1] == ""):
                row.pop()
            out.append(["" if v is None else v for v in row])
        while out and not out[-1]:
            out.pop()
        answer = {"range": show_range(sheet.title, r0, c0, r1, c1), "majorDimension": major}
        if out:
            answer["values"] = out
        return answer

    def _values_get(self, ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
        return self._read_range(ss, rng, query)

    def _values_batchGet(self, ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
        return {
            "spreadsheetId": ss.id,
            "valueRanges": [self._read_range(ss, r, query) for r in query.get("ranges", [])],
        }

    def _write_range(
        self, ss: Spreadsheet, text: str, values: Any, option: str | None, major: str | None
    ) -> tuple[dict, set, set, int]:
        if option not in ("RAW", "USER_ENTERED"):
            raise ApiError(
                400,
                "'valueInputOption' is required but not specified"
                if not option
                else f"Invalid value at 'value_input_option' ({option})",
            )
        if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
            raise ApiError(
                400,
                f"Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue), {json.dumps(values)}",
            )
        if major == "COLUMNS":
            width = max((len(r) for r in values), default=0)
            values = [[col[i] if i < len(col) else None for col in values] for i in range(width)]
        sheet, box = ss.parse(text)
        height, width = len(values), max((len(r) for r in values), default=0)
        if box.r1 is not None and box.r1 != box.r0 or box.c1 is not None and box.c1 != box.c0:
            r1 = box.r1 if box.r1 is not None else box.r0 + height - 1
            c1 = box.c1 if box.c1 is not None else box.c0 + width - 1
            if box.r0 + height - 1 > r1:
                raise ApiError(
                    400,
                    f"Requested writing within range [{text}], but tried writing to row [{box.r0 + height}]",
                )
            if box.c0 + width - 1 > c1:
                raise ApiError(
                    400,
                    f"Requested writing within range [{text}], but tried writing to column [{col_letters(box.c0 + width - 1)}]",
                )
        if height == 0 or width == 0:
            empty = {
                "spreadsheetId": ss.id,
                "updatedRange": show_range(sheet.title, box.r0, box.c0, box.r0, box.c0),
            }
            return empty, set(), set(), 0
        if box.r0 + height > sheet.rows or box.c0 + width > sheet.cols:
            bad_r = box.r0 + height - 1 if box.r0 + height > sheet.rows else box.r0
            bad_c = box.c0 + width - 1 if box.c0 + width > sheet.cols else box.c0
            raise _grid_error(sheet, bad_r, bad_c)
        rows_hit, cols_hit, cells = set(), set(), 0
        parse = option == "USER_ENTERED"
        while len(sheet.grid) < box.r0 + height:
            sheet.grid.append([])
        for i, row in enumerate(values):
            target = sheet.grid[box.r0 + i]
            if len(target) < box.c0 + len(row):
                target.extend([None] * (box.c0 + len(row) - len(target)))
            for j, v in enumerate(row):
                if v is None:
                    continue  # null: leave the cell as it is
                kind = type(v)
                if kind is str:
                    stored = (user_entered(v) if parse else v) or None  # "" clears
                elif kind is int or kind is float:
                    stored = float(v)
                elif kind is bool:
                    stored = v
                else:
                    raise ApiError(400, f"Invalid values[{i}][{j}]: {json.dumps(v)}")
                target[box.c0 + j] = stored
                cols_hit.add(box.c0 + j)
                cells += 1
            if row and any(v is not None for v in row):
                rows_hit.add(box.r0 + i)
        answer = {
            "spreadsheetId": ss.id,
            "updatedRange": show_range(
                sheet.title, box.r0, box.c0, box.r0 + height - 1, box.c0 + width - 1
            ),
            "updatedRows": len(rows_hit),
            "updatedColumns": len(cols_hit),
            "updatedCells": cells,
        }
        return answer, rows_hit, cols_hit, cells

    def _values_update(self, ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
        body = body or {}
        option = (query.get("valueInputOption") or [None])[0]
        answer, *_ = self._write_range(
            ss, rng, body.get("values"), option, body.get("majorDimension")
        )
        return answer

    def _values_batchUpdate(self, ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
        body = body or {}
        data = body.get("data") or []
        backup = _snapshot(ss.sheets)  # a batch is atomic
        try:
            responses, rows, cols, cells, sheets = [], set(), set(), 0, set()
            for item in data:
                answer, r, c, n = self._write_range(
                    ss,
                    item.get("range", ""),
                    item.get("values"),
                    body.get("valueInputOption"),
                    item.get("majorDimension"),
                )
                sheet, _ = ss.parse(item.get("range", ""))
                responses.append(answer)
                rows |= {(sheet.sheet_id, x) for x in r}
                cols |= {(sheet.sheet_id, x) for x in c}
                cells += n
                if n:
                    sheets.add(sheet.sheet_id)
        except ApiError:
            ss.sheets = backup
            raise
        out = {
            "spreadsheetId": ss.id,
            "totalUpdatedRows": len(rows),
            "totalUpdatedColumns": len(cols),
            "totalUpdatedCells": cells,
            "totalUpdatedSheets": len(sheets),
            "responses": responses,
        }
        return {k: v for k, v in out.items() if v != 0}

    def _values_append(self, ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
        sheet, box = ss.parse(rng)
        values = (body or {}).get("values") or []
        nrows, _ = sheet.extent()
        start = max(nrows, box.r0)
        grow = start + len(values) - sheet.rows
        if grow > 0:
            sheet.rows += grow  # append inserts the rows it needs
        width = max((len(r) for r in values), default=0)
        if box.c0 + width > sheet.cols:
            sheet.cols = box.c0 + width
        where = show_range(sheet.title, start, box.c0, start, box.c0)
        answer, *_ = self._write_range(
            ss, where, values, (query.get("valueInputOption") or [None])[0], None
        )
        return {
            "spreadsheetId": ss.id,
            "tableRange": show_range(
                sheet.title, 0, box.c0, max(nrows - 1, 0), box.c0 + max(width - 1, 0)
            ),
            "updates": answer,
        }

    def _clear(self, ss: Spreadsheet, text: str) -> str:
        sheet, box = ss.parse(text)
        r0, c0, r1, c1 = _bounded(sheet, box)
        for r in range(r0, min(r1 + 1, len(sheet.grid))):
            for c in range(c0, c1 + 1):
                sheet.set(r, c, None)
        return show_range(sheet.title, r0, c0, r1, c1)

    def _values_clear(self, ss: Spreadsheet, rng: str, query: dict, body: Any) -> dict:
        return {"spreadsheetId": ss.id, "clearedRange": self._clear(ss, rng)}

    def _values_batchClear(self, ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
        return {
            "spreadsheetId": ss.id,
            "clearedRanges": [self._clear(ss, r) for r in (body or {}).get("ranges", [])],
        }

    # spreadsheets -------------------------------------------------------------------------------
    def _sheet_json(self, sheet: Sheet) -> dict:
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

    def _grid_data(self, sheet: Sheet, box: Box, wanted: set[str] | None) -> dict:
        """GridData of a range; ``wanted`` is the CellData fields to fill (None: all of them)."""
        r0, c0, r1, c1 = _bounded(sheet, box)
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
                        cell["userEnteredValue"] = _user_entered_value(v)
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

    def _spreadsheets_get(self, ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
        mask = parse_mask(query["fields"][0]) if query.get("fields") else None
        want = (query.get("includeGridData") or ["false"])[0].lower() == "true"
        cell_fields: set[str] | None = None
        if mask is not None:
            # With a field mask, grid data comes back when the mask asks for it.
            node: Any = mask
            for key in ("sheets", "data", "rowData", "values"):
                node = node.get(key, {}) if isinstance(node, dict) else None
            want = node is None or bool(node)
            cell_fields = None if node is None else set(node)
        picked: dict[int, list[Box]] = {}
        for text in query.get("ranges", []):
            sheet, box = ss.parse(text)
            _bounded(sheet, box)
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
            "sheets": [self._sheet_json(s) for s in sheets],
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{ss.id}/edit",
        }
        out = apply_mask(out, mask)
        if want:  # built already trimmed to the mask: masking 20,000 rows afterwards is slow
            for s, part in zip(sheets, out.setdefault("sheets", [{} for _ in sheets]), strict=True):
                boxes = picked.get(s.sheet_id) or [Box(0, 0, None, None)]
                data = [self._grid_data(s, b, cell_fields) for b in boxes]
                sub = (
                    mask["sheets"].get("data")
                    if mask and isinstance(mask.get("sheets"), dict)
                    else None
                )
                part["data"] = [
                    apply_mask({k: v for k, v in d.items() if k != "rowData"}, _strip(sub))
                    | {"rowData": d["rowData"]}
                    for d in data
                ]
        return out

    def _spreadsheets_batchUpdate(self, ss: Spreadsheet, rng: None, query: dict, body: Any) -> dict:
        requests_ = (body or {}).get("requests") or []
        backup = _snapshot(ss.sheets)
        replies = []
        try:
            for i, req in enumerate(requests_):
                if not isinstance(req, dict) or len(req) != 1:
                    raise ApiError(
                        400, f"Invalid requests[{i}]: exactly one kind of request is required"
                    )
                ((name, args),) = req.items()
                fn = _BATCH.get(name)
                if fn is None:
                    raise ApiError(
                        400,
                        f"Invalid JSON payload received. Unknown name \"{name}\" at 'requests[{i}]': Cannot find field.",
                    )
                try:
                    replies.append(fn(self, ss, args or {}))
                except ApiError as exc:
                    raise ApiError(400, f"Invalid requests[{i}].{name}: {exc.message}") from None
        except ApiError:
            ss.sheets = backup  # nothing of a failed batch is applied
            raise
        return {"spreadsheetId": ss.id, "replies": replies}


# -- spreadsheets.batchUpdate requests ---------------------------------------------------------
def _snapshot(sheets: list[Sheet]) -> list[Sheet]:
    """A copy to roll a failed batch back to (cell values are immutable: rows are copied shallowly)."""
    out = []
    for s in sheets:
        grid, s.grid = s.grid, []
        twin = copy.deepcopy(s)
        s.grid, twin.grid = grid, [list(r) for r in grid]
        out.append(twin)
    return out


def _check_range(sheet: Sheet, rng: dict) -> tuple[int, int, int, int]:
    r0, r1 = rng.get("startRowIndex", 0), rng.get("endRowIndex", sheet.rows)
    c0, c1 = rng.get("startColumnIndex", 0), rng.get("endColumnIndex", sheet.cols)
    if r1 > sheet.rows or c1 > sheet.cols:
        bad = (r1 - 1, c0) if r1 > sheet.rows else (r0, c1 - 1)
        raise _grid_error(sheet, *bad)
    if r0 > r1 or c0 > c1:
        raise ApiError(400, "The start index must be less than or equal to the end index")
    return r0, r1, c0, c1


def _fields(text: str) -> set[str]:
    """The top-level paths of an update mask (commas inside parentheses do not split)."""
    out, depth, part = set(), 0, ""
    for ch in text + ",":
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            if part.strip():
                out.add(part.strip().replace("/", "."))
            part = ""
        else:
            part += ch
    return out


def _add_sheet(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    props = args.get("properties", {})
    title = props.get("title") or f"Sheet{len(ss.sheets) + 1}"
    if ss.by_title(title):
        raise ApiError(
            400, f'A sheet with the name "{title}" already exists. Please enter another name.'
        )
    grid = props.get("gridProperties", {})
    sid = props.get("sheetId") or random.randint(1, 2**31 - 1)
    sheet = Sheet(
        sid,
        title,
        len(ss.sheets),
        grid.get("rowCount", 1000),
        grid.get("columnCount", 26),
        grid.get("frozenRowCount", 0),
        grid.get("frozenColumnCount", 0),
    )
    ss.sheets.append(sheet)
    out = {
        "sheetId": sid,
        "title": title,
        "index": sheet.index,
        "sheetType": "GRID",
        "gridProperties": {"rowCount": sheet.rows, "columnCount": sheet.cols},
    }
    return {"addSheet": {"properties": out}}


def _delete_sheet(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    ss.sheets.remove(ss.by_id(args.get("sheetId", 0)))
    return {}


def _update_sheet_properties(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    props = args.get("properties", {})
    sheet = ss.by_id(props.get("sheetId", 0))
    grid = props.get("gridProperties", {})
    for f in _fields(args.get("fields", "")):
        if f == "title":
            sheet.title = props.get("title", sheet.title)
        elif f in ("gridProperties.rowCount", "gridProperties.columnCount"):
            key = f.split(".")[1]
            value = grid.get(key, 0)
            if value < 1:
                raise ApiError(400, f"{key} must be at least 1")
            if key == "rowCount":
                sheet.rows = value
                del sheet.grid[value:]
            else:
                sheet.cols = value
                for row in sheet.grid:
                    del row[value:]
        elif f == "gridProperties.frozenRowCount":
            sheet.frozen_rows = grid.get("frozenRowCount", 0)
        elif f == "gridProperties.frozenColumnCount":
            sheet.frozen_cols = grid.get("frozenColumnCount", 0)
        else:
            raise ApiError(400, f"Unsupported field mask {f}")
    return {}


def _append_dimension(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    sheet = ss.by_id(args.get("sheetId", 0))
    if args.get("dimension") == "COLUMNS":
        sheet.cols += args.get("length", 0)
    else:
        sheet.rows += args.get("length", 0)
    return {}


def _dimension(args: dict, ss: Spreadsheet) -> tuple[Sheet, str, int, int]:
    rng = args.get("range", args.get("source", {}))
    sheet = ss.by_id(rng.get("sheetId", 0))
    return sheet, rng.get("dimension", "ROWS"), rng.get("startIndex", 0), rng.get("endIndex", 0)


def _insert_dimension(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    if dim == "ROWS":
        sheet.rows += b - a
        sheet.grid[a:a] = [[] for _ in range(b - a)] if a <= len(sheet.grid) else []
    else:
        sheet.cols += b - a
        for row in sheet.grid:
            if a <= len(row):
                row[a:a] = [None] * (b - a)
    return {}


def _delete_dimension(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    if dim == "ROWS":
        del sheet.grid[a:b]
        sheet.rows -= b - a
    else:
        for row in sheet.grid:
            del row[a:b]
        sheet.cols -= b - a
    return {}


def _move_dimension(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    sheet, dim, a, b = _dimension(args, ss)
    dest = args.get("destinationIndex", 0)

    def move(seq: list) -> list:
        chunk, rest = seq[a:b], seq[:a] + seq[b:]
        at = dest if dest <= a else dest - (b - a)
        return rest[:at] + chunk + rest[at:]

    if dim == "ROWS":
        sheet.grid.extend([[] for _ in range(max(0, max(b, dest) - len(sheet.grid)))])
        sheet.grid = move(sheet.grid)
    else:
        width = max(b, dest, max((len(r) for r in sheet.grid), default=0))
        sheet.grid = [move(row + [None] * (width - len(row))) for row in sheet.grid]
    return {}


def _update_dimension_properties(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    size = args.get("properties", {}).get("pixelSize")
    target = sheet.widths if rng.get("dimension") == "COLUMNS" else sheet.heights
    limit = sheet.cols if rng.get("dimension") == "COLUMNS" else sheet.rows
    if rng.get("endIndex", 0) > limit:
        raise ApiError(
            400, f"Invalid dimension range: end index {rng.get('endIndex')} beyond {limit}"
        )
    for i in range(rng.get("startIndex", 0), rng.get("endIndex", 0)):
        target[i] = size
    return {}


def _sort_range(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    r0, r1, c0, c1 = _check_range(sheet, rng)
    block = sheet.texts(r0, c0, r1 - 1, c1 - 1)
    for spec in reversed(args.get("sortSpecs", [])):
        k = spec.get("dimensionIndex", 0) - c0
        desc = spec.get("sortOrder") == "DESCENDING"
        keyed = [(_sort_key(row[k]), row) for row in block]
        filled = [kr for kr in keyed if kr[0][0] != 3]
        filled.sort(key=lambda kr: kr[0], reverse=desc)
        block = [row for _, row in filled] + [row for key, row in keyed if key[0] == 3]
    while len(sheet.grid) < r1:
        sheet.grid.append([])
    for i, row in enumerate(block):  # blanks went last in both orders, like Sheets
        target = sheet.grid[r0 + i]
        if len(target) < c1:
            target.extend([None] * (c1 - len(target)))
        target[c0:c1] = row
    return {}


def _set_data_validation(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    stored = {k: v for k, v in rng.items() if k != "sheetId"}
    sheet.validations.append((stored, args.get("rule")))
    return {}


def _add_conditional_format_rule(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    rule = copy.deepcopy(args.get("rule", {}))
    ranges = rule.get("ranges", [])
    if not ranges:
        raise ApiError(400, "A conditional format rule needs at least one range")
    sheet = ss.by_id(ranges[0].get("sheetId", 0))
    for r in ranges:
        _check_range(sheet, r)
        if not r.get("sheetId"):
            r.pop("sheetId", None)
    sheet.conditional.insert(args.get("index", len(sheet.conditional)), rule)
    return {}


def _add_protected_range(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    pr = copy.deepcopy(args.get("protectedRange", {}))
    rng = pr.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    if not rng.get("sheetId"):
        rng.pop("sheetId", None)
    pr = {k: v for k, v in pr.items() if v is not None}
    pr.update(protectedRangeId=random.randint(1, 2**31 - 1), requestingUserCanEdit=True, editors={})
    sheet.protected.append(pr)
    return {"addProtectedRange": {"protectedRange": pr}}


def _create_developer_metadata(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    md = copy.deepcopy(args.get("developerMetadata", {}))
    loc = md.get("location", {})
    if "sheetId" not in loc:
        raise ApiError(400, "Only sheet-located developer metadata is supported here")
    sheet = ss.by_id(loc["sheetId"])
    md["metadataId"] = random.randint(1, 2**31 - 1)
    md["location"] = {"locationType": "SHEET", "sheetId": loc["sheetId"]}
    sheet.metadata.append(md)
    return {"createDeveloperMetadata": {"developerMetadata": md}}


def _cell_value(cell: dict) -> Any:
    uv = cell.get("userEnteredValue")
    if not uv:
        return None
    if "formulaValue" in uv:
        return Formula(uv["formulaValue"])
    if "numberValue" in uv:
        return float(uv["numberValue"])
    if "boolValue" in uv:
        return bool(uv["boolValue"])
    return uv.get("stringValue")


def _update_cells(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    fields = _fields(args.get("fields", ""))
    if not fields:
        raise ApiError(400, "At least one field must be updated, but none were specified.")
    start = args.get("start") or {}
    rng = args.get("range")
    sheet = ss.by_id((rng or start).get("sheetId", 0))
    r0 = (rng or {}).get("startRowIndex", start.get("rowIndex", 0))
    c0 = (rng or {}).get("startColumnIndex", start.get("columnIndex", 0))
    rows = args.get("rows", [])
    height = len(rows)
    width = max((len(r.get("values", [])) for r in rows), default=0)
    _check_range(
        sheet,
        {
            "startRowIndex": r0,
            "endRowIndex": r0 + height,
            "startColumnIndex": c0,
            "endColumnIndex": c0 + width,
        },
    )
    if fields & {"userEnteredValue", "*"}:
        for i, row in enumerate(rows):
            for j, cell in enumerate(row.get("values", [])):
                sheet.set(r0 + i, c0 + j, _cell_value(cell))
    return {}


def _repeat_cell(api: SheetsApiServer, ss: Spreadsheet, args: dict) -> dict:
    rng = args.get("range", {})
    sheet = ss.by_id(rng.get("sheetId", 0))
    _check_range(sheet, rng)
    fields = _fields(args.get("fields", ""))
    fmt = args.get("cell", {}).get("userEnteredFormat", {})
    picked: dict = {}
    for f in fields:
        m = re.match(r"^userEnteredFormat(?:\((.*)\)|\.(.+))?$", f)
        if not m:
            continue
        names = m[1].split(",") if m[1] else [m[2]] if m[2] else list(fmt)
        for name in names:
            head, _, rest = name.strip().partition(".")
            if head in fmt:
                picked[head] = fmt[head] if not rest else _nested(fmt[head], rest)
    stored = {k: v for k, v in rng.items() if k != "sheetId"}
    sheet.formats.append((stored, copy.deepcopy(picked)))
    return {}


def _nested(value: Any, path: str) -> Any:
    head, _, rest = path.partition(".")
    inner = value.get(head) if isinstance(value, dict) else None
    return {head: inner if not rest else _nested(inner, rest)} if inner is not None else {}


def _with_styles(fmt: dict) -> dict:
    """Sheets answers every colour twice: as ``xColor`` and as ``xColorStyle.rgbColor``."""
    out = copy.deepcopy(fmt)
    for holder in (out, out.get("textFormat", {})):
        for key in [k for k in holder if k.endswith("Color")]:
            holder[key + "Style"] = {"rgbColor": holder[key]}
    return out


_BATCH: dict[str, Callable[[SheetsApiServer, Spreadsheet, dict], dict]] = {
    "addSheet": _add_sheet,
    "deleteSheet": _delete_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "appendDimension": _append_dimension,
    "insertDimension": _insert_dimension,
    "deleteDimension": _delete_dimension,
    "moveDimension": _move_dimension,
    "updateDimensionProperties": _update_dimension_properties,
    "sortRange": _sort_range,
    "setDataValidation": _set_data_validation,
    "addConditionalFormatRule": _add_conditional_format_rule,
    "addProtectedRange": _add_protected_range,
    "createDeveloperMetadata": _create_developer_metadata,
    "updateCells": _update_cells,
    "repeatCell": _repeat_cell,
}


# -- people in the spreadsheet UI --------------------------------------------------------------
class People:
    """What people do in the Google Sheets UI, applied to the server's state (no API request)."""

    def __init__(self, api: SheetsApiServer, spreadsheet_id: str, title: str):
        self.api, self.sid, self.title = api, spreadsheet_id, title

    @property
    def _sheet(self) -> Sheet:
        return self.api.sheet(self.sid, self.title)

    def header(self) -> list[str]:
        with self.api.lock:
            s = self._sheet
            return [formatted(s.get(0, c)) or "" for c in range(s.extent()[1])]

    def rows(self) -> list[dict[str, str]]:
        """Data rows as shown, by header name (blank rows included, as ``{}``)."""
        with self.api.lock:
            s = self._sheet
            header = self.header()
            nrows, _ = s.extent()
            return [
                {h: formatted(s.get(r, c)) or "" for c, h in enumerate(header) if h}
                for r in range(1, nrows)
            ]

    def by_id(self) -> dict[str, dict[str, str]]:
        return {r["id"]: r for r in self.rows() if r.get("id")}

    def _locate(self, row_id: str, column: str) -> tuple[int, int]:
        header = self.header()
        c = header.index(column)
        k = header.index("id")
        s = self._sheet
        for r in range(1, s.extent()[0]):
            if (formatted(s.get(r, k)) or "") == row_id:
                return r, c
        raise KeyError(row_id)

    def type(self, row_id: str, column: str, text: str) -> None:
        """A person types ``text`` into a cell (parsed like the UI does)."""
        with self.api.lock:
            r, c = self._locate(row_id, column)
            self._sheet.set(r, c, user_entered(text))

    def stored(self, row_id: str, column: str) -> Any:
        with self.api.lock:
            r, c = self._locate(row_id, column)
            return self._sheet.get(r, c)

    def sort(self, column: str, descending: bool = False) -> None:
        with self.api.lock:
            s = self._sheet
            c = self.header().index(column)
            nrows, ncols = s.extent()
            _sort_range(
                self.api,
                self.api.spreadsheets[self.sid],
                {
                    "range": {
                        "sheetId": s.sheet_id,
                        "startRowIndex": 1,
                        "endRowIndex": max(nrows, 1),
                        "startColumnIndex": 0,
                        "endColumnIndex": max(ncols, c + 1),
                    },
                    "sortSpecs": [
                        {
                            "dimensionIndex": c,
                            "sortOrder": "DESCENDING" if descending else "ASCENDING",
                        }
                    ],
                },
            )

    def insert_rows(self, at: int, count: int = 1) -> None:
        """Insert blank rows before sheet row ``at`` (1-based, 2 = first data row)."""
        with self.api.lock:
            s = self._sheet
            _insert_dimension(
                self.api,
                self.api.spreadsheets[self.sid],
                {
                    "range": {
                        "sheetId": s.sheet_id,
                        "dimension": "ROWS",
                        "startIndex": at - 1,
                        "endIndex": at - 1 + count,
                    }
                },
            )

    def delete_row(self, row_id: str) -> None:
        with self.api.lock:
            r, _ = self._locate(row_id, "id")
            s = self._sheet
            _delete_dimension(
                self.api,
                self.api.spreadsheets[self.sid],
                {
                    "range": {
                        "sheetId": s.sheet_id,
                        "dimension": "ROWS",
                        "startIndex": r,
                        "endIndex": r + 1,
                    }
                },
            )

    def move_column(self, column: str, to: int) -> None:
        """Drag a column so that it lands at 0-based position ``to``."""
        with self.api.lock:
            c = self.header().index(column)
            s = self._sheet
            dest = to if to <= c else to + 1
            _move_dimension(
                self.api,
                self.api.spreadsheets[self.sid],
                {
                    "source": {
                        "sheetId": s.sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": c,
                        "endIndex": c + 1,
                    },
                    "destinationIndex": dest,
                },
            )

    def insert_column(self, at: int) -> None:
        with self.api.lock:
            s = self._sheet
            _insert_dimension(
                self.api,
                self.api.spreadsheets[self.sid],
                {
                    "range": {
                        "sheetId": s.sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": at,
                        "endIndex": at + 1,
                    }
                },
            )

    def rename(self, column: str, new: str) -> None:
        with self.api.lock:
            c = self.header().index(column)
            self._sheet.set(0, c, new)


# -- HTTP --------------------------------------------------------------------------------------
def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class _Handler(BaseHTTPRequestHandler):
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

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
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
            status, payload = self._token(parse_qs(raw.decode()))
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
        self._send(200, result)

    def _token(self, form: dict[str, list[str]]) -> tuple[int, dict]:
        api = self.api
        grant = (form.get("grant_type") or [""])[0]
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                head, payload, sig = (form.get("assertion") or [""])[0].split(".")
                claims = json.loads(_b64(payload))
            except ValueError:
                return 400, {"error": "invalid_grant", "error_description": "Invalid JWT."}
            key = api.service_accounts.get(claims.get("iss", ""))
            if key is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid grant: account not found",
                }
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import padding

            try:
                key.verify(
                    _b64(sig), f"{head}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256()
                )
            except InvalidSignature:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Invalid JWT Signature.",
                }
            principal, scopes = claims["iss"], set(str(claims.get("scope", "")).split())
        elif grant == "refresh_token":
            principal = api.refresh_tokens.get((form.get("refresh_token") or [""])[0])
            if principal is None:
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                }
            scopes = set((form.get("scope") or [" ".join(SHEETS_SCOPES)])[0].split())
        else:
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": f"Invalid grant_type: {grant}",
            }
        token = "ya29." + secrets.token_urlsafe(24)
        with api.lock:
            api.tokens[token] = (principal, scopes)
        return 200, {
            "access_token": token,
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": " ".join(sorted(scopes)),
        }
