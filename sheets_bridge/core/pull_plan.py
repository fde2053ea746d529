"""Pull's rules as a pure function: what the sheet holds + the current version -> what to change.

:func:`plan_pull` decides every row (consensus, subset moves, status strings), builds the change log
and the next manifest, and counts what it did. It does no I/O: :func:`sheets_bridge.loop.pull`
reads the sheet and the version, calls it, then writes the version and the bridge cells; a dry run
stops after planning.

>>> import pandas as pd
>>> from sheets_bridge.core.cells import SheetTable
>>> from sheets_bridge.core.schema import Schema
>>> m = pd.DataFrame({"id": ["a"], "label": ["i"], "split": ["train"]})
>>> t = SheetTable(("id", "annotator_1", "annotator_2"), ({"id": "a", "annotator_1": "ii",
...     "annotator_2": "ii"},))
>>> plan = plan_pull(t, m, None, Schema(), ("i", "ii"))
>>> plan.counts.relabelled, plan.changes[0].new, plan.bridge["a"]["status"]
(1, 'ii', 'relabel -> ii (majority 2/2)')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import pandas as pd

from sheets_bridge.core.cells import Cell, SheetTable, SheetWrite
from sheets_bridge.core.consensus import Decision, decide_votes
from sheets_bridge.core.errors import ConfirmationNeeded, SheetError
from sheets_bridge.core.schema import BRIDGE_COLUMNS, KEY, SHEET_SPLITS, Schema, duplicate_ids
from sheets_bridge.core.votes import read_votes

#: what a pull says when the sheet has nothing to read yet
NOTHING_TO_PULL = "nothing to pull: push first (`sheets-bridge push`), then review the sheet"


class Change(NamedTuple):
    """One row of a version's change log (the columns of ``changes.csv``)."""

    id: str
    field: str
    old: str
    new: str
    reason: str
    source: str


