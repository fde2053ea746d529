import pytest

from sheets_bridge.core.labels import ROMAN_CLASSES, normalize


@pytest.mark.parametrize(
    "typed, label",
    [
        ("VII", "vii"),
        (" vii ", "vii"),
        ("7", "vii"),
        ("vii", "vii"),
        ("Ⅶ", "vii"),
        ("X", "x"),
        ("10", "x"),
        ("ten", "x"),
        ("1", "i"),
        ("\tiv\n", "iv"),
    ],
)
def test_typed_labels_normalise_to_a_class(typed, label):
    vote = normalize(typed, ROMAN_CLASSES)
    assert (vote.kind, vote.label) == ("label", label)


@pytest.mark.parametrize("typed", ["vij", "=1+1", "11", "0", "seven", "+vii", "@x", "i i", "-1"])
def test_anything_else_is_invalid_and_carries_a_reason(typed):
    vote = normalize(typed, ROMAN_CLASSES)
    assert vote.kind == "invalid" and typed.strip() in vote.reason and vote.label is None


@pytest.mark.parametrize(
    "typed, kind",
    [
        ("x", "remove"),
        ("remove", "remove"),
        (" junk ", "remove"),
        ("?", "unsure"),
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
    ],
)
def test_remove_unsure_and_empty(typed, kind):
    assert normalize(typed, ROMAN_CLASSES).kind == kind


def test_other_class_sets_are_matched_case_insensitively_without_digit_mapping():
    classes = ("cat", "dog")
    assert normalize("Dog", classes).label == "dog"
    assert normalize("1", classes).kind == "invalid"
