"""`sheet repair`: make a damaged sheet usable again without losing anything people typed.

A sheet can be damaged by hand (a renamed or cleared header cell, rows copied twice, an id cell
cleared) or by an older version of this tool (a pull before the first push wrote a header without
``id``). Push and pull then refuse it. The repair rebuilds the header and the ids from the current
dataset version and keeps every human cell:

- header: names trimmed; a column spelled like a known one (``ID``, `` note ``) takes its name;
  ``id`` is restored when missing; repeated columns become one (their cells merged);
- rows without an id get it back from their image URL (or ``=IMAGE()`` formula) when it names an
  image of the current version; rows that cannot be matched but hold people's cells are kept under
  ``unmatched-<n>`` for a person to fix; blank rows go;
- rows with the same id become one row: a cell keeps the one value the copies agree on, or all
  their different values joined by `` | `` (pull reports such a cell as invalid, so nothing is
  decided from it until a person fixes it).

Model cells are kept as they are; the next push refreshes them.

>>> print(repair(ws).describe())                         # doctest: +SKIP
sheet repair: restored the 'id' column; ... next: sheets-bridge push
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sheets_bridge.core.cells import SheetTable
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.schema import KEY, Schema
from sheets_bridge.sheets import Sheet
from sheets_bridge.store.workspace import Workspace

JOIN = " | "
_URL = re.compile(r"(?:https?://|/)[^\s\"')]+")


@dataclass
class RepairReport:
    header: list[str] = field(default_factory=list)
    merged: dict[str, int] = field(default_factory=dict)  # id -> how many rows became one
    joined: list[str] = field(default_factory=list)  # "id column" of cells holding joined values
    recovered: dict[int, str] = field(default_factory=dict)  # sheet row -> id found by its URL
    unmatched: dict[int, str] = field(default_factory=dict)  # sheet row -> placeholder id
    blank: int = 0
    human_cells: int = 0
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.header or self.merged or self.recovered or self.unmatched or self.blank)

    def as_dict(self) -> dict:
        return {
            "header": self.header,
            "merged": self.merged,
            "joined": self.joined,
            "recovered": {str(k): v for k, v in self.recovered.items()},
            "unmatched": {str(k): v for k, v in self.unmatched.items()},
            "blank": self.blank,
            "human_cells": self.human_cells,
            "applied": self.applied,
        }

    def describe(self) -> str:
        if not self.changed:
            return f"sheet repair: nothing to repair ({self.human_cells} human cells, all in place)"
        lines = ["sheet repair" + ("" if self.applied else " (dry run: nothing written)") + ":"]
        lines += [f"  header: {h}" for h in self.header]
        if self.merged:
            ids = ", ".join(list(self.merged)[:10])
            lines.append(
                f"  {len(self.merged)} id(s) on several rows merged into one row each: {ids}"
            )
        if self.joined:
            lines.append(
                f"  {len(self.joined)} cell(s) whose copies differed now hold every value joined "
                f"by {JOIN.strip()!r} (pull skips them until fixed): {', '.join(self.joined[:10])}"
            )
        for row, rid in self.recovered.items():
            lines.append(f"  sheet row {row} had no id; its image URL names {rid}")
        for row, rid in self.unmatched.items():
            lines.append(
                f"  sheet row {row} had no id and no known image URL; kept as {rid}: "
                "type its real id into it"
            )
        if self.blank:
            lines.append(f"  {self.blank} blank row(s) without id dropped")
        lines.append(
            f"  all {self.human_cells} human cells kept"
            + ("; next: sheets-bridge push" if self.applied else "")
        )
        return "\n".join(lines)


def _canonical_header(
    header: tuple[str, ...], schema: Schema, report: RepairReport
) -> tuple[list[str], dict[str, str]]:
    """The repaired header and where each old column's cells go (old name -> new name)."""
    known = {c.lower(): c for c in schema.columns}
    target: dict[str, str] = {}
    out: list[str] = []
    for name in header:
        new = known.get(name.strip().lower(), name.strip())
        if not new:
            continue
        if new != name:
            report.header.append(f"renamed {name!r} to {new!r}")
        if new in out:
            report.header.append(f"merged the repeated column {new!r}")
        else:
            out.append(new)
        target[name] = new
    if KEY not in out:
        out.insert(0, KEY)
        report.header.append(f"restored the {KEY!r} column")
    return out, target


