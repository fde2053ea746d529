"""Per-image review signals from out-of-fold probabilities and embeddings (pure functions).

:func:`score_table` returns one row per image with the columns of ``scores.csv``:

- ``label_quality`` (0..1, low = the label is probably wrong: cleanlab's self-confidence averaged
  with its value on the nearest neighbours) and ``suspect`` (cleanlab's confident learning flags
  the label), both from the out-of-fold probabilities;
- ``typicality``: cosine similarity of the image's embedding to the centroid of its labelled class;
- ``nearest_label_book`` / ``..._similarity``: the most similar clean reference example;
- ``duplicate_of`` / ``duplicate_conflict``: another image with the same bytes, or a near-copy
  among its nearest neighbours confirmed in pixels (:mod:`model.near_dup`; without thumbnails:
  embedding cosine >= ``NEAR_DUPLICATE``), and whether their labels differ;
  an augmented copy and its parent (or two copies of one parent) are not reported;
- ``outlier`` (0..1): percentile of the mean cosine distance to the nearest neighbours;
- ``class_distance`` and ``junk``: how far (robust z-score) the image lies from the nearest class
  centroid, and whether it may belong to no class (:mod:`model.junk`), with the second look's
  evidence where it was taken (:mod:`model.second_look`; empty elsewhere): ``crop_distance``,
  the same distance in the foreground-cropped view (the images the first rule flags), and
  ``sharpness_z``, how much sharper than the data set (negative: blurrier; images at least
  ``BLUR_FAR`` from every class), and ``junk_probability``, the junk model's
  (:mod:`model.junk_model`; images at least ``JUNK_FAR`` from every class);
- ``label_example`` / ``pred_example``: the nearest label-book image of the label's class, and the
  nearest reference of the predicted class (label-book image, else a neighbour labelled and
  predicted as that class) for the reviewer to compare with;
- ``cluster`` / ``cluster_split``: k-means "style" clusters of the embeddings and whether a
  cluster holds (almost) only train or only val images;
- ``issues``: the above in words for a reviewer (:mod:`model.words`), joined by ``"; "``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model import words as w
from model.embed import normalize
from model.junk import (  # noqa: F401  (re-exported: the junk rule's settings)
    JUNK_CONFIDENCE,
    JUNK_Z,
    class_distance,
    junk_flags,
    neighbour_label_share,
)
from model.near_dup import Rows, near_duplicates
from model.second_look import ImageLook, junk_evidence

#: embedding cosine similarity from which two different images count as near-duplicates
NEAR_DUPLICATE = 0.995
#: ``outlier`` percentile from which "outlier" is reported
OUTLIER_FLAG = 0.98
#: the earlier rule, kept for reading runs written before ``junk`` was a column
JUNK_OUTLIER = 0.95
#: a cluster is "train-only" ("val-only") when its val (train) share is below this fraction of
#: the overall val (train) share; clusters of fewer than MIN_CLUSTER images are not judged
SPLIT_SKEW, MIN_CLUSTER = 0.2, 5
#: neighbours that define the outlier score and smooth the label quality
OUTLIER_K = QUALITY_K = 10
#: from this many images the style clusters come from mini-batch k-means: full k-means passes
#: over every point each iteration (and 3 times for n_init), mini-batches over 4,096 at a time
KMEANS_MINIBATCH_THRESHOLD = 50_000
#: rows compared with the label book at a time, so the similarity block stays ~10 MB per 1k examples
LABEL_BOOK_CHUNK = 2048

COLUMNS = [
    "id",
    "label_quality",
    "suspect",
    "typicality",
    "nearest_label_book",
    "nearest_label_book_similarity",
    "duplicate_of",
    "duplicate_conflict",
    "outlier",
    "cluster",
    "cluster_split",
    "class_distance",
    "junk",
    "crop_distance",
    "sharpness_z",
    "junk_probability",
    "label_example",
    "pred_example",
    "issues",
]


def label_quality(
    labels: np.ndarray, probs: np.ndarray, knn_idx: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Label-quality scores (0..1, low = probably wrong) and confident-learning issue flags.

    The score is cleanlab's self-confidence (the out-of-fold probability of the given label),
    averaged with the same probability on the image's :data:`QUALITY_K` nearest neighbours in
    embedding space when ``knn_idx`` is given: "are images that look like this one predicted as
    this label?" smooths a single noisy prediction. On DCAI with 5/10/20% planted flips (``fast``
    preset) it ranked the flips with ROC-AUC 0.980/0.976/0.974 against 0.979/0.973/0.970 for
    self-confidence alone, precision@k 0.70/0.77/0.82 against 0.69/0.72/0.81
    (benchmarks/bench_quality.py).
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    quality = np.asarray(get_label_quality_scores(labels, probs, method="self_confidence"))
    if knn_idx is not None and knn_idx.shape[1] > 1:
        near = knn_idx[:, 1 : QUALITY_K + 1]  # column 0 is the image itself
        quality = 0.5 * quality + 0.5 * probs[near, labels[:, None]].mean(axis=1)
    # n_jobs=1: cleanlab's process pool costs more than it saves at this size
    suspect = find_label_issues(labels, probs, n_jobs=1)
    return quality.astype(np.float64), np.asarray(suspect, dtype=bool)


def typicality(unit: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Cosine similarity of each (unit) embedding to the mean direction of its labelled class."""
    centroids = np.zeros((n_classes, unit.shape[1]), dtype=np.float32)
    np.add.at(centroids, labels, unit)
    centroids = normalize(centroids)
    return np.einsum("nd,nd->n", unit, centroids[labels])


