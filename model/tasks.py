"""The units of work of a run, and the local engine that runs them in this process.

A run trains K fold models and the final model and then extracts the final model's embeddings.
Each of these is a task (:class:`TrainTask`, :class:`EmbedTask`) that holds everything it needs
except the images, which it reads from the run's :class:`~model.store.ImageStore` (or opens from
a :class:`~model.store.StoreSpec` where it runs in another process). An engine runs tasks and
hands back each result as soon as it is done, so the run can save it (see :mod:`model.partial`):
:class:`LocalEngine` here, one after the other; :mod:`model.ray_engine` on a Ray cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.fit import Job, JobResult
from model.presets import TrainConfig
from model.store import ImageStore, StoreSpec

Images = ImageStore | StoreSpec


def _open(images: Images) -> ImageStore:
    return images.open() if isinstance(images, StoreSpec) else images


@dataclass
class TrainTask:
    """Train one model (a fold model or the final model)."""

    label: str  # "fold 2/4" or "final model", for progress messages
    config: TrainConfig
    job: Job
    n_classes: int
    epochs: int
    seed: int
    labels: np.ndarray  # every image's class index (small: one integer per image)

    def run(
        self,
        images: Images,
        device: Any,
        *,
        progress: bool = False,
        on_epoch: Callable[[int, int], None] | None = None,
    ) -> JobResult:
        from model.fit import cpu_threads, fit_group

        with cpu_threads():
            (result,) = fit_group(
                self.config,
                _open(images),
                self.labels,
                [self.job],
                self.n_classes,
                seed=self.seed,
                epochs=self.epochs,
                progress=progress,
                on_epoch=on_epoch,
                desc=self.label,
                device=device,
            )
        return result


@dataclass
class Embedded:
    pool: np.ndarray  # [n_pool, D] float32
    label_book: np.ndarray | None
    eval_accuracy: dict[str, float] = field(default_factory=dict)
    #: the final model's predicted class index per row of each extra set (accuracy per group)
    eval_pred: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class EmbedTask:
    """The final model's penultimate features of the pool, and its accuracy on the extra sets."""

    config: TrainConfig
    n_classes: int
    state: dict[str, Any]
    n_pool: int
    offsets: dict[str, np.ndarray]  # extra set name -> its rows in the store
    labels: np.ndarray

    def run(self, images: Images, device: Any) -> Embedded:
        from model.fit import cpu_threads, predict_group
        from model.nets import build_net

        store = _open(images)
        net = build_net(self.config, self.n_classes, pretrained=False)  # the state follows
        net.load_state_dict(self.state)
        net.to(device)
        with cpu_threads():
            # fp32 (no autocast), so a checkpoint reloaded anywhere reproduces these embeddings
            pool = predict_group(
                net,
                store,
                [np.arange(self.n_pool)],
                batch_size=self.config.eval_batch_size,
                embed=True,
            )[0]
            book = None
            if "label_book" in self.offsets:
                book = predict_group(
                    net,
                    store,
                    [self.offsets["label_book"]],
                    batch_size=self.config.eval_batch_size,
                    embed=True,
                )[0]
            accuracy, pred = {}, {}
            for name, ix in self.offsets.items():
                probs = predict_group(net, store, [ix], batch_size=self.config.eval_batch_size)[0]
                pred[name] = probs.argmax(1).astype(np.int64)
                accuracy[name] = float((pred[name] == self.labels[ix]).mean())
        return Embedded(pool.astype(np.float32), book, accuracy, pred)


EpochHook = Callable[[TrainTask], Callable[[int, int], None] | None]


class LocalEngine:
    """Runs the tasks in this process, one after the other."""

    name = "local"

    def __init__(self, images: ImageStore, device: Any, *, progress: bool = False) -> None:
        self.images, self.device, self.progress = images, device, progress

    @property
    def device_name(self) -> str:
        return str(self.device)

    def train(
        self, tasks: list[TrainTask], on_epoch: EpochHook | None = None
    ) -> Iterator[tuple[TrainTask, JobResult]]:
        for task in tasks:
            hook = on_epoch(task) if on_epoch is not None else None
            yield task, task.run(self.images, self.device, progress=self.progress, on_epoch=hook)

    def embed(self, task: EmbedTask) -> Embedded:
        return task.run(self.images, self.device)

    def close(self) -> None:
        pass
