"""People, not slots: each annotator column carries a person's name.

``add_annotator(ws, "Ana")`` adds Ana to the ``annotators`` setting (the settings file is edited in
place, its comments kept) and gives her a column: at once in the local sheet, at the next push in
Google (the push extends the header, with the dropdown and protection of the other human
columns). Pull, consensus and the report read the setting, so her votes count from then on. The
placeholder names (``annotator_1``, ``annotator_2``) keep working beside real names.

``progress(ws)`` counts, per person, the rows that hold their vote.

>>> add_annotator(ws, "Ana").message            # doctest: +SKIP
'added Ana: the sheet has a column Ana'
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from sheets_bridge.core import config as config_mod
from sheets_bridge.core.errors import ConfigError, SheetError
from sheets_bridge.core.schema import Schema
from sheets_bridge.sheets import SheetWrite
from sheets_bridge.store.workspace import Workspace

MAX_NAME = 40


def clean_name(name: str) -> str:
    """The column name for a person: spaces at the ends dropped, inner runs of spaces made one.

    Raises SheetError, with what to type instead, for a name that cannot be a column.
    """
    text = " ".join(unicodedata.normalize("NFC", str(name)).split())
    if not text:
        raise SheetError("an annotator needs a name, e.g. `sheets-bridge annotator add Ana`")
    if len(text) > MAX_NAME:
        raise SheetError(f"the name {text[:50]!r} is longer than {MAX_NAME} characters")
    bad = [c for c in text if c in "\",'=" or unicodedata.category(c).startswith("C")]
    if bad or text[0] in "+-@":
        raise SheetError(
            f"the name {text!r} cannot be a column name: leave out quotes, commas and a leading "
            "= + - @ (a sheet would read it as a formula)"
        )
    return text


@dataclass(frozen=True)
class Added:
    """What :func:`add_annotator` did."""

    name: str
    added: bool  # False: the person already had a column
    in_sheet: bool  # the sheet has the column now (local); False: the next push adds it
    annotators: tuple[str, ...]

    @property
    def message(self) -> str:
        if not self.added:
            return f"{self.name} already has a column"
        where = (
            f"the sheet has a column {self.name}"
            if self.in_sheet
            else f"the next push adds the column {self.name} to the sheet"
        )
        return f"added {self.name}: {where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "added": self.added,
            "in_sheet": self.in_sheet,
            "annotators": list(self.annotators),
            "message": self.message,
        }


def add_annotator(ws: Workspace, name: str) -> Added:
    """Give ``name`` an annotator column (idempotent: a name already there, in any case, is
    returned as it is written). Raises SheetError for a name that cannot be a column and
    ConfigError when ``SHEETS_BRIDGE_ANNOTATORS`` fixes the list from the environment."""
    text = clean_name(name)
    if os.environ.get("SHEETS_BRIDGE_ANNOTATORS"):
        raise ConfigError(
            "the annotators come from the environment (SHEETS_BRIDGE_ANNOTATORS); add the name "
            "there, or unset it to keep the list in sheets-bridge.toml"
        )
    with config_mod.settings_lock(ws.root):
        config = config_mod.load(ws.root, env={})  # env overrides must not be written
        same = [a for a in config.annotators if a.casefold() == text.casefold()]
        if same:
            return Added(same[0], False, _has_column(ws, same[0]), config.annotators)
        names = (*config.annotators, text)
        Schema(names)  # a name that clashes with a built-in column stops here
        config_mod.save(ws.root, config.replace(annotators=names))
    ws.config = config_mod.load(ws.root)
    return Added(text, True, _add_column(ws, text), names)


def _local(ws: Workspace):
    return None if ws.remote_sheet else ws.sheet()


def _has_column(ws: Workspace, name: str) -> bool:
    sheet = _local(ws)
    return sheet is not None and name in sheet.header()


def _add_column(ws: Workspace, name: str) -> bool:
    """Add the column to the local sheet now (it keeps its header order; the column goes last).
    A sheet not pushed yet gets it with its first push, as Google does with its next."""
    sheet = _local(ws)
    if sheet is None:
        return False
    header = sheet.header()
    if not header:
        return False
    if name not in header:
        sheet.write(SheetWrite(header=(*header, name), human_columns=ws.schema.human_columns))
    return True


@dataclass(frozen=True)
class Progress:
    """One person's count: rows holding their vote, of ``rows`` in the sheet."""

    name: str
    voted: int
    rows: int

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "voted": self.voted, "rows": self.rows}


def progress(ws: Workspace) -> list[Progress]:
    """Per annotator, how many rows of the sheet hold their vote (any value: a label, x or ?)."""
    names = tuple(ws.config.annotators)
    sheet = ws.sheet()
    if hasattr(sheet, "filled"):  # the local sheet counts in SQL without reading every row
        counts = sheet.filled(names)
        rows = sheet.page(0, 0).total
    else:
        table = sheet.read()
        rows = len(table.rows)
        counts = {a: sum(1 for r in table.rows if str(r.get(a, "")).strip()) for a in names}
    return [Progress(a, int(counts.get(a, 0)), rows) for a in names]
