"""Run a training run's tasks on a Ray cluster (an existing one, or a local one started here).

Every fold model, the final model and the embedding extraction is one Ray task with one GPU
where the cluster has GPUs, one CPU otherwise. Tasks open the run's image store from its
:class:`~model.store.StoreSpec`: the same file where the cache folder is shared (or on this
machine), rebuilt from the image paths on a worker that lacks it. Results come back as each task
finishes, so the run saves them as they come (and a rerun resumes). Ray is optional:
``pip install 'sheets-bridge[ray]'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from model.fit import JobResult
from model.store import StoreSpec
from model.tasks import Embedded, EmbedTask, EpochHook, TrainTask

INSTALL_HINT = "pip install 'sheets-bridge[ray]'"


class RayUnavailable(RuntimeError):
    """Ray was asked for but is not installed or cannot be reached."""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            f"engine 'ray' needs the Ray package, which is not installed: {INSTALL_HINT}"
        ) from exc
    return ray


def _train(task: TrainTask, spec: StoreSpec, device: str) -> JobResult:
    return task.run(spec, device)


def _embed(task: EmbedTask, spec: StoreSpec, device: str) -> Embedded:
    return task.run(spec, device)


class RayEngine:
    """Submits tasks to Ray; connects on creation (``address`` None: a local cluster)."""

    name = "ray"

    def __init__(self, spec: StoreSpec, *, address: str | None = None) -> None:
        ray = _import_ray()
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = address or "a local Ray instance"
                raise RayUnavailable(f"cannot start or reach Ray at {where}: {exc}") from exc
            self.started = True
        gpus = ray.cluster_resources().get("GPU", 0)
        self.options = {"num_gpus": 1} if gpus >= 1 else {"num_cpus": 1}
        self.device = "cuda" if gpus >= 1 else "cpu"
        self.spec_ref = ray.put(spec)  # sent once, shared by every task
        self._train = ray.remote(_train).options(**self.options)
        self._embed = ray.remote(_embed).options(**self.options)

    @property
    def device_name(self) -> str:
        return self.device

    def train(
        self, tasks: list[TrainTask], on_epoch: EpochHook | None = None
    ) -> Iterator[tuple[TrainTask, JobResult]]:
        """Submit every task at once; yield each result as it finishes (``on_epoch`` is not
        called: epochs happen in other processes)."""
        ray = self.ray
        pending = {self._train.remote(t, self.spec_ref, self.device): t for t in tasks}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:  # the caller stopped early (an error): don't leave work running
                ray.cancel(ref)

    def embed(self, task: EmbedTask) -> Embedded:
        return self.ray.get(self._embed.remote(task, self.spec_ref, self.device))

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
