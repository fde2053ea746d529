"""Pure functions: run results -> sheet rows; merging with what the sheet holds; review order.

Nothing here does I/O: the loop reads the sheet and the run, these functions decide what to write.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from model import words
from sheets_bridge.core.cells import Cell, Formula, SheetTable, SheetWrite
from sheets_bridge.core.errors import SheetError
from sheets_bridge.core.schema import KEY, MODEL_COLUMNS, SHEET_SPLITS, Schema, duplicate_ids


def image_formula(url: str) -> Formula:
    """``=IMAGE("url")`` with quotes doubled, the only formula the tool ever writes."""
    return Formula('=IMAGE("' + url.replace('"', '""') + '")')


def image_url_of(cell: str) -> str:
    """The URL inside an ``=IMAGE("url")`` cell (a plain URL or empty cell as it is).

    >>> image_url_of(image_formula('/images/a?q="b"'))
    '/images/a?q="b"'
    """
    text = cell.strip()
    if text.upper().startswith('=IMAGE("') and text.endswith('")'):
        return text[len('=IMAGE("') : -2].replace('""', '"')
    return text


#: how the parts of an ``issues`` cell are joined (``web`` reads the first part's tag, the text
#: before ``": "``, as the issue type: :func:`model.words.tag`)
ISSUES_SEP = "; "
#: the share of the review order (by rank) whose rows always say why they are there
EXPLAINED_TOP = 0.10


def issues_cell(parts: Iterable[object]) -> str:
    """The ``issues`` cell, assembled here only: the parts in order of importance, each once.

    Parts come from the dataset (``augmented from ...``), the model's ``scores.csv`` (its own
    ``"; "``-joined words), a prediction from an older run, rebalancing suggestions and the push
    (``not in dataset ...``). Empty parts are skipped; a part already present is not repeated.

    >>> issues_cell(["augmented from a", "", "label?: looks like ii; outlier: odd", "outlier: odd"])
    'augmented from a; label?: looks like ii; outlier: odd'
    """
    words: dict[str, None] = {}
    for part in parts:
        for word in str(part or "").split(ISSUES_SEP):
            if word.strip():
                words[word.strip()] = None
    return ISSUES_SEP.join(words)


def _num(value: object, digits: int = 4) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round(f, digits) if f == f else None


def model_cells(
    manifest: pd.DataFrame,
    predictions: pd.DataFrame | None,
    scores: pd.DataFrame | None,
    image_url: Callable[[str], str],
    suggestions: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Cell]]:
    """The model-owned cells of every sheet row, keyed by id, with ``rank`` filled in.

    ``suggestions`` (id -> text, e.g. a rebalancing move) are added to the ``issues`` cell last.
    Rows in the first :data:`EXPLAINED_TOP` of the order that no other part explains get an
    ``unsure`` part (the label quality, the best guess and what to type).
    ``label_example`` and ``pred_example`` show the scores' reference images as ``=IMAGE()``.

    ``predictions`` may come from a run on an earlier version: label quality is then recomputed for
    the current label from the out-of-fold probabilities (self-confidence), and images without a
    prediction get empty model cells and sort last.
    """
    rows: dict[str, dict[str, Cell]] = {}
    guesses: dict[str, tuple[str, str, float]] = {}  # id -> label, prediction, confidence
    preds, sc = _Lookup(predictions), _Lookup(scores)
    for m in manifest[manifest["split"].isin(SHEET_SPLITS)].itertuples(index=False):
        url = image_url(m.id)
        cells: dict[str, Cell] = dict.fromkeys(MODEL_COLUMNS, "")
        cells.update(image=image_formula(url), url=url, label=m.label, subset=m.split)
        issues: list[str] = []
        quality: float | None = None
        if m.origin == "augmented":
            issues.append(f"augmented from {m.parent_id}")
        p = preds.row(m.id)
        if p is not None:
            pred, conf = str(preds.get(p, "pred")), _num(preds.get(p, "confidence"))
            cells.update(pred=pred, confidence=conf, is_correct=pred == m.label)
            if conf is not None:
                guesses[m.id] = (str(m.label), pred, conf)
            s = sc.row(m.id)
            same_label = str(preds.get(p, "label", m.label)) == m.label
            if s is not None and same_label:
                quality = _num(sc.get(s, "label_quality"))
                cells["typicality"] = _num(sc.get(s, "typicality"))
                nb = str(sc.get(s, "nearest_label_book", "") or "")
                if nb:
                    sim = _num(sc.get(s, "nearest_label_book_similarity"), 2)
                    cells["nearest_label_book"] = f"{nb} ({sim})" if sim is not None else nb
                for column in ("label_example", "pred_example"):
                    ref = str(sc.get(s, column, "") or "")
                    cells[column] = image_formula(image_url(ref)) if ref else ""
                cells["duplicate_of"] = str(sc.get(s, "duplicate_of", "") or "")
                if sc.get(s, "issues"):
                    issues.append(str(sc.get(s, "issues")))
            else:
                quality = _num(preds.get(p, f"p_{m.label}"))
                if pred != m.label and conf is not None:
                    issues.append(words.label_words(str(m.label), pred, conf))
        cells["label_quality"] = quality
        cells["issues"] = issues_cell([*issues, (suggestions or {}).get(m.id, "")])
        rows[m.id] = cells
    order = sorted(
        rows, key=lambda i: (rows[i]["label_quality"] is None, rows[i]["label_quality"] or 0.0, i)
    )
    for n, rid in enumerate(order, start=1):
        rows[rid]["rank"] = n
    top = math.ceil(EXPLAINED_TOP * sum(r["label_quality"] is not None for r in rows.values()))
    for rid in order[:top]:
        cells = rows[rid]
        said = {words.tag(part) for part in str(cells["issues"]).split(ISSUES_SEP)}
        if rid in guesses and not said & {"label?", "unsure"}:
            label, pred, conf = guesses[rid]
            quality = cells["label_quality"]
            why = words.unsure_words(label, pred, conf, quality)  # type: ignore[arg-type]
            cells["issues"] = issues_cell([cells["issues"], why])
    return rows


class _Lookup:
    """A frame's rows by ``id`` as plain lists: one dict lookup per row instead of a pandas
    ``.loc`` (which costs tens of microseconds a row at a million rows)."""

    def __init__(self, frame: pd.DataFrame | None):
        self.at: dict[str, int] = {}
        self.columns: dict[str, list] = {}
        if frame is not None:
            self.at = {str(rid): i for i, rid in enumerate(frame["id"].tolist())}
            self.columns = {c: frame[c].tolist() for c in frame.columns}

    def row(self, rid: str) -> int | None:
        return self.at.get(rid)

    def get(self, row: int, column: str, default: object = None) -> object:
        values = self.columns.get(column)
        return default if values is None else values[row]


def row_digest(cells: Mapping[str, Cell]) -> int:
    """A 64-bit fingerprint of a row's model cells (names, values and their types), the same in
    every process: a sheet that stores it with a pushed row can skip the row next time when the
    fingerprint is unchanged, without turning its cells into text.

    >>> row_digest({"rank": 1}) == row_digest({"rank": 1}) != row_digest({"rank": "1"})
    True
    """
    text = "\x1f".join(cells) + repr(tuple(cells.values()))
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
        "big",
        signed=True,
    )


def gone_cells(version: str) -> dict[str, Cell]:
    """What a push writes into a row whose image left the dataset (human cells stay)."""
    return {"rank": "", "issues": issues_cell([f"not in dataset {version}"])}


@dataclass(frozen=True)
class PushPlan:
    write: SheetWrite
    appended: int
    updated: int
    gone: list[str]


def plan_push(
    table: SheetTable,
    rows: Mapping[str, Mapping[str, Cell]],
    schema: Schema,
    version: str,
    choices: tuple[str, ...],
) -> PushPlan:
    """Merge fresh model cells into what the sheet holds.

    Rows are matched by id. Human cells are never in the write. A ``subset`` cell a person changed
    to another valid split is left alone until pull applies it. Rows whose image left the dataset
    keep everything people wrote and are marked in ``issues``.
    """
    if table.header:
        schema.check_header(table.header)
    dup = duplicate_ids(i for i in table.ids if i)
    if dup:
        raise SheetError(
            f"the sheet has rows with the same id {dup[:20]}; delete the extra rows, then push again"
        )
    header = tuple(table.header) + tuple(c for c in schema.columns if c not in table.header)
    existing = table.by_id()
    updates: dict[str, dict[str, Cell]] = {}
    appends: list[dict[str, Cell]] = []
    for rid, cells in rows.items():
        if rid in existing:
            new = dict(cells)
            typed = existing[rid].get("subset", "").strip().lower()
            if typed in SHEET_SPLITS and typed != cells.get("subset"):
                del new["subset"]  # a pending move typed by a person
            updates[rid] = new
        else:
            appends.append({KEY: rid, **cells})
    gone = [rid for rid in existing if rid not in rows]
    for rid in gone:
        updates[rid] = gone_cells(version)
    write = SheetWrite(
        header,
        updates,
        appends,
        sort_by="rank",
        human_columns=schema.human_columns,
        choices=choices,
    )
    return PushPlan(write, len(appends), len(rows) - len(appends), gone)


def label_choices(classes: tuple[str, ...]) -> tuple[str, ...]:
    """Dropdown values for annotator and override cells: classes, ``x`` (remove) and ``?``.

    The class named ``x`` (Roman ten) is offered as ``X``: a lone lower-case ``x`` removes.
    """
    return tuple("X" if c == "x" else c for c in classes) + ("x", "?")
