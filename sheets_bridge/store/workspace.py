"""A workspace on disk: settings, immutable versions, training runs, the local sheet, media.

```
<workspace>/sheets-bridge.toml   settings
<workspace>/state.json           which version is current (checkout changes only this)
<workspace>/versions/vNNNN/      manifest.csv, changes.csv, meta.json (never modified)
<workspace>/runs/<run-id>/       model.pt, predictions.csv, eval_predictions.csv, embeddings.npy, umap.npy, scores.csv, metrics.json, run.json
<workspace>/sheet.db             the embedded local sheet
<workspace>/media/               images (content-addressed), thumbnails, tensor cache
<workspace>/.lock, .lock.json    the writer lock and who holds it (see store/lock.py)
<workspace>/journal.json         only while a new version is being made current
```

Making a version current is two steps (rename the version folder into place, then write
``state.json``), so a crash between them would leave a complete version that is not current and
the next pull would build the same changes again. :meth:`Workspace.add_version` therefore writes a
journal before the rename and removes it after the state write; opening the workspace finishes
what a dead writer's journal says it was doing.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sheets_bridge.core import config as config_mod
from sheets_bridge.core.config import Config
from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.core.process import pid_alive as _pid_alive
from sheets_bridge.core.schema import Schema
from sheets_bridge.sheets import check_config
from sheets_bridge.store import lock as lock_mod
from sheets_bridge.store.faults import faultpoint
from sheets_bridge.store.versions import Version, clean_partial, create_version, list_versions

JOURNAL_FILE = "journal.json"
# Journals this process is writing right now: a journal of this very process that is not in here
# belongs to an add_version that failed (a full disk) and may be finished.
_writing: set[Path] = set()
#: What a run shows when the process that trained it is gone.
STOPPED = "the process stopped (killed?)"


@dataclass(frozen=True)
class Run:
    """One training run: its folder and ``run.json`` (version, preset, seed, state)."""

    id: str
    path: Path

    def info(self) -> dict:
        """``run.json``; a ``running`` run whose process is gone shows as ``failed``."""
        info = json.loads((self.path / "run.json").read_text(encoding="utf-8"))
        pid = info.get("pid")
        if (
            info.get("state") == "running"
            and isinstance(pid, int)
            and info.get("host") == socket.gethostname()
            and not _pid_alive(pid)
        ):
            info.update(state="failed", error=STOPPED)
        return info

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
        self.recover()

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
        faultpoint("state.write")
        _write_json_atomic(self.root / "state.json", state)
        return version

    def add_version(
        self,
        manifest: pd.DataFrame,
        changes: pd.DataFrame | None = None,
        *,
        message: str,
        extra: dict | None = None,
        parent: str | None = None,
    ) -> Version:
        """Create the next version from ``parent`` (default: the current one, if any) and make
        it current.

        Recoverable: a journal written before the version's rename and removed after the state
        write lets :meth:`recover` finish the switch if the process dies in between.
        """
        if parent is None and self.versions():
            parent = self.current.name
        journal = self.root / JOURNAL_FILE

        def write_journal(name: str) -> None:
            _write_json_atomic(
                journal,
                {
                    "version": name,
                    "parent": parent,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
            )
            faultpoint("journal.written")

        _writing.add(journal)
        try:
            version = create_version(
                self.versions_dir,
                manifest,
                changes,
                parent=parent,
                message=message,
                extra=extra,
                before_rename=write_journal,
            )
        except BaseException:
            _writing.discard(journal)
            journal.unlink(missing_ok=True)
            raise
        try:
            self.set_current(version.name)
        except OSError as exc:
            # the version is complete; the journal makes it current at the next open
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise WorkspaceError(
                    f"no space left on the device while making {version.name} current in "
                    f"{self.root}; it is complete and becomes current when the workspace is next "
                    "opened: free some space and run the command again"
                ) from None
            raise
        finally:
            _writing.discard(journal)
        faultpoint("state.written")
        journal.unlink(missing_ok=True)
        return version

    def recover(self) -> str | None:
        """Finish a dead writer's version switch; returns what was done, or None.

        Only a writer may do this: this process holds the workspace lock, or can take it now
        (a live writer finishes its own work, so a reader that cannot take the lock leaves it).
        """
        journal = self.root / JOURNAL_FILE
        if not journal.exists():
            return None
        try:
            entry = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            entry = {}
        pid = entry.get("pid")
        if (
            isinstance(pid, int)
            and entry.get("host") == socket.gethostname()
            and _pid_alive(pid)
            and (pid != os.getpid() or journal in _writing)
        ):
            return None  # its writer is still at work
        taken = None if lock_mod.held_here(self.root) else lock_mod.try_lock(self.root, "recovery")
        if taken is None and not lock_mod.held_here(self.root):
            return None
        try:
            done = None
            name, parent = entry.get("version"), entry.get("parent")
            folder = self.versions_dir / str(name)
            current = self._state().get("current")
            complete = folder.is_dir() and (folder / "meta.json").exists()
            if complete and current == parent and current != name:
                meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
                if meta.get("parent") == parent:
                    self.set_current(str(name))
                    done = f"{name} made current (its writer stopped before switching to it)"
            journal.unlink(missing_ok=True)
            return done
        except OSError:
            return None  # a read-only workspace: reads still work, the next writer finishes
        finally:
            if taken is not None:
                taken.release()

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
            pid=os.getpid(),
            host=socket.gethostname(),
            started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        )
        return run

    def unfinished_run(self, version: Version, preset: str, seed: int) -> Run | None:
        """The newest run of ``version`` with this preset and seed that stopped before it
        finished (interrupted, killed or failed) and kept finished models in ``partial/``: a
        new training resumes it instead of starting over."""
        for run in reversed(self.runs()):
            info = run.info()
            if (info.get("version"), info.get("preset"), info.get("seed")) != (
                version.name,
                preset,
                seed,
            ):
                continue
            if info.get("state") == "failed" and (run.path / "partial" / "run.json").is_file():
                return run
            return None  # a newer run of the same kind (done, or running) comes first
        return None

    def resume_run(self, run: Run) -> Run:
        """Mark an unfinished run as running again in this process."""
        self.update_run(
            run,
            state="running",
            error=None,
            pid=os.getpid(),
            host=socket.gethostname(),
            resumed=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
