"""Robust statistics: a median and a spread that a few extreme values do not move.

The junk check, its second look and the near-duplicate cut all judge a value against the data's
own typical level this way, so none of them needs a constant fitted to one data set.
"""

from __future__ import annotations

import numpy as np

#: scales the median absolute deviation to a standard deviation for normally distributed data
MAD_TO_SD = 1.4826


def robust_spread(x: np.ndarray) -> tuple[float, float]:
    """The median of ``x`` and ``MAD_TO_SD`` times its median absolute deviation (``x`` not
    empty). Callers choose the floor for a spread of 0.

    >>> robust_spread(np.array([1.0, 2.0, 3.0, 100.0]))
    (2.5, 1.4826)
    """
    med = float(np.median(x))
    return med, MAD_TO_SD * float(np.median(np.abs(x - med)))


def robust_z(x: np.ndarray) -> np.ndarray:
    """``(x - median) / (1.4826 * MAD)`` over ``x`` itself (a MAD of 0 counts as 1e-6)."""
    med, sd = robust_spread(x) if len(x) else (0.0, 1.0)
    return (x - med) / max(sd, 1e-6)
