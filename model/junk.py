"""``junk?``: images that may belong to no class at all (pure functions over a run's outputs).

An image is flagged when three independent readings agree:

- **far from every class** (:func:`class_distance`): the smallest, over classes, robust z-score of
  its cosine distance to the class's centroid is at least :data:`JUNK_Z`; the scale is each class's
  own median and MAD, so a class whose images vary a lot tolerates more;
- **the model is unsure**: its confidence is below :data:`JUNK_CONFIDENCE` of the way from chance
  (1 / classes) to certainty;
- **the images that look like it share no label** (:func:`neighbour_label_share`): no single
  given label covers more than :data:`JUNK_SHARE` of its :data:`JUNK_K` nearest neighbours. A
  style the training data lacks (small glyphs on a large page, say) is far and unsure too, but
  its images are still labelled consistently; junk carries whatever label it was filed under.

On the numeral demo (1,450 images, 45 planted junk, ``fast`` preset) the rule flags 59 at
precision 0.41, recall 0.53 (far and unsure alone: 65 at 0.37 / 0.53); on the RGB shapes demo
(1,176 images, 60 junk) 41 at precision 1.00, recall 0.68 (far and unsure: 46 at 0.89 / 0.68),
see benchmarks/bench_junk.py. The numeral demo's misses are cut-off glyphs and scribbles that
the embedding places among the numerals; its false flags are mostly a val-only style that is as
far and as unsure as junk in every signal measured (embedding, confidence, pixel statistics).
"""

from __future__ import annotations

import numpy as np

from model.embed import normalize

#: robust z-score (class median and MAD) of the distance to the nearest class from which an
#: image counts as far from every class
JUNK_Z = 5.0
#: unsure: confidence below this fraction of the way from chance to certainty
#: (0.55 with 10 classes, 0.75 with 2)
JUNK_CONFIDENCE = 0.5
#: neighbours read for the label share, and the largest share of them one label may hold
JUNK_K, JUNK_SHARE = 10, 0.6
#: a class needs this many images predicted as it before distances to its centroid are judged
MIN_CLASS = 5


def class_distance(unit: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """How far each image lies from the nearest class: the smallest, over classes, robust z-score
    of its cosine distance to the class's centroid.

    A class's centroid, median and MAD come from the images predicted as it. Classes with fewer
    than :data:`MIN_CLASS` images are skipped (all skipped: 0).
    """
    best = np.full(len(unit), np.inf)
    for c in range(n_classes):
        members = np.flatnonzero(pred == c)
        if len(members) < MIN_CLASS:
            continue
        centroid = normalize(unit[members].mean(axis=0, keepdims=True))[0]
        dist = 1.0 - unit @ centroid
        med = np.median(dist[members])
        mad = 1.4826 * np.median(np.abs(dist[members] - med))
        best = np.minimum(best, (dist - med) / max(mad, 1e-6))
    return np.where(np.isfinite(best), best, 0.0)


def neighbour_label_share(knn_idx: np.ndarray, labels: np.ndarray, k: int = JUNK_K) -> np.ndarray:
    """The largest share of an image's ``k`` nearest other images (``knn_idx`` column 0 is the
    image itself) that carry one given label (1.0 where it has no neighbours)."""
    near = knn_idx[:, 1 : k + 1]
    if near.shape[1] == 0:
        return np.ones(len(knn_idx))
    n_labels = int(labels.max()) + 1 if len(labels) else 1
    counts = np.zeros((len(near), n_labels), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(near)), near.shape[1]), labels[near].ravel()), 1)
    return counts.max(axis=1) / near.shape[1]


def junk_flags(distance_z: np.ndarray, probs: np.ndarray, label_share: np.ndarray) -> np.ndarray:
    """Far from every class, the model unsure, and no label common among its look-alikes."""
    chance = 1.0 / max(probs.shape[1], 1)
    unsure = probs.max(axis=1) < chance + JUNK_CONFIDENCE * (1.0 - chance)
    return (distance_z >= JUNK_Z) & unsure & (label_share <= JUNK_SHARE)
