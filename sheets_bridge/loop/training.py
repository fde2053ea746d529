"""The train step: a run of the current version (out-of-fold predictions, embeddings, UMAP,
scores, the final model), on this machine or a Ray cluster, resuming a run an interruption left
unfinished. ``loop.train`` (in :mod:`sheets_bridge.loop.steps`) is this module's :func:`train`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sheets_bridge.core.errors import ConfigError, DatasetError
from sheets_bridge.loop.presets import check_preset
from sheets_bridge.store.faults import faultpoint
from sheets_bridge.store.workspace import Run, Workspace

Progress = Callable[[str, float], None]


# -- train -------------------------------------------------------------------------------------
#: name of the evaluation set that stays the same across versions (see :func:`fixed_eval_set`)
FIXED_EVAL = "fixed_val"


def fixed_eval_set(ws: Workspace, version) -> pd.DataFrame:
    """The first version's validation images that are still in ``version``'s val, with their
    labels in ``version`` (``id, path, label``): accuracy on it compares versions whose val sets
    differ. Removed images and images moved to train (the model trains on those) drop out; the
    label book, when there is one, is reported beside it as the other fixed yardstick.
    """
    first = version
    while first.meta().get("parent"):
        first = ws.version(first.meta()["parent"])
    root_val = first.manifest()
    root_val = set(root_val["id"][root_val["split"] == "val"])
    m = version.manifest()
    keep = m[m["id"].isin(root_val) & (m["split"] == "val")]
    return pd.DataFrame(
        {
            "id": [str(i) for i in keep["id"]],
            "path": [str(ws.root / p) for p in keep["path"]],
            "label": list(keep["label"]),
        }
    )


def _require_ray() -> None:
    """engine = ray needs the Ray package: say so before a run is started."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError(
            "engine 'ray' needs the Ray package, which is not installed: "
            "pip install 'sheets-bridge[ray]' (or use engine = 'local')"
        ) from None


def _eval_set(folder: Path) -> pd.DataFrame:
    """A labelled folder ``<root>/<label>/<image>`` (or ``<root>/<split>/<label>/<image>``)."""
    from sheets_bridge.store.dataset import IMAGE_SUFFIXES

    rows = [
        (str(p.resolve()), p.parent.name)
        for p in sorted(Path(folder).rglob("*"))
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not rows:
        raise DatasetError([f"{folder}: no images found (expected {folder}/<label>/<image>)"])
    return pd.DataFrame(rows, columns=["path", "label"])


def _weights_path(ws: Workspace, weights: str) -> str | None:
    """The ``weights`` setting as the model reads it: a relative path is the workspace's."""
    if not weights or weights == "random" or Path(weights).expanduser().is_absolute():
        return weights or None
    return str(ws.root / weights)


def train(
    ws: Workspace,
    *,
    preset: str | None = None,
    epochs: int | None = None,
    eval_dir: Path | str | None = None,
    progress: bool = True,
    on_progress: Progress | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
    on_resume: Callable[[str], None] | None = None,
) -> Run:
    """Train on the current version: out-of-fold predictions, embeddings, UMAP, scores, final model.

    ``engine`` ("local" or "ray") and ``ray_address`` override the workspace settings. A run of
    the same version, preset and seed that stopped before it finished is resumed: the models it
    kept are reused and ``on_resume`` hears which run and how far it got.
    """
    from model.train import run_training

    cfg = ws.config
    preset = check_preset(preset or cfg.preset)  # before the run folder exists
    engine = engine or cfg.engine
    ray_address = ray_address or cfg.ray_address or None
    if engine == "ray":
        _require_ray()
    version = ws.current
    manifest = version.manifest()
    manifest["path"] = [str(ws.root / p) for p in manifest["path"]]
    eval_sets = {Path(eval_dir).name: _eval_set(Path(eval_dir))} if eval_dir else {}
    fixed = fixed_eval_set(ws, version)
    if len(fixed):
        eval_sets[FIXED_EVAL] = fixed
    from model.presets import WeightsNotFoundError

    weights = _weights_path(ws, cfg.weights)
    run = _start_run(ws, version, preset, cfg.folds, on_resume)
    faultpoint("train.started")
    on_progress = _watch_saved(run, on_progress)
    try:
        metrics = run_training(
            manifest,
            list(ws.classes),
            run.path,
            preset=preset,
            folds=cfg.folds,
            seed=cfg.seed,
            epochs=epochs or cfg.epochs or None,
            cache_dir=ws.media_dir / "cache",
            eval_sets=eval_sets or None,
            progress=progress,
            on_progress=on_progress,
            weights=weights,
            engine=engine,
            ray_address=ray_address,
        )
    except BaseException as exc:
        ws.update_run(run, state="failed", error=f"{type(exc).__name__}: {exc}")
        from model.ray_engine import RayUnavailable

        # missing weights, no cluster at ray_address: one clear line
        if isinstance(exc, (WeightsNotFoundError, RayUnavailable)):
            raise ConfigError(str(exc)) from None
        raise
    faultpoint("train.trained")
    ws.update_run(
        run,
        state="done",
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        val_accuracy=metrics.get("val_accuracy"),
        eval=metrics.get("eval", {}),
    )
    return run


def _start_run(
    ws: Workspace, version, preset: str, folds: int, on_resume: Callable[[str], None] | None
) -> Run:
    """A new run folder, or the unfinished run of the same kind to resume."""
    from model.partial import finished_models

    run = ws.unfinished_run(version, preset, ws.config.seed)
    if run is None:
        return ws.new_run(version, preset, ws.config.seed)
    kept = finished_models(run.path)
    done = sum(name.startswith("fold") for name in kept)
    final = ", the final model" if "final" in kept else ""
    if on_resume:
        on_resume(
            f"resuming {'-'.join(run.id.split('-')[:2])}: {done} of {folds} fold models done"
            f"{final} (runs/{run.id})"
        )
    return ws.resume_run(run)


def _watch_saved(run: Run, on_progress: Progress | None) -> Progress:
    """Progress that also passes the fault point ``train.saved.N`` when the N-th model of the
    run is saved (how the tests interrupt a run after a given number of models)."""
    seen = [len(_saved(run))]

    def hook(step: str, fraction: float, *rest) -> None:
        now = len(_saved(run))
        while seen[0] < now:
            seen[0] += 1
            faultpoint(f"train.saved.{seen[0]}")
        if on_progress:
            on_progress(step, fraction, *rest)

    return hook


def _saved(run: Run) -> list[Path]:
    return list((run.path / "partial").glob("*.pt"))
