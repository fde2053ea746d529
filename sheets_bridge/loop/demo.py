"""`sheets-bridge demo`: synthetic data -> workspace -> train -> push, timed step by step."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from sheets_bridge import loop
from sheets_bridge.core.config import CONFIG_FILE
from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.core.schema import SHEET_SPLITS


@dataclass
class DemoReport:
    root: Path
    data: Path
    workspace: Path
    images: int
    val_accuracy: float | None
    timings: dict[str, float] = field(default_factory=dict)
    push: str = ""
    planted: str = ""
    found: str = ""

    @property
    def total(self) -> float:
        return sum(self.timings.values())

    def describe(self) -> str:
        steps = ", ".join(f"{k} {v:.1f}s" for k, v in self.timings.items())
        acc = f"{self.val_accuracy:.1%}" if self.val_accuracy is not None else "n/a"
        return (
            f"demo data: {self.planted}\n"
            f"workspace: {self.workspace}\n"
            f"model: validation accuracy {acc}\n"
            f"{self.push}\n"
            f"{self.found}\n"
            f"took {self.total:.1f}s ({steps})"
        )


def run_demo(
    root: Path | str,
    *,
    n_images: int = 1500,
    seed: int = 0,
    epochs: int | None = None,
    progress: bool = True,
    on_step=None,
    workspace_dir: Path | str | None = None,
) -> DemoReport:
    """Make the synthetic data, init a workspace, train, push to the local sheet.

    ``root`` gets ``data/`` and the workspace (``workspace_dir``, default ``root/workspace``); an
    earlier demo there is replaced, anything else in the way stops with an error.
    """
    from sheets_bridge.loop.demo_data import make_demo_data

    root = Path(root).resolve()
    data = root / "data"
    ws_dir = Path(workspace_dir).resolve() if workspace_dir else root / "workspace"
    if ws_dir.exists():
        if not (ws_dir / CONFIG_FILE).exists():
            raise WorkspaceError(
                f"{ws_dir} exists and is not a workspace; choose another -w/--workspace"
            )
        shutil.rmtree(ws_dir)
    say = on_step or (lambda msg: None)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    say(f"generating {n_images} synthetic images into {data}")
    summary = make_demo_data(data, n_images=n_images, seed=seed)
    timings["generate"] = time.perf_counter() - t

    t = time.perf_counter()
    say("registering the dataset as v0001")
    ws = loop.init(data, ws_dir, seed=seed)
    timings["init"] = time.perf_counter() - t

    t = time.perf_counter()
    say("training: out-of-fold predictions, embeddings, UMAP, scores, final model")
    run = loop.train(ws, epochs=epochs, progress=progress)
    train_total = time.perf_counter() - t
    metrics = run.metrics()
    step_times = metrics.get("timings", {})
    embed = (
        float(step_times.get("embed", 0))
        + float(step_times.get("umap", 0))
        + float(step_times.get("scores", 0))
    )
    timings["train"] = max(train_total - embed, 0.0)
    timings["embed/umap/scores"] = embed

    t = time.perf_counter()
    say("pushing rows to the local sheet")
    push = loop.push(ws, run=run)
    timings["push"] = time.perf_counter() - t
    return DemoReport(
        root,
        data,
        ws_dir,
        int(ws.current.meta()["counts"]["images"]),
        metrics.get("val_accuracy"),
        timings,
        push.describe(),
        summary.describe().replace("\n", "\n  "),
        _found(ws, data),
    )


def _found(ws, data: Path, top: int = 100) -> str:
    """How many of the sheet's first rows are planted problems: the point of the ordering."""
    import pandas as pd

    truth = pd.read_csv(data / "ground_truth.csv", dtype=str, keep_default_na=False)
    planted = set(truth.loc[truth["problem"] != "", "id"])
    reviewed = truth[truth["split"].isin(SHEET_SPLITS)]
    base = reviewed["id"].isin(planted).mean()
    first = [r["id"] for r in ws.sheet().read().rows[:top]]
    hits = sum(i in planted for i in first)
    return (
        f"the sheet's first {len(first)} rows hold {hits} planted problems "
        f"({hits / max(len(first), 1):.0%}, against {base:.0%} of all rows): review from the top"
    )
