"""Property tests: whatever people type, normalisation and consensus never crash, never apply a
value that is not a class (or the remove mark) someone typed, and a valid override always wins.

Both rules are checked: majority (:func:`consensus.decide`) and CROWDLAB (:mod:`sheets_bridge.core.crowd`,
with made-up probabilities standing in for a model's; its row threshold is lowered so that small
sheets reach cleanlab instead of the fallback).
"""

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheets_bridge.core.consensus import decide
from sheets_bridge.core.crowd import crowdlab
from sheets_bridge.core.labels import ROMAN_CLASSES, normalize

ANN = ("annotator_1", "annotator_2", "annotator_3")
CLASS_SETS = (ROMAN_CLASSES, ROMAN_CLASSES[:4], ("cat", "dog", "x"))


def _case(draw, text):
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if f else c for c, f in zip(text, flips, strict=True))


@st.composite
def cells(draw):
    """What people type: labels in any case and spacing, digits, marks, junk and formulas."""
    kind = draw(
        st.sampled_from(["label", "digit", "mark", "garbage", "formula", "unicode", "empty"])
    )
    if kind == "label":
        text = _case(draw, draw(st.sampled_from([*ROMAN_CLASSES, "ten", "cat", "dog"])))
    elif kind == "digit":
        text = str(draw(st.integers(-2, 14)))
    elif kind == "mark":
        text = draw(st.sampled_from(["x", "X", "?", "??", "remove", "REMOVE", "skip", "del"]))
    elif kind == "garbage":
        text = draw(st.text(max_size=8))
    elif kind == "formula":
        text = draw(st.sampled_from(["=", "+", "-", "@"])) + draw(st.text(max_size=6))
    elif kind == "unicode":
        text = draw(st.sampled_from(["Ⅶ", "ⅳ", "Ⅹ", "ｖｉ", "vii\u200b", "i\u00a0"]))
    else:
        text = ""
    pad = draw(st.sampled_from(["", " ", "  ", "\t", "\n"]))
    return pad + text + draw(st.sampled_from(["", " ", "\t"]))


@st.composite
def sheets(draw, min_rows=1, max_rows=12):
    classes = draw(st.sampled_from(CLASS_SETS))
    n = draw(st.integers(min_rows, max_rows))
    rows = []
    for k in range(n):
        row = {"id": f"r{k}", **{a: draw(cells()) for a in ANN}}
        row["override"] = draw(cells()) if draw(st.booleans()) else ""
        rows.append(row)
    labels = {r["id"]: draw(st.sampled_from(classes)) for r in rows}
    return classes, rows, labels


def check(decision, row, current, classes):
    """The invariants every decision must hold."""
    typed = {normalize(row.get(c, ""), classes) for c in (*ANN, "override")}
    typed_labels = {v.label for v in typed if v.kind == "label"}
    override = normalize(row.get("override", ""), classes)
    if decision.action in ("keep", "relabel"):
        assert decision.label in classes and decision.label in typed_labels
        assert (decision.action == "keep") == (decision.label == current)
    elif decision.action == "remove":
        assert any(v.kind == "remove" for v in typed)
    else:
        assert decision.label is None
    if override.kind == "label":
        assert (decision.label, decision.rule) == (override.label, "override")
    elif override.kind == "remove":
        assert (decision.action, decision.rule) == ("remove", "override")
    else:
        assert decision.rule != "override"
    invalid = [
        c for c in (*ANN, "override") if normalize(row.get(c, ""), classes).kind == "invalid"
    ]
    assert sorted(i.split(":")[0] for i in decision.invalid) == sorted(invalid)
    assert isinstance(decision.status, str)
    cast = [normalize(row.get(a, ""), classes).kind in ("label", "remove") for a in ANN]
    if invalid and any(cast) and override.kind not in ("label", "remove"):
        # a typo never lets the other annotators decide the row
        assert decision.action == "blocked" and decision.status.startswith("blocked: ")


@given(st.lists(cells(), max_size=5), st.sampled_from(CLASS_SETS))
def test_normalize_never_crashes_and_labels_are_classes(values, classes):
    for v in values:
        vote = normalize(v, classes)
        assert vote.kind in ("empty", "label", "remove", "unsure", "invalid")
        assert (vote.label in classes) if vote.kind == "label" else vote.label is None


@settings(max_examples=200, deadline=None)
@given(sheets())
def test_majority_never_applies_an_invalid_value_and_override_wins(sheet):
    classes, rows, labels = sheet
    for row in rows:
        check(decide(row, labels[row["id"]], ANN, classes), row, labels[row["id"]], classes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets(min_rows=2, max_rows=16), st.integers(0, 2**31 - 1), st.booleans())
def test_crowdlab_never_applies_an_invalid_value_and_override_wins(sheet, seed, sparse_probs):
    classes, rows, labels = sheet
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(classes)) * (0.2 if sparse_probs else 2.0), size=len(rows))
    if sparse_probs:
        p[rng.random(p.shape) < 0.3] = 0.0  # zeros and NaN-prone rows must not break it
    probs = pd.DataFrame(p, index=[r["id"] for r in rows], columns=list(classes))
    result = crowdlab(rows, labels, probs, ANN, classes, min_rows=2)
    assert set(result.decisions) == set(labels)
    for row in rows:
        d = result.decisions[row["id"]]
        check(d, row, labels[row["id"]], classes)
        majority = decide(row, labels[row["id"]], ANN, classes)
        if majority.rule == "override" or majority.action in ("none", "blocked"):
            assert d == majority
    assert all(0 <= q <= 1 for q in result.quality.values())
