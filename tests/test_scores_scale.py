"""Scores at scale: approximate neighbours, a sampled map and mini-batch k-means past thresholds.

Real data of a realistic shape (20k clustered 32-d embeddings), with the thresholds lowered by
parameter so every large-data path runs here in seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.embed import (
    ann_neighbours,
    exact_neighbours,
    neighbours,
    normalize,
    place_by_neighbours,
    umap_2d,
)
from model.scores import duplicates, label_quality, outlier_scores, style_clusters

N, DIM, CLUSTERS = 20_000, 32, 40


def clustered(n: int, dim: int, clusters: int, seed: int = 0, spread: float = 0.35):
    """``n`` points around ``clusters`` random unit centres, and each point's cluster."""
    rng = np.random.default_rng(seed)
    centres = normalize(rng.normal(size=(clusters, dim)))
    which = rng.integers(0, clusters, n)
    x = centres[which] + spread * rng.normal(size=(n, dim)) / np.sqrt(dim)
    return x.astype(np.float32), which


@pytest.fixture(scope="module")
def big():
    return clustered(N, DIM, CLUSTERS)[0]


@pytest.fixture(scope="module")
def big_knn(big):
    return neighbours(big, 16, seed=0, exact_below=N // 2)


def test_approximate_neighbours_agree_with_brute_force(big, big_knn):
    idx, sim = big_knn
    assert idx.shape == sim.shape == (N, 16) and idx.dtype == np.int64
    assert (idx[:, 0] == np.arange(N)).all() and (sim[:, 0] == 1.0).all()
    assert (np.diff(sim, axis=1) <= 1e-6).all()
    # a neighbour's similarity is the true cosine of the pair, never an estimate
    unit = normalize(big)
    pairs = np.einsum("nd,nkd->nk", unit[:500], unit[idx[:500]])
    assert np.allclose(sim[:500, 1:], pairs[:, 1:], atol=1e-5)
    # recall of the 15 nearest other points against brute force on a random 2,000 rows
    rows = np.random.default_rng(1).choice(N, 2000, replace=False)
    s = unit[rows] @ unit.T
    s[np.arange(len(rows)), rows] = -np.inf
    truth = np.argsort(-s, axis=1)[:, :15]
    recall = np.mean([len(set(truth[i]) & set(idx[r, 1:])) / 15 for i, r in enumerate(rows)])
    assert recall >= 0.95, recall


def test_the_threshold_chooses_exact_or_approximate_search(big):
    small = big[:3000]
    for got, want in zip(neighbours(small, 11), exact_neighbours(small, 11), strict=True):
        assert np.array_equal(got, want)
    lowered = neighbours(small, 11, seed=3, exact_below=3000)
    for got, want in zip(lowered, ann_neighbours(small, 11, seed=3), strict=True):
        assert np.array_equal(got, want)


def test_same_seed_same_neighbours(big, big_knn):
    again = neighbours(big, 16, seed=0, exact_below=N // 2)
    assert np.array_equal(again[0], big_knn[0]) and np.array_equal(again[1], big_knn[1])


def test_planted_near_copies_are_found_among_20k(big):
    rng = np.random.default_rng(2)
    sources = rng.choice(N, 200, replace=False)
    copies = big[sources] + 1e-4 * rng.normal(size=(200, DIM)).astype(np.float32)
    emb = np.concatenate([big, copies])
    n = len(emb)
    idx, sim = neighbours(emb, 16, seed=0, exact_below=N // 2)
    ids = [f"img-{i}" for i in range(n)]
    dup = duplicates(ids, [f"sha{i}" for i in range(n)], idx, sim, ids)
    assert (dup[N:] == sources).all()
    assert (dup[sources] == np.arange(N, n)).all()
    assert (dup[:N] >= 0).sum() == 200  # nothing else is that close


def test_scores_from_approximate_neighbours_match_exact_ones(big, big_knn):
    """Outlier percentiles and smoothed label quality barely move when neighbours are approximate."""
    exact = exact_neighbours(big, 16)
    out_ann, out_exact = outlier_scores(big_knn[1]), outlier_scores(exact[1])
    assert np.corrcoef(out_ann, out_exact)[0, 1] > 0.99
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, N)
    probs = rng.dirichlet(np.ones(3), N)
    q_ann, _ = label_quality(labels, probs, big_knn[0])
    q_exact, _ = label_quality(labels, probs, exact[0])
    assert np.abs(q_ann - q_exact).mean() < 0.01


def test_sampled_map_places_every_point_with_its_cluster():
    x, which = clustered(4000, DIM, 5, seed=5, spread=0.2)
    xy = umap_2d(x, seed=0, sample_above=3000, sample_size=1000)
    assert xy.shape == (4000, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    # each point's nearest other point on the map belongs to the same cluster
    d = ((xy[:500, None, :] - xy[None, :, :]) ** 2).sum(-1)
    d[np.arange(500), np.arange(500)] = np.inf
    assert (which[d.argmin(axis=1)] == which[:500]).mean() > 0.95
    assert np.array_equal(xy, umap_2d(x, seed=0, sample_above=3000, sample_size=1000))


def test_minibatch_style_clusters_find_a_val_only_style():
    x, which = clustered(3000, DIM, 3, seed=6, spread=0.1)
    splits = np.where(which == 2, "val", np.where(np.arange(3000) % 2, "val", "train"))
    splits = splits.astype(object)
    cluster, verdict = style_clusters(normalize(x), splits, 0, minibatch_above=1000)
    assert set(verdict[which == 2]) == {"val-only"}
    assert set(verdict[which != 2]) <= {"both"}
    again, _ = style_clusters(normalize(x), splits, 0, minibatch_above=1000)
    assert np.array_equal(cluster, again)


def test_points_placed_by_neighbours_land_among_them_even_when_only_far_ones_are_mapped():
    emb = np.array([[1, 0], [1, 0.01], [1, 0.02], [0, 1], [0.01, 1], [0.02, 1]], np.float32)
    xy = np.array([[0, 0], [0, 0], [0, 0], [10, 10], [0, 0], [0, 0]], np.float32)
    placed = np.array([True, False, False, True, False, False])
    # row 2 sees only unplaced rows 1 and 5 (it is placed in a second pass); row 5 sees nothing
    # placed at all (it goes onto the most similar mapped row, 3)
    idx = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 5], [3, 4, 5], [4, 3, 5], [5, 4, 2]])
    sim = np.einsum("nd,nkd->nk", normalize(emb), normalize(emb)[idx])
    out = place_by_neighbours(emb, xy, placed, (idx, sim), passes=1)
    assert out[1].tolist() == [0, 0] and out[4].tolist() == [10, 10]
    assert out[2].tolist() == [0, 0] and out[5].tolist() == [10, 10]
    out = place_by_neighbours(emb, xy, placed, (idx, sim), passes=4)
    assert np.allclose(out[:3], 0) and np.allclose(out[3:], 10)
