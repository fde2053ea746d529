"""Reading one sheet row's votes: the annotator cells and the override, normalised once.

Consensus (:func:`sheets_bridge.core.consensus.decide`), CROWDLAB (:mod:`sheets_bridge.core.crowd`),
the disagreement report and the web pages all read votes through :func:`read_votes`, so a cell means
the same thing everywhere: what counts as a vote, what is invalid and how that is named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sheets_bridge.core.labels import REMOVE_MARK, Vote, normalize
from sheets_bridge.core.schema import OVERRIDE

CAST = ("label", "remove")  # the kinds that take part in a decision ("?" and empty do not)


def shown(v: Vote) -> str:
    """How a cast vote is compared and shown: the class name, or ``x`` for remove."""
    return REMOVE_MARK if v.kind == "remove" else (v.label or "")


@dataclass(frozen=True)
class RowVotes:
    """One row's human cells, parsed.

    ``cells`` holds every annotator's parsed cell (in annotator order), ``votes`` only the cast ones
    (a label or remove), ``override`` the parsed override cell, ``invalid`` one named problem per
    cell that could not be understood (``"annotator_2: unknown label 'vij'"``).
    """

    cells: dict[str, Vote]
    override: Vote
    invalid: tuple[str, ...] = ()

    @property
    def votes(self) -> dict[str, Vote]:
        return {a: v for a, v in self.cells.items() if v.kind in CAST}

    @property
    def has_override(self) -> bool:
        return self.override.kind in CAST

    @property
    def reviewed(self) -> bool:
        """Someone judged this row: a cast annotator vote or a valid override."""
        return self.has_override or bool(self.votes)

    @property
    def invalid_cells(self) -> dict[str, Vote]:
        """Column -> the invalid cell (the override, then the annotators)."""
        out = {OVERRIDE: self.override} if self.override.kind == "invalid" else {}
        out.update((a, v) for a, v in self.cells.items() if v.kind == "invalid")
        return out

    def blocked_reason(self) -> str:
        """``"annotator_2 typed 'vij' which is not a class; fix it"`` for each invalid cell."""
        return "; ".join(
            f"{col} typed {v.raw.strip()!r} which is not a class; fix it"
            for col, v in self.invalid_cells.items()
        )


def read_votes(
    row: Mapping[str, object], annotators: Sequence[str], classes: Sequence[str]
) -> RowVotes:
    """Parse the annotator cells and the override of one sheet row.

    >>> rv = read_votes({"a": "VII", "b": "vij"}, ["a", "b"], ["vii"])
    >>> rv.votes["a"].label, rv.invalid
    ('vii', ("b: unknown label 'vij'",))
    """
    cls = tuple(classes)
    cells = {a: normalize(row.get(a, ""), cls) for a in annotators}
    override = normalize(row.get(OVERRIDE, ""), cls)
    invalid = [f"{a}: {v.reason}" for a, v in cells.items() if v.kind == "invalid"]
    if override.kind == "invalid":
        invalid.insert(0, f"{OVERRIDE}: {override.reason}")
    return RowVotes(cells, override, tuple(invalid))