@dataclass
class PullCounts:
    """What a pull did (or would do). ``reviewed`` counts rows with a cast vote or a valid override
    (the same rule as the disagreement report); ``removes_by_annotator`` the ``x`` votes each
    annotator cast on rows of the version."""

    rows: int = 0
    reviewed: int = 0
    relabelled: int = 0
    removed: int = 0
    moved: int = 0
    conflicts: int = 0
    blocked: int = 0
    invalid: list[str] = field(default_factory=list)
    removes_by_annotator: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The counts without the list of invalid cells (what a version's meta records)."""
        return {**self.as_dict(), "invalid": len(self.invalid)}


@dataclass(frozen=True)
class PullPlan:
    """Everything a pull changes. ``manifest`` is the next version's (removed rows dropped);
    ``bridge`` the consensus/agreement/status cells per id; ``nothing`` is set (and no write may
    happen) when the sheet has no rows to read."""

    base: str
    manifest: pd.DataFrame
    changes: tuple[Change, ...]
    bridge: dict[str, dict[str, Cell]]
    header: tuple[str, ...]
    counts: PullCounts
    human_columns: tuple[str, ...] = ()
    images: int = 0  # images in the base version
    nothing: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def removal_share(self) -> float:
        return self.counts.removed / self.images if self.images else 0.0

    def check_removals(self, max_share: float, yes: bool = False) -> None:
        """Refuse a pull that removes more than ``max_share`` of the dataset unless ``yes``."""
        if yes or self.removal_share <= max_share:
            return
        raise ConfirmationNeeded(
            f"this pull would remove {self.counts.removed} of {self.images} images "
            f"({self.removal_share:.0%}), more than max_remove_share = {max_share:g}; check the "
            "removals with `sheets-bridge pull --dry-run`, then run `sheets-bridge pull --yes` "
            '(API: {"yes": true}) or raise max_remove_share in sheets-bridge.toml'
        )

    def write(self, version: str | None) -> SheetWrite:
        """The bridge cells to write; rows that changed say which new ``version`` holds them."""
        if self.nothing:
            raise SheetError(self.nothing)
        if KEY not in self.header:  # never leave a sheet that push cannot match by id
            raise SheetError(f"refusing to write a header without {KEY!r}: {list(self.header)}")
        cells = {rid: dict(c) for rid, c in self.bridge.items()}
        if version:
            for rid in dict.fromkeys(c.id for c in self.changes):
                cells[rid]["status"] = f"{cells[rid]['status']} [in {version}]"
        return SheetWrite(self.header, cells, human_columns=self.human_columns)

    def preview(self, limit: int | None = None) -> dict:
        """Relabels, removals and moves as plain data (for ``--dry-run`` and the API)."""
        out: dict[str, list[dict[str, str]]] = {"relabel": [], "remove": [], "move": []}
        for c in self.changes:
            if c.field == "label":
                out["relabel"].append({"id": c.id, "old": c.old, "new": c.new, "source": c.source})
            elif c.field == "removed":
                out["remove"].append({"id": c.id, "split": c.old, "source": c.source})
            elif c.field == "split":
                out["move"].append({"id": c.id, "from": c.old, "to": c.new})
        if limit is not None:
            out = {k: v[:limit] for k, v in out.items()}
        return {"base": self.base, "counts": self.counts.as_dict(), **out}


def _empty_plan(base: str, manifest: pd.DataFrame, schema: Schema, why: str) -> PullPlan:
    counts = PullCounts(removes_by_annotator={a: 0 for a in schema.annotators})
    return PullPlan(base, manifest, (), {}, (), counts, schema.human_columns, len(manifest), why)


def plan_pull(
    table: SheetTable,
    manifest: pd.DataFrame,
    decisions: Mapping[str, Decision] | None,
    schema: Schema,
    classes: tuple[str, ...],
    *,
    base: str = "",
) -> PullPlan:
    """Plan a pull of ``table`` onto ``manifest`` (the current version, columns ``id``, ``label``,
    ``split`` at least).

    ``decisions`` are precomputed per-row decisions (CROWDLAB); rows without one are decided by
    majority. Rows whose id is not in the manifest are skipped. A typed ``subset`` moves a train or
    val image to the other split; anything else typed there is reported. A sheet without a header
    or rows gives a plan with ``nothing`` set; a header without ``id`` or repeated ids raise
    :class:`~sheets_bridge.core.errors.SheetError`.
    """
    manifest = manifest.set_index(KEY, drop=False)
    schema.check_header(table.header)  # a damaged header is named even when no row is left
    if not table.header or not table.rows:
        return _empty_plan(base, manifest.reset_index(drop=True), schema, NOTHING_TO_PULL)
    dup = duplicate_ids(i for i in table.ids if i)
    if dup:
        raise SheetError(
            f"the sheet has rows with the same id {dup[:20]}; delete the extra rows, then pull again"
        )
    decisions = decisions or {}
    annotators = schema.annotators
    counts = PullCounts(removes_by_annotator={a: 0 for a in annotators})
    changes: list[Change] = []
    bridge: dict[str, dict[str, Cell]] = {}
    removed: set[str] = set()
    for row in table.rows:
        rid = row.get(KEY, "")
        if rid not in manifest.index:
            continue
        counts.rows += 1
        label, split = manifest.at[rid, "label"], manifest.at[rid, "split"]
        rv = read_votes(row, annotators, classes)
        d = decisions.get(rid) or decide_votes(rv, label)
        invalid = list(d.invalid)
        status = d.status
        for a, v in rv.votes.items():
            counts.removes_by_annotator[a] += v.kind == "remove"
        typed = row.get("subset", "").strip().lower()
        move = None
        if split in SHEET_SPLITS and typed and typed != split:
            if typed in SHEET_SPLITS:
                move = typed
            else:
                invalid.append(
                    f"subset: unknown split {row.get('subset', '').strip()!r} (train or val)"
                )
                status = "; ".join(filter(None, [status, f"invalid {invalid[-1]}"]))
        counts.invalid += [f"{rid} {i}" for i in invalid]
        counts.reviewed += rv.reviewed
        if d.action == "conflict":
            counts.conflicts += 1
        elif d.action == "blocked":
            counts.blocked += 1
        elif d.action == "relabel":
            changes.append(Change(rid, "label", label, d.label or "", d.rule, d.source))
            manifest.at[rid, "label"] = d.label
            counts.relabelled += 1
        elif d.action == "remove":
            changes.append(Change(rid, "removed", split, "", d.rule, d.source))
            removed.add(rid)
            counts.removed += 1
        if move and d.action != "remove":
            changes.append(Change(rid, "split", split, move, "moved in the sheet", "subset"))
            manifest.at[rid, "split"] = move
            counts.moved += 1
            status = "; ".join(filter(None, [status, f"move -> {move}"]))
        bridge[rid] = {"consensus": d.consensus, "agreement": d.agreement, "status": status}
    new = manifest[~manifest[KEY].isin(removed)].reset_index(drop=True)
    header = tuple(table.header) + tuple(c for c in BRIDGE_COLUMNS if c not in table.header)
    return PullPlan(
        base, new, tuple(changes), bridge, header, counts, schema.human_columns, len(manifest)
    )


__all__ = ["NOTHING_TO_PULL", "Change", "PullCounts", "PullPlan", "plan_pull"]
