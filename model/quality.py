"""Image-quality issues found by ``cleanvision`` (cleanlab's image checks), in plain words.

Example::

    table = image_quality(paths, ids)            # columns: id, quality_issues, is_<type>...
    scores["issues"] = merge_issues(scores["issues"], table["quality_issues"])

:func:`image_quality` runs cleanvision's checks for blurry, dark, overexposed ("light"),
low-information, odd-size, odd-aspect-ratio and grayscale images over files and returns one row
per image with the issues found, as short words a reviewer reads in the sheet's ``issues`` column
(see :data:`WORDS`). cleanvision's own thresholds are used, but for one (:data:`THRESHOLDS`): its
low-information threshold (0.3 on its entropy score) flagged a quarter of the clean images of the
shapes demo, a flat shape on a flat background; 0.2 flags only near-constant images there.

One addition: cleanvision calls an image grayscale only when its *file* is stored in gray mode
(``L``); a gray picture saved as RGB, which is the usual way a gray photo sneaks into a colour
dataset, passes its check. So an RGB image whose three channels are equal (within
:data:`GRAY_TOLERANCE`) counts as grayscale too. Grayscale is reported only in a mostly colour
dataset (at most half of the images gray): in a gray dataset it says nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from PIL import Image

#: cleanvision issue type -> the words in the sheet
WORDS: dict[str, str] = {
    "blurry": "blurry",
    "dark": "very dark",
    "light": "overexposed",
    "low_information": "low information",
    "odd_size": "odd size",
    "odd_aspect_ratio": "odd aspect ratio",
    "grayscale": "grayscale",
}
ISSUE_TYPES: tuple[str, ...] = tuple(WORDS)
#: thresholds that differ from cleanvision's defaults (see the module text)
THRESHOLDS: dict[str, float] = {"low_information": 0.2}
#: the largest channel difference (0..255) that still counts as gray
GRAY_TOLERANCE = 2


def _gray_rgb(path: str) -> bool:
    """Whether an RGB file holds a gray picture (every pixel's channels equal)."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("RGB", "RGBA"):
                return False
            im.draft("RGB", (128, 128))  # JPEG: decode small, this is only a look
            arr = np.asarray(im.convert("RGB").resize((64, 64)), dtype=np.int16)
    except (OSError, ValueError):
        return False
    spread = arr.max(axis=2) - arr.min(axis=2)
    return bool((spread <= GRAY_TOLERANCE).all())


def image_quality(
    paths: Sequence[str | os.PathLike[str]],
    ids: Sequence[str] | None = None,
    *,
    issue_types: Sequence[str] = ISSUE_TYPES,
    thresholds: dict[str, float] | None = None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """One row per image: ``id``, ``quality_issues`` ("; "-joined words), ``is_<type>`` flags.

    ``ids`` default to the paths. ``thresholds`` (issue type -> cleanvision threshold) replace
    :data:`THRESHOLDS`; ``{}`` means cleanvision's defaults throughout. An empty ``paths`` gives an empty table with those columns.
    Files that cannot be read raise ``ValueError`` naming the file.
    """
    unknown = sorted(set(issue_types) - set(WORDS))
    if unknown:
        raise ValueError(f"unknown issue type(s) {unknown}: choose from {list(WORDS)}")
    paths = [str(p) for p in paths]
    ids = list(ids) if ids is not None else list(paths)
    if len(ids) != len(paths):
        raise ValueError(f"got {len(paths)} paths but {len(ids)} ids")
    flags = pd.DataFrame({f"is_{t}": np.zeros(len(paths), bool) for t in issue_types})
    if paths:
        chosen = THRESHOLDS if thresholds is None else thresholds
        flags = _run_cleanvision(paths, list(issue_types), chosen, n_jobs)
    if "grayscale" in issue_types and paths:
        gray = flags["is_grayscale"].to_numpy() | np.array([_gray_rgb(p) for p in paths])
        # in a gray dataset every image is gray: not worth a word
        flags["is_grayscale"] = gray if gray.mean() <= 0.5 else np.zeros(len(paths), bool)
    words = [
        "; ".join(WORDS[t] for t in issue_types if row[f"is_{t}"])
        for row in flags.to_dict("records")
    ]
    return pd.DataFrame({"id": ids, "quality_issues": words, **{c: flags[c] for c in flags}})


def _run_cleanvision(
    paths: list[str], issue_types: list[str], thresholds: dict[str, float], n_jobs: int
) -> pd.DataFrame:
    import logging

    from cleanvision import Imagelab

    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise ValueError(f"{len(missing)} image file(s) not found, e.g. {missing[0]}")
    # cleanvision draws a progress bar whatever its verbose flag says; a library call stays quiet
    logging.getLogger("cleanvision").setLevel(logging.ERROR)
    _quiet_cleanvision()
    # identical images share one stored file (content-addressed): check each file once
    lab = Imagelab(filepaths=list(dict.fromkeys(paths)), verbose=False)
    params = {t: ({"threshold": thresholds[t]} if t in thresholds else {}) for t in issue_types}
    lab.find_issues(issue_types=params, n_jobs=n_jobs, verbose=False)
    found = lab.issues.reindex(paths)
    out = pd.DataFrame(index=range(len(paths)))
    for t in issue_types:
        col = f"is_{t}_issue"
        values = (
            found[col].fillna(False).to_numpy(bool) if col in found else np.zeros(len(paths), bool)
        )
        out[f"is_{t}"] = values
    return out


def _quiet_cleanvision() -> None:
    from functools import partial

    from cleanvision.issue_managers import image_property_issue_manager as manager
    from tqdm.auto import tqdm

    if not isinstance(manager.tqdm, partial):
        manager.tqdm = partial(tqdm, disable=True)


def merge_issues(issues: Sequence[str], quality: Sequence[str]) -> list[str]:
    """Join the score table's ``issues`` with the quality words, row by row, without repeats; each
    quality word becomes a part that says what to do (:func:`model.words.quality_words`)."""
    from model.words import quality_words

    out = []
    for a, b in zip(issues, quality, strict=True):
        words = [w for w in str(a or "").split("; ") if w]
        extra = (quality_words(w) for w in str(b or "").split("; ") if w)
        words += [w for w in extra if w not in words]
        out.append("; ".join(words))
    return out


def precision_recall(flagged: Sequence[bool], truth: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of ``flagged`` against ``truth`` (nan where undefined)."""
    f, t = np.asarray(flagged, bool), np.asarray(truth, bool)
    tp = float((f & t).sum())
    precision = tp / f.sum() if f.sum() else float("nan")
    recall = tp / t.sum() if t.sum() else float("nan")
    return precision, recall
