"""The sheet as CSV/JSON, so people can work in any spreadsheet program and scripts can drive it.

A CSV export carries, in its last column ``_base``, what each row's editable cells held when it was
exported. Importing the file back (:func:`update_from_csv`) is then a compare-and-set: a cell whose
value in the file equals its ``_base`` value was not edited and is left alone, so an empty cell
clears nothing it did not hold; a cell edited in the file is written only if the sheet still holds
the exported value, else it is reported as a conflict (a teammate changed it since).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from sheets_bridge.core.cells import CellChange
from sheets_bridge.core.errors import CsvError, SheetError
from sheets_bridge.core.schema import KEY, Schema
from sheets_bridge.sheets import Sheet, SheetTable

#: The export's column of exported values (JSON ``{column: text}``, empty cells left out).
BASE = "_base"
#: The longest cell an import accepts (a note of a few paragraphs; Google allows 50,000).
MAX_CELL = 2_000
#: Conflicts and changes listed one per line before "... and N more".
SHOWN = 200


def editable_columns(schema: Schema) -> tuple[str, ...]:
    """Columns people may change through `sheet update` and the grid (see ``Schema.editable``)."""
    return schema.editable


def base_of(row: dict[str, str], editable: tuple[str, ...]) -> str:
    """The ``_base`` cell of a row: its non-empty editable cells as compact JSON."""
    cells = {c: row[c] for c in editable if row.get(c, "")}
    return json.dumps(cells, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def render(table: SheetTable, fmt: str = "csv", schema: Schema | None = None) -> str:
    """The whole sheet as CSV (header first) or as a JSON list of row objects.

    With ``schema``, the CSV ends with the ``_base`` column that lets :func:`update_from_csv`
    tell edits from teammates' later changes.
    """
    if fmt == "json":
        return json.dumps(
            [{c: r.get(c, "") for c in table.header} for r in table.rows],
            indent=1,
            ensure_ascii=False,
        )
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (csv or json)")
    editable = tuple(c for c in editable_columns(schema) if c in table.header) if schema else ()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # With "\n" line ends the csv module leaves a lone "\r" unquoted, and readers then see a
    # line break there: rows holding one are written fully quoted.
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow([*table.header, BASE] if schema else table.header)
    for r in table.rows:
        cells = [r.get(c, "") for c in table.header]
        if schema:
            cells.append(base_of(r, editable))
        (quoted if any("\r" in c for c in cells) else writer).writerow(cells)
    return out.getvalue()


@dataclass
class UpdateReport:
    changed: int = 0
    rows: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    #: ``{"id", "column", "old", "new"}`` for each cell written (or, in a dry run, to be written).
    changes: list[dict[str, str]] = field(default_factory=list)
    #: ``{"id", "column", "expected", "current", "value"}``: changed in the sheet since the export.
    conflicts: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False
    action: str = ""

    def describe(self) -> str:
        verb = "would update" if self.dry_run else "updated"
        lines = [f"{verb} {self.changed} cell(s) in {self.rows} row(s)"]
        if self.dry_run:
            lines += [
                f"  {c['id']} {c['column']}: {c['old']!r} -> {c['new']!r}"
                for c in self.changes[:SHOWN]
            ]
            if len(self.changes) > SHOWN:
                lines.append(f"  ... and {len(self.changes) - SHOWN} more")
        if self.conflicts:
            lines.append(
                f"{len(self.conflicts)} conflict(s), left alone (changed in the sheet after the "
                "export: export again, redo these edits, import again):"
            )
            lines += [
                f"  {c['id']} {c['column']}: exported {c['expected']!r}, the sheet now holds "
                f"{c['current']!r}, the file says {c['value']!r}"
                for c in self.conflicts[:SHOWN]
            ]
            if len(self.conflicts) > SHOWN:
                lines.append(f"  ... and {len(self.conflicts) - SHOWN} more")
        if self.unknown_ids:
            lines.append(
                f"unknown ids (skipped): {', '.join(self.unknown_ids[:20])}"
                + (f" ... {len(self.unknown_ids)} in all" if len(self.unknown_ids) > 20 else "")
            )
        if self.ignored_columns:
            lines.append(f"not editable by people, ignored: {', '.join(self.ignored_columns)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _Parsed:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line, cells)


def parse_csv(path: Path) -> _Parsed:
    """Read an edits file strictly: the whole file is refused, naming the line, for a row with
    more or fewer cells than the header, an unclosed quote, a repeated id or column, an
    over-long cell, or a bad ``_base`` cell."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:  # keep "\r" inside cells
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise CsvError(
            path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV"
        ) from None
    except OSError as exc:
        raise SheetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise CsvError(path, line, "holds a NUL byte: this is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    start = 1
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not record or all(not c.strip() for c in record) and len(record) <= 1:
                continue  # a blank line
            if header is None:
                header = [h.strip() for h in record]
                _check_header(path, line, header)
                continue
            if len(record) != len(header):
                raise CsvError(
                    path, line, f"{len(record)} cells where the header has {len(header)}"
                )
            for name, cell in zip(header, record, strict=True):
                if len(cell) > MAX_CELL:
                    raise CsvError(
                        path,
                        line,
                        f"the {name} cell holds {len(cell)} characters (at most {MAX_CELL})",
                    )
            cells = dict(zip(header, record, strict=True))
            rid = cells[KEY].strip()
            if rid and rid in seen:
                raise CsvError(path, line, f"id {rid!r} again (first on line {seen[rid]})")
            seen[rid] = line
            rows.append((line, cells))
    except csv.Error as exc:
        raise CsvError(path, start, f"not valid CSV ({exc}; an unclosed quote?)") from None
    if header is None:
        raise CsvError(path, None, f"the file is empty; it needs a header with an {KEY!r} column")
    return _Parsed(header, rows)


def _check_header(path: Path, line: int, header: list[str]) -> None:
    if KEY not in header:
        raise CsvError(path, line, f"needs an {KEY!r} column to match rows (found {header[:20]})")
    if "" in header:
        raise CsvError(path, line, f"column {header.index('') + 1} has no name")
    dup = sorted({h for h in header if header.count(h) > 1})
    if dup:
        raise CsvError(path, line, f"column(s) {', '.join(dup)} appear more than once")


def _base(path: Path, line: int, text: str) -> dict[str, str] | None:
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise CsvError(path, line, f"the {BASE} cell was changed; it must stay as exported")
    return value


def update_from_csv(
    sheet: Sheet,
    schema: Schema,
    path: Path,
    author: str | None = None,
    *,
    dry_run: bool = False,
) -> UpdateReport:
    """Apply the human-owned columns of a CSV (matched by ``id``) to the sheet, as compare-and-set.

    With the export's ``_base`` column, a cell is an edit where the file differs from ``_base``,
    and is written only if the sheet still holds the ``_base`` value (else: a conflict, reported
    and left alone). Without it (a file made by hand), only non-empty cells are edits and they are
    written only into cells that are empty (or already equal); an empty cell never clears one.
    Values are taken as typed (raw text, never formulas). ``dry_run`` reports what would change.
    """
    parsed = parse_csv(path)
    header = parsed.header
    table = sheet.read()
    editable = editable_columns(schema)
    known_columns = set(schema.columns) | set(table.header) | {KEY, BASE}
    unknown = [h for h in header if h not in known_columns]
    if unknown:
        raise CsvError(
            path,
            1,
            f"unknown column(s) {', '.join(unknown)}; the sheet's columns are "
            f"{', '.join(table.header or schema.columns)}",
        )
    report = UpdateReport(dry_run=dry_run)
    report.ignored_columns = [h for h in header if h not in (KEY, BASE) and h not in editable]
    apply_cols = [h for h in header if h in editable]
    known = set(table.ids)
    changes: list[CellChange] = []
    for line, cells in parsed.rows:
        rid = cells[KEY].strip()
        if rid not in known:
            report.unknown_ids.append(rid or f"(empty id, line {line})")
            continue
        report.rows += 1
        base = _base(path, line, cells[BASE]) if BASE in cells else None
        for column in apply_cols:
            value = cells[column].strip()
            if base is not None:
                exported = base.get(column, "")
                if value != exported.strip():
                    changes.append(CellChange(rid, column, value, expected=exported))
            elif value:
                changes.append(CellChange(rid, column, value, expected=""))
    if changes:
        result = sheet.compare_and_set(changes, author, dry_run=dry_run)
        report.changed, report.action = result.changed, result.action
        report.changes, report.conflicts = result.applied, result.conflicts
    return report
