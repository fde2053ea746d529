"""Model-aware consensus: CROWDLAB (cleanlab's ``get_label_quality_multiannotator``).

Majority vote (:func:`sheets_bridge.core.consensus.decide`) treats every annotator alike and ignores the
model. CROWDLAB weighs each annotator by how often they agree with the others and adds the model's
out-of-fold probabilities as one more, weighted, opinion. Here it only replaces the aggregation of
*label* votes; everything else follows :func:`~sheets_bridge.core.consensus.decide` exactly:

- a valid ``override`` always wins;
- invalid cells are reported and never applied, and a row with one is ``blocked`` unless a valid
  override decides it (see :mod:`sheets_bridge.core.consensus`);
- rows with a remove vote (``x``) are decided by majority: the model has no probability for
  "this image is junk", so it cannot weigh in;
- rows with no label vote are ``none``.

Rows where annotators agree keep the label they agree on. Where they disagree, CROWDLAB's posterior
picks among the labels people typed (never a label nobody typed); when the pick is not clearly ahead
of the runner-up (its share of the two posteriors is below ``min_share``) the row stays ``conflict``.
Such rows carry the rule ``"crowdlab"``.

CROWDLAB estimates annotator weights from their agreement, so it needs enough rows: with fewer than
:data:`MIN_VOTED_ROWS` rows holding at least one label vote (or no row with two label votes, or fewer
than two annotators who voted) the whole sheet falls back to majority, and the rule of every decided
row says why.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from sheets_bridge.core.consensus import Decision, decide_votes
from sheets_bridge.core.schema import KEY
from sheets_bridge.core.votes import read_votes

#: Rows with >= 1 label vote CROWDLAB needs. Annotator weights are agreement rates over the rows
#: they share; below about 20 rows one disagreement moves a weight by 5 points or more, which is
#: noise, and majority vote is the more predictable rule.
MIN_VOTED_ROWS = 20
#: Where annotators disagree, the chosen label's share of (its posterior + the runner-up's) needed
#: to settle the row: 0.6 = at least 1.5 times as likely as the next typed label. A relative test,
#: because CROWDLAB's posterior is capped near the annotators' average agreement (about 0.7), so an
#: absolute floor of 0.5 turns most 2-against-1 rows into conflicts. 0.6 was the best of 0.55..0.75
#: in benchmarks/bench_consensus.py over model accuracies from 25% to 90%.
MIN_SHARE = 0.6
RULE = "crowdlab"


@dataclass(frozen=True)
class CrowdResult:
    """Decisions per row id, annotator quality, and whether CROWDLAB or the fallback decided."""

    decisions: dict[str, Decision]
    quality: dict[str, float] = field(default_factory=dict)
    used: bool = False
    reason: str = ""  # why majority decided instead ("" when CROWDLAB ran)
    model_weight: float | None = None
    annotator_weights: dict[str, float] = field(default_factory=dict)
    posterior: dict[str, float] = field(default_factory=dict)  # row id -> posterior of its pick

    def as_dict(self) -> dict:
        return {
            "used": self.used,
            "reason": self.reason,
            "quality": self.quality,
            "model_weight": self.model_weight,
            "annotator_weights": self.annotator_weights,
        }


def probabilities(predictions: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """A run's ``predictions.csv`` (``id``, ``p_<class>``...) as a frame indexed by id, one column
    per class in ``classes`` order. Accepts a frame that is already in that shape."""
    df = predictions
    if KEY in df.columns:
        df = df.set_index(KEY)
    cols = [f"p_{c}" if f"p_{c}" in df.columns else c for c in classes]
    missing = [f"p_{c}" for c, col in zip(classes, cols, strict=True) if col not in df.columns]
    if missing:
        raise ValueError(f"predictions lack probability columns {missing}")
    out = df[cols].apply(pd.to_numeric, errors="coerce")
    out.columns = list(classes)
    out.index = out.index.astype(str)
    return out[~out.index.duplicated()]  # one row per image


def _clean_probs(p: np.ndarray) -> np.ndarray:
    """Finite, strictly positive rows summing to 1 (cleanlab divides by them)."""
    p = np.nan_to_num(np.asarray(p, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    p = np.clip(p, 1e-6, None)
    return p / p.sum(axis=1, keepdims=True)


def _with_rule(d: Decision, note: str) -> Decision:
    """A majority decision whose rule also says why CROWDLAB did not decide it."""
    if d.action in ("none", "blocked") or d.rule == "override" or not note:
        return d
    return replace(d, rule=f"{d.rule}, {note}")


def crowdlab(
    rows: Sequence[Mapping[str, str]],
    labels: Mapping[str, str],
    probs: pd.DataFrame | None,
    annotators: Sequence[str],
    classes: Sequence[str],
    *,
    min_rows: int = MIN_VOTED_ROWS,
    min_share: float = MIN_SHARE,
) -> CrowdResult:
    """Decide every row of the sheet with CROWDLAB (see the module docstring).

    ``rows`` are sheet rows (``{column: text}``); rows whose id is not in ``labels`` (the current
    label per id) are skipped, as pull skips them. ``probs`` holds out-of-fold probabilities, index
    id, one column per class (see :func:`probabilities`); rows without probabilities are decided by
    majority.

    >>> rows = [{"id": "a", "annotator_1": "ii", "annotator_2": "iii"}]
    >>> crowdlab(rows, {"a": "ii"}, None, ["annotator_1", "annotator_2"], ["ii", "iii"]).reason
    'no model probabilities'
    """
    classes = tuple(classes)
    index = {c: k for k, c in enumerate(classes)}
    base: dict[str, Decision] = {}
    votes: dict[str, dict[str, int]] = {}  # id -> annotator -> class index (label votes only)
    has_remove: set[str] = set()
    for row in rows:
        rid = str(row.get(KEY, ""))
        if rid not in labels or rid in base:
            continue
        rv = read_votes(row, annotators, classes)
        base[rid] = decide_votes(rv, labels[rid])
        cast = rv.votes
        votes[rid] = {a: index[v.label] for a, v in cast.items() if v.kind == "label"}
        if any(v.kind == "remove" for v in cast.values()):
            has_remove.add(rid)

    def fallback(reason: str, note: str) -> CrowdResult:
        return CrowdResult({r: _with_rule(d, note) for r, d in base.items()}, reason=reason)

    if probs is None or len(probs) == 0:
        return fallback("no model probabilities", "crowdlab needs a trained model")
    try:
        probs = probabilities(probs, classes)
    except ValueError as exc:
        return fallback(str(exc), "crowdlab needs class probabilities")
    ids = [r for r, v in votes.items() if v and r in probs.index]
    voters = [a for a in annotators if any(a in votes[r] for r in ids)]
    multi = sum(1 for r in ids if len(votes[r]) >= 2)
    if len(ids) < min_rows:
        why = f"only {len(ids)} rows with label votes and probabilities (crowdlab needs {min_rows})"
        return fallback(why, f"crowdlab fallback: {len(ids)} voted rows < {min_rows}")
    if len(voters) < 2 or multi == 0:
        why = "no row has two label votes; crowdlab weighs annotators by their agreement"
        return fallback(why, "crowdlab fallback: no row with two votes")

    matrix = np.full((len(ids), len(voters)), np.nan)
    for i, r in enumerate(ids):
        for j, a in enumerate(voters):
            if a in votes[r]:
                matrix[i, j] = votes[r][a]
    pred = _clean_probs(probs.loc[ids].to_numpy())
    try:
        from cleanlab.multiannotator import get_label_quality_multiannotator

        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = get_label_quality_multiannotator(
                pd.DataFrame(matrix, index=ids, columns=voters),
                pred,
                consensus_method="best_quality",
                quality_method="crowdlab",
                return_weights=True,
                verbose=False,
                # self-confidence: an annotator's per-row quality is the posterior of their label
                label_quality_score_kwargs={"method": "self_confidence"},
            )
    except (ValueError, ZeroDivisionError, FloatingPointError, IndexError) as exc:
        return fallback(f"cleanlab failed: {exc}", "crowdlab fallback: cleanlab failed")

    detail = out["detailed_label_quality"]
    stats = out["annotator_stats"]
    quality = {
        str(a): round(float(q), 4) for a, q in stats["annotator_quality"].items() if np.isfinite(q)
    }
    weights = out.get("annotator_weight")
    annotator_weights = (
        {a: round(float(w), 4) for a, w in zip(voters, weights, strict=True) if np.isfinite(w)}
        if weights is not None
        else {}
    )
    mw = out.get("model_weight")
    model_weight = round(float(mw), 4) if mw is not None and np.isfinite(mw) else None

    decisions: dict[str, Decision] = {}
    posterior: dict[str, float] = {}
    row_of = {r: i for i, r in enumerate(ids)}
    for rid, d in base.items():
        if d.rule == "override" or d.action in ("none", "blocked"):
            decisions[rid] = d  # a typo blocks the row whatever the weights say
        elif rid in has_remove:
            decisions[rid] = d  # remove votes: majority (the model cannot vote "junk")
        elif rid not in row_of:
            decisions[rid] = _with_rule(d, "no model probabilities for this image")
        else:
            post = {
                classes[int(v)]: float(detail.iloc[row_of[rid]][f"quality_annotator_{a}"])
                for a, v in votes[rid].items()
            }
            decisions[rid], posterior[rid] = _decide_crowd(
                d, votes[rid], post, labels[rid], classes, min_share
            )
    return CrowdResult(decisions, quality, True, "", model_weight, annotator_weights, posterior)


def _decide_crowd(
    base: Decision,
    cast: Mapping[str, int],
    post: Mapping[str, float],
    current: str,
    classes: Sequence[str],
    min_share: float,
) -> tuple[Decision, float]:
    """One row with label votes only: pick the voted label with the highest posterior."""
    post = {c: (float(v) if np.isfinite(v) else 0.0) for c, v in post.items()}
    counts = Counter(classes[v] for v in cast.values())
    ranked = sorted(post, key=lambda c: (-post[c], -counts[c], classes.index(c)))
    best = ranked[0]
    p = post[best]
    agree = [a for a, v in cast.items() if classes[v] == best]
    agreement = round(len(agree) / len(cast), 2)
    runner_up = post[ranked[1]] if len(ranked) > 1 else 0.0
    share = p / (p + runner_up) if p + runner_up > 0 else 0.0
    if len(counts) > 1 and share < min_share:
        conflict = Decision(
            "conflict", agreement=agreement, source=",".join(cast), rule=RULE, invalid=base.invalid
        )
        return conflict, round(p, 4)
    action = "keep" if best == current else "relabel"
    decided = Decision(action, best, best, agreement, ",".join(agree), RULE, base.invalid)
    return decided, round(p, 4)


def crowdlab_decisions(
    rows: Sequence[Mapping[str, str]],
    labels: Mapping[str, str],
    probs: pd.DataFrame | None,
    annotators: Sequence[str],
    classes: Sequence[str],
    *,
    min_rows: int = MIN_VOTED_ROWS,
    min_share: float = MIN_SHARE,
) -> tuple[dict[str, Decision], dict[str, float]]:
    """Per-row decisions (rule ``"crowdlab"`` where CROWDLAB decided) and per-annotator quality.

    The quality dict is empty when CROWDLAB could not run; the decided rows' rules then say why.
    See :func:`crowdlab` for the details and :data:`MIN_VOTED_ROWS` for the threshold.
    """
    result = crowdlab(
        rows, labels, probs, annotators, classes, min_rows=min_rows, min_share=min_share
    )
    return result.decisions, result.quality


__all__ = [
    "MIN_SHARE",
    "MIN_VOTED_ROWS",
    "CrowdResult",
    "crowdlab",
    "crowdlab_decisions",
    "probabilities",
]