def _merge(values: list[str]) -> tuple[str, bool]:
    distinct = list(dict.fromkeys(v for v in values if v.strip()))
    return (distinct[0], False) if len(distinct) == 1 else (JOIN.join(distinct), len(distinct) > 1)


def plan_repair(
    table: SheetTable, schema: Schema, url_ids: dict[str, str]
) -> tuple[list[str], list[dict[str, str]], RepairReport]:
    """Pure: a damaged table -> (header, rows in sheet order, what was done).

    ``url_ids`` maps image URLs (without query) to ids of the current version.
    """
    report = RepairReport()
    header, target = _canonical_header(table.header, schema, report)
    human = set(schema.human_columns)
    groups: dict[str, list[dict[str, str]]] = {}
    for n, raw in enumerate(table.rows, start=2):  # sheet row numbers: 1 is the header
        row: dict[str, list[str]] = {}
        for old, value in raw.items():
            new = target.get(old, old if old == KEY else None)
            if new is not None:
                row.setdefault(new, []).append(value)
        cells = {c: _merge(v)[0] for c, v in row.items()}
        rid = cells.get(KEY, "").strip()
        if not rid:
            rid = next(
                (url_ids[u] for value in cells.values() for u in _urls(value) if u in url_ids),
                "",
            )
            if rid:
                report.recovered[n] = rid
            elif any(cells.get(c, "").strip() for c in human):
                rid = f"unmatched-{len(report.unmatched) + 1}"
                report.unmatched[n] = rid
            else:
                report.blank += 1
                continue
        cells[KEY] = rid
        groups.setdefault(rid, []).append(cells)
    rows = []
    for rid, copies in groups.items():
        if len(copies) > 1:
            report.merged[rid] = len(copies)
        merged = {}
        for column in header:
            value, differs = _merge([c.get(column, "") for c in copies])
            merged[column] = rid if column == KEY else value
            if differs and column in human:
                report.joined.append(f"{rid} {column}")
        rows.append(merged)
    report.human_cells = sum(1 for r in rows for c in human if r.get(c, "").strip())
    return header, rows, report


def _urls(value: str) -> list[str]:
    """The URLs in a cell without query (a signature), and their paths (``/images/<id>``)."""
    out = []
    for match in _URL.findall(value):
        parts = urlsplit(match)
        out += [unquote(parts._replace(query="", fragment="").geturl()), unquote(parts.path)]
    return out


def _url_ids(ws: Workspace) -> dict[str, str]:
    """Every URL a push may have written for an image of the current version -> its id."""
    out: dict[str, str] = {}
    for i in ws.current.manifest()["id"]:
        out[unquote(urlsplit(ws.config.image_url(i))._replace(query="").geturl())] = i
        if not ws.config.image_url_template:
            out[f"/images/{i}"] = i  # the local sheet's path, on whatever host serves it
    return out


def repair(ws: Workspace, *, sheet: Sheet | None = None, dry_run: bool = False) -> RepairReport:
    """Rebuild the sheet's header and ids from the current version, keeping every human cell."""
    sheet = sheet or ws.sheet()
    header, rows, report = plan_repair(sheet.read(), ws.schema, _url_ids(ws))
    if report.changed and not dry_run:
        replace = getattr(sheet, "replace", None)
        if replace is None:
            raise SheetError(
                "`sheet repair` can rewrite only the embedded local sheet; for this sheet, run "
                "`sheets-bridge sheet repair --dry-run` and make the changes it lists by hand"
            )
        replace(header, rows)
        report.applied = True
    return report
