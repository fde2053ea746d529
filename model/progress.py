"""Progress of a run for ``on_progress(step, fraction)``: which step, how far, how fast.

``step`` starts with the step's name (load, train, embed, umap, scores); while models train it
goes on with what is training, e.g. ``"train: fold 2/4, epoch 3/10, 850 images/s, about 2 min
left"``, and ``"train: fold 2/4 done, ..."`` once a model is saved. ``fraction`` is the share of
the whole run done so far (0..1).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

ProgressFn = Callable[[str, float], None]

# share of the whole run each step takes
STEP_SHARE = {"load": 0.05, "train": 0.80, "embed": 0.02, "umap": 0.08, "scores": 0.05}
#: epoch messages closer together than this are skipped ("done" messages never are)
EPOCH_EVERY_S = 0.5


class Progress:
    """Maps (step, fraction of step) to one overall fraction, for the web job view."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self.callback = callback
        self.start = dict(zip(STEP_SHARE, np.cumsum([0, *STEP_SHARE.values()])[:-1], strict=True))

    def __call__(self, step: str, fraction: float, detail: str | None = None) -> None:
        if self.callback is not None:
            done = self.start[step] + STEP_SHARE[step] * min(max(fraction, 0.0), 1.0)
            text = step if detail is None else f"{step}: {detail}"
            self.callback(text, float(min(done, 1.0)))


def duration(seconds: float) -> str:
    """``"40 s"``, ``"3 min"``, ``"2 h 5 min"``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60} min"


class TrainMeter:
    """Counts the images the training step has trained on, for speed and the time left.

    ``work`` is the number of images (epochs x images per epoch) of every model to train.
    """

    def __init__(self, report: Progress, work: int) -> None:
        self.report, self.work = report, max(work, 1)
        self.t0 = time.perf_counter()
        self.done = 0
        self.last = -1.0

    def _rate(self) -> tuple[float, float]:
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        rate = self.done / elapsed
        left = (self.work - self.done) / rate if rate > 0 else float("inf")
        return rate, left

    def _text(self) -> str:
        rate, left = self._rate()
        eta = duration(left) if left != float("inf") else "unknown time"
        return f"{rate:.0f} images/s, about {eta} left"

    def epoch(self, label: str, epoch: int, epochs: int, images: int) -> None:
        """One epoch of ``images`` trained."""
        self.done += images
        now = time.perf_counter()
        if now - self.last < EPOCH_EVERY_S and epoch < epochs:
            return
        self.last = now
        text = f"{label}, epoch {epoch}/{epochs}, {self._text()}"
        self.report("train", self.done / self.work, text)

    def finished(self, label: str, images: int, counted: int) -> None:
        """A model is done and saved: ``images`` it trained in all, ``counted`` already reported."""
        self.done += images - counted
        self.report("train", self.done / self.work, f"{label} done, {self._text()}")
