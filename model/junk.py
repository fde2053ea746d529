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
see benchmarks/bench_junk.py.

Three optional readings sharpen the rule (:func:`junk_flags`' ``crop_z``, ``sharpness_z`` and
``junk_p``):

- **a second look, cropped to the foreground** (:func:`foreground_crop`): the image cut to the
  box around whatever differs from its own background, centred on a square of that background,
  and embedded by the same model; ``crop_z`` is :func:`class_distance` of those embeddings. A
  small glyph on a large page becomes an ordinary glyph and lands near its class, so an image
  that is far only in the full view is not junk; scribbles, blots and empty pages stay far.
- **far blurrier than the data set** (:func:`sharpness`): a robust z-score of the log ratio of
  Laplacian to pixel variance at or below :data:`BLUR_Z`, with the image at least
  :data:`BLUR_FAR` from its nearest class.
- **the junk model** (:mod:`model.junk_model`): a small model trained to tell the data set's
  images from junk made out of them (scribbles, blots, fragments and cut-off glyphs in the data
  set's own ink, see :mod:`model.synthetic_junk`); its held-out probability of junk at least
  :data:`JUNK_P` with the image at least :data:`BLUR_FAR` from its nearest class, or at least
  :data:`JUNK_P_NEAR` with the image at least :data:`JUNK_FAR` (farther than its class's
  median image); below :data:`JUNK_P_VETO` it vetoes the first rule. The run's own model
  learned only to tell classes apart and places many scribbles and blots among them.

Every training run takes all three through :func:`model.second_look.junk_evidence`, which reads
only the first rule's candidates, the images farther than their class's median image, a seeded
reference sample and the junk model's training sample; imported predictions come without a model
and keep the first rule. On saved demo runs (``benchmarks/bench_junk.py DATA --workspace WS``, demo data of
seeds 0 and 1, flagged and precision / recall):

==================================  ====================  ====================  ====================  ====================
rule                                numerals, seed 0      numerals, seed 1      shapes (RGB), seed 0  shapes (RGB), seed 1
                                    1,450 images, 45 junk 1,450 images, 45 junk 1,176 images, 60 junk 1,470 images, 75 junk
==================================  ====================  ====================  ====================  ====================
far, unsure, no common label        59, 0.41 / 0.53       52, 0.35 / 0.40       41, 1.00 / 0.68       59, 0.95 / 0.75
with the cropped view and blur      28, 0.82 / 0.51       20, 0.90 / 0.40       46, 1.00 / 0.77       64, 0.95 / 0.81
with the junk model (a run's rule)  42, 0.90 / 0.84       39, 0.87 / 0.76       73, 0.75 / 0.92       84, 0.77 / 0.87
==================================  ====================  ====================  ====================  ====================

The ``demo`` command's own run flags the same 42 (0.90 / 0.84). The numeral demos' remaining
misses are mostly glyphs cut off by the page edge that show one or two straight strokes (an ``i``
or ``ii`` on a page of its own) and scribbles of two or three strokes that look like a ``v``. On
the shapes demos the junk model costs precision (without it: 46 at 1.00 / 0.77 and 64 at
0.95 / 0.81): its false flags are clean shapes on striped or checked pages, where the foreground
(what differs from the border) takes in the pattern, so the junk made from those pages is odd.
"""

from __future__ import annotations

import numpy as np

from model.embed import normalize
from model.robust import robust_spread

#: robust z-score (class median and MAD) of the distance to the nearest class from which an
#: image counts as far from every class
JUNK_Z = 5.0
#: unsure: confidence below this fraction of the way from chance to certainty
#: (0.55 with 10 classes, 0.75 with 2)
JUNK_CONFIDENCE = 0.5
#: neighbours read for the label share, and the largest share of them one label may hold
JUNK_K, JUNK_SHARE = 10, 0.6
#: with the cropped view: an image must also be at least this far (robust z) from every class there
CROP_Z = 2.5
#: the cropped glyph fills this share of the square it is centred on
CROP_FILL = 0.75
#: blurry: robust z of the image's sharpness at or below this, and class distance at least BLUR_FAR
#: ("somewhat far from every class")
BLUR_Z, BLUR_FAR = -5.0, 2.0
#: the junk model's probability of junk (:mod:`model.junk_model`) from which an image at least
#: BLUR_FAR from every class is junk, and below which the first rule's flag is vetoed
JUNK_P, JUNK_P_VETO = 0.45, 0.2
#: the junk model adds images at least this far (robust z) from every class (farther from their
#: nearest class than its median image: about half the pool) whose probability of junk is at
#: least JUNK_P_NEAR; from BLUR_FAR on, JUNK_P is enough (the nearer a class, the surer it must be)
JUNK_FAR, JUNK_P_NEAR = 0.0, 0.6
#: a class needs this many images predicted as it before distances to its centroid are judged
MIN_CLASS = 5


def class_distance(unit: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """How far each image lies from the nearest class: the smallest, over classes, robust z-score
    of its cosine distance to the class's centroid.

    A class's centroid, median and MAD come from the images predicted as it. Classes with fewer
    than :data:`MIN_CLASS` images are skipped (all skipped: 0).
    """
    return class_distance_to(unit, pred, unit, n_classes)


def class_distance_to(
    ref_unit: np.ndarray, ref_pred: np.ndarray, unit: np.ndarray, n_classes: int
) -> np.ndarray:
    """:func:`class_distance` of ``unit`` against classes whose centroid, median and MAD come from
    other images: ``ref_unit`` predicted as ``ref_pred`` (a sample of the data set, say)."""
    best = np.full(len(unit), np.inf)
    for c in range(n_classes):
        members = np.flatnonzero(ref_pred == c)
        if len(members) < MIN_CLASS:
            continue
        centroid = normalize(ref_unit[members].mean(axis=0, keepdims=True))[0]
        ref_dist = 1.0 - ref_unit[members] @ centroid
        med, sd = robust_spread(ref_dist)
        best = np.minimum(best, (1.0 - unit @ centroid - med) / max(sd, 1e-6))
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


def _background(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image as float ``[H, W, C]``, how far each pixel lies from the background colour
    (the median of the border pixels), as ``[H, W]`` (largest over channels), and that colour."""
    img = image.astype(np.float32)
    if img.ndim == 2:
        img = img[..., None]
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    bg = np.median(border, axis=0)
    return img, np.abs(img - bg).max(axis=2), bg


def foreground_mask(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which pixels of ``image`` (uint8 ``[H, W]`` or ``[H, W, C]``) are foreground, as bool
    ``[H, W]``, and the background colour (``[C]``, the border's median).

    A pixel is foreground when it differs from the background by more than the border's own
    spread (median + 5 robust SDs, at least 24 levels), so a noisy or textured page stays page.
    """
    _, dev, bg = _background(image)
    med, sd = robust_spread(np.concatenate([dev[0], dev[-1], dev[:, 0], dev[:, -1]]))
    return dev > max(med + 5 * sd, 24.0), bg


def foreground_crop(image: np.ndarray, fill: float = CROP_FILL) -> np.ndarray:
    """``image`` (uint8 ``[H, W]`` or ``[H, W, C]``) cut to the box around its foreground and
    centred on a square of its background colour, the box filling ``fill`` of the square.

    The foreground is :func:`foreground_mask`'s, so a noisy or textured page keeps its whole
    frame. A foreground that touches an edge of the image touches the same edge of the crop (a
    glyph cut off by the page edge stays cut off). Fewer than 4 foreground pixels: the image
    unchanged.
    """
    mask, bg = foreground_mask(image)
    if mask.sum() < 4:
        return image
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    h, w = mask.shape
    side = int(np.ceil(max(r1 - r0, c1 - c0) / fill))
    # a foreground that runs off the page runs off the crop too: cropping must not hide that
    if (r0 == 0 and r1 == h and r1 - r0 >= c1 - c0) or (c0 == 0 and c1 == w and c1 - c0 >= r1 - r0):
        side = max(r1 - r0, c1 - c0)
    out = np.empty((side, side, bg.shape[0]), dtype=np.uint8)
    out[:] = np.clip(np.rint(bg), 0, 255).astype(np.uint8)
    y0 = 0 if r0 == 0 else h - side if r1 == h else (r0 + r1) // 2 - side // 2
    x0 = 0 if c0 == 0 else w - side if c1 == w else (c0 + c1) // 2 - side // 2
    ys, xs, ye, xe = max(y0, 0), max(x0, 0), min(y0 + side, h), min(x0 + side, w)
    src = image if image.ndim == 3 else image[..., None]
    out[ys - y0 : ye - y0, xs - x0 : xe - x0] = src[ys:ye, xs:xe]
    return out if image.ndim == 3 else out[..., 0]


def sharpness(image: np.ndarray) -> float:
    """Log ratio of the Laplacian's variance to the pixel variance (gray), high = sharp edges."""
    g = image.astype(np.float64)
    g = g.mean(axis=2) if g.ndim == 3 else g
    if min(g.shape) < 3:
        return 0.0
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(np.log(lap.var() + 1e-3) - np.log(g.var() + 1e-3))


def junk_flags(
    distance_z: np.ndarray,
    probs: np.ndarray,
    label_share: np.ndarray,
    crop_z: np.ndarray | None = None,
    sharpness_z: np.ndarray | None = None,
    junk_p: np.ndarray | None = None,
) -> np.ndarray:
    """Far from every class, the model unsure, and no label common among its look-alikes (and,
    given ``crop_z``, far in the cropped view too); or, given ``sharpness_z``, far blurrier than
    the data set while somewhat far from every class; or, given ``junk_p`` (the junk model's
    probability, :mod:`model.junk_model`), at least ``JUNK_P`` while somewhat far
    (``BLUR_FAR``) or ``JUNK_P_NEAR`` while farther than the class's median (``JUNK_FAR``). The junk
    model also vetoes: a first-rule flag with ``junk_p`` below ``JUNK_P_VETO`` is dropped (NaN,
    not computed, vetoes nothing)."""
    chance = 1.0 / max(probs.shape[1], 1)
    unsure = probs.max(axis=1) < chance + JUNK_CONFIDENCE * (1.0 - chance)
    flags = (distance_z >= JUNK_Z) & unsure & (label_share <= JUNK_SHARE)
    if crop_z is not None:
        flags &= crop_z >= CROP_Z
    if junk_p is not None:  # the model that knows junk calls it an ordinary image: not junk
        flags &= ~(junk_p < JUNK_P_VETO)
    if sharpness_z is not None:
        flags |= (sharpness_z <= BLUR_Z) & (distance_z >= BLUR_FAR)
    if junk_p is not None:
        flags |= junk_model_adds(distance_z, junk_p)
    return flags


def junk_model_adds(distance_z: np.ndarray, junk_p: np.ndarray) -> np.ndarray:
    """The images the junk model calls junk: ``junk_p`` at least ``JUNK_P`` at ``BLUR_FAR`` or
    farther from every class, at least ``JUNK_P_NEAR`` at ``JUNK_FAR`` or farther (NaN: no)."""
    return ((junk_p >= JUNK_P) & (distance_z >= BLUR_FAR)) | (
        (junk_p >= JUNK_P_NEAR) & (distance_z >= JUNK_FAR)
    )
