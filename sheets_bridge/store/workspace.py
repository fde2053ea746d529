"""A workspace on disk: settings, immutable versions, training runs, the local sheet, media.

```
<workspace>/sheets-bridge.toml   settings
<workspace>/state.json           which version is current (checkout changes only this)
<workspace>/versions/vNNNN/      manifest.csv, changes.csv, meta.json (never modified)
<workspace>/runs/<run-id>/       model.pt, predictions.csv, embeddings.npy, umap.npy, scores.csv, metrics.json, run.json
<workspace>/sheet.db             the embedded local sheet
<workspace>/media/               images (content-addressed), thumbnails, tensor cache
```
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sheets_bridge.core import config as config_mod
from sheets_bridge.core.config import Config
from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.core.schema import Schema
from sheets_bridge.sheets import check_config
from sheets_bridge.store.versions import Version, clean_partial, list_versions


@dataclass(frozen=True)
class Run:
    """One training run: its folder and ``run.json`` (version, preset, seed, state)."""

    id: str
    path: Path

    def info(self) -> dict:
        return json.loads((self.path / "run.json").read_text(encoding="utf-8"))

    def metrics(self) -> dict:
        f = self.path / "metrics.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}

    @property
    def complete(self) -> bool:
        return (self.path / "metrics.json").exists() and self.info().get("state") == "done"

    def predictions(self) -> pd.DataFrame:
        return pd.read_csv(self.path / "predictions.csv", dtype={"id": str}, keep_default_na=False)

    def scores(self) -> pd.DataFrame | None:
        f = self.path / "scores.csv"
        return pd.read_csv(f, dtype={"id": str}, keep_default_na=False) if f.exists() else None


def _write_json_atomic(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class Workspace:
    """Opens an existing workspace folder; :func:`sheets_bridge.loop.steps.init` creates one."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        self.config: Config = config_mod.load(self.root)
        check_config(self.config)
        clean_partial(self.versions_dir)

    # -- layout ----------------------------------------------------------------------------------
    @property
    def versions_dir(self) -> Path:
        return self.root / "versions"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def sheet_path(self) -> Path:
        return self.root / "sheet.db"

    @property
    def schema(self) -> Schema:
        return Schema(tuple(self.config.annotators))

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.config.classes)

    # -- versions --------------------------------------------------------------------------------
    def versions(self) -> list[Version]:
        return list_versions(self.versions_dir)

    def version(self, name: str) -> Version:
        for v in self.versions():
            if v.name == name:
                return v
        known = ", ".join(v.name for v in self.versions()) or "none"
        raise WorkspaceError(f"no version {name!r} (versions: {known})")

    def _state(self) -> dict:
        f = self.root / "state.json"
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else {}

    @property
    def current(self) -> Version:
        name = self._state().get("current")
        if name:
            return self.version(name)
        versions = self.versions()
        if not versions:
            raise WorkspaceError(f"{self.root} has no dataset version; run `sheets-bridge init`")
        return versions[-1]

    def set_current(self, name: str) -> Version:
        version = self.version(name)
        state = self._state()
        state["current"] = version.name
        _write_json_atomic(self.root / "state.json", state)
        return version

    # -- runs ------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        if not self.runs_dir.exists():
            return []
        runs = [Run(p.name, p) for p in self.runs_dir.iterdir() if (p / "run.json").exists()]
        return sorted(runs, key=lambda r: r.id)

    def new_run(self, version: Version, preset: str, seed: int) -> Run:
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        n = len([p for p in self.runs_dir.iterdir() if p.is_dir()]) + 1
        while True:
            run_id = f"run-{n:04d}-{version.name}-{preset}"
            try:
                (self.runs_dir / run_id).mkdir()
                break
            except FileExistsError:
                n += 1
        run = Run(run_id, self.runs_dir / run_id)
        self.update_run(
            run,
            version=version.name,
            preset=preset,
            seed=seed,
            state="running",
            started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        return run

    def update_run(self, run: Run, **fields: object) -> None:
        f = run.path / "run.json"
        info = json.loads(f.read_text(encoding="utf-8")) if f.exists() else {"id": run.id}
        info.update(fields)
        _write_json_atomic(f, info)

    def latest_run(self, version: str | None = None) -> Run | None:
        """The newest complete run, of ``version`` when given."""
        for run in reversed(self.runs()):
            if run.complete and (version is None or run.info().get("version") == version):
                return run
        return None

    def runs_by_version(self) -> dict[str, Run]:
        out: dict[str, Run] = {}
        for run in self.runs():
            if run.complete:
                out[run.info()["version"]] = run
        return out

    # -- the sheet -------------------------------------------------------------------------------
    def sheet(self):
        """The configured sheet backend (its module, gspread for Google, loads only when used)."""
        from sheets_bridge.sheets import backend

        sheet = backend(self.config.backend).load().from_config(self.config, self.root)
        if hasattr(sheet, "must_exist") and self._state().get("sheet_written"):
            sheet.must_exist = True  # a lost local sheet is reported, not read as empty
        return sheet

    def mark_sheet_written(self, written: bool = True) -> None:
        """Record that the local sheet holds rows, so that losing its file is noticed (not read as
        an empty sheet); ``written=False`` starts over with a new sheet."""
        state = self._state()
        if bool(state.get("sheet_written")) == written:
            return
        state["sheet_written"] = written
        _write_json_atomic(self.root / "state.json", state)

    @property
    def remote_sheet(self) -> bool:
        """Whether the sheet lives on another service (Google) rather than in the workspace."""
        from sheets_bridge.sheets import backend

        return backend(self.config.backend).remote
