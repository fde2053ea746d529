"""The sheet side of push and pull: one read, one write, and only what a step needs.

``push_rows`` merges fresh model cells into a sheet; ``pull_table`` reads what a pull needs. The
local sheet reads only the cells and rows these steps use, so their cost follows the rows that
changed rather than the size of the sheet.
"""

from __future__ import annotations

from collections.abc import Callable

from sheets_bridge.core.cells import SheetTable
from sheets_bridge.core.rows import (
    PushPlan,
    gone_cells,
    label_choices,
    plan_push,
    row_digest,
)
from sheets_bridge.core.schema import BRIDGE_COLUMNS, MODEL_COLUMNS, Schema
from sheets_bridge.loop.window import review_window, window_note, without
from sheets_bridge.sheets import PartReader, Sheet
from sheets_bridge.store.faults import faultpoint


def push_rows(
    sheet: Sheet,
    rows: dict[str, dict],
    schema: Schema,
    version: str,
    classes: tuple[str, ...],
    *,
    limit: int = 0,
    on_write: Callable[[], None] | None = None,
) -> tuple[PushPlan, list[dict[str, str]], int]:
    """Merge the model cells ``rows`` (id -> cells) into ``sheet``: one read, one write.

    ``limit`` is the review window (0: every row): rows of the sheet that left it and hold no
    human cell are taken out. Returns the plan, the cells a person typed during the push (kept),
    and how many rows stay outside the window.

    A sheet that remembers what each push wrote (the local sheet) is written only the rows whose
    model cells changed since, or that changed there since (see :func:`_push_changed`).
    """
    if limit <= 0 and reads_part(sheet):
        return _push_changed(sheet, rows, schema, version, classes, on_write)  # type: ignore[arg-type]
    if reads_part(sheet):  # the push needs ids and the cells people may also type
        table = sheet.read(columns=[c for c in schema.editable if c in MODEL_COLUMNS])
    else:
        table = sheet.read()
    faultpoint("push.read")
    window = review_window(rows, table, limit, schema.human_columns)
    plan = plan_push(
        without(table, window.drop), window.rows, schema, version, label_choices(classes)
    )
    if limit:
        outside, total = window.outside, len(rows)
        plan.write.notes["rank"] = window_note(outside, total, limit)
        plan.write.drop = window.drop
        plan.write.drop_notes["rank"] = lambda stayed: window_note(outside - stayed, total, limit)
    _guard(plan, table, schema)
    if on_write:
        on_write()
    kept = sheet.write(plan.write)
    kept = kept if isinstance(kept, list) else []
    stayed = len({k["id"] for k in kept if k.get("id") in window.drop})
    return plan, kept, window.outside - stayed


def _guard(plan: PushPlan, table: SheetTable, schema: Schema) -> None:
    """Cells people may type that the push also writes (``subset``) are written only while they
    still hold what was read: a move typed during the push is kept."""
    editable = set(schema.editable)
    existing = table.by_id()
    plan.write.expected = {
        rid: guarded
        for rid, cells in plan.write.updates.items()
        if rid in existing
        and (guarded := {c: existing[rid].get(c, "") for c in cells if c in editable})
    }


def _push_changed(
    sheet: PartReader,
    rows: dict[str, dict],
    schema: Schema,
    version: str,
    classes: tuple[str, ...],
    on_write: Callable[[], None] | None,
) -> tuple[PushPlan, list[dict[str, str]], int]:
    """A push that costs what changed. The sheet keeps, per row, the fingerprint of the model
    cells the last push wrote (and forgets it when anything else changes the row). Rows whose
    fresh cells have the same fingerprint are neither read nor serialized nor written; the rest
    (new, changed, touched by people since, gone from the dataset) go through :func:`plan_push`
    exactly as a full push would, reading only those rows."""
    digests = {rid: row_digest(cells) for rid, cells in rows.items()}
    known = sheet.push_state()
    gone_digest = row_digest(gone_cells(version))
    stale = {rid: rows[rid] for rid, d in digests.items() if known.get(rid) != d}
    gone = [rid for rid in known if rid not in rows]
    wanted = [rid for rid in stale if rid in known]
    wanted += [rid for rid in gone if known[rid] != gone_digest]
    editable = [c for c in schema.editable if c in MODEL_COLUMNS]
    table = sheet.read(columns=editable, ids=wanted)
    faultpoint("push.read")
    part = plan_push(table, stale, schema, version, label_choices(classes))
    write = part.write
    write.digests = {rid: digests[rid] for rid in stale}
    write.digests.update((rid, gone_digest) for rid in gone if rid in write.updates)
    plan = PushPlan(write, part.appended, len(rows) - part.appended, gone)
    _guard(plan, table, schema)
    if on_write:
        on_write()
    kept = sheet.write(write)
    return plan, kept if isinstance(kept, list) else [], 0


def pull_table(sheet: Sheet, schema: Schema) -> SheetTable:
    """What a pull reads: the whole sheet, or, where the sheet can read part of itself, the rows
    that hold a human or bridge cell and those whose ``subset`` a person changed. Every other row
    holds nothing to pull and no earlier decision to clear."""
    if not reads_part(sheet):
        return sheet.read()
    return sheet.read_touched([*schema.human_columns, *BRIDGE_COLUMNS], logged=["subset"])


def reads_part(sheet: Sheet) -> bool:
    """Whether ``sheet`` reads part of itself through its own ``read``: a subclass that changes
    ``read`` (to watch or alter what is read) is always read whole, through it."""
    if not isinstance(sheet, PartReader):
        return False
    cls = type(sheet)
    return (
        cls.read.__qualname__.rsplit(".", 1)[0] == cls.read_touched.__qualname__.rsplit(".", 1)[0]
    )
