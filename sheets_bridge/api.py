"""The Python API for notebooks and other tools: the functions the command line calls, on one object.

>>> import sheets_bridge as sb                       # doctest: +SKIP
>>> ws = sb.open("ws")                                # doctest: +SKIP
>>> ws.train(); ws.push()                             # doctest: +SKIP
>>> df = ws.sheet_frame()                             # doctest: +SKIP
>>> ws.pull()                                         # doctest: +SKIP

Every method returns plain data (reports with ``as_dict()``/``describe()``, or pandas DataFrames)
and raises :class:`sheets_bridge.core.errors.BridgeError` subclasses with a message that says what
to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from sheets_bridge import loop
from sheets_bridge.store.lock import WorkspaceLock
from sheets_bridge.store.workspace import Workspace


class Bridge:
    """One workspace: its dataset versions, runs and sheet.

    Methods that change the workspace hold its writer lock, like the CLI's commands; ``wait`` is
    how many seconds they wait for another writer before raising WorkspaceBusy.
    """

    def __init__(self, path: Path | str, *, wait: float = 0.0):
        self._root = Path(path)
        self.wait = wait
        self.workspace: Workspace = loop.workspace_or_error(self._root)

    @contextmanager
    def _writing(self, name: str) -> Iterator[Workspace]:
        with WorkspaceLock(self._root, f"python api {name}", wait=self.wait):
            yield self._refresh()

    def _refresh(self) -> Workspace:
        # the current version and settings change on disk (another person, a job): reread them
        self.workspace = loop.workspace_or_error(self._root)
        return self.workspace

    def __repr__(self) -> str:
        ws = self.workspace
        return (
            f"<sheets_bridge workspace {ws.root} at {ws.current.name}, {len(ws.classes)} classes>"
        )

    # -- what is there -------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def classes(self) -> tuple[str, ...]:
        return self._refresh().classes

    @property
    def version(self) -> str:
        """The current version's name."""
        return self._refresh().current.name

    def versions(self) -> pd.DataFrame:
        """One row per version: counts, changes, the accuracy of its latest run."""
        return pd.DataFrame(loop.versions_table(self._refresh()))

    def manifest(self, version: str | None = None) -> pd.DataFrame:
        """``id, path, label, split, origin, parent_id, sha256`` of a version (default: current)."""
        ws = self._refresh()
        return (ws.version(version) if version else ws.current).manifest()

    def predictions(self) -> pd.DataFrame | None:
        """The latest complete run's out-of-fold predictions for the current version, or None."""
        ws = self._refresh()
        run = ws.latest_run(ws.current.name) or ws.latest_run()
        return run.predictions() if run else None

    def scores(self) -> pd.DataFrame | None:
        """The latest complete run's per-image review signals, or None."""
        ws = self._refresh()
        run = ws.latest_run(ws.current.name) or ws.latest_run()
        return run.scores() if run else None

    def sheet_frame(self) -> pd.DataFrame:
        """The sheet as people see it: one row per image, every column as text, in sheet order."""
        table = self._refresh().sheet().read()
        return pd.DataFrame(list(table.rows), columns=list(table.header))

    def diff(self, old: str, new: str | None = None) -> pd.DataFrame:
        """What changed from version ``old`` to ``new`` (default: current): id, field, old, new."""
        return loop.diff_versions(self._refresh(), old, new).table

    def report(self) -> dict[str, Any]:
        """Where people disagree (the dashboard's report) as a dict."""
        from sheets_bridge.loop.report import disagreement_report

        return disagreement_report(self._refresh())

    # -- the loop --------------------------------------------------------------------------------
    def train(self, **options: Any):
        """Train on the current version (``preset=``, ``epochs=``, ``eval_dir=``, ``engine=``,
        ``ray_address=``); returns the run."""
        options.setdefault("progress", False)
        with self._writing("train") as ws:
            return loop.train(ws, **options)

    def import_run(self, probabilities: Path | str, embeddings: Path | str | None = None):
        """A run from your own model's out-of-fold probabilities (CSV: id + one column per class)."""
        from sheets_bridge.loop.import_run import import_run

        with self._writing("import_run") as ws:
            return import_run(ws, probabilities, embeddings=embeddings)

    def push(self, **options: Any):
        """Write one row per image (model cells only; human cells are never touched)."""
        with self._writing("push") as ws:
            return loop.push(ws, **options)

    def pull(self, **options: Any):
        """Read people's decisions, build the next version."""
        with self._writing("pull") as ws:
            return loop.pull(ws, **options)

    def retrain(self, **options: Any):
        """pull + train + push."""
        options.setdefault("progress", False)
        with self._writing("retrain") as ws:
            return loop.retrain(ws, **options)

    def checkout(self, version: str) -> str:
        """Make ``version`` current again (nothing is deleted)."""
        with self._writing("checkout") as ws:
            return ws.set_current(version).name

    def augment(self, **options: Any):
        from sheets_bridge.loop.augment import augment

        with self._writing("augment") as ws:
            return augment(ws, **options)

    def rebalance(self, apply_now: bool = False):
        from sheets_bridge.loop.rebalance import rebalance

        with self._writing("rebalance") as ws:
            return rebalance(ws, apply_now=apply_now)

    def repair_sheet(self, dry_run: bool = False):
        """Rebuild a damaged sheet's header and ids, keeping every human cell (``sheet repair``)."""
        from sheets_bridge.loop.repair import repair

        with self._writing("repair_sheet") as ws:
            return repair(ws, dry_run=dry_run)

    def export(self, directory: Path | str, *, version: str | None = None, format: str = "folder"):
        """Write a version where other tools read it (see ``sheets-bridge export --help``)."""
        from sheets_bridge.loop.export import export

        ws = self._refresh()
        return export(ws, version or ws.current.name, Path(directory), format=format)


def open(path: Path | str) -> Bridge:  # noqa: A001 - the API reads as sb.open("ws")
    """Open an existing workspace folder."""
    return Bridge(path)


def init(dataset: Path | str, workspace: Path | str, **settings: Any) -> Bridge:
    """Register ``dataset`` (image folder or CSV manifest) as a new workspace and open it."""
    loop.init(dataset, workspace, **settings)
    return Bridge(workspace)
