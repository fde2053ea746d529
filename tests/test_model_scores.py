"""Per-image review signals on hand-made embeddings and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from model.embed import neighbours, pca_2d, umap_2d
from model.junk import neighbour_label_share
from model.scores import duplicates, label_quality, outlier_scores, score_table, style_clusters


def blobs(n_per: int, centres: list[list[float]], seed: int = 0, spread: float = 0.05):
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            np.asarray(c, dtype=np.float32) + spread * rng.normal(size=(n_per, len(c)))
            for c in centres
        ]
    ).astype(np.float32)


def test_neighbours_put_each_row_first_and_sort_by_similarity():
    emb = blobs(10, [[1, 0, 0], [0, 1, 0]])
    idx, sim = neighbours(emb, 5, chunk=7)  # a chunk size that splits the rows unevenly
    assert (idx[:, 0] == np.arange(20)).all()
    assert (np.diff(sim, axis=1) <= 1e-6).all()
    assert (idx[:10, 1:] < 10).all() and (idx[10:, 1:] >= 10).all()


def test_exact_and_near_duplicates_but_not_augmented_copies():
    ids = ["a", "b", "c", "d", "e"]
    shas = ["s1", "s1", "s2", "s3", "s4"]
    emb = np.array([[1, 0], [1, 0], [0, 1], [0.001, 1], [1, 1]], dtype=np.float32)
    idx, sim = neighbours(emb, 3)
    families = ["a", "b", "c", "d", "e"]
    dup = duplicates(ids, shas, idx, sim, families)
    assert dup.tolist()[:4] == [1, 0, 3, 2] and dup[4] == -1
    # d is an augmented copy of c: the pair is intended, not a finding
    dup = duplicates(ids, shas, idx, sim, ["a", "b", "c", "c", "e"])
    assert dup[2] == -1 and dup[3] == -1


def test_a_cluster_only_val_has_is_called_val_only():
    emb = blobs(60, [[1, 0, 0], [0, 1, 0], [0, 0, 1]])  # 180 images: 3 clusters
    splits = np.array(["train", "val"] * 60 + ["val"] * 60, dtype=object)
    cluster, verdict = style_clusters(emb / np.linalg.norm(emb, axis=1, keepdims=True), splits, 0)
    assert set(verdict[120:]) == {"val-only"}
    assert set(verdict[:120]) == {"both"}
    assert len(set(cluster[120:])) == 1 and cluster[120] not in set(cluster[:120])


def test_neighbours_that_disagree_lower_the_label_quality():
    probs = np.array([[0.9, 0.1]] * 6 + [[0.6, 0.4]], dtype=np.float64)
    labels = np.array([1, 1, 1, 1, 1, 1, 0])
    emb = blobs(7, [[1, 0]], spread=0.01)
    idx, _ = neighbours(emb, 7)
    plain, _ = label_quality(labels, probs)
    smoothed, _ = label_quality(labels, probs, idx)
    assert plain[0] == pytest.approx(0.1)
    assert smoothed[0] < 0.3 and smoothed[6] > plain[6]
    assert ((smoothed >= 0) & (smoothed <= 1)).all()


def test_outlier_score_is_a_percentile_with_the_loner_last():
    emb = np.concatenate([blobs(30, [[1, 0, 0]]), np.array([[0, 0, 1]], dtype=np.float32)])
    _, sim = neighbours(emb, 11)
    out = outlier_scores(sim)
    assert out.min() == 0 and out.max() == 1 and out.argmax() == 30


def test_score_table_words_for_reviewers():
    emb = blobs(12, [[1, 0, 0], [0, 1, 0]], spread=0.3)
    labels = np.array([0] * 12 + [1] * 12)
    probs = np.where(labels[:, None] == np.arange(2), 0.95, 0.05)
    probs[3] = [0.02, 0.98]  # looks like class 1, labelled 0
    ids = [f"img-{i:03d}" for i in range(24)]
    shas = [f"sha{i}" for i in range(24)]
    shas[20] = shas[21]
    table = score_table(
        ids=ids,
        labels=labels,
        splits=["train", "val"] * 12,
        sha256s=shas,
        families=ids,
        probs=probs,
        embeddings=emb,
        knn=neighbours(emb, 16),
        classes=["i", "ii"],
        label_book_ids=["book-i", "book-ii"],
        label_book_embeddings=np.eye(3, dtype=np.float32)[:2],
        label_book_labels=np.array([0, 1]),
    )
    assert table.at[3, "issues"].startswith(
        "label?: looks like ii (98%), labelled i: type ii in your column if you agree, "
        "i if the label is right, x if it does not belong in the dataset"
    )
    assert table.at[20, "issues"].startswith("duplicate: the same file as img-021")
    assert table.at[0, "nearest_label_book"] == "book-i"
    assert table.at[15, "nearest_label_book"] == "book-ii"
    assert table["label_quality"].idxmin() == 3
    # the references to compare with: the label's class in the label book, and the prediction's
    assert table.at[3, "label_example"] == "book-i" and table.at[3, "pred_example"] == "book-ii"
    assert table.at[15, "label_example"] == table.at[15, "pred_example"] == "book-ii"


def test_junk_is_far_from_every_class_unsure_and_without_a_common_label():
    rng = np.random.default_rng(0)
    emb = blobs(40, [[1, 0, 0], [0, 1, 0]], spread=0.1)
    # 80..91: far from both classes, labels all over the place (junk); 92..103: as far and as
    # unsure, but labelled alike (a style the classes lack, not junk)
    far = blobs(12, [[0, 0, 1], [0, 0, -1]], seed=1, spread=0.1)
    emb = np.concatenate([emb, far])
    labels = np.array([0] * 40 + [1] * 40 + [0, 1] * 6 + [0] * 12)
    probs = np.where(labels[:, None] == np.arange(2), 0.9, 0.1)
    probs[80:92] = [[0.55, 0.45], [0.45, 0.55]] * 6
    probs[92:] = [0.55, 0.45]
    probs[5] = [0.45, 0.55]  # unsure but where class 0 lives: not junk
    ids = [f"img-{i:03d}" for i in range(len(emb))]
    table = score_table(
        ids=ids,
        labels=labels,
        splits=list(rng.choice(["train", "val"], len(emb))),
        sha256s=ids,
        families=ids,
        probs=probs,
        embeddings=emb,
        knn=neighbours(emb, 16),
        classes=["i", "ii"],
    )
    assert table["junk"].tolist() == [False] * 80 + [True] * 12 + [False] * 12
    assert (table["class_distance"][92:] >= 5).all()  # as far as the junk: the labels tell
    assert "junk?: unlike every class (best guess i, 55%)" in table.at[80, "issues"]
    assert "type x in your column" in table.at[81, "issues"]
    # no label book: the example of the predicted class is a clean neighbour of that class
    assert table.at[45, "pred_example"] in set(ids[40:80]) - {ids[45]}
    assert table.at[45, "label_example"] == ""
    assert table.at[5, "pred_example"] == ""  # no image of ii among its neighbours


def test_neighbour_label_share_is_the_largest_share_of_one_label_among_the_neighbours():
    knn_idx = np.array([[0, 1, 2, 3, 4], [1, 0, 2, 3, 4], [2, 3, 4, 0, 1]])
    labels = np.array([0, 0, 1, 2, 1])
    # row 0 reads 1, 2, 3, 4 -> labels 0, 1, 2, 1; row 2 reads 3, 4 (k=2) -> 2, 1
    np.testing.assert_allclose(neighbour_label_share(knn_idx, labels, k=4)[:2], [0.5, 0.5])
    np.testing.assert_allclose(neighbour_label_share(knn_idx, labels, k=2), [0.5, 0.5, 0.5])
    assert neighbour_label_share(knn_idx[:, :1], labels).tolist() == [1.0, 1.0, 1.0]


def test_tiny_sets_get_a_pca_map():
    emb = blobs(5, [[1, 0, 0], [0, 1, 1]])
    xy = umap_2d(emb)
    assert xy.shape == (10, 2) and xy.dtype == np.float32
    assert np.array_equal(xy, pca_2d(emb))


def test_foreground_crop_makes_a_small_glyph_look_like_a_large_one():
    from PIL import Image

    from model.junk import foreground_crop

    rng = np.random.default_rng(0)

    def page(side: int, glyph: int) -> np.ndarray:
        img = np.clip(230 + rng.normal(0, 3, (side, side)), 0, 255).astype(np.uint8)
        y = x = (side - glyph) // 3  # off-centre
        img[y : y + glyph, x : x + glyph // 4] = 20  # a bar and a foot: an "L"
        img[y + glyph - glyph // 4 : y + glyph, x : x + glyph] = 20
        return img

    def view(img: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(img).resize((24, 24)), dtype=np.float64)

    big, tiny = page(96, 64), page(96, 16)
    before = np.abs(view(big) - view(tiny)).mean()
    after = np.abs(view(foreground_crop(big)) - view(foreground_crop(tiny))).mean()
    assert after < before / 3
    blank = np.full((40, 40, 3), 200, np.uint8)
    assert foreground_crop(blank) is blank  # nothing in front: unchanged


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right", "top and bottom"])
def test_foreground_crop_keeps_a_glyph_cut_off_by_the_page_edge_cut_off(edge):
    """A stroke that runs off the page runs off the crop at the same edge; the opposite edge
    shows page (unless the stroke spans the page)."""
    from model.junk import foreground_crop

    img = np.full((60, 80), 235, np.uint8)
    rows = {"top": slice(0, 25), "bottom": slice(35, 60), "top and bottom": slice(0, 60)}
    cols = {"left": slice(0, 25), "right": slice(55, 80)}
    if edge in cols:
        img[28:32, cols[edge]] = 20
    else:
        img[rows[edge], 40:44] = 20
    crop = foreground_crop(img)
    assert crop.shape[0] == crop.shape[1]
    ink = crop < 128
    sides = {"top": ink[0], "bottom": ink[-1], "left": ink[:, 0], "right": ink[:, -1]}
    touched = {"top and bottom": {"top", "bottom"}}.get(edge, {edge})
    assert {k for k, v in sides.items() if v.any()} == touched
    # a glyph in the middle of the page is centred with a margin all round, as before
    img = np.full((60, 80), 235, np.uint8)
    img[20:40, 38:42] = 20
    assert not (foreground_crop(img)[[0, -1]] < 128).any()


def test_junk_flags_cropped_view_vetoes_and_blur_adds():
    from model.junk import junk_flags, sharpness
    from model.robust import robust_z

    probs = np.full((4, 4), 0.25)
    far, share = np.array([9.0, 9.0, 1.0, 3.0]), np.full(4, 0.3)
    assert junk_flags(far, probs, share).tolist() == [True, True, False, False]
    crop_z = np.array([8.0, 0.5, 0.0, 0.0])  # the second is an ordinary image once cropped
    assert junk_flags(far, probs, share, crop_z).tolist() == [True, False, False, False]
    rng = np.random.default_rng(1)
    sharp_imgs = [np.kron(rng.integers(0, 255, (8, 8)), np.ones((4, 4))) for _ in range(20)]
    blurry = np.full((32, 32), 100.0) + np.linspace(0, 50, 32)[None, :]
    values = np.array([sharpness(i) for i in [*sharp_imgs, blurry]])
    z = robust_z(values)
    assert z[-1] <= -5 and (z[:-1] > -5).all()
    sharp_z = np.array([0.0, 0.0, -9.0, -9.0])  # blurry: only the one somewhat far is junk
    assert junk_flags(far, probs, share, crop_z, sharp_z).tolist() == [True, False, False, True]
