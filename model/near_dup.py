"""Near-duplicates confirmed in pixels: each image against its few nearest embedding neighbours.

An embedding alone cannot tell a re-saved copy (shifted a few pixels, rescaled, re-exposed,
re-noised) from a different picture of the same kind: both sit close together, and a fixed cosine
cut misses copies while joining look-alikes. :func:`near_duplicates` checks the
:data:`CANDIDATES` nearest neighbours of every image (the run's neighbour table) with a pixel
measure that tolerates small shifts, rescales and noise (:func:`pixel_similarity`) and keeps the
pairs that stand out from the data set's own distribution of that measure
(:func:`outlier_cut`): a copy shares the exact drawing, texture and position of its original, a
different image of the same class does not.

The thumbnails come from a caller-given ``rows(idx)`` function (e.g. :meth:`model.store.ImageStore.rows`
of a :data:`THUMB`-pixel store): the work is ``n x CANDIDATES`` pair comparisons of fixed size,
done :data:`PAIR_CHUNK` pairs at a time, so it grows linearly with the number of images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: thumbnail side (pixels) the pixel measure compares
THUMB = 64
#: nearest embedding neighbours (besides the image itself) checked per image
CANDIDATES = 5
#: largest shift searched, as a share of the thumbnail side (the coarse pass searches +-2 pixels
#: at half size, i.e. +-4 of 64; the fine pass +-1 around the coarse best)
COARSE_SHIFT = 2
#: robust z-score (in -log(1 - similarity)) from which a pair stands out as a copy
NEAR_DUP_Z = 5.0
#: pairs compared at a time (bounds the memory of the shifted copies)
PAIR_CHUNK = 4096

Rows = Callable[[np.ndarray], np.ndarray]


def _blur(x: np.ndarray) -> np.ndarray:
    """Two passes of a [1, 2, 1] / 4 binomial filter over the last two axes (edge-padded)."""
    for _ in range(2):
        x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
        x = 0.25 * x[..., :-2, :] + 0.5 * x[..., 1:-1, :] + 0.25 * x[..., 2:, :]
        x = 0.25 * x[..., :-2] + 0.5 * x[..., 1:-1] + 0.25 * x[..., 2:]
    return x


def _unit(x: np.ndarray) -> np.ndarray:
    """Each item zero-mean and unit-norm over all its pixels (flat items stay zero)."""
    flat = x.reshape(len(x), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)


def _prepare(images: np.ndarray) -> np.ndarray:
    """uint8 ``[m, H, W]`` or ``[m, C, H, W]`` -> float32 ``[m, C, H, W]``, blurred."""
    x = images.astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]
    return _blur(x)


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of each pair ``a[k]``, ``b[k]`` (uint8 thumbnails) at their best small shift.

    Both are blurred (noise and sub-pixel shifts cost little); a coarse pass at half size finds
    the best shift of ``b`` within +-:data:`COARSE_SHIFT` pixels there, a fine pass at full size
    tries the 9 shifts around it. The correlation is over ``a``'s central window and every
    channel (colour counts). 1 = the same picture; flat images give 0.
    """
    if len(a) == 0:
        return np.zeros(0)
    fa, fb = _prepare(a), _prepare(b)
    m, c, h, w = fa.shape
    ha, hb = (
        x[..., : h // 2 * 2, : w // 2 * 2].reshape(m, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))
        for x in (fa, fb)
    )
    s = COARSE_SHIFT
    side = min(ha.shape[-2:]) - 2 * s
    base = _unit(ha[..., s : s + side, s : s + side])
    best = np.full(m, -2.0)
    shift = np.zeros((m, 2), dtype=np.int64)
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            v = np.einsum(
                "kp,kp->k", base, _unit(hb[..., s + dy : s + dy + side, s + dx : s + dx + side])
            )
            better = v > best
            best[better], shift[better] = v[better], (dy, dx)
    big = 2 * s + 1
    side = min(h, w) - 2 * big
    if side < 4:
        return best
    base = _unit(fa[..., big : big + side, big : big + side])
    fine = np.full(m, -2.0)
    # pairs grouped by their coarse shift: each group's windows are plain slices
    for dy, dx in {(int(y), int(x)) for y, x in shift}:
        group = np.flatnonzero((shift[:, 0] == dy) & (shift[:, 1] == dx))
        for ey in (-1, 0, 1):
            for ex in (-1, 0, 1):
                top, left = big + 2 * dy + ey, big + 2 * dx + ex
                win = fb[group, :, top : top + side, left : left + side]
                v = np.einsum("kp,kp->k", base[group], _unit(win))
                fine[group] = np.maximum(fine[group], v)
    return fine


def outlier_cut(similarity: np.ndarray, z: float = NEAR_DUP_Z) -> float:
    """The similarity from which a pair stands out: median + ``z`` robust SDs of -log(1 - s).

    The pairs measured are each image and its nearest neighbours: almost all different pictures,
    so their spread is the data set's own "look-alike" level; the log stretches the values near
    1 where copies sit.
    """
    if len(similarity) == 0:
        return 1.0
    d = -np.log1p(-np.clip(similarity, -1.0, 1.0 - 1e-6))
    med = float(np.median(d))
    mad = 1.4826 * float(np.median(np.abs(d - med)))
    cut = med + z * max(mad, 1e-3)
    return float(-np.expm1(-cut))


def candidate_pairs(
    knn_idx: np.ndarray, families: Sequence[str], k: int = CANDIDATES
) -> np.ndarray:
    """``[m, 2]`` pairs ``(i, j)``, ``i < j``, of images among each other's ``k`` nearest
    neighbours, each once; pairs of one family (an augmented copy and its parent) left out."""
    n = len(knn_idx)
    near = knn_idx[:, 1 : k + 1]
    i = np.repeat(np.arange(n), near.shape[1])
    j = near.ravel()
    pairs = np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.unique(pairs, axis=0)
    fam = np.asarray(families, dtype=object)
    return pairs[fam[pairs[:, 0]] != fam[pairs[:, 1]]]


def near_duplicates(
    knn_idx: np.ndarray,
    rows: Rows,
    families: Sequence[str],
    *,
    k: int = CANDIDATES,
    z: float = NEAR_DUP_Z,
) -> tuple[np.ndarray, dict[str, float]]:
    """Index of each image's most similar confirmed near-duplicate (-1: none) and a summary.

    ``rows(idx)`` returns the images at ``idx`` as uint8 thumbnails (``[m, H, W]`` or
    ``[m, C, H, W]``, all the same size). The summary holds the pairs checked, the cut and the
    pairs kept.
    """
    n = len(knn_idx)
    pairs = candidate_pairs(knn_idx, families, k)
    sim = np.empty(len(pairs))
    for start in range(0, len(pairs), PAIR_CHUNK):
        part = pairs[start : start + PAIR_CHUNK]
        sim[start : start + len(part)] = pixel_similarity(rows(part[:, 0]), rows(part[:, 1]))
    cut = outlier_cut(sim, z)
    out = np.full(n, -1, dtype=np.int64)
    best = np.full(n, -np.inf)
    for (a, b), s in zip(pairs[sim >= cut], sim[sim >= cut], strict=True):
        for x, y in ((a, b), (b, a)):
            if s > best[x]:
                best[x], out[x] = s, y
    summary = {
        "pairs_checked": float(len(pairs)),
        "cut": cut,
        "pairs_kept": float((sim >= cut).sum()),
    }
    return out, summary
