import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- Roman numeral characters and look-alikes of the remove mark -------------------------------
ROMAN_CHARS = [chr(c) for c in range(0x2160, 0x2180)]


@pytest.mark.parametrize("typed", ["\u2179", "\u2169", " \u2179 ", "\u2179\u00a0"])
def test_the_roman_numeral_ten_in_either_case_is_the_class_not_remove(typed):
    vote = normalize(typed, ROMAN_CLASSES)
    assert (vote.kind, vote.label) == ("label", "x")


@pytest.mark.parametrize("char", ROMAN_CHARS)
def test_every_roman_numeral_character_is_its_class_or_a_named_error_never_remove(char):
    vote = normalize(char, ROMAN_CLASSES)
    assert vote.kind in ("label", "invalid"), (char, vote)
    if vote.kind == "label":
        # the character's own value: ⅶ and Ⅶ are vii
        assert vote.label == unicodedata.normalize("NFKC", char).lower()
    else:
        assert char in vote.reason


@pytest.mark.parametrize("typed", ["\uff58", "\u2093", "\u02e3", "\U0001d431"])
def test_look_alikes_of_the_remove_mark_are_refused_not_applied(typed):
    vote = normalize(typed, ROMAN_CLASSES)
    assert vote.kind == "invalid" and "plain x" in vote.reason


def test_only_a_lone_ascii_lower_case_x_removes():
    assert normalize(" x ", ROMAN_CLASSES).kind == "remove"
    assert normalize("x", ("cat", "dog")).kind == "remove"
    assert normalize("\u2179", ("cat", "dog")).kind == "invalid"


@st.composite
def typed_cells(draw):
    """Any text, plus the characters that used to fold into marks and classes."""
    tricky = st.sampled_from([*ROMAN_CHARS, "x", "X", "\uff58", "?", "remove", "7", "\u2167"])
    parts = draw(st.lists(st.one_of(st.text(max_size=4), tricky), max_size=4))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(typed_cells(), st.sampled_from([ROMAN_CLASSES, ("cat", "dog", "x"), ("ⅶ", "b")]))
def test_the_normaliser_never_raises_and_says_class_remove_unsure_empty_or_a_named_error(
    text, classes
):
    vote = normalize(text, classes)
    assert vote.kind in ("empty", "label", "remove", "unsure", "invalid")
    if vote.kind == "label":
        assert vote.label in classes
    else:
        assert vote.label is None
    if vote.kind == "invalid":
        assert vote.reason and repr(text.strip()) in vote.reason
    if vote.kind == "remove":
        # removal is typed on purpose: the ASCII mark or a word, never a folded numeral
        assert not any(c in text for c in ROMAN_CHARS)
        words = {"remove", "delete", "drop", "junk", "del", "rm"}
        assert text.strip() == "x" or unicodedata.normalize("NFKC", text).strip().lower() in words


@pytest.mark.parametrize(
    "typed, label",
    [
        ("cat", "cat"),
        (" CAT ", "cat"),
        ("healthy   LEAF", "Healthy leaf"),
        ("ⅳ", "Ⅳ"),
        ("IV", "Ⅳ"),
        ("7", None),  # numbers mean numerals only where the classes are Roman numerals
        ("dog", None),
    ],
)
def test_free_text_classes_match_case_and_whitespace_insensitively(typed, label):
    vote = normalize(typed, ("cat", "Healthy leaf", "Ⅳ"))
    assert vote.label == label and vote.kind == ("label" if label else "invalid")
