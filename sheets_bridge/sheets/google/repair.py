"""Races: whether people moved rows or columns under a write, and how to undo what it hit.

Pure, like :mod:`~sheets_bridge.sheets.google.plan`: :func:`layout_matches` compares the header row
and id column read back after a write with what the write expected; :func:`repair` works out which
cells the write hit by mistake and what they held before.
"""

from __future__ import annotations

from collections.abc import Iterable

from sheets_bridge.sheets.google.plan import KEY, Grid, Plan, RawCell, _trim_list


def layout_matches(grid: Grid, plan: Plan, header_now: list[str], id_column_now: list[str]) -> bool:
    """Whether the header row and the id column read back after writing ``plan`` onto ``grid`` are
    exactly what they should be: then no row and no column moved under the write.

    The whole header and the whole id column are compared, not only the cells written: a cell the
    write itself filled reads back as expected even when it landed on a row or column that moved.
    ``id_column_now[0]`` is the id column's header cell; ``id_column_now[r]`` is sheet row ``r``.
    """
    header, ids = plan.expected(grid)
    got_header = _trim_list([h.strip() for h in header_now])
    got_ids = _trim_list([v.strip() for v in id_column_now[1:]])
    key_ok = bool(id_column_now) and id_column_now[0].strip() == KEY
    return key_ok and got_header == header and got_ids == ids


def repair(
    before: Grid, now: Grid, written: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], RawCell]:
    """What to write back into cells a write hit after people moved rows or columns under it.

    ``before`` is the read the write was planned on; ``now`` a read taken after it; ``written`` the
    cells it wrote. Each written cell now belongs
    to the row whose id it sits in and to the column that moved there; it gets back what that row and
    column held in ``before`` (empty for rows or columns that were not there). Columns are traced by
    header name; a column whose header the write overwrote is traced by its neighbours' shift.
    """
    old_header, new_header = before.header, now.header
    new_pos: dict[str, int] = {}
    for i, n in enumerate(new_header):
        if n and n not in new_pos:
            new_pos[n] = i
    width = max(len(old_header), before.width)
    mapped = {q: new_pos[n] for q, n in enumerate(old_header) if n and n in new_pos}
    colmap: dict[int, int] = {}
    for q in range(width):
        if q in mapped:
            colmap[q] = mapped[q]
            continue
        left = [k for k in mapped if k < q]
        right = [k for k in mapped if k > q]
        if left:
            k = max(left)
        elif right:
            k = min(right)
        else:
            colmap[q] = q
            continue
        colmap[q] = mapped[k] + (q - k)
    owner: dict[int, int] = {}
    for q, p in colmap.items():
        owner.setdefault(p, q)
    owner_row = _row_owners(before, now, written)
    fixes: dict[tuple[int, int], RawCell] = {}
    for r, c in written:
        q = owner.get(c)
        if r == 0:
            if q is not None:  # a column that moved under our new header cell: give its name back
                fixes[(0, c)] = before.cell(0, q)
            continue
        r0 = owner_row.get(r)
        fixes[(r, c)] = before.cell(r0, q) if (r0 is not None and q is not None) else ""
    return fixes


def _row_owners(before: Grid, now: Grid, written: Iterable[tuple[int, int]]) -> dict[int, int]:
    """For each row of ``now``, the row of ``before`` it is (by id; by its neighbours' shift where
    the write itself put an id in the cell, so that id cannot be trusted)."""
    row_before = {rid: i + 1 for i, rid in enumerate(before.ids()) if rid}
    key_now = now.column(KEY)
    untrusted = {r for r, c in written if c == key_now}
    ids_now = now.ids()
    owners: dict[int, int] = {}
    for p, rid in enumerate(ids_now, start=1):
        if p not in untrusted and rid in row_before:
            owners[p] = row_before[rid]
    trusted = sorted(owners)
    # Only a row whose id is nowhere else can have had its id overwritten (rows that were merely
    # sorted are all still found by id).
    found = set(owners.values())
    for p in sorted(untrusted):
        above = [t for t in trusted if t < p]
        below = [t for t in trusted if t > p]
        t = max(above) if above else (min(below) if below else None)
        if t is None:
            continue
        guess = owners[t] + (p - t)
        if 1 <= guess <= before.data_rows and guess not in found:
            owners[p] = guess
            found.add(guess)
    return owners
