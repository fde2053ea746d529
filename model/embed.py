"""Embedding geometry: cosine nearest neighbours and the 2-D map.

The neighbour table is computed once per run and shared by the map (UMAP accepts precomputed
neighbours, which also spares it a pure-Python pairwise loop it runs for fewer than 4,096 points)
and by the scores (duplicates, outliers).
"""

from __future__ import annotations

import warnings

import numpy as np

#: below this many points the map is a PCA projection (UMAP needs a neighbourhood to work with)
MIN_UMAP_POINTS = 20


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-12)


def neighbours(emb: np.ndarray, k: int, *, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most cosine-similar rows of each row, itself first (exact, chunked).

    Returns ``(indices [N, k] int64, similarities [N, k] float32)``, most similar first.
    """
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
) -> np.ndarray:
    """2-D UMAP of the embeddings (cosine metric, fixed ``random_state``); PCA for tiny sets.

    ``knn`` is :func:`neighbours`' output for at least ``n_neighbors`` neighbours, if at hand.
    """
    n = len(emb)
    if n < MIN_UMAP_POINTS:
        return pca_2d(emb)
    import umap  # heavy (numba): only when a map is made

    k = min(n_neighbors, n - 1)
    if knn is None or knn[0].shape[1] < k:
        knn = neighbours(emb, k)
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
