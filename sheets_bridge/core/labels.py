"""Normalising what people type into a label cell.

``"VII"``, ``" vii "``, ``"7"`` and ``"Ⅶ"`` all mean ``vii``; ``x``/``remove`` drops the image; ``?``
means unsure and counts as no vote. Everything else is invalid and is reported, never applied.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

ROMAN_CLASSES: tuple[str, ...] = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
# A lone lower-case ``x`` is the sheet's "remove this image" mark. The Roman class ten is also
# named ``x``, so for that class people type ``X`` (upper case), ``10`` or ``ten``; every other
# label is case-insensitive. Reserving the fastest key for removal follows the teams' own sheets.
REMOVE_MARK = "x"
UNSURE_MARK = "?"

Kind = Literal["empty", "label", "remove", "unsure", "invalid"]


@dataclass(frozen=True)
class Vote:
    """One parsed cell: ``kind`` says what it is; ``label`` is set when kind == "label"."""

    kind: Kind
    label: str | None = None
    raw: str = ""
    reason: str = ""


_REMOVE_WORDS = {"remove", "delete", "drop", "junk", "del", "rm"}
_UNSURE_WORDS = {"?", "unsure", "skip", "??"}


#: Unicode's Roman numeral characters (U+2160..U+217F: Ⅰ..Ⅿ, ⅰ..ⅿ, and the old forms). NFKC folds
#: them to letters, so ``ⅹ`` (small ten) would become the remove mark ``x``: they are matched as
#: numerals instead and never remove.
ROMAN_NUMERALS = range(0x2160, 0x2180)


def _is_roman(text: str) -> bool:
    return any(ord(c) in ROMAN_NUMERALS for c in text)


def _fold(text: str) -> str:
    """How a typed class is compared with the dataset's: Unicode-compatible (NFKC), case- and
    whitespace-insensitive (``" Healthy   LEAF "`` is ``Healthy leaf``)."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def normalize(raw: object, classes: tuple[str, ...] | list[str] = ROMAN_CLASSES) -> Vote:
    """Parse one human cell.

    >>> normalize(" VII ").label
    'vii'
    >>> normalize("7").label
    'vii'
    >>> normalize("vij").kind
    'invalid'

    Class names are compared case-insensitively after Unicode NFKC folding (so the Roman numeral
    characters U+2160..U+217F become plain letters, and always mean the numeral: ``ⅹ`` and ``Ⅹ``
    are the class ``x``). Arabic digits map to the class at that position when the classes are
    Roman numerals. Only a lone ASCII lower-case ``x`` means *remove* (see ``REMOVE_MARK``); the
    class ``x`` is typed ``X``, ``10``, ``ten`` or ``Ⅹ``; look-alikes such as a full-width ``ｘ``
    are refused rather than guessed.

    >>> normalize("x").kind, normalize("X").label, normalize("\u2179").label
    ('remove', 'x', 'x')
    """
    text = "" if raw is None else str(raw)
    stripped = text.strip()
    if stripped == REMOVE_MARK:
        return Vote("remove", raw=text)
    cleaned = unicodedata.normalize("NFKC", stripped).strip()
    if not cleaned:
        return Vote("empty", raw=text)
    low = _fold(cleaned)
    names = {_fold(c): c for c in classes}
    if _is_roman(stripped):
        # a numeral character is a numeral: its class or nothing, never a mark
        if low in names:
            return Vote("label", names[low], raw=text)
        return Vote("invalid", raw=text, reason=f"unknown label {stripped!r}")
    if low in _UNSURE_WORDS:
        return Vote("unsure", raw=text)
    if low in _REMOVE_WORDS:
        return Vote("remove", raw=text)
    if cleaned == REMOVE_MARK:
        return Vote(
            "invalid",
            raw=text,
            reason=f"{stripped!r} looks like x: type a plain x to remove, or X for the class x",
        )
    if low == "ten" and "x" in names:
        return Vote("label", names["x"], raw=text)
    if low in names:
        return Vote("label", names[low], raw=text)
    if low.isascii() and low.isdigit() and set(names) <= set(ROMAN_CLASSES):
        n = int(low)
        if 1 <= n <= len(ROMAN_CLASSES) and ROMAN_CLASSES[n - 1] in names:
            return Vote("label", names[ROMAN_CLASSES[n - 1]], raw=text)
    return Vote("invalid", raw=text, reason=f"unknown label {stripped!r}")
