"""The Google Sheets backend: one worksheet of a spreadsheet, through gspread.

It uses gspread's low-level ``HTTPClient`` (one method per API call, no hidden metadata fetches)
over :class:`~sheets_bridge.sheets.google.client.SheetsSession`, which redirects, paces and retries.

A read is one ``spreadsheets.get`` with a field mask: the values as people see them, the formulas,
and the metadata a write needs (sheet id, grid size, whether it was set up). The sheet keeps that
grid for the next write, so a push (read, merge by id, write) reads once. A write then sends only
the cells whose value differs from what was read:

1. no read when the last read is still unused (else one, as above);
2. one ``spreadsheets:batchUpdate`` to grow the grid, only when rows or columns must be added
   (the API refuses value writes outside the grid);
3. ``values:batchUpdate`` calls of at most ~2 MB each, ``valueInputOption=RAW``, of the changed
   cells only: every value is stored as given, so ``=1+1``, ``+33``, ``@x`` or ``1/2`` from a file
   name or a person stay text;
4. when anything was written, one ``values:batchGet`` of the header row and the id column, to check
   that nobody sorted rows or moved columns since the read (if they did: re-read, put back what
   was hit, write again, at most three times); when the write takes rows out (``drop``, the
   review window), the same request also reads the columns people type in, and is made even
   when nothing was written: a row is taken out only while those cells are still blank;
5. one ``spreadsheets:batchUpdate`` with the changed ``=IMAGE()`` cells as explicit
   ``formulaValue`` (no other value is ever parsed), the first push's set-up, header notes, the
   rows taken out (``deleteDimension``, bottom-up, with as many blank rows added at the end so the
   grid keeps its size) and the sort;
6. only when rows were taken out: one ``values:batchGet`` of the id column, and, when a person
   sorted, inserted or deleted rows right before the delete so that it hit other rows, one
   ``spreadsheets:batchUpdate`` that puts those rows back (see
   :mod:`~sheets_bridge.sheets.google.window`).

A repeat push of unchanged rows is therefore two requests: the read and the sort. A first push
into a spreadsheet without the worksheet is one failed read, ``addSheet`` (whose answer gives the
new sheet's id and size), the values, the check and the formatting batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager
from pathlib import Path

import gspread
from google.auth.credentials import AnonymousCredentials, Credentials
from gspread.exceptions import APIError

from sheets_bridge.core.cells import (
    Cell,
    CellChange,
    EditResult,
    Formula,
    SheetTable,
    SheetWrite,
    append_note,
)
from sheets_bridge.core.config import Config
from sheets_bridge.core.errors import ConfigError, SheetError
from sheets_bridge.sheets.google.auth import (
    ENV_ENDPOINT,
    SCOPES,
    is_loopback,
    load_credentials,
    resolve_endpoint,
    spreadsheet_key,
)
from sheets_bridge.sheets.google.client import (
    AmbiguousRequest,
    RetryPolicy,
    SheetsSession,
    shared_limiter,
)
from sheets_bridge.sheets.google.failures import missing_range, translated_errors
from sheets_bridge.sheets.google.formatting import (
    growth_requests,
    header_notes,
    setup_requests,
    sort_request,
)
from sheets_bridge.sheets.google.plan import (
    MAX_PAYLOAD,
    Grid,
    Plan,
    check_grid,
    formula_requests,
    grid_from_spreadsheet,
    json_size,
    keep_typed_cells,
    pack,
    plan_write,
    quote_title,
    raw_value,
    shows_as,
    table,
    value_ranges,
    writes_guarded,
)
from sheets_bridge.sheets.google.removal import DropCheck, Layout
from sheets_bridge.sheets.google.repair import layout_matches, repair
from sheets_bridge.sheets.google.window import layout_now, settle

#: Google allows 60 read and 60 write requests per minute per user; stay a little under.
REQUESTS_PER_MINUTE = 55
MAX_REPAIRS = 3
#: One read gives what a write needs: values as shown, grid size, sheet id, the set-up marker.
_FIELDS = (
    "sheets.properties(sheetId,title,gridProperties),sheets.developerMetadata.metadataKey,"
    "sheets.data.rowData.values(formattedValue,userEnteredValue.formulaValue)"
)
#: What the last read found when the worksheet did not exist.
_MISSING = Grid("", [])
__all__ = [
    "ENV_ENDPOINT",
    "SCOPES",
    "GoogleSheet",
    "load_credentials",
    "resolve_endpoint",
    "spreadsheet_key",
]


class GoogleSheet:
    """The :class:`~sheets_bridge.sheets.Sheet` kept in one worksheet of a Google spreadsheet.

    >>> sheet = GoogleSheet("1AbC...", "images", endpoint="http://127.0.0.1:8085")  # doctest: +SKIP
    >>> sheet.read().header                                                      # doctest: +SKIP
    ('id', 'image', ...)
    """

    def __init__(
        self,
        spreadsheet: str,
        worksheet: str = "images",
        *,
        credentials: Credentials | None = None,
        principal: str = "anonymous",
        endpoint: str | None = None,
        policy: RetryPolicy | None = None,
        requests_per_minute: int | None = REQUESTS_PER_MINUTE,
        rate_window: float = 60.0,
    ):
        self.key = spreadsheet_key(spreadsheet)
        self.title = worksheet
        self.url = f"https://docs.google.com/spreadsheets/d/{self.key}/edit"
        self.endpoint = endpoint
        self.principal = principal
        where = endpoint or "https://sheets.googleapis.com"
        limits = {}
        if requests_per_minute:
            limits = {
                kind: shared_limiter(where, principal, kind, requests_per_minute, rate_window)
                for kind in ("read", "write")
            }
        #: The grid of the last read, until a write uses it (None: the next write reads first).
        self._last: Grid | None = None
        self.session = SheetsSession(
            credentials or AnonymousCredentials(),
            endpoint=endpoint,
            policy=policy,
            read_limiter=limits.get("read"),
            write_limiter=limits.get("write"),
        )
        self._http = gspread.Client(auth=None, session=self.session).http_client  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, config: Config, workspace_root: Path) -> GoogleSheet:
        """The worksheet a workspace's settings point to (``spreadsheet``, ``worksheet``, auth, endpoint).

        A loopback endpoint is a test server or emulator: no credentials are needed and no pacing
        is applied (there is no Google quota to respect).
        """
        if not config.spreadsheet:
            raise ConfigError(
                "backend = 'google' needs spreadsheet = '<id or URL>' in sheets-bridge.toml"
            )
        endpoint = resolve_endpoint(config)
        creds, principal = load_credentials(config, Path(workspace_root), endpoint)
        return cls(
            config.spreadsheet,
            config.worksheet,
            credentials=creds,
            principal=principal,
            endpoint=endpoint,
            requests_per_minute=None if is_loopback(endpoint) else REQUESTS_PER_MINUTE,
        )

    # -- the Sheet protocol ----------------------------------------------------------------------
    def read(self) -> SheetTable:
        """The worksheet as people see it (one request); empty when it does not exist yet.

        The grid is kept for the next :meth:`write`, which then needs no read of its own.
        """
        self._last = None
        with self._errors():
            grid = self._read_grid()
        self._last = _MISSING if grid is None else grid
        return SheetTable((), ()) if grid is None else table(grid)

    def write(self, change: SheetWrite) -> list[dict[str, str]]:
        """Apply a push or pull (see the module docstring for the requests it makes).

        A cell of ``change.expected`` that a person changed since the caller's read keeps the
        person's value; returns those cells. The write uses the grid of the caller's read; it reads
        again only when it would write such a cell (a ``subset`` the model changed), to see what
        the cell holds now.
        """
        with self._errors():
            # The grid of the last read, used once: rows people moved since then are caught by
            # the layout check after writing, which re-reads and repairs.
            grid, self._last = self._last, None
            fresh = grid is None
            if fresh:
                grid = self._read_grid()
            if grid is None or grid is _MISSING:
                grid, fresh = self._add_worksheet(change), True
            if not fresh and writes_guarded(grid, change):
                grid = self._read_grid() or grid
            first = grid
            change, kept = keep_typed_cells(grid, change)
            watch = sorted({c for cells in change.drop.values() for c in cells})
            grid, plan, seen = self._apply(
                grid, plan_write(grid, change), lambda g: plan_write(g, change), watch
            )
            drop = DropCheck(change.drop)
            if change.drop:
                drop.check(plan, seen or self._layout_now(plan, watch))
            self._finish(first, grid, plan, change, drop)
            missed = settle(self._http, self.key, grid, plan, change, drop, self._read_grid)
            return kept + drop.kept + missed

    def edit(self, edits: Iterable[tuple[str, str, Cell]], author: str | None = None) -> int:
        """Set cells ``(id, column, value)`` outright; values are written raw.

        Google records who edited; ``author`` is not stored here. Returns how many cells changed.
        """
        changes = [CellChange(rid, col, value) for rid, col, value in edits]
        return self.compare_and_set(changes, author).changed

    def compare_and_set(
        self,
        changes: Iterable[CellChange],
        author: str | None = None,
        *,
        keep_typed: Collection[str] = (),
        dry_run: bool = False,
    ) -> EditResult:
        """People's cell changes as read-check-write: one read, the checks, the batched write.

        Google has no transaction: a cell typed between the read and the write (a second or so)
        is not seen; rows moved meanwhile are repaired as for a push. Google keeps its own history,
        so nothing is logged here and ``author`` is not stored.
        """
        changes = list(changes)
        self._last = None  # what the last read saw is no longer what the sheet holds
        result = EditResult(uuid.uuid4().hex[:12], dry_run=dry_run)
        if not changes:
            return result
        with self._errors():
            grid = self._read_grid()
            if grid is None:
                raise SheetError(f"the worksheet {self.title!r} does not exist yet; push first")
            check_grid(grid)
            index = {n: i for i, n in enumerate(grid.header) if n}
            position = {rid: i + 1 for i, rid in enumerate(grid.ids()) if rid}
            edits: list[tuple[str, str, Cell]] = []
            for ch in changes:
                if ch.column not in index:
                    raise SheetError(f"the sheet has no column {ch.column!r}")
                if ch.id not in position:
                    raise SheetError(f"the sheet has no row with id {ch.id!r}")
                old = grid.cell(position[ch.id], index[ch.column])
                value: Cell = append_note(old, str(ch.value or "")) if ch.append else ch.value
                new = "" if value is None else str(value)
                if (position[ch.id], index[ch.column]) not in grid.formulas and shows_as(
                    old, raw_value(value)
                ):
                    continue
                cell = {"id": ch.id, "column": ch.column}
                if not ch.append and ch.expected is not None and old.strip() != ch.expected.strip():
                    if old.strip() != new.strip():
                        result.conflicts.append(
                            {**cell, "expected": ch.expected, "current": old, "value": new}
                        )
                    continue
                if ch.column in keep_typed and not ch.append and old.strip():
                    result.kept.append({**cell, "current": old, "value": new})
                    continue
                edits.append((ch.id, ch.column, value))
                result.applied.append({**cell, "old": old, "new": new})
            if dry_run or not edits:
                return result
            plan = plan_edit(grid, edits)
            if plan.cells:
                self._apply(grid, plan, lambda g: plan_edit(g, edits))
        return result

    # -- requests ----------------------------------------------------------------------------------
    def _read_grid(self) -> Grid | None:
        params = {"ranges": quote_title(self.title), "fields": _FIELDS}
        try:
            payload = self._http.fetch_sheet_metadata(self.key, params=params)  # type: ignore[arg-type]
        except APIError as exc:
            if missing_range(exc):
                return None
            raise
        return grid_from_spreadsheet(payload, self.title)

    def _add_worksheet(self, change: SheetWrite) -> Grid:
        """Create the worksheet; its grid is empty, and ``addSheet``'s answer gives id and size."""
        rows = 1 + len(change.updates) + len(change.appends)
        props = {
            "title": self.title,
            "gridProperties": {
                "rowCount": max(rows, 100),
                "columnCount": max(len(change.header), 26),
            },
        }
        try:
            answer = self._http.batch_update(
                self.key, {"requests": [{"addSheet": {"properties": props}}]}
            )
        except APIError as exc:
            if "already exists" not in str(exc.error.get("message", "")):
                raise
            answer = None  # someone (or an earlier try of ours) created it meanwhile: look
        made = ((answer or {}).get("replies") or [{}])[0].get("addSheet", {}).get("properties")
        if made:
            size = made.get("gridProperties", {})
            return Grid(
                self.title,
                [],
                sheet_id=int(made.get("sheetId", 0)),
                row_count=int(size.get("rowCount", 0)),
                col_count=int(size.get("columnCount", 0)),
            )
        grid = self._read_grid()
        if grid is None:
            raise SheetError(f"the worksheet {self.title!r} could not be created")
        return grid

    def _grow(self, grid: Grid, plan: Plan) -> None:
        if grid.sheet_id is None or (
            plan.rows_needed <= grid.row_count and plan.cols_needed <= grid.col_count
        ):
            return
        grid.row_count = max(grid.row_count, plan.rows_needed)
        grid.col_count = max(grid.col_count, plan.cols_needed)
        size = {"rowCount": grid.row_count, "columnCount": grid.col_count}
        props = {"sheetId": grid.sheet_id, "gridProperties": size}
        fields = "gridProperties.rowCount,gridProperties.columnCount"
        # Absolute sizes, so that repeating the request after a lost answer changes nothing.
        self._http.batch_update(
            self.key,
            {"requests": [{"updateSheetProperties": {"properties": props, "fields": fields}}]},
        )

    def _send_values(self, plan: Plan) -> None:
        appended = set(plan.new_rows)
        groups: tuple[dict, dict, dict] = ({}, {}, {})
        for (r, c), v in plan.cells.items():
            groups[0 if r == 0 else 2 if r in appended else 1][(r, c)] = v
        for r, c in plan.formulas:  # null keeps a formula cell out of the RAW write but lets the
            groups[2 if r in appended else 1].setdefault((r, c), None)  # range span its column
        # Header, existing rows and new rows are packed separately: a range over existing rows then
        # never spans a human column (new rows may carry human values, existing rows never do).
        items = [item for g in groups if g for item in value_ranges(self.title, g)]
        for data in pack(items):
            self._http.values_batch_update(self.key, {"valueInputOption": "RAW", "data": data})

    def _layout_now(self, plan: Plan, watch: Collection[str] = ()) -> Layout:
        return layout_now(self._http, self.key, self.title, plan.header, watch)

    def _apply(
        self, grid: Grid, plan: Plan, replan: Callable[[Grid], Plan], watch: Collection[str] = ()
    ) -> tuple[Grid, Plan, Layout | None]:
        """Write ``plan``'s values, check nobody moved rows or columns under them, repair if they did.

        Returns the grid and plan written, and the check's read when one was made (with the
        ``watch`` columns, for :class:`DropCheck`)."""
        for attempt in range(MAX_REPAIRS + 1):
            self._grow(grid, plan)
            self._send_values(plan)
            if not plan.cells and not plan.formulas:
                return grid, plan, None
            seen = self._layout_now(plan, watch)
            if layout_matches(grid, plan, seen.header, seen.ids):
                return grid, plan, seen
            # Rows were sorted, inserted or deleted, or columns moved, while we wrote: look again,
            # put back what the write hit (from what we read before), and write the plan again.
            now = self._read_grid()
            if now is None:
                raise SheetError(f"the worksheet {self.title!r} was deleted while writing")
            fixes = repair(grid, now, plan.cells)
            fixed = now.with_cells(fixes)
            if attempt == MAX_REPAIRS:  # give up, but not before putting back what was hit
                self._send_values(Plan(cells=fixes, header=fixed.header))
                break
            again = replan(fixed)
            again.cells = {**fixes, **again.cells}
            ids_fixed = fixed.ids()
            for r, _ in fixes:  # the repair's cells are checked like the plan's
                if r >= 1:
                    again.ids.setdefault(r, ids_fixed[r - 1] if r - 1 < len(ids_fixed) else "")
            grid, plan = fixed, again
        raise SheetError(
            f"rows or columns of {self.title!r} kept moving while writing ({MAX_REPAIRS + 1} tries); "
            "the cells the write hit were put back, but model cells may be out of place: push "
            "again when the sheet is quiet"
        )

    def _finish(
        self, first: Grid, grid: Grid, plan: Plan, change: SheetWrite, drop: DropCheck
    ) -> None:
        """The formatting batch: the tool's formulas, the first set-up (or formats for the rows and
        columns this write added), header notes, the rows taken out (``drop``) and the sort; split
        only when the formulas exceed ~2 MB."""
        if grid.sheet_id is None:
            return
        sid = grid.sheet_id
        data_rows = max(plan.rows_needed - 1, grid.data_rows)
        known = set(first.ids())
        new_rows = [r for r, rid in plan.ids.items() if rid and rid not in known]
        new_cols = [c for c, name in enumerate(plan.header) if name and name not in first.header]
        tail: list[dict] = []
        set_up = not grid.set_up and bool(change.choices)
        if set_up:
            tail += setup_requests(
                sid, plan.header, change.human_columns, change.choices, data_rows, change.header
            )
        elif grid.set_up:
            tail += growth_requests(
                sid, plan.header, new_cols, new_rows, change.human_columns, change.choices
            )
        notes = {**change.notes, **{c: f(drop.stayed) for c, f in change.drop_notes.items()}}
        tail += header_notes(sid, plan.header, notes)
        tail += drop.requests(sid)
        data_rows -= len(drop.rows)
        if change.sort_by and change.sort_by in plan.header and data_rows > 1:
            width = max(plan.cols_needed, len(plan.header))
            tail.append(sort_request(sid, plan.header.index(change.sort_by), data_rows, width))
        batches = pack(formula_requests(sid, plan.formulas))
        if tail:
            if batches and json_size(batches[-1]) + json_size(tail) < MAX_PAYLOAD:
                batches[-1] += tail
            else:
                batches.append(tail)
        for i, batch in enumerate(batches):
            if set_up and i == len(batches) - 1:
                self._send_setup(batch)
            else:
                self._http.batch_update(self.key, {"requests": batch})

    def _errors(self) -> AbstractContextManager[None]:
        """Google's and the network's failures as one-line :class:`SheetError`/:class:`AuthError`."""
        where = self.endpoint or "https://sheets.googleapis.com"
        attempts = self.session.policy.attempts
        return translated_errors(where, self.principal, self.key, attempts)

    def _send_setup(self, batch: list[dict]) -> None:
        """Send the batch that sets the worksheet up, exactly once.

        Adding protections and rules twice would leave duplicates, so a connection lost after
        sending is not retried blindly: the marker the batch creates tells whether it ran (a batch
        is applied entirely or not at all).
        """
        for _ in range(self.session.policy.attempts):
            try:
                with self.session.no_blind_retry():
                    self._http.batch_update(self.key, {"requests": batch})
                return
            except AmbiguousRequest:
                grid = self._read_grid()
                if grid is not None and grid.set_up:
                    return
        raise SheetError(
            f"could not set up the worksheet {self.title!r}: the connection kept failing"
        )


def plan_edit(grid: Grid, edits: list[tuple[str, str, Cell]]) -> Plan:
    """The cells a person's edits change (raw values; unchanged cells are left out)."""
    check_grid(grid)
    index = {n: i for i, n in enumerate(grid.header) if n}
    position = {rid: i + 1 for i, rid in enumerate(grid.ids()) if rid}
    plan = Plan(header=list(grid.header))
    for rid, column, value in edits:
        if column not in index:
            raise SheetError(f"the sheet has no column {column!r}")
        if rid not in position:
            raise SheetError(f"the sheet has no row with id {rid!r}")
        r, c = position[rid], index[column]
        raw = raw_value(str(value) if isinstance(value, Formula) else value)
        if (r, c) not in grid.formulas and shows_as(grid.cell(r, c), raw):
            plan.cells.pop((r, c), None)
            continue
        plan.cells[(r, c)] = raw
        plan.ids[r] = rid
    plan.rows_needed, plan.cols_needed = len(grid.cells), grid.width
    return plan
