"""Near-duplicates confirmed in pixels: each image against its few nearest neighbours, in the
embedding and in pixels.

An embedding alone cannot tell a re-saved copy (shifted a few pixels, rescaled, re-exposed,
re-noised) from a different picture of the same kind: both sit close together, and a fixed cosine
cut misses copies while joining look-alikes; in a class of many similar pictures a copy can also
sit further away than the few nearest (the numeral demo: one planted pair at rank 22).
:func:`near_duplicates` checks the :data:`CANDIDATES` nearest neighbours of every image in the
run's neighbour table and as many in pixels (the 16-px signature in gray, halved to 8 px,
centred, cosine), with a pixel
measure that tolerates small shifts, rescales and noise (:func:`pixel_similarity`) and keeps the
pairs that stand out from the data set's own distribution of that measure
(:func:`outlier_cut`): a copy shares the exact drawing, texture and position of its original, a
different image of the same class does not. Each source of candidates sets a cut from its own
pairs; a pair only the pixel neighbours propose must pass both cuts.

The thumbnails come from a caller-given ``rows(idx)`` function (e.g. :meth:`model.store.ImageStore.rows`
of a :data:`THUMB`-pixel store): the work is ``n x CANDIDATES`` pair comparisons of fixed size,
done :data:`PAIR_CHUNK` pairs at a time, so it grows linearly with the number of images. A cheap prefilter on 16-px signatures
(:func:`quick_similarity`) leaves the full comparison to the few pairs that could be copies and a
fixed-size random sample that sets the cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from model.embed import neighbours
from model.robust import robust_spread

#: thumbnail side (pixels) the pixel measure compares
THUMB = 64
#: nearest embedding neighbours (besides the image itself) checked per image
CANDIDATES = 5
#: largest shift searched, as a share of the thumbnail side (the coarse pass searches +-2 pixels
#: at half size, i.e. +-4 of 64; the fine pass +-1 around the coarse best)
COARSE_SHIFT = 2
#: robust z-score (in -log(1 - similarity)) from which a pair stands out as a copy
NEAR_DUP_Z = 5.0
#: side (pixels) of the small signatures the prefilter compares
SIGNATURE = 16
#: robust z-score (in -log(1 - similarity)) of the prefilter from which a pair is compared in full
PREFILTER_Z = 1.5
#: pairs compared in full at random, whatever the prefilter says: their similarities set the cut
SAMPLE_PAIRS = 4096
#: pairs compared at a time (bounds the memory of the shifted copies)
PAIR_CHUNK = 4096

Rows = Callable[[np.ndarray], np.ndarray]


def _blur_matrix(n: int) -> np.ndarray:
    """``K`` with ``K @ x`` = two passes of a [1, 2, 1] / 4 filter along an axis of ``n`` (edge-padded)."""
    one = np.zeros((n, n), dtype=np.float32)
    for r in range(n):
        for off, w in ((-1, 0.25), (0, 0.5), (1, 0.25)):
            one[r, min(max(r + off, 0), n - 1)] += w
    return one @ one


def _halve_matrix(n: int) -> np.ndarray:
    """``D`` with ``D @ x`` = the mean of each two neighbouring rows (``n // 2`` rows)."""
    d = np.zeros((n // 2, n), dtype=np.float32)
    for r in range(n // 2):
        d[r, 2 * r : 2 * r + 2] = 0.5
    return d


def _prepare(images: np.ndarray, halve: bool = False) -> np.ndarray:
    """uint8 ``[m, H, W]`` or ``[m, C, H, W]`` -> float32 ``[m, C, H', W']``: blurred (two
    binomial passes per axis, edge-padded, as two matrix products), optionally halved in size,
    each image minus its mean (which no correlation below depends on)."""
    x = images.astype(np.float32)
    if x.ndim == 3:
        x = x[:, None]
    h, w = x.shape[-2:]
    ky, kx = _blur_matrix(h), _blur_matrix(w)
    if halve:
        ky, kx = _halve_matrix(h) @ ky, _halve_matrix(w) @ kx
    x = ky @ x @ kx.T
    return x - x.mean(axis=(1, 2, 3), keepdims=True)


def _unit(x: np.ndarray) -> np.ndarray:
    """Each item zero-mean and unit-norm over all its pixels (flat items stay zero)."""
    flat = x.reshape(len(x), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-6)


def _window_sums(x: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and sum of squares (over channels and a ``side``-square window) of ``x`` ``[m, C,
    H, W]`` at every window position: two ``[m, H - side + 1, W - side + 1]`` float64 arrays."""

    def box(v: np.ndarray) -> np.ndarray:
        c = np.zeros((len(v), v.shape[1] + 1, v.shape[2] + 1))
        c[:, 1:, 1:] = v.cumsum(axis=1, dtype=np.float64).cumsum(axis=2)
        return c[:, side:, side:] - c[:, :-side, side:] - c[:, side:, :-side] + c[:, :-side, :-side]

    return box(x.sum(axis=1)), box((x * x).sum(axis=1))


def _shifted(base: np.ndarray, other: np.ndarray, top: int, left: int, sums) -> np.ndarray:
    """Correlation of each unit ``base[k]`` with ``other[k]``'s window at ``(top, left)``."""
    side = base.shape[-1]
    win = other[..., top : top + side, left : left + side]
    dot = np.einsum("kchw,kchw->k", base, win, dtype=np.float32)
    s, q = sums[0][:, top, left], sums[1][:, top, left]
    var = q - s * s / (base[0].size)
    return dot / np.sqrt(np.maximum(var, 1e-12)).clip(1e-6)


def _best_shift(base: np.ndarray, other: np.ndarray, tops, lefts) -> tuple[np.ndarray, np.ndarray]:
    """Best correlation of unit windows ``base`` ``[m, C, s, s]`` against ``other``'s windows
    at offsets ``tops`` x ``lefts`` (shared by all pairs), and the index of the best one."""
    sums = _window_sums(other, base.shape[-1])
    best = np.full(len(base), -2.0, dtype=np.float32)
    arg = np.zeros(len(base), dtype=np.int64)
    for k, (top, left) in enumerate((t, u) for t in tops for u in lefts):
        v = _shifted(base, other, top, left, sums)
        better = v > best
        best[better], arg[better] = v[better], k
    return best, arg


def _unit_window(x: np.ndarray, at: int, side: int) -> np.ndarray:
    win = x[..., at : at + side, at : at + side]
    return _unit(np.ascontiguousarray(win)).reshape(win.shape)


def pixel_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlation of each pair ``a[k]``, ``b[k]`` (uint8 thumbnails) at their best small shift.

    Both are blurred (noise and sub-pixel shifts cost little); a coarse pass at half size finds
    the best shift of ``b`` within +-:data:`COARSE_SHIFT` pixels there, a fine pass at full size
    tries the 9 shifts around it. The correlation is over ``a``'s central window and every
    channel (colour counts). 1 = the same picture; flat images give 0.
    """
    if len(a) == 0:
        return np.zeros(0)
    ha, hb = _prepare(a, halve=True), _prepare(b, halve=True)
    s = COARSE_SHIFT
    side = min(ha.shape[-2:]) - 2 * s
    offsets = range(0, 2 * s + 1)
    coarse, arg = _best_shift(_unit_window(ha, s, side), hb, offsets, offsets)
    del ha, hb
    fa, fb = _prepare(a), _prepare(b)
    h, w = fa.shape[-2:]
    big = 2 * s + 1
    side = min(h, w) - 2 * big
    if side < 4:
        return coarse.astype(np.float64)
    base = _unit_window(fa, big, side)
    fine = np.full(len(a), -2.0, dtype=np.float32)
    dy, dx = arg // (2 * s + 1) - s, arg % (2 * s + 1) - s
    # pairs grouped by their coarse shift: each group's windows are plain slices
    for y, x in {(int(y), int(x)) for y, x in zip(dy, dx, strict=True)}:
        group = np.flatnonzero((dy == y) & (dx == x))
        tops = [big + 2 * y + e for e in (-1, 0, 1)]
        lefts = [big + 2 * x + e for e in (-1, 0, 1)]
        fine[group] = _best_shift(base[group], fb[group], tops, lefts)[0]
    return fine.astype(np.float64)


def outlier_cut(similarity: np.ndarray, z: float = NEAR_DUP_Z) -> float:
    """The similarity from which a pair stands out: median + ``z`` robust SDs of -log(1 - s).

    The pairs measured are each image and its nearest neighbours: almost all different pictures,
    so their spread is the data set's own "look-alike" level; the log stretches the values near
    1 where copies sit.
    """
    if len(similarity) == 0:
        return 1.0
    d = -np.log1p(-np.clip(similarity, -1.0, 1.0 - 1e-6))
    med, sd = robust_spread(d)
    cut = med + z * max(sd, 1e-3)
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


def _block_mean(x: np.ndarray, side: int) -> np.ndarray:
    """``x`` (float ``[m, C, H, W]``) as ``[m, C, side, side]`` means of square blocks."""
    m, c, h, w = x.shape
    f = max(1, min(h, w) // side)
    return x[..., : side * f, : side * f].reshape(m, c, side, f, side, f).mean(axis=(3, 5))


def signatures(rows: Rows, n: int, side: int = SIGNATURE) -> np.ndarray:
    """Every image's ``side``-pixel block-mean thumbnail (uint8 ``[n, C, side, side]``), read from
    ``rows`` :data:`PAIR_CHUNK` images at a time: the prefilter's input, a few hundred bytes each."""
    out: np.ndarray | None = None
    for start in range(0, n, PAIR_CHUNK):
        x = rows(np.arange(start, min(start + PAIR_CHUNK, n))).astype(np.float32)
        if x.ndim == 3:
            x = x[:, None]
        m, c = x.shape[:2]
        small = _block_mean(x, side)
        if out is None:
            out = np.empty((n, c, side, side), dtype=np.uint8)
        out[start : start + m] = np.rint(small)
    return out if out is not None else np.zeros((0, 1, side, side), dtype=np.uint8)


def quick_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The prefilter: correlation of small signatures (:func:`signatures`) at their best shift
    of +-1 pixel (+-1/16 of the side), after the same blur as :func:`pixel_similarity`."""
    if len(a) == 0:
        return np.zeros(0)
    fa, fb = _prepare(a), _prepare(b)
    side = min(fa.shape[-2:]) - 2
    return _best_shift(_unit_window(fa, 1, side), fb, range(3), range(3))[0].astype(np.float64)


def near_duplicates(
    knn_idx: np.ndarray,
    rows: Rows,
    families: Sequence[str],
    *,
    k: int = CANDIDATES,
    z: float = NEAR_DUP_Z,
    sample: int = SAMPLE_PAIRS,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, float]]:
    """Index of each image's most similar confirmed near-duplicate (-1: none) and a summary.

    ``rows(idx)`` returns the images at ``idx`` as uint8 thumbnails (``[m, H, W]`` or
    ``[m, C, H, W]``, all the same size). Every candidate pair is first compared cheaply
    (:func:`quick_similarity` of the :func:`signatures`); only the pairs that pass a loose cut of
    that (median + :data:`PREFILTER_Z` robust SDs) and a fixed random ``sample`` of pairs get the full :func:`pixel_similarity`. The sample (all pairs when
    there are fewer) sets the cut (:func:`outlier_cut`); a pair is kept when its full similarity
    reaches it. The summary holds the pairs checked, compared in full, the cut and the pairs kept.
    """
    n = len(knn_idx)
    sig = signatures(rows, n)
    pairs = candidate_pairs(knn_idx, families, k)
    # each source of candidates is judged against its own pairs: a copy stands out from the
    # look-alikes the embedding proposes, and from the nearest pictures in pixels
    sources = [np.ones(len(pairs), dtype=bool)]
    if k > 0 and n > 1:  # the nearest in pixels are candidates too: copies the embedding misses
        # gray, 8 px: 64 numbers an image keep the neighbour search cheap at any size
        gray = sig.astype(np.float32).mean(axis=1, keepdims=True)
        flat = _block_mean(gray, sig.shape[-1] // 2).reshape(n, -1)
        flat -= flat.mean(axis=1, keepdims=True)
        by_pixels = candidate_pairs(neighbours(flat, min(k + 1, n), seed=seed)[0], families, k)
        both = np.concatenate([pairs, by_pixels])
        pairs, inverse = np.unique(both, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        sources = [np.zeros(len(pairs), dtype=bool), np.zeros(len(pairs), dtype=bool)]
        sources[0][inverse[: len(both) - len(by_pixels)]] = True
        sources[1][inverse[len(both) - len(by_pixels) :]] = True
    rng = np.random.default_rng(seed)
    quick = None
    if len(pairs) > sample:
        quick = np.concatenate(
            [
                quick_similarity(sig[p[:, 0]], sig[p[:, 1]])
                for p in np.array_split(pairs, max(1, -(-len(pairs) // PAIR_CHUNK)))
            ]
        )
    full = np.zeros(len(pairs), dtype=bool)
    samples = []
    for source in sources:
        members = np.flatnonzero(source)
        if quick is None or len(members) <= sample:
            full[members] = True
            samples.append(members)
            continue
        full[members[quick[members] >= outlier_cut(quick[members], PREFILTER_Z)]] = True
        samples.append(rng.choice(members, sample, replace=False))
        full[samples[-1]] = True
    measured = np.flatnonzero(full)
    sim = np.full(len(pairs), -1.0)
    for start in range(0, len(measured), PAIR_CHUNK):
        part = pairs[measured[start : start + PAIR_CHUNK]]
        sim[measured[start : start + len(part)]] = pixel_similarity(
            rows(part[:, 0]), rows(part[:, 1])
        )
    # a pair only the pixels propose must stand out from both kinds of look-alike
    cuts = np.maximum.accumulate([outlier_cut(sim[taken], z) for taken in samples])
    keep = np.zeros(len(pairs), dtype=bool)
    for source, bar in zip(sources, cuts, strict=True):
        keep |= source & full & (sim >= bar)
    cut = float(cuts[0])
    out = np.full(n, -1, dtype=np.int64)
    best = np.full(n, -np.inf)
    for (a, b), s in zip(pairs[keep], sim[keep], strict=True):
        for x, y in ((a, b), (b, a)):
            if s > best[x]:
                best[x], out[x] = s, y
    summary = {
        "pairs_checked": float(len(pairs)),
        "pairs_compared": float(len(measured)),
        "cut": cut,
        "cut_pixels": float(cuts[-1]),
        "pairs_kept": float(keep.sum()),
    }
    return out, summary
