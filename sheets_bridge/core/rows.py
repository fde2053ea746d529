"""Pure functions: run results -> sheet rows; merging with what the sheet holds; review order.

Nothing here does I/O: the loop reads the sheet and the run, these functions decide what to write.
"""

from __future__ import annotations

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
    preds = predictions.set_index("id") if predictions is not None else None
    sc = scores.set_index("id") if scores is not None else None
    for m in manifest[manifest["split"].isin(SHEET_SPLITS)].itertuples(index=False):
        url = image_url(m.id)
        cells: dict[str, Cell] = {c: "" for c in MODEL_COLUMNS}
        cells.update(image=image_formula(url), url=url, label=m.label, subset=m.split)
        issues: list[str] = []
        quality: float | None = None
        if m.origin == "augmented":
            issues.append(f"augmented from {m.parent_id}")
        if preds is not None and m.id in preds.index:
            p = preds.loc[m.id]
            pred, conf = str(p["pred"]), _num(p["confidence"])
            cells.update(pred=pred, confidence=conf, is_correct=pred == m.label)
            if conf is not None:
                guesses[m.id] = (str(m.label), pred, conf)
            s = sc.loc[m.id] if sc is not None and m.id in sc.index else None
            same_label = str(p.get("label", m.label)) == m.label
            if s is not None and same_label:
                quality = _num(s.get("label_quality"))
                cells["typicality"] = _num(s.get("typicality"))
                nb = str(s.get("nearest_label_book", "") or "")
                if nb:
                    sim = _num(s.get("nearest_label_book_similarity"), 2)
                    cells["nearest_label_book"] = f"{nb} ({sim})" if sim is not None else nb
                for column in ("label_example", "pred_example"):
                    ref = str(s.get(column, "") or "")
                    cells[column] = image_formula(image_url(ref)) if ref else ""
                cells["duplicate_of"] = str(s.get("duplicate_of", "") or "")
                if s.get("issues"):
                    issues.append(str(s["issues"]))
            else:
                quality = _num(p.get(f"p_{m.label}"))
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
        updates[rid] = {"rank": "", "issues": issues_cell([f"not in dataset {version}"])}
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
