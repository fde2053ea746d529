"""The sheet as CSV/JSON, so people can work in any spreadsheet program and scripts can drive it."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.schema import KEY, Schema
from sheets_bridge.sheets import Sheet, SheetTable

#: Columns people may change through `sheet update` and the grid: human columns and ``subset``
#: (typing ``train``/``val`` there asks pull to move the image).


def editable_columns(schema: Schema) -> tuple[str, ...]:
    return schema.editable


def render(table: SheetTable, fmt: str = "csv") -> str:
    """The whole sheet as CSV (header first) or as a JSON list of row objects."""
    if fmt == "json":
        return json.dumps(
            [{c: r.get(c, "") for c in table.header} for r in table.rows],
            indent=1,
            ensure_ascii=False,
        )
    if fmt != "csv":
        raise ValueError(f"unknown format {fmt!r} (csv or json)")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.header)
    for r in table.rows:
        writer.writerow([r.get(c, "") for c in table.header])
    return out.getvalue()


@dataclass
class UpdateReport:
    changed: int = 0
    rows: int = 0
    unknown_ids: list[str] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"updated {self.changed} cell(s) in {self.rows} row(s)"]
        if self.unknown_ids:
            lines.append(
                f"unknown ids (skipped): {', '.join(self.unknown_ids[:20])}"
                + (f" ... {len(self.unknown_ids)} in all" if len(self.unknown_ids) > 20 else "")
            )
        if self.unknown_columns:
            lines.append(f"unknown columns (skipped): {', '.join(self.unknown_columns)}")
        if self.ignored_columns:
            lines.append(f"not editable by people, ignored: {', '.join(self.ignored_columns)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def update_from_csv(
    sheet: Sheet, schema: Schema, path: Path, author: str | None = None
) -> UpdateReport:
    """Apply the human-owned columns of a CSV (matched by ``id``) to the sheet.

    Values are taken as typed (raw text, never formulas); a cell equal to what the sheet holds is
    not rewritten, so re-importing an exported sheet touches only what was edited. An empty cell
    clears the sheet's cell.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if KEY not in header:
        raise SheetError(f"{path}: needs an {KEY!r} column to match rows (found {header})")
    editable = editable_columns(schema)
    report = UpdateReport()
    report.unknown_columns = [
        h for h in header if h != KEY and schema.owner(h) is None and h not in editable
    ]
    report.ignored_columns = [
        h for h in header if h != KEY and h not in editable and schema.owner(h) is not None
    ]
    apply_cols = [h for h in header if h in editable]
    known = set(sheet.read().ids)
    edits = []
    for raw in reader:
        row = {(k or "").strip(): v for k, v in raw.items()}
        rid = (row.get(KEY) or "").strip()
        if rid not in known:
            report.unknown_ids.append(rid or "(empty id)")
            continue
        report.rows += 1
        edits += [(rid, c, row.get(c) or "") for c in apply_cols]
    report.changed = sheet.edit(edits, author=author) if edits else 0
    return report
