import pytest

from sheets_bridge.core.consensus import decide
from sheets_bridge.core.labels import ROMAN_CLASSES

ANN = ("annotator_1", "annotator_2", "annotator_3")


def row(a1="", a2="", a3="", override=""):
    return {"annotator_1": a1, "annotator_2": a2, "annotator_3": a3, "override": override}


def test_override_wins_over_unanimous_annotators():
    d = decide(row("vi", "vi", "vi", override="vii"), "vi", ANN, ROMAN_CLASSES)
    assert (d.action, d.label, d.source, d.agreement) == ("relabel", "vii", "override", 0.0)


def test_override_x_removes():
    d = decide(row(override="x"), "iv", ANN, ROMAN_CLASSES)
    assert d.action == "remove" and d.consensus == "remove"


def test_strict_majority_relabels_and_reports_agreement():
    d = decide(row("VII", "7", "viii"), "vi", ANN, ROMAN_CLASSES)
    assert (d.action, d.label, d.agreement) == ("relabel", "vii", 0.67)
    assert d.source == "annotator_1,annotator_2"


def test_tie_is_a_conflict_and_changes_nothing():
    d = decide(row("vii", "viii"), "vii", ANN, ROMAN_CLASSES)
    assert d.action == "conflict" and d.label is None


def test_unsure_and_empty_are_no_votes():
    d = decide(row("?", "", "iv"), "iv", ANN, ROMAN_CLASSES)
    assert (d.action, d.agreement) == ("keep", 1.0)


@pytest.mark.parametrize("bad", ["vij", "=1+1", "12"])
def test_a_typo_blocks_the_row_instead_of_letting_the_other_vote_decide(bad):
    d = decide(row(bad, "iii"), "ii", ANN, ROMAN_CLASSES)
    assert d.action == "blocked" and d.label is None and d.consensus == ""
    assert any(bad in i for i in d.invalid)
    assert d.status == f"blocked: annotator_1 typed {bad!r} which is not a class; fix it"


def test_an_invalid_override_blocks_the_annotator_majority_and_is_named():
    d = decide(row("iii", "iii", override="tree"), "ii", ANN, ROMAN_CLASSES)
    assert d.action == "blocked" and d.status.startswith("blocked: override typed 'tree'")


def test_a_valid_override_still_decides_a_row_with_a_typo_and_reports_it():
    d = decide(row("vij", "iv", override="iii"), "ii", ANN, ROMAN_CLASSES)
    assert (d.action, d.label) == ("relabel", "iii") and "invalid annotator_1" in d.status


def test_a_typo_without_any_valid_vote_decides_nothing_and_is_reported():
    d = decide(row("vij"), "ii", ANN, ROMAN_CLASSES)
    assert d.action == "none" and "invalid annotator_1: unknown label 'vij'" in d.status


def test_nothing_typed_means_no_decision():
    assert decide(row(), "ii", ANN, ROMAN_CLASSES).action == "none"
