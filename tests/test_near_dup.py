"""Near-duplicates confirmed in pixels, on hand-made images and embeddings."""

from __future__ import annotations

import numpy as np

from model.embed import neighbours, normalize
from model.near_dup import THUMB, near_duplicates, pixel_similarity
from model.scores import duplicates


def smooth_picture(rng: np.random.Generator) -> np.ndarray:
    """A random smooth RGB picture, uint8 [3, THUMB, THUMB] (a coarse grid, upsampled)."""
    coarse = rng.uniform(40, 215, (3, 8, 8))
    fine = np.kron(coarse, np.ones((THUMB // 8, THUMB // 8)))
    return np.clip(fine, 0, 255).astype(np.uint8)


def near_copy(src: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shifted by 3 px, re-exposed and re-noised."""
    arr = np.roll(src.astype(np.float32), (3, -2), axis=(1, 2)) * 1.04 + 5
    arr += rng.normal(0, 4, arr.shape)
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def test_shifted_noisy_copies_found_and_look_alikes_not():
    rng = np.random.default_rng(0)
    n_orig, n_copy = 80, 10
    pics = [smooth_picture(rng) for _ in range(n_orig)]
    emb = normalize(rng.normal(size=(n_orig, 32)))
    # copies: pixels from their original, embedding at cosine ~0.98 (under the old 0.995 cut)
    copies, copy_emb = [], []
    for k in range(n_copy):
        copies.append(near_copy(pics[k], rng))
        copy_emb.append(emb[k] + 0.2 * normalize(rng.normal(size=(1, 32)))[0])
    # look-alikes: images 20..29 get an embedding almost equal to 30..39's, but other pixels
    emb[20:30] = emb[30:40] + 0.01 * normalize(rng.normal(size=(10, 32)))
    thumbs = np.stack(pics + copies)
    emb = normalize(np.concatenate([emb, np.asarray(copy_emb)]))
    n = len(thumbs)
    ids = [f"i{k}" for k in range(n)]
    idx, sim = neighbours(emb, 6)
    assert sim[n_orig : n_orig + n_copy, 1].max() < 0.995  # the copies hide from the old rule

    old = duplicates(ids, [""] * n, idx, sim, ids)
    assert (old[n_orig:] < 0).all() and (old[20:30] >= 0).all()  # misses copies, joins look-alikes

    near, summary = near_duplicates(idx, lambda i: thumbs[i], ids)
    new = duplicates(ids, [""] * n, idx, sim, ids, near)
    assert new[n_orig:].tolist() == list(range(n_copy))
    assert new[:n_copy].tolist() == list(range(n_orig, n_orig + n_copy))
    assert (new[n_copy:n_orig] == -1).all()
    assert summary["pairs_kept"] == n_copy
    # past the prefilter: only the promising pairs and a small sample are compared in full
    quick, q_summary = near_duplicates(idx, lambda i: thumbs[i], ids, sample=60)
    assert q_summary["pairs_compared"] < 0.6 * q_summary["pairs_checked"]
    assert quick.tolist() == near.tolist()
    # an augmented copy and its parent (one family) are intended, not a finding
    families = ids[:n_orig] + ids[:n_copy]
    near, _ = near_duplicates(idx, lambda i: thumbs[i], families)
    assert (near == -1).all()


def test_a_copy_the_embedding_puts_far_away_is_still_found_through_its_pixels():
    """Copies whose embeddings are unrelated to their originals' (outside every embedding
    neighbour list) are proposed by their nearest neighbours in pixels and confirmed there."""
    rng = np.random.default_rng(2)
    n_orig, n_copy = 60, 6
    pics = [smooth_picture(rng) for _ in range(n_orig)]
    thumbs = np.stack(pics + [near_copy(pics[k], rng) for k in range(n_copy)])
    n = len(thumbs)
    emb = normalize(rng.normal(size=(n, 32)))
    idx, _ = neighbours(emb, 6)
    for k in range(n_copy):  # the embedding never proposes a planted pair
        assert n_orig + k not in idx[k] and k not in idx[n_orig + k]
    ids = [f"i{k}" for k in range(n)]
    near, summary = near_duplicates(idx, lambda i: thumbs[i], ids)
    assert near[n_orig:].tolist() == list(range(n_copy))
    assert near[:n_copy].tolist() == list(range(n_orig, n_orig + n_copy))
    assert (near[n_copy:n_orig] == -1).all() and summary["pairs_kept"] == n_copy


def test_pixel_similarity_tolerates_shift_and_noise_and_flat_images_are_zero():
    rng = np.random.default_rng(1)
    a, b = smooth_picture(rng), smooth_picture(rng)
    sim = pixel_similarity(
        np.stack([a, a, a]), np.stack([near_copy(a, rng), b, np.full_like(a, 128)])
    )
    assert sim[0] > 0.97 and sim[1] < 0.9 and abs(sim[2]) < 1e-6
    gray = pixel_similarity(a[:1][None], near_copy(a, rng)[:1][None])  # [m, H, W] works too
    assert gray[0] > 0.97
