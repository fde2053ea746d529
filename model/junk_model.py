"""A small model that learns what junk looks like in *this* data set, from its own images.

``junk?``'s other readings (:mod:`model.junk`) ask whether the run's model finds an image far
from every class. Scribbles, blots and glyphs cut off by the page edge are made of the same ink
and strokes as the classes, so that model, trained only to tell classes apart, often places them
among the classes. This one is trained to tell them apart: a copy of the ``fast`` preset's small
CNN with one class more than the data set, *junk*, whose examples are made from the data set's
own images by :func:`model.synthetic_junk.synthetic_junk` (its page, ink and stroke width, see
there), while the real images keep their given labels (a technique known as outlier exposure).
It is trained by :func:`train_junk_model`; :meth:`JunkModel.probability` is its
probability of *junk* for images, and :func:`junk_probability` does both.

- **Held out.** The training images are split in two halves (:data:`FOLDS`); each image of a
  half is scored by the model trained on the other, so a real junk image is never scored by a
  model that learned it as real. This is done for :data:`SPLITS` independent splits and each
  image's score is the mean over them (four nets, two for each image: one net's score moves by
  chance more than two's). Images outside the training sample get the mean of all nets.
- **Two views.** Each real image is seen whole or cut to its foreground
  (:func:`model.junk.foreground_crop`), at random, in training; its score is the mean over both
  views. A small glyph on a large page is an ordinary glyph in the cropped view; a glyph cut off
  by the page edge stays cut off in both.
- **Bounded.** At most :data:`MAX_TRAIN` images train it (a seeded sample), :data:`EPOCHS`
  passes over each half at 32 pixels, :data:`WIDTH` channels wide (two thirds of the ``fast``
  preset's), on the CPU: about 30 seconds on 2 cores for 1,450 images.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from model.junk import foreground_crop
from model.synthetic_junk import KINDS, synthetic_junk

#: images that train the junk model at most (a seeded sample of the pool)
MAX_TRAIN = 2000
#: fewer images than this: no junk model (too few to learn what the data set's pages look like)
MIN_TRAIN = 200
#: each model takes at least this many steps, however few its images
MIN_STEPS = 60
#: held-out halves, passes over each, side of the model's input, real (and junk) per batch
FOLDS, EPOCHS, SIZE, BATCH = 2, 20, 32, 64
#: independent splits into halves: each image of the sample is scored by one net of each split
SPLITS = 2
#: width of the nets (the ``fast`` preset's is 24)
WIDTH = 16
#: junk images made from each training image (once, before training)
JUNK_PER_IMAGE = 4
#: images scored at a time
SCORE_CHUNK = 4096


def view(image: np.ndarray, crop: bool, size: int = SIZE) -> np.ndarray:
    """``image`` (uint8 ``[H, W]`` or ``[H, W, C]``), cut to its foreground if ``crop``, resized
    to ``size`` square and returned channels-first (``[1, size, size]`` or ``[C, size, size]``)."""
    img = foreground_crop(image) if crop else image
    out = np.asarray(Image.fromarray(img).resize((size, size), Image.Resampling.BILINEAR))
    return out[None] if out.ndim == 2 else out.transpose(2, 0, 1)


def _augment(x: torch.Tensor) -> torch.Tensor:
    """A small random rotation, scale and shift of each image of ``x`` ``[B, C, H, W]``."""
    b = x.shape[0]
    r = torch.rand(b, 4) * 2 - 1
    angle, scale = r[:, 0] * (10 * np.pi / 180), 1 + 0.1 * r[:, 1]
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 1], theta[:, 1, 0] = -torch.sin(angle) / scale, torch.sin(angle) / scale
    theta[:, :, 2] = 0.08 * r[:, 2:]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="border")


def _views(images: list[np.ndarray]) -> np.ndarray:
    """Both views of each image: uint8 ``[N, 2, C, SIZE, SIZE]`` (whole, then cropped)."""
    return np.stack([np.stack([view(img, False), view(img, True)]) for img in images])


def _fit(real: np.ndarray, labels, made: np.ndarray, n_classes: int, rng, seed: int):
    """One model trained on ``real`` views (``[N, 2, C, S, S]``, given ``labels``) and as many
    junk images drawn from ``made`` (views of synthetic junk), each in a view picked at random."""
    from model.nets import FastCNN

    torch.manual_seed(seed)
    net = FastCNN(n_classes + 1, width=WIDTH, channels=real.shape[2])
    steps = max(MIN_STEPS, EPOCHS * len(real) // BATCH)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps)
    y_junk = torch.full((BATCH,), n_classes, dtype=torch.long)
    net.train()
    for _ in range(steps):
        a, b = rng.integers(len(real), size=BATCH), rng.integers(len(made), size=BATCH)
        pick = rng.integers(2, size=2 * BATCH)
        batch = np.concatenate([real[a, pick[:BATCH]], made[b, pick[BATCH:]]])
        x = _augment(torch.as_tensor(batch).float())
        y = torch.cat([torch.as_tensor(labels[a], dtype=torch.long), y_junk])
        loss = F.cross_entropy(net(x).view(2 * BATCH, -1), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def _score(net, views: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean probability of junk over the whole and the cropped view (``views`` as :func:`_views`)."""
    out = np.zeros(len(views))
    for v in (0, 1):
        for start in range(0, len(views), 512):
            x = torch.as_tensor(views[start : start + 512, v]).float()
            probs = torch.softmax(net(x).view(len(x), -1), dim=-1)
            out[start : start + len(x)] += probs[:, n_classes].numpy() / 2
    return out


