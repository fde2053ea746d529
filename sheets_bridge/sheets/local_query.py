"""The local sheet's reads for the grid: one page of rows, filtered, sorted and counted in SQL, and
how many cells each person has filled.

``LocalSheet`` (``local.py``) has these methods; this module holds them and the SQL they build.
Only the page's rows are decoded, so a page in sheet order costs the same at 1,000,000 rows as at
10,000.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.row_filter import RowFilter, RowPage
from sheets_bridge.core.sqlite import writable as db_writable


class LocalQuery:
    """Page and count queries over the ``rows`` table; mixed into ``LocalSheet``, whose ``path``,
    ``_connect`` and ``_transaction`` they use."""

    def page(
        self,
        offset: int = 0,
        limit: int = 100,
        *,
        filters: Sequence[RowFilter] = (),
        sort: str | None = None,
        descending: bool = False,
        count_limit: int = 100_000,
    ) -> RowPage:
        """Rows ``offset .. offset + limit`` of the sheet after ``filters``, in sheet order or by
        ``sort`` (blank cells last either way), with their stored types, as :meth:`records`.

        Only the page's rows are read and decoded, so a page costs the same at 1,000,000 rows as at
        10,000 in sheet order; filters and other sort orders scan the rows in SQL. Counting the
        rows a filter matches stops ``count_limit`` rows past the page (``RowPage.more`` then says
        there are more), so that a filter's first pages stay as cheap as its rows are common.
        Raises SheetError for a column the sheet does not have.

        >>> sheet.page(0, 50, filters=[RowFilter("annotator_1", "empty")]).total  # doctest: +SKIP
        """
        with self._connect() as db:
            header = [n for (n,) in db.execute("SELECT name FROM header ORDER BY position")]
            known = {KEY_COLUMN, *header}
            where: list[str] = []
            args: list[object] = []
            for f in filters:
                columns = (f.column,) if isinstance(f.column, str) else tuple(f.column)
                unknown = [c for c in columns if c not in known]
                if unknown:
                    raise SheetError(f"the sheet has no column {unknown[0]!r}")
                clause, values = _filter_sql(columns, f.op, f.value)
                where.append(clause)
                args += values
            where_sql = f" WHERE {' AND '.join(where)}" if where else ""
            if sort and sort not in known:
                raise SheetError(f"the sheet has no column {sort!r} to sort by")
            way = "DESC" if descending else "ASC"
            if sort and sort != KEY_COLUMN:
                value = _cell_sql(sort)
                order = f"({value} IS NULL OR {value} = '') ASC, {value} {way}, position, rowid"
            elif sort == KEY_COLUMN:
                order = f"id {way}"
            else:
                order = f"position {way}, rowid {way}"
            (total,) = db.execute("SELECT COUNT(*) FROM rows").fetchone()
            matched, cap = total, total
            if where:  # counting stops a little past this page: the count costs what the page does
                cap = max(0, offset) + max(0, limit) + count_limit
                (matched,) = db.execute(
                    f"SELECT COUNT(*) FROM (SELECT 1 FROM rows{where_sql} LIMIT ?)",
                    [*args, cap + 1],
                ).fetchone()
            out = []
            for rid, data in db.execute(
                f"SELECT id, data FROM rows{where_sql} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, max(0, limit), max(0, offset)],
            ):
                cells = json.loads(data)
                rec = {c: cells.get(c) for c in header}
                rec["id"] = rid
                out.append(rec)
        return RowPage(
            header=tuple(header),
            rows=out,
            matched=min(matched, cap),
            total=total,
            more=matched > cap,
        )

    def last_edit(self) -> int:
        """The ``seq`` of the newest entry of the edit log (0: none yet)."""
        with self._connect() as db:
            (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) FROM edits").fetchone()
        return int(seq)

    def filled(self, columns: Sequence[str]) -> dict[str, int]:
        """How many rows hold a non-blank value in each of ``columns`` (people's progress); a
        column the sheet does not have counts 0.

        Each column gets a partial index of its filled rows (built by the first count, where the
        file is writable), so a count reads the votes, not every row of a big sheet.
        """
        with self._connect() as db:
            header = {n for (n,) in db.execute("SELECT name FROM header")}
            present = [c for c in columns if c in header]
            indexed = {
                n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='index'")
            }
        missing = [c for c in present if _filled_index(c) not in indexed]
        if missing and self.path.exists() and db_writable(self.path):
            with self._transaction() as db:
                for c in missing:
                    db.execute(
                        f"CREATE INDEX IF NOT EXISTS {_filled_index(c)} ON rows(id)"
                        f" WHERE {_filled_sql(c)}"
                    )
        counts = dict.fromkeys(columns, 0)
        with self._connect() as db:
            for c in present:
                (counts[c],) = db.execute(
                    f"SELECT COUNT(*) FROM rows WHERE {_filled_sql(c)}"
                ).fetchone()
        return counts


def _filled_sql(column: str) -> str:
    """A row whose ``column`` holds something (the same text in the index and the query, so that
    SQLite uses the index)."""
    return f"TRIM(COALESCE({_cell_sql(column)}, '')) != ''"


def _filled_index(column: str) -> str:
    import hashlib

    return "rows_filled_" + hashlib.sha1(column.encode("utf-8")).hexdigest()[:12]


#: The row key: a real column of ``rows``, not a cell of its JSON.
KEY_COLUMN = "id"


def _cell_sql(column: str) -> str:
    """SQL for one cell of a row (the id is a real column; the rest live in the JSON)."""
    if column == KEY_COLUMN:
        return "id"
    if '"' in column:  # a JSON path cannot quote it; no column of ours holds one
        raise SheetError(f"cannot filter or sort by the column {column!r} (it holds a quote)")
    return "json_extract(data, '$.\"" + column.replace("'", "''") + "\"')"


def _text_sql(column: str) -> str:
    return f"LOWER(TRIM(COALESCE(CAST({_cell_sql(column)} AS TEXT), '')))"


def _filter_sql(columns: tuple[str, ...], op: str, value: object) -> tuple[str, list[object]]:
    if op == "contains":
        needle = str(value or "").strip().lower()
        parts = [f"instr({_text_sql(c)}, ?) > 0" for c in columns]
        return "(" + " OR ".join(parts) + ")", [needle] * len(columns)
    if op == "=":
        parts = [f"{_text_sql(c)} = ?" for c in columns]
        return "(" + " OR ".join(parts) + ")", [str(value or "").strip().lower()] * len(columns)
    if op in (">=", "<="):
        number = float(value)  # type: ignore[arg-type]
        parts = [
            f"(typeof({_cell_sql(c)}) IN ('integer', 'real') AND {_cell_sql(c)} {op} ?)"
            for c in columns
        ]
        return "(" + " OR ".join(parts) + ")", [number] * len(columns)
    blank = " AND ".join(f"{_text_sql(c)} = ''" for c in columns)
    return (f"({blank})" if op == "empty" else f"NOT ({blank})"), []
