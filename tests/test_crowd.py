"""Model-aware consensus (CROWDLAB) on hand-built sheets and probabilities.

The probabilities here are made up (no model is trained): they stand in for a run's out-of-fold
predictions so that each rule of :mod:`sheets_bridge.core.crowd` can be checked on its own.
"""

import numpy as np
import pandas as pd
import pytest

from sheets_bridge.core.consensus import decide
from sheets_bridge.core.crowd import MIN_VOTED_ROWS, crowdlab, crowdlab_decisions, probabilities
from sheets_bridge.core.labels import ROMAN_CLASSES

CLASSES = ROMAN_CLASSES[:4]  # i ii iii iv
ANN = ("ana", "ben", "cy")


def simulated(n=80, seed=0, accuracy=(0.95, 0.8, 0.3), model=0.85):
    """A sheet where ana is reliable and cy mostly guesses, with probabilities of a decent model."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, len(CLASSES), n)
    rows, labels, probs = [], {}, []
    for k in range(n):
        rid = f"img-{k:03d}"
        row = {"id": rid}
        for a, acc in zip(ANN, accuracy, strict=True):
            right = rng.random() < acc
            row[a] = CLASSES[truth[k] if right else (truth[k] + rng.integers(1, 4)) % 4]
        rows.append(row)
        labels[rid] = CLASSES[rng.integers(0, 4)]  # the given labels are noisy
        p = np.full(4, (1 - model) / 3)
        p[truth[k] if rng.random() < 0.9 else rng.integers(0, 4)] = model
        probs.append(p / p.sum())
    frame = pd.DataFrame(probs, index=[r["id"] for r in rows], columns=list(CLASSES))
    return rows, labels, frame, {r["id"]: CLASSES[t] for r, t in zip(rows, truth, strict=True)}


def test_crowdlab_beats_majority_on_disagreements_and_ranks_annotators():
    rows, labels, probs, truth = simulated()
    # leave only ana and cy on half of the rows: majority can only call their disagreements ties
    for r in rows[::2]:
        r["ben"] = ""
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    assert result.used and result.reason == ""
    assert result.quality["ana"] > result.quality["ben"] > result.quality["cy"]
    disputed = [r for r in rows[::2] if r["ana"] != r["cy"]]
    assert len(disputed) >= 15

    def right(d, rid):
        return d.action in ("keep", "relabel") and d.label == truth[rid]

    crowd = sum(right(result.decisions[r["id"]], r["id"]) for r in disputed)
    major = sum(right(decide(r, labels[r["id"]], ANN, CLASSES), r["id"]) for r in disputed)
    assert major == 0  # 1 against 1 is a conflict for majority vote
    assert crowd >= 0.7 * len(disputed)
    assert {result.decisions[r["id"]].rule for r in disputed} == {"crowdlab"}


def test_crowdlab_decisions_returns_decisions_and_quality():
    rows, labels, probs, _ = simulated()
    decisions, quality = crowdlab_decisions(rows, labels, probs, ANN, CLASSES)
    assert set(decisions) == set(labels) and set(quality) == set(ANN)
    assert all(0 <= q <= 1 for q in quality.values())


def test_override_invalid_cells_and_remove_votes_follow_the_majority_rules():
    rows, labels, probs, _ = simulated()
    rows[0].update(override="IV", ana="ii")
    rows[1].update(ana="x", ben="remove", cy="iii")
    rows[2].update(ana="vij", ben="=1+1", cy="?")
    rows[3].update(override="x")
    rows[4].update(ana="", ben="", cy="")
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    for r in rows[:5]:
        assert result.decisions[r["id"]] == decide(r, labels[r["id"]], ANN, CLASSES)
    d = result.decisions
    assert d["img-000"].label == "iv" and d["img-000"].rule == "override"
    assert d["img-001"].action == "remove" and d["img-001"].rule == "majority 2/3"
    assert d["img-002"].action == "none" and len(d["img-002"].invalid) == 2
    assert d["img-003"].action == "remove" and d["img-004"].action == "none"


def test_unsure_model_leaves_a_disagreement_as_conflict():
    rows, labels, probs, _ = simulated(accuracy=(0.7, 0.7, 0.7))
    rows[0].update(ana="i", ben="ii", cy="")
    probs.loc["img-000"] = 0.25  # the model has no idea
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    d = result.decisions["img-000"]
    assert d.action == "conflict" and d.rule == "crowdlab" and d.label is None
    assert result.posterior["img-000"] < 0.5  # about as likely as ben's label


def test_crowdlab_never_picks_a_label_nobody_typed():
    rows, labels, probs, _ = simulated()
    for r in rows:
        r["cy"] = ""
        probs.loc[r["id"]] = [0.01, 0.01, 0.01, 0.97]  # the model always says iv
        if r["ana"] == "iv":
            r["ana"] = "i"
        if r["ben"] == "iv":
            r["ben"] = "ii"
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    assert result.used
    typed = {r["id"]: {r["ana"], r["ben"]} for r in rows}
    for rid, d in result.decisions.items():
        if d.action in ("keep", "relabel"):
            assert d.label in typed[rid]


def test_too_few_voted_rows_fall_back_to_majority_and_say_why():
    rows, labels, probs, _ = simulated(n=MIN_VOTED_ROWS - 1)
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    assert not result.used and not result.quality
    assert f"crowdlab needs {MIN_VOTED_ROWS}" in result.reason
    for r in rows:
        d, m = result.decisions[r["id"]], decide(r, labels[r["id"]], ANN, CLASSES)
        assert (d.action, d.label) == (m.action, m.label)
        if d.action in ("keep", "relabel"):
            assert d.rule.startswith(m.rule) and "crowdlab fallback" in d.rule


def test_without_probabilities_or_overlap_majority_decides():
    rows, labels, probs, _ = simulated()
    assert crowdlab(rows, labels, None, ANN, CLASSES).reason == "no model probabilities"
    no_p = pd.DataFrame({"id": list(labels), "pred": "i"})
    assert "p_i" in crowdlab(rows, labels, no_p, ANN, CLASSES).reason
    for k, r in enumerate(rows):  # one vote per row: agreement between annotators is unknown
        r.update({a: "" for a in ANN if a != ANN[k % 3]})
    result = crowdlab(rows, labels, probs, ANN, CLASSES)
    assert not result.used and "two label votes" in result.reason


def test_rows_without_probabilities_are_decided_by_majority():
    rows, labels, probs, _ = simulated()
    rows.append({"id": "new", "ana": "ii", "ben": "ii", "cy": "i"})
    labels["new"] = "i"
    d = crowdlab(rows, labels, probs, ANN, CLASSES).decisions["new"]
    assert d.action == "relabel" and d.label == "ii" and "no model probabilities" in d.rule


def test_probabilities_reads_a_predictions_table():
    preds = pd.DataFrame(
        {"id": ["a", "b"], "pred": ["i", "ii"], "p_i": [0.9, 0.2], "p_ii": [0.1, 0.8]}
    )
    p = probabilities(preds, ("i", "ii"))
    assert list(p.columns) == ["i", "ii"] and p.loc["b", "ii"] == 0.8
    with pytest.raises(ValueError, match="p_iii"):
        probabilities(preds, ("i", "ii", "iii"))