class JunkModel:
    """The trained junk model: for each of :data:`SPLITS` splits of its training sample, one net
    per half, ready to score any image of the pool (:meth:`probability`). ``summary`` says what
    it trained on and the time spent."""

    def __init__(self, nets: list, fold_of: np.ndarray, n_classes: int, summary: dict) -> None:
        """``nets[s][f]``: split ``s``'s net trained without half ``f``; ``fold_of[s, i]``: the
        half of split ``s`` that pool image ``i`` is in (-1 outside the training sample)."""
        self.nets, self.fold_of, self.n_classes, self.summary = nets, fold_of, n_classes, summary

    def probability(self, images: list[np.ndarray], idx: np.ndarray) -> np.ndarray:
        """Probability of junk of ``images`` (uint8 ``[H, W]`` or ``[H, W, C]``), pool images
        ``idx``: held out, the mean over splits of the net that did not train on the image; for
        an image outside the training sample, the mean of all nets."""
        from model.fit import cpu_threads

        t_wall, t_cpu = time.perf_counter(), time.process_time()
        views = _views(images)
        fold = self.fold_of[:, np.asarray(idx, dtype=np.int64)]  # [splits, N]
        with cpu_threads(2 * BATCH * SIZE * SIZE):
            p = np.stack(
                [
                    np.stack([_score(net, views, self.n_classes) for net in nets])
                    for nets in self.nets
                ]
            )  # [splits, halves, N]
        cols = np.arange(fold.shape[1])
        held = np.mean([p[s, np.maximum(fold[s], 0), cols] for s in range(len(p))], axis=0)
        spent = {
            "junk_model_seconds": time.perf_counter() - t_wall,
            "junk_model_cpu_seconds": time.process_time() - t_cpu,
        }
        for key, seconds in spent.items():
            self.summary[key] = round(self.summary[key] + seconds, 3)
        self.summary["junk_model_scored"] += fold.shape[1]
        return np.where(fold[0] >= 0, held, p.mean(axis=(0, 1)))


def train_junk_model(
    read: Any, labels: np.ndarray, n_classes: int, *, seed: int = 0
) -> tuple[JunkModel | None, dict[str, Any]]:
    """The junk model trained on a pool, and a summary; None (the summary says why) with fewer
    than :data:`MIN_TRAIN` images.

    ``read(idx)`` returns the decoded images ``idx`` (a list of uint8 ``[H, W]`` or
    ``[H, W, C]``); ``labels`` are the pool's given labels (class indices). It trains on at most
    :data:`MAX_TRAIN` images drawn with ``seed``.
    """
    from model.fit import cpu_threads

    t_wall, t_cpu = time.perf_counter(), time.process_time()
    n = len(labels)
    if n < MIN_TRAIN:
        return None, {"junk_model": f"skipped: {n} images, {MIN_TRAIN} needed"}
    rng = np.random.default_rng([seed, 7])
    sample = np.sort(rng.choice(n, size=min(MAX_TRAIN, n), replace=False))
    halves = np.stack([rng.permutation(len(sample)) % FOLDS for _ in range(SPLITS)])
    images = read(sample)
    views = _views(images)
    # JUNK_PER_IMAGE junk images made from each training image, each of a kind drawn at random
    made = _views(
        [
            synthetic_junk(img, KINDS[rng.integers(len(KINDS))], rng)
            for img in images
            for _ in range(JUNK_PER_IMAGE)
        ]
    )
    del images
    given = np.asarray(labels)[sample]
    fold_of = np.full((SPLITS, n), -1)
    fold_of[:, sample] = halves
    nets = []
    with cpu_threads(2 * BATCH * SIZE * SIZE):
        for s, half in enumerate(halves):
            made_half = np.repeat(half, JUNK_PER_IMAGE)  # junk stays in its source's half
            nets.append(
                [
                    _fit(
                        views[half != f],
                        given[half != f],
                        made[made_half != f],
                        n_classes,
                        rng,
                        seed + FOLDS * s + f,
                    )
                    for f in range(FOLDS)
                ]
            )
    summary = {
        "junk_model": "trained",
        "junk_model_trained_on": int(len(sample)),
        "junk_model_scored": 0,
        "junk_model_seconds": round(time.perf_counter() - t_wall, 3),
        "junk_model_cpu_seconds": round(time.process_time() - t_cpu, 3),
    }
    return JunkModel(nets, fold_of, n_classes, summary), summary


def junk_probability(
    read: Any,
    labels: np.ndarray,
    n_classes: int,
    score_idx: np.ndarray,
    *,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`train_junk_model`, then its probability of *junk* for images ``score_idx`` of the
    pool, read :data:`SCORE_CHUNK` at a time (memory does not grow with them), and the summary.
    With fewer than :data:`MIN_TRAIN` images, the scores are NaN and the summary says why.
    """
    score_idx = np.asarray(score_idx, dtype=np.int64)
    if len(labels) >= MIN_TRAIN and not len(score_idx):
        return np.full(0, np.nan), {"junk_model": "nothing to score"}
    model, summary = train_junk_model(read, labels, n_classes, seed=seed)
    if model is None:
        return np.full(len(score_idx), np.nan), summary
    scores = np.concatenate(
        [
            model.probability(read(part), part)
            for part in np.array_split(score_idx, -(-len(score_idx) // SCORE_CHUNK))
        ]
    )
    return scores, summary
