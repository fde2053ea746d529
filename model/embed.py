"""Embedding geometry: cosine nearest neighbours and the 2-D map.

The neighbour table is computed once per run and shared by the map (UMAP accepts precomputed
neighbours, which also spares it a pure-Python pairwise loop it runs for fewer than 4,096 points)
and by the scores (duplicates, outliers, label-quality smoothing).

Both grow about as n log n past a size threshold: the neighbours come from an approximate
NN-descent index (pynndescent, which UMAP itself uses) instead of exact search, and the map is
fitted on a random sample and every other point placed among its nearest mapped neighbours.
Below the thresholds the results are exactly what exact search and a full fit give.
"""

from __future__ import annotations

import warnings

import numpy as np

#: below this many points the map is a PCA projection (UMAP needs a neighbourhood to work with)
MIN_UMAP_POINTS = 20
#: from this many points neighbours come from an approximate index: exact search grows as n^2
#: (20k 96-d points: 8 s on 2 busy cores, 100k: minutes) and passes NN-descent's n log n build
#: plus its one-off ~25 s numba compile (which the sampled map below shares) near 30k
ANN_THRESHOLD = 30_000
#: candidates per point the approximate index keeps (at least twice the neighbours asked): for
#: the 17 nearest of 100k 96-d points, recall 0.98 against 0.87 with 17, and a faster build
ANN_CANDIDATES = 30
#: above this many points UMAP fits on a random sample of UMAP_SAMPLE points and places the rest
#: by their neighbours: a full fit's optimisation grows with n, and UMAP's own ``transform`` (a
#: second index search plus optimisation) took 7 minutes of wall time for 80k points on 2 shared
#: cores, where placing them among the neighbours already at hand takes about a second
UMAP_SAMPLE_THRESHOLD = 30_000
UMAP_SAMPLE = 20_000
#: how sharply a placed point follows its most similar mapped neighbours (cosine units)
PLACE_TEMPERATURE = 0.05


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def neighbours(
    emb: np.ndarray,
    k: int,
    *,
    chunk: int = 2048,
    seed: int = 0,
    exact_below: int = ANN_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of each row, itself first.

    Returns ``(indices [N, k] int64, similarities [N, k] float32)``, most similar first. Exact
    (chunked) for fewer than ``exact_below`` rows, else approximate (:func:`ann_neighbours`,
    deterministic for a given ``seed``).

    >>> idx, sim = neighbours(np.eye(3, dtype=np.float32), 2)  # doctest: +SKIP
    """
    if len(emb) >= exact_below:
        return ann_neighbours(emb, k, seed=seed)
    return exact_neighbours(emb, k, chunk=chunk)


def exact_neighbours(
    emb: np.ndarray, k: int, *, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbours` by exact search: every row against every row, ``chunk`` rows at a time."""
    unit = normalize(emb)
    n = len(unit)
    k = min(k, n)
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        s = unit[start : start + chunk] @ unit.T
        rows = np.arange(len(s))
        s[rows, rows + start] = np.inf  # self first, even when a duplicate ties with it
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(part, order, axis=1)
        idx[start : start + chunk] = top
        vals = np.take_along_axis(s, top, axis=1)
        vals[:, 0] = 1.0
        sim[start : start + chunk] = np.minimum(vals, 1.0)
    return idx, sim


def ann_neighbours(
    emb: np.ndarray, k: int, *, seed: int = 0, candidates: int = ANN_CANDIDATES, chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`neighbours` from an NN-descent graph (pynndescent), about O(n log n).

    The graph keeps ``max(candidates, 2 k)`` candidates per row; their cosine similarities are
    recomputed exactly and re-sorted, and the row itself is put first (as exact search does),
    so only a missed neighbour can differ from exact search, never a similarity.
    """
    unit = normalize(emb)
    n = len(unit)
    k = min(k, n)
    if k <= 1 or n < 3:
        return exact_neighbours(unit, k)
    from model.jit_cache import use_disk_cache

    use_disk_cache()  # before pynndescent defines its functions: they cache where we say
    from pynndescent import NNDescent  # numba: only when the data are large

    n_cand = min(max(candidates, 2 * k), n - 1)
    index = NNDescent(
        unit,
        metric="cosine",
        n_neighbors=n_cand,
        random_state=seed,
        n_jobs=1,  # a fixed seed gives a fixed graph only on one thread
        low_memory=True,
        compressed=True,  # keeps no copy of the data for queries we never make
    )
    cand = np.asarray(index.neighbor_graph[0], dtype=np.int64)
    idx = np.empty((n, k), dtype=np.int64)
    sim = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, chunk):
        rows = np.arange(start, min(start + chunk, n))
        c = cand[rows]
        s = np.einsum("nd,nkd->nk", unit[rows], unit[np.maximum(c, 0)])
        s[(c == rows[:, None]) | (c < 0)] = -np.inf  # self goes first below; -1: an empty slot
        order = np.argsort(-s, axis=1, kind="stable")[:, : k - 1]
        idx[rows, 0] = rows
        idx[rows, 1:] = np.take_along_axis(c, order, axis=1)
        sim[rows, 0] = 1.0
        sim[rows, 1:] = np.clip(np.take_along_axis(s, order, axis=1), -1.0, 1.0)
    return idx, sim


def pca_2d(emb: np.ndarray) -> np.ndarray:
    """First two principal components (zero-padded when there are fewer)."""
    x = np.asarray(emb, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)
    out = np.zeros((len(x), 2), dtype=np.float32)
    if len(x) > 1:
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        comps = (u * s)[:, :2]
        out[:, : comps.shape[1]] = comps
    return out


def umap_2d(
    emb: np.ndarray,
    *,
    seed: int = 0,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    n_neighbors: int = 15,
    sample_above: int = UMAP_SAMPLE_THRESHOLD,
    sample_size: int = UMAP_SAMPLE,
) -> np.ndarray:
    """2-D UMAP of the embeddings (cosine metric, fixed ``random_state``); PCA for tiny sets.

    ``knn`` is :func:`neighbours`' output for at least ``n_neighbors`` neighbours, if at hand.
    Above ``sample_above`` points the map is fitted on ``sample_size`` of them (drawn with
    ``seed``) and the others are placed by :func:`place_by_neighbours`.
    """
    n = len(emb)
    if n < MIN_UMAP_POINTS:
        return pca_2d(emb)
    if n > sample_above and sample_size < n:
        return _umap_sampled(emb, seed, knn, n_neighbors, max(sample_size, MIN_UMAP_POINTS))
    from model.jit_cache import import_umap  # heavy (numba): only when a map is made

    umap = import_umap()  # its compiled code is kept on disk for the next process

    k = min(n_neighbors, n - 1)
    if knn is None or knn[0].shape[1] < k:
        knn = neighbours(emb, k, seed=seed)
    idx, sim = knn[0][:, :k], knn[1][:, :k]
    dist = np.maximum(1.0 - sim, 0.0).astype(np.float32)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=k,
        metric="cosine",
        random_state=seed,
        n_jobs=1,  # what a fixed random_state implies anyway; said here to silence the warning
        n_epochs=200,  # the small-data default (500) costs 2.5x the time for a map that looks the same
        precomputed_knn=(idx, dist, None),
    )
    with warnings.catch_warnings():
        # "knn_search_index is not an NNDescent object": we never transform new points
        warnings.filterwarnings("ignore", message=".*knn_search_index.*", category=UserWarning)
        out = reducer.fit_transform(normalize(emb))
    return np.asarray(out, dtype=np.float32)


def _umap_sampled(
    emb: np.ndarray,
    seed: int,
    knn: tuple[np.ndarray, np.ndarray] | None,
    n_neighbors: int,
    sample_size: int,
) -> np.ndarray:
    """UMAP fitted on a seeded random sample; every other point placed by its neighbours."""
    n = len(emb)
    k = min(n_neighbors, sample_size - 1)
    if knn is None or knn[0].shape[1] < k + 1:
        knn = neighbours(emb, k + 1, seed=seed)
    rng = np.random.default_rng(seed)
    fit_rows = np.sort(rng.choice(n, size=sample_size, replace=False))
    out = np.zeros((n, 2), dtype=np.float32)
    out[fit_rows] = umap_2d(emb[fit_rows], seed=seed, n_neighbors=k, sample_above=sample_size)
    placed = np.zeros(n, dtype=bool)
    placed[fit_rows] = True
    return place_by_neighbours(emb, out, placed, knn)


def place_by_neighbours(
    emb: np.ndarray,
    xy: np.ndarray,
    placed: np.ndarray,
    knn: tuple[np.ndarray, np.ndarray],
    *,
    passes: int = 4,
) -> np.ndarray:
    """2-D positions for the rows not yet ``placed``: the weighted mean of their placed neighbours.

    Weights fall off as ``exp((similarity - 1) / PLACE_TEMPERATURE)``, so the most similar
    neighbours decide (UMAP's ``transform`` starts from the same kind of mean). A row whose
    neighbours are all unplaced waits for a later pass; after ``passes``, any left go onto the
    most similar placed row.
    """
    xy = np.array(xy, dtype=np.float32)
    placed = np.array(placed, dtype=bool)
    idx, sim = knn[0][:, 1:], knn[1][:, 1:].astype(np.float64)  # column 0 is the row itself
    for _ in range(passes):
        todo = np.flatnonzero(~placed)
        if not len(todo):
            return xy
        near = idx[todo]
        w = np.exp((sim[todo] - 1.0) / PLACE_TEMPERATURE) * placed[near]
        total = w.sum(axis=1)
        ok = total > 0
        xy[todo[ok]] = (w[ok, :, None] * xy[near[ok]]).sum(axis=1) / total[ok, None]
        placed[todo[ok]] = True
    left = np.flatnonzero(~placed)
    if len(left):
        unit, anchors = normalize(emb), np.flatnonzero(placed)
        for start in range(0, len(left), 2048):
            rows = left[start : start + 2048]
            xy[rows] = xy[anchors[(unit[rows] @ unit[anchors].T).argmax(axis=1)]]
    return xy
