"""The ``junk?`` rule's second look at a run's images: the foreground-cropped view, blur and
the junk model.

:func:`junk_evidence` applies :func:`model.junk.junk_flags` with all three optional readings while
reading as few image files as the rule allows:

- the cropped view only vetoes, so it is computed for the images the first rule flags (tens,
  not the pool); the classes it measures them against come from a seeded **reference sample**:
  :data:`REFERENCE` images drawn at random, topped up to :data:`MIN_REFERENCE` per predicted class;
- blur only adds images at least :data:`model.junk.BLUR_FAR` from their nearest class and the
  junk model only images at least :data:`model.junk.JUNK_FAR` (farther than their class's
  median image: about half the pool), so sharpness and the junk model's probability are
  computed for those, from one read of each, :data:`READ_CHUNK` images at a time; the median
  and MAD of sharpness come from the random part of the same sample, and the junk model trains
  on at most :data:`model.junk_model.MAX_TRAIN` images.

So a run reads ``REFERENCE + MIN_REFERENCE x classes + MAX_TRAIN`` files, its candidates and the
images farther than their class's median image, without keeping them. :class:`ImageLook` reads
the files (decoded once, at ``model.predict.CROP_SOURCE`` pixels), runs the final model on their
crops and trains the junk model. See benchmarks/bench_junk.py, which prints the flags, what was read and the time taken.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model import junk as J
from model.embed import normalize
from model.robust import robust_spread

#: images drawn at random (seeded) as the data set's baseline for the cropped view and blur
REFERENCE = 500
#: each predicted class gets at least this many reference images (or all it has)
MIN_REFERENCE = 20
#: images blur and the junk model read at a time (and do not keep)
READ_CHUNK = 4096


class ImageLook:
    """The files of a run's images and its final model, for the second look.

    ``ckpt`` is a :class:`model.predict.Checkpoint` (``paths[i]`` is image ``i``'s file). Each
    file is decoded at most once however often it is asked for, but for the images blur and the
    junk model read: those are read a chunk at a time and not kept, so memory does not grow with
    the pool.
    """

    def __init__(
        self,
        ckpt: Any,
        paths: Sequence[str | os.PathLike[str]],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.ckpt, self.paths, self.cache_dir = ckpt, list(paths), cache_dir
        self._decoded: dict[int, np.ndarray] = {}
        self._seen: set[int] = set()  # every image decoded, kept or not

    def _source(self, idx: np.ndarray, keep: bool = True) -> np.ndarray:
        """Images ``idx`` decoded; kept for the next ask unless ``keep`` is False."""
        from model.predict import crop_source

        todo = [int(i) for i in idx if int(i) not in self._decoded]
        fresh: dict[int, np.ndarray] = {}
        if todo:
            arrays = crop_source(
                [self.paths[i] for i in todo], self.ckpt.config.channels, cache_dir=self.cache_dir
            )
            fresh = dict(zip(todo, arrays, strict=True))
            self._seen.update(todo)
            if keep:
                self._decoded.update(fresh)
        channels = self.ckpt.config.channels
        empty = np.zeros((0, 1, 1) if channels == 1 else (0, channels, 1, 1), np.uint8)
        if not len(idx):
            return empty
        return np.stack(
            [self._decoded[int(i)] if int(i) in self._decoded else fresh[int(i)] for i in idx]
        )

    def read(self, idx: np.ndarray) -> list[np.ndarray]:
        """Images ``idx`` decoded (``[H, W]`` or ``[H, W, C]``) and not kept: for reads of many
        images once, a chunk at a time, so memory does not grow with the pool."""
        from model.predict import as_hwc

        return [as_hwc(a) for a in self._source(idx, keep=False)]

    def cropped(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The final model's embeddings and probabilities of images ``idx`` cut to their
        foreground (:func:`model.predict.cropped_predictions`)."""
        from model.predict import cropped_predictions

        return cropped_predictions(self.ckpt, self._source(idx))

    def junk_model(self, labels: np.ndarray, n_classes: int, seed: int):
        """The junk model trained on this pool's files (:func:`model.junk_model.train_junk_model`)
        and its summary."""
        from model.junk_model import train_junk_model

        return train_junk_model(self.read, labels, n_classes, seed=seed)

    @property
    def files_read(self) -> int:
        return len(self._seen)


def reference_sample(
    pred: np.ndarray, n_classes: int, seed: int, size: int = REFERENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted index arrays: ``size`` images drawn at random (all when fewer), and those plus
    enough of each predicted class's other images to give it :data:`MIN_REFERENCE`."""
    n = len(pred)
    rng = np.random.default_rng(seed)
    uniform = np.sort(rng.choice(n, size=min(size, n), replace=False))
    chosen = np.zeros(n, dtype=bool)
    chosen[uniform] = True
    for c in range(n_classes):
        have = int((chosen & (pred == c)).sum())
        rest = np.flatnonzero(~chosen & (pred == c))
        if have < MIN_REFERENCE and len(rest):
            take = min(MIN_REFERENCE - have, len(rest))
            chosen[rng.choice(rest, size=take, replace=False)] = True
    return uniform, np.flatnonzero(chosen)


@dataclass
class JunkEvidence:
    """The ``junk`` flags and the second look's readings (NaN where not computed)."""

    flags: np.ndarray
    crop_z: np.ndarray
    sharpness_z: np.ndarray
    #: the junk model's probability of junk (:mod:`model.junk_model`), NaN where not computed
    junk_p: np.ndarray
    #: what was read: counts of images, or why the second look was skipped
    summary: dict[str, Any]


def junk_evidence(
    distance_z: np.ndarray,
    probs: np.ndarray,
    label_share: np.ndarray,
    look: ImageLook | None,
    *,
    seed: int = 0,
    skipped: str = "no final model",
    labels: np.ndarray | None = None,
) -> JunkEvidence:
    """:func:`model.junk.junk_flags` with the cropped view (for the first rule's candidates),
    blur and, given the pool's ``labels``, the junk model (both for images somewhat far from
    every class), blur judged against :func:`reference_sample`.

    Without ``look`` the first rule alone, and ``summary`` says why (``skipped``).
    """
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    n = len(distance_z)
    crop_z, sharp_z, junk_p = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    first = J.junk_flags(distance_z, probs, label_share)
    if look is None:
        summary = {"second_look": f"skipped: {skipped}"}
        return JunkEvidence(first, crop_z, sharp_z, junk_p, summary)
    n_classes = probs.shape[1]
    uniform, reference = reference_sample(probs.argmax(axis=1), n_classes, seed)
    candidates = np.flatnonzero(first)
    blurry = np.flatnonzero(distance_z >= J.BLUR_FAR)
    # what the junk model scores; with JUNK_FAR <= BLUR_FAR it holds every blur-checked image
    far = np.flatnonzero(distance_z >= min(J.JUNK_FAR, J.BLUR_FAR))

    if len(candidates):
        ref_emb, ref_probs = look.cropped(reference)
        cand_emb, _ = look.cropped(candidates)
        crop_z[candidates] = J.class_distance_to(
            normalize(ref_emb), ref_probs.argmax(axis=1), normalize(cand_emb), n_classes
        )
    model, model_summary = None, {"junk_model": "skipped: no labels"}
    if labels is not None and len(far):
        model, model_summary = look.junk_model(labels, n_classes, seed)
    if len(far) and len(uniform):
        med, sd = robust_spread(np.array([J.sharpness(a) for a in look.read(uniform)]))
        # one read of each image serves blur and the junk model
        for part in np.array_split(far, -(-len(far) // READ_CHUNK)):
            images = look.read(part)
            sharp = distance_z[part] >= J.BLUR_FAR
            sharp_z[part[sharp]] = (
                np.array([J.sharpness(a) for a, s in zip(images, sharp, strict=True) if s]) - med
            ) / max(sd, 1e-6)
            if model is not None:
                junk_p[part] = model.probability(images, part)
    # NaN compares False: the veto keeps no image it did not look at, blur adds none
    flags = J.junk_flags(
        distance_z,
        probs,
        label_share,
        np.nan_to_num(crop_z, nan=-np.inf),
        np.nan_to_num(sharp_z, nan=np.inf),
        junk_p,  # NaN compares False: neither adds nor vetoes
    )
    summary = {
        "second_look": "cropped view and blur",
        "candidates": int(len(candidates)),
        "vetoed": int((first & ~flags).sum()),
        "vetoed_by_junk_model": int((first & ~flags & (junk_p < J.JUNK_P_VETO)).sum()),
        "blur_checked": int(len(blurry)),
        "added_by_blur": int(((sharp_z <= J.BLUR_Z) & ~first & flags).sum()),
        "added_by_junk_model": int((J.junk_model_adds(distance_z, junk_p) & ~first).sum()),
        "reference": int(len(reference)) if len(candidates) else 0,
        "files_read": look.files_read,
        "seconds": round(time.perf_counter() - t_wall, 3),
        "cpu_seconds": round(time.process_time() - t_cpu, 3),
        **model_summary,
    }
    return JunkEvidence(flags, crop_z, sharp_z, junk_p, summary)
