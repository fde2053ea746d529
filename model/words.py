"""What the ``issues`` cell says, in words a reviewer acts on (pure strings, no numpy).

Every part reads ``<tag>: <what to look at>: <what to type>``. The tag (``label?``, ``unsure``,
``junk?``, ``duplicate``, ``near-duplicate``, ``outlier``, ``val-only style``, an image-quality word)
is short and stable: programs read the kind of issue from it (:func:`tag`), people read the rest.
The wording names no kind of data ("x if it does not belong in the dataset"), so it fits any
classes.

>>> label_words("i", "v", 0.8)
'label?: looks like v (80%), labelled i: type v in your column if you agree, i if the label is right, x if it does not belong in the dataset'
>>> tag(label_words("i", "v", 0.8))
'label?'
"""

from __future__ import annotations

#: what ends most parts: the way to take the image out
REMOVE = "x if it does not belong in the dataset"


def typed(cls: str) -> str:
    """How a person types a class in the sheet: the class named ``x`` as ``X`` (a lone ``x``
    removes the image)."""
    return "X" if cls == "x" else cls


def _pct(p: float) -> str:
    return f"{p:.0%}"


def label_words(label: str, pred: str, conf: float) -> str:
    """The model predicts another class than the label."""
    return (
        f"label?: looks like {pred} ({_pct(conf)}), labelled {label}: type {typed(pred)} in your "
        f"column if you agree, {typed(label)} if the label is right, {REMOVE}"
    )


def unsure_words(label: str, pred: str, conf: float, quality: float | None) -> str:
    """Near the top of the review order for a low label quality, without a confident flag."""
    why = f"label quality {quality:.2f}" if quality is not None else "the model doubts it"
    if pred == label:
        guess = f"leans to {pred} ({_pct(conf)}) but images like it are often another class"
    else:
        guess = f"best guess {pred} ({_pct(conf)})"
    return (
        f"unsure: {why}, labelled {label}, {guess}: type {typed(pred)} in your column if it is "
        f"{pred}, the right class if another, {REMOVE}"
    )


def junk_words(pred: str, conf: float) -> str:
    """Far from every class, and the model is unsure."""
    return (
        f"junk?: unlike every class (best guess {pred}, {_pct(conf)}), maybe no class at all: "
        f"type x in your column to remove it, or its class if it has one"
    )


def duplicate_words(other: str, exact: bool, other_label: str | None) -> str:
    """Another image with the same bytes (``exact``) or a nearly identical embedding."""
    kind = "duplicate" if exact else "near-duplicate"
    what = "the same file as" if exact else "almost the same picture as"
    if other_label is not None:
        return (
            f"{kind}: {what} {other}, which is labelled {other_label}: type the right class "
            f"in both rows, or x in one to drop a copy"
        )
    return f"{kind}: {what} {other}: type x in your column to drop this copy, or leave it"


def outlier_words(label: str) -> str:
    """Far from its nearest images in embedding space."""
    return (
        f"outlier: unlike most images, labelled {label}: check it, type the right class in "
        f"your column, {REMOVE}"
    )


def val_only_words(cluster: object) -> str:
    """A style cluster that (almost) only val holds: the model never learns it."""
    return (
        f"val-only style: its look (style cluster {cluster}) is missing from train: type train "
        f"in subset to learn from it"
    )


def quality_words(word: str) -> str:
    """An image-quality finding (``blurry``, ``very dark``, ...)."""
    return f"{word}: check the image can still be read: type {REMOVE}"


def tag(part: str) -> str:
    """The kind of one part: the text before ``": "``, or the old short words' first word(s)
    (``"near-duplicate of img-12"`` -> ``"near-duplicate"``)."""
    import re

    part = part.strip()
    if ": " in part:
        return part.split(": ", 1)[0].strip()
    return re.split(r"\s+(?:of|from)\s+|\s*\(|\s+\d", part, maxsplit=1)[0].strip()