def duplicates(
    ids: Sequence[str],
    sha256s: Sequence[str],
    knn_idx: np.ndarray,
    knn_sim: np.ndarray,
    families: Sequence[str],
    near: np.ndarray | None = None,
) -> np.ndarray:
    """Index of another image that duplicates each one (-1: none).

    Same bytes first (the first other image with that sha256), else ``near`` (each image's
    pixel-confirmed near-duplicate, :func:`model.near_dup.near_duplicates`) when given, else the
    nearest neighbour when its cosine similarity reaches :data:`NEAR_DUPLICATE`. ``families``
    (an augmented copy's parent id, else the image's own id) exempts intended copies.
    """
    n = len(ids)
    out = np.full(n, -1, dtype=np.int64)
    by_sha: dict[str, list[int]] = {}
    for i, sha in enumerate(sha256s):
        if sha:
            by_sha.setdefault(sha, []).append(i)
    # only images that share bytes or have a neighbour close enough can be duplicates: visiting
    # just those keeps this linear in n with a small constant (1M images: a few thousand visits)
    shared = [i for group in by_sha.values() if len(group) > 1 for i in group]
    if near is not None:
        out[:] = near
        for i in shared:
            same = [j for j in by_sha[sha256s[i]] if j != i and families[j] != families[i]]
            if same:
                out[i] = same[0]
        return out
    close = np.flatnonzero(knn_sim[:, 1:].max(axis=1, initial=-np.inf) >= NEAR_DUPLICATE)
    for i in sorted({*shared, *close.tolist()}):
        same = [j for j in by_sha.get(sha256s[i], []) if j != i and families[j] != families[i]]
        if same:
            out[i] = same[0]
            continue
        for j, s in zip(knn_idx[i, 1:], knn_sim[i, 1:], strict=True):
            if s < NEAR_DUPLICATE:
                break
            if families[j] != families[i]:
                out[i] = j
                break
    return out


def outlier_scores(knn_sim: np.ndarray) -> np.ndarray:
    """Percentile (0..1) of each image's mean cosine distance to its nearest other images."""
    n = len(knn_sim)
    if n < 2 or knn_sim.shape[1] < 2:
        return np.zeros(n)
    dist = 1.0 - knn_sim[:, 1 : OUTLIER_K + 1].mean(axis=1)
    ranks = pd.Series(dist).rank(method="average").to_numpy()
    return (ranks - 1) / max(n - 1, 1)


