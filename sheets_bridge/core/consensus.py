"""From what people typed to one decision per row.

The rule: a valid ``override`` always wins (a label relabels, ``x`` removes); otherwise the cast
annotator votes decide when a strict majority agrees (``?`` and empty cells are no vote); a tie is
a ``conflict`` and the row stays as it is. Invalid cells are reported in ``status`` and never applied.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sheets_bridge.core.labels import REMOVE_MARK, Vote, normalize
from sheets_bridge.core.schema import OVERRIDE

Action = Literal["none", "keep", "relabel", "remove", "conflict"]


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

    @property
    def status(self) -> str:
        words = {
            "none": "",
            "keep": "ok: label confirmed",
            "relabel": f"relabel -> {self.label}",
            "remove": "remove",
            "conflict": "conflict: annotators disagree; set override",
        }[self.action]
        if self.action in ("relabel", "remove"):
            words += f" ({self.rule})"
        if self.invalid:
            words = "; ".join(filter(None, [words, *(f"invalid {i}" for i in self.invalid)]))
        return words


def _show(v: Vote) -> str:
    return REMOVE_MARK if v.kind == "remove" else (v.label or "")


def decide(
    row: Mapping[str, str], current_label: str, annotators: Sequence[str], classes: Sequence[str]
) -> Decision:
    """Decide one row from its annotator cells and override (majority rule)."""
    invalid: list[str] = []
    override = normalize(row.get(OVERRIDE, ""), tuple(classes))
    if override.kind == "invalid":
        invalid.append(f"{OVERRIDE}: {override.reason}")
    votes: dict[str, Vote] = {}
    for a in annotators:
        v = normalize(row.get(a, ""), tuple(classes))
        if v.kind == "invalid":
            invalid.append(f"{a}: {v.reason}")
        elif v.kind in ("label", "remove"):
            votes[a] = v
    bad = tuple(invalid)
    if override.kind in ("label", "remove"):
        agree = [a for a, v in votes.items() if _show(v) == _show(override)]
        agreement = round(len(agree) / len(votes), 2) if votes else None
        return _action(override, current_label, agreement, OVERRIDE, "override", bad)
    if not votes:
        return Decision("none", invalid=bad)
    counts = Counter(_show(v) for v in votes.values())
    (top, n), *rest = counts.most_common()
    agreement = round(n / len(votes), 2)
    if rest and rest[0][1] == n or n * 2 <= len(votes):
        return Decision(
            "conflict", agreement=agreement, source=",".join(votes), rule="majority", invalid=bad
        )
    winner = next(v for v in votes.values() if _show(v) == top)
    deciders = ",".join(a for a, v in votes.items() if _show(v) == top)
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
