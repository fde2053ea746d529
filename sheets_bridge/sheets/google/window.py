"""The review window's requests on a Google write: the read that decides which rows leave, and
the read after the delete that puts back rows it hit by mistake.

The decisions are pure and live in :mod:`~sheets_bridge.sheets.google.removal`; this module makes
the requests. Google deletes rows by position and has no conditional delete, so a person who
sorts, inserts or deletes rows in the one request between the check's read and the delete makes
it hit other rows. Only a write that deleted rows reads again (one ``values:batchGet`` of the
header row and the id column); when rows that were to stay are gone, one ``batchUpdate`` inserts
them again (model cells from the write, human cells from the check's read), re-notes and sorts.

Deleting in a batch of its own before the sort would not narrow that gap (a batch is the only
unit Google applies at once, and no request in it can be made conditional on the rows' order),
so the delete stays in the write's last batch and is checked afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from gspread.http_client import HTTPClient

from sheets_bridge.core.cells import Cell, SheetWrite
from sheets_bridge.core.errors import SheetError
from sheets_bridge.sheets.google.formatting import growth_requests, header_notes, sort_request
from sheets_bridge.sheets.google.plan import KEY, Grid, Plan, _trim_list, col_letter, quote_title
from sheets_bridge.sheets.google.removal import DropCheck, Layout, restore_requests, restored_row


def layout_now(
    http: HTTPClient, key: str, title: str, header: list[str], watch: Collection[str] = ()
) -> Layout:
    """One ``values:batchGet``: the header row, the id column and the ``watch`` columns
    (located by ``header``, the header the write expects; the caller checks the header read
    back matches it)."""
    id_col = col_letter(header.index(KEY)) if KEY in header else "A"
    q = quote_title(title)
    names = [c for c in watch if c in header]
    letters = [col_letter(header.index(c)) for c in names]
    ranges = [f"{q}!1:1", f"{q}!{id_col}:{id_col}", *(f"{q}!{x}:{x}" for x in letters)]
    answer = http.values_batch_get(key, ranges)
    got = [vr.get("values", []) for vr in answer.get("valueRanges", [])]
    got += [[]] * (len(ranges) - len(got))
    head, column, *rest = got
    columns = {
        n: [str(r[0]) if r else "" for r in vals]
        for n, vals in zip(names, rest[: len(names)], strict=True)
    }
    return Layout(
        [str(v) for v in (head[0] if head else [])],
        [str(r[0]) if r else "" for r in column],
        columns,
    )


def settle(
    http: HTTPClient,
    key: str,
    grid: Grid,
    plan: Plan,
    change: SheetWrite,
    drop: DropCheck,
    read_grid: Callable[[], Grid | None],
) -> list[dict[str, str]]:
    """After the batch that deleted ``drop.rows``: read the ids once and put back the rows that
    were to stay and are gone (``grid`` and ``plan`` are what the write wrote).

    Returns one entry per row the delete missed: ``{"id", "row": "restored"}`` for a row put
    back, ``{"id", "row": "stayed"}`` for a row that was to leave and is still there (it leaves
    at the next push)."""
    if not drop.rows or grid.sheet_id is None:
        return []
    seen = layout_now(http, key, grid.title, plan.header)
    header = plan.header
    if (
        _trim_list([h.strip() for h in seen.header]) == _trim_list([h.strip() for h in header])
        and (seen.ids[:1] or [""])[0].strip() == KEY
    ):
        now, end = seen.ids[1:], len(seen.ids)
    else:  # columns moved too: read the whole sheet to see where things are
        fresh = read_grid()
        if fresh is None:
            raise SheetError(f"the worksheet {grid.title!r} was deleted while writing")
        header, now, end = fresh.header, fresh.ids(), len(fresh.cells)
    lost, survived = drop.missed(now)
    if not lost and not survived:
        return []
    sid = grid.sheet_id
    requests: list[dict] = []
    if lost:
        written = grid.with_cells(plan.cells)
        written.formulas.update(plan.formulas)
        model: dict[str, dict[str, Cell]] = {str(a.get(KEY, "")): dict(a) for a in change.appends}
        model.update(change.updates)
        rows = [
            restored_row(
                header, written, rid, {KEY: rid, **model.get(rid, {})}, drop.human_cells(rid)
            )
            for rid in lost
        ]
        requests += restore_requests(sid, end, rows)
        if grid.set_up:
            added = range(end, end + len(rows))
            requests += growth_requests(
                sid, header, [], added, change.human_columns, change.choices
            )
    stayed = drop.stayed + len(survived)
    notes = {c: f(stayed) for c, f in change.drop_notes.items()}
    requests += header_notes(sid, header, notes)
    data_rows = end - 1 + len(lost)
    if change.sort_by and change.sort_by in header and data_rows > 1:
        width = max(len(header), grid.width)
        requests.append(sort_request(sid, header.index(change.sort_by), data_rows, width))
    if requests:
        http.batch_update(key, {"requests": requests})
    return [{"id": rid, "row": "restored"} for rid in lost] + [
        {"id": rid, "row": "stayed"} for rid in survived
    ]