def pred_examples(
    pred: np.ndarray, labels: np.ndarray, suspect: np.ndarray, knn_idx: np.ndarray
) -> np.ndarray:
    """Index of each image's nearest neighbour labelled and predicted as its predicted class and
    not suspect (-1: none among its neighbours)."""
    out = np.full(len(pred), -1, dtype=np.int64)
    ok = (labels == pred) & ~suspect
    for i in range(len(pred)):
        for j in knn_idx[i, 1:]:
            if ok[j] and pred[j] == pred[i]:
                out[i] = j
                break
    return out


def style_clusters(
    unit: np.ndarray,
    splits: np.ndarray,
    seed: int,
    *,
    minibatch_above: int = KMEANS_MINIBATCH_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means clusters of the embeddings and each cluster's train/val make-up per image.

    From ``minibatch_above`` images on, mini-batch k-means (same ``seed``, same clusters).
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans

    n = len(unit)
    k = int(np.clip(n // 60, 2, 50)) if n >= 4 else 1
    if k == 1:
        return np.zeros(n, dtype=np.int64), np.full(n, "both", dtype=object)
    if n >= minibatch_above:
        # batch 4096: scikit-learn's advice is > 256 x cores; larger batches steady the centres
        model = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=4096, random_state=seed)
    else:
        model = KMeans(n_clusters=k, n_init=3, random_state=seed)
    cluster = model.fit_predict(unit)
    is_val = splits == "val"
    p_val = is_val.mean()
    verdict = np.full(k, "both", dtype=object)
    for c in range(k):
        members = cluster == c
        size = members.sum()
        if size < MIN_CLUSTER or p_val in (0.0, 1.0):
            continue
        val_share = is_val[members].mean()
        if val_share < SPLIT_SKEW * p_val:
            verdict[c] = "train-only"
        elif 1 - val_share < SPLIT_SKEW * (1 - p_val):
            verdict[c] = "val-only"
    return cluster.astype(np.int64), verdict[cluster]


def score_table(
    *,
    ids: Sequence[str],
    labels: np.ndarray,
    splits: Sequence[str],
    sha256s: Sequence[str],
    families: Sequence[str],
    probs: np.ndarray,
    embeddings: np.ndarray,
    knn: tuple[np.ndarray, np.ndarray],
    classes: Sequence[str],
    label_book_ids: Sequence[str] = (),
    label_book_embeddings: np.ndarray | None = None,
    label_book_labels: np.ndarray | None = None,
    seed: int = 0,
    look: ImageLook | None = None,
    no_look: str = "no final model",
    thumbs: Rows | None = None,
) -> pd.DataFrame:
    """All per-image signals as a DataFrame with :data:`COLUMNS` (same row order as ``ids``).

    ``knn`` is :func:`model.embed.neighbours` of ``embeddings`` (self first);
    ``label_book_labels`` (class indices) picks the label book's examples per class. ``look``
    (the images' files and the final model) gives ``junk`` its second look
    (:func:`model.second_look.junk_evidence`); without it ``no_look`` says why. What the second
    look read is in the table's ``attrs["junk_evidence"]``. ``thumbs`` (``rows(idx)`` -> uint8
    thumbnails, e.g. a :data:`model.near_dup.THUMB`-pixel image store) confirms near-duplicates
    in pixels (:func:`model.near_dup.near_duplicates`; summary in ``attrs["near_duplicates"]``);
    without it the embedding cosine alone decides.
    """
    labels = np.asarray(labels)
    splits_arr = np.asarray(splits, dtype=object)
    unit = normalize(embeddings)
    quality, suspect = label_quality(labels, probs, knn[0])
    pred = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    typ = typicality(unit, labels, len(classes))

    lb_id = np.full(len(ids), "", dtype=object)
    lb_sim = np.full(len(ids), np.nan)
    label_ex = np.full(len(ids), "", dtype=object)
    pred_ex = np.full(len(ids), "", dtype=object)
    if len(label_book_ids) and label_book_embeddings is not None:
        book = normalize(label_book_embeddings)
        book_ids = np.asarray(label_book_ids, dtype=object)
        book_cls = None if label_book_labels is None else np.asarray(label_book_labels)
        for start in range(0, len(ids), LABEL_BOOK_CHUNK):
            part = slice(start, start + LABEL_BOOK_CHUNK)
            sims = unit[part] @ book.T
            best = sims.argmax(axis=1)
            lb_sim[part] = sims[np.arange(len(sims)), best]
            lb_id[part] = book_ids[best]
            if book_cls is not None:
                for name, cls in ((label_ex, labels[part]), (pred_ex, pred[part])):
                    same = book_cls[None, :] == cls[:, None]
                    pick = np.where(same, sims, -np.inf).argmax(axis=1)
                    name[part] = np.where(same.any(axis=1), book_ids[pick], "")

    near, near_summary = (None, {})
    if thumbs is not None:
        near, near_summary = near_duplicates(knn[0], thumbs, families)
    dup = duplicates(ids, sha256s, knn[0], knn[1], families, near)
    ids_arr = np.asarray(ids, dtype=object)
    dup_of = np.where(dup >= 0, ids_arr[np.maximum(dup, 0)], "")
    conflict = (dup >= 0) & (labels[np.maximum(dup, 0)] != labels)
    exact = (dup >= 0) & (
        np.asarray(sha256s, dtype=object)[np.maximum(dup, 0)] == np.asarray(sha256s, dtype=object)
    )
    outlier = outlier_scores(knn[1])
    cluster, cluster_split = style_clusters(unit, splits_arr, seed)
    distance_z = class_distance(unit, pred, len(classes))
    evidence = junk_evidence(
        distance_z,
        probs,
        neighbour_label_share(knn[0], labels),
        look,
        seed=seed,
        skipped=no_look,
        labels=labels,
    )
    junk = evidence.flags
    # a predicted class the label book lacks: the nearest image labelled and predicted as it
    near = pred_examples(pred, labels, suspect, knn[0])
    lacking = (pred_ex == "") & (near >= 0)
    pred_ex[lacking] = ids_arr[near[lacking]]

    issues = []
    for i in range(len(ids)):
        label, guess = classes[labels[i]], classes[pred[i]]
        words = []
        if suspect[i]:
            words.append(w.label_words(label, guess, float(conf[i])))
        if dup[i] >= 0:
            other = classes[labels[dup[i]]] if conflict[i] else None
            words.append(w.duplicate_words(str(dup_of[i]), bool(exact[i]), other))
        if junk[i]:
            words.append(w.junk_words(guess, float(conf[i])))
        elif outlier[i] >= OUTLIER_FLAG:
            words.append(w.outlier_words(label))
        # a style only val has is one the model cannot learn: worth a reviewer's look; train-only
        # styles are common (DCAI: 1 image in 6) and stay in the cluster_split column
        if cluster_split[i] == "val-only":
            words.append(w.val_only_words(cluster[i]))
        issues.append("; ".join(words))

    table = pd.DataFrame(
        {
            "id": ids_arr,
            "label_quality": quality,
            "suspect": suspect,
            "typicality": typ.astype(np.float64),
            "nearest_label_book": lb_id,
            "nearest_label_book_similarity": lb_sim,
            "duplicate_of": dup_of,
            "duplicate_conflict": conflict,
            "outlier": outlier,
            "cluster": cluster,
            "cluster_split": cluster_split,
            "class_distance": distance_z,
            "junk": junk,
            "crop_distance": evidence.crop_z,
            "sharpness_z": evidence.sharpness_z,
            "junk_probability": evidence.junk_p,
            "label_example": label_ex,
            "pred_example": pred_ex,
            "issues": issues,
        },
        columns=COLUMNS,
    )
    table.attrs["junk_evidence"] = evidence.summary
    table.attrs["near_duplicates"] = near_summary
    return table
