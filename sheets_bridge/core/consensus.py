"""From what people typed to one decision per row.

The rule: a valid ``override`` always wins (a label relabels, ``x`` removes); otherwise the cast
annotator votes decide when a strict majority agrees (``?`` and empty cells are no vote); a tie is
a ``conflict`` and the row stays as it is. Invalid cells are reported in ``status`` and never applied.

A typo must not hand the decision to the other annotators: when an annotator cell (or the override)
cannot be understood and no valid override decides the row, the row is ``blocked`` until the cell is
fixed, and its status names the cell ("blocked: annotator_2 typed 'vij' which is not a class; fix
it"). Votes are read by :func:`sheets_bridge.core.votes.read_votes`, the one reader of human cells.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sheets_bridge.core.labels import Vote
from sheets_bridge.core.schema import OVERRIDE
from sheets_bridge.core.votes import RowVotes, read_votes, shown

Action = Literal["none", "keep", "relabel", "remove", "conflict", "blocked"]


@dataclass(frozen=True)
class Decision:
    """What pull does with one row. ``consensus`` and ``agreement`` are written back to the sheet."""

    action: Action
    label: str | None = None  # the new label when action == "relabel"
    consensus: str = ""  # the decided value as shown in the sheet ("vii", "remove", "")
    agreement: float | None = None
    source: str = ""  # which column(s) decided it
    rule: str = ""
    invalid: tuple[str, ...] = ()  # "annotator_2: unknown label 'vij'"
    blocked: str = ""  # "annotator_2 typed 'vij' which is not a class; fix it"

    @property
    def status(self) -> str:
        if self.action == "blocked":
            return f"blocked: {self.blocked}"
        words = {
            "none": "",
            "keep": "ok: label confirmed",
            "relabel": f"relabel -> {self.label}",
            "remove": "remove",
            "conflict": "conflict: annotators disagree; set override",
            "blocked": "",
        }[self.action]
        if self.action in ("relabel", "remove"):
            words += f" ({self.rule})"
        if self.invalid:
            words = "; ".join(filter(None, [words, *(f"invalid {i}" for i in self.invalid)]))
        return words


def decide(
    row: Mapping[str, str], current_label: str, annotators: Sequence[str], classes: Sequence[str]
) -> Decision:
    """Decide one row from its annotator cells and override (majority rule).

    >>> decide({"annotator_1": "vij", "annotator_2": "ii"}, "i", ["annotator_1", "annotator_2"],
    ...        ["i", "ii"]).status
    "blocked: annotator_1 typed 'vij' which is not a class; fix it"
    """
    return decide_votes(read_votes(row, annotators, classes), current_label)


def blocked(rv: RowVotes) -> Decision:
    """The decision for a row whose invalid cell stops the valid votes from deciding it."""
    return Decision(
        "blocked",
        source=",".join(rv.invalid_cells),
        rule="blocked",
        invalid=rv.invalid,
        blocked=rv.blocked_reason(),
    )


def decide_votes(rv: RowVotes, current_label: str) -> Decision:
    """:func:`decide` over votes already read."""
    bad = rv.invalid
    votes = rv.votes
    override = rv.override
    if rv.has_override:
        agree = [a for a, v in votes.items() if shown(v) == shown(override)]
        agreement = round(len(agree) / len(votes), 2) if votes else None
        return _action(override, current_label, agreement, OVERRIDE, "override", bad)
    if not votes:
        return Decision("none", invalid=bad)
    if bad:
        return blocked(rv)
    counts = Counter(shown(v) for v in votes.values())
    (top, n), *rest = counts.most_common()
    agreement = round(n / len(votes), 2)
    if rest and rest[0][1] == n or n * 2 <= len(votes):
        return Decision(
            "conflict", agreement=agreement, source=",".join(votes), rule="majority", invalid=bad
        )
    winner = next(v for v in votes.values() if shown(v) == top)
    deciders = ",".join(a for a, v in votes.items() if shown(v) == top)
    return _action(winner, current_label, agreement, deciders, f"majority {n}/{len(votes)}", bad)


def _action(
    vote: Vote, current: str, agreement: float | None, source: str, rule: str, bad: tuple[str, ...]
) -> Decision:
    if vote.kind == "remove":
        return Decision("remove", None, "remove", agreement, source, rule, bad)
    assert vote.label is not None
    if vote.label == current:
        return Decision("keep", vote.label, vote.label, agreement, source, rule, bad)
    return Decision("relabel", vote.label, vote.label, agreement, source, rule, bad)
