"""Single-flight background jobs (retrain, push, pull) persisted in ``<workspace>/jobs.db``.

A job runs in a thread of the process that started it. Its state lives in SQLite, so a page reload
or a server restart still shows it; only one job may be queued or running per workspace, checked
inside one ``BEGIN IMMEDIATE`` transaction so two processes cannot both start one.

A job whose process died cannot report that itself, so readers look for it: a running job whose
process (same host) no longer exists, or whose heartbeat stopped, is marked failed with the reason.

A job holds the workspace's writer lock (:mod:`sheets_bridge.store.lock`) from its start to its
end, shared with the CLI's writing commands: while a command writes, starting a job raises
:class:`~sheets_bridge.core.errors.WorkspaceBusy` (the API answers 409 with its message).

>>> jobs = Jobs(workspace_root)                       # doctest: +SKIP
>>> job = jobs.start("push")                          # doctest: +SKIP
>>> jobs.wait(job["id"], timeout=60)["state"]         # doctest: +SKIP
'done'
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sheets_bridge.core.errors import BridgeError, JobConflict
from sheets_bridge.core.process import pid_alive as _pid_alive
from sheets_bridge.core.sqlite import connect as db_connect
from sheets_bridge.core.sqlite import transaction as db_transaction
from sheets_bridge.store.lock import WorkspaceLock

JOBS_FILE = "jobs.db"
#: How often a running job proves it is alive, and after how long without proof it counts as dead.
HEARTBEAT_S = 2.0
STALE_S = 30.0
# Progress callbacks can fire thousands of times per training; a write per call would make SQLite
# the bottleneck, so writes are throttled unless the step changes or the job reaches 100 %.
_PROGRESS_EVERY_S = 0.25

Progress = Callable[[str, float], None]
#: A job kind: ``run(workspace_root, params, on_progress)`` returns a report (``as_dict()``,
#: ``describe()``), a dict, or None.
Runner = Callable[[Path, Mapping[str, Any], Progress], Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    step TEXT NOT NULL DEFAULT '',
    progress REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    result TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    owner TEXT NOT NULL,
    heartbeat REAL NOT NULL,
    trace TEXT
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created);
"""
ACTIVE = ("queued", "running")
_PUBLIC = (
    "id",
    "kind",
    "state",
    "step",
    "progress",
    "message",
    "error",
    "result",
    "started",
    "finished",
)


def _retrain(root: Path, params: Mapping[str, Any], on_progress: Progress) -> Any:
    from sheets_bridge import loop
    from sheets_bridge.store.workspace import Workspace

    kwargs: dict[str, Any] = {}
    if params.get("preset"):
        kwargs["preset"] = params["preset"]
    if params.get("yes"):
        kwargs["yes"] = True
    return loop.retrain(Workspace(root), on_progress=on_progress, **kwargs)


def _push(root: Path, params: Mapping[str, Any], on_progress: Progress) -> Any:
    from sheets_bridge import loop
    from sheets_bridge.store.workspace import Workspace

    return loop.push(Workspace(root), on_progress=on_progress)


def _pull(root: Path, params: Mapping[str, Any], on_progress: Progress) -> Any:
    from sheets_bridge import loop
    from sheets_bridge.store.workspace import Workspace

    return loop.pull(Workspace(root), on_progress=on_progress, yes=bool(params.get("yes")))


#: The job kinds the API starts.
DEFAULT_KINDS: dict[str, Runner] = {"retrain": _retrain, "push": _push, "pull": _pull}


def _as_result(value: Any) -> tuple[Any, str]:
    """A runner's return value -> (JSON-able result, one-paragraph message)."""
    if value is None:
        return None, ""
    message = value.describe() if hasattr(value, "describe") else ""
    if hasattr(value, "as_dict"):
        value = value.as_dict()
    # Round-trip through JSON so that paths, numpy numbers etc. become plain values now, not at read.
    return json.loads(json.dumps(value, default=str)), message


class Jobs:
    """The jobs of one workspace. Cheap to create; keeps no state but the threads it started."""

    def __init__(self, workspace: Path | str, kinds: Mapping[str, Runner] | None = None):
        self.root = Path(workspace)
        self.path = self.root / JOBS_FILE
        self.kinds: dict[str, Runner] = dict(DEFAULT_KINDS if kinds is None else kinds)
        self._threads: dict[str, threading.Thread] = {}
        # Tells this object's jobs apart from those of another process (or an earlier one that had
        # the same pid): only the owner can know whether its thread still runs.
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self):
        return db_connect(self.path, rows=True)

    def _transaction(self):
        return db_transaction(self.path, rows=True)

    # -- reading ---------------------------------------------------------------------------------
    @staticmethod
    def _public(row: sqlite3.Row) -> dict[str, Any]:
        job = {k: row[k] for k in _PUBLIC}
        job["result"] = json.loads(row["result"]) if row["result"] else None
        job["progress"] = float(job["progress"])
        return job

    def _dead_reason(self, row: sqlite3.Row, now: float) -> str | None:
        """Why an active job can no longer finish, or None while it can."""
        if row["owner"] == self._owner:
            thread = self._threads.get(row["id"])
            # ident is None between the commit and thread.start(): not dead, just not started.
            if thread is None or (thread.ident is not None and not thread.is_alive()):
                return "the job's thread ended without recording a result"
            return None
        if row["host"] == socket.gethostname() and not _pid_alive(row["pid"]):
            return f"the server process (pid {row['pid']}) stopped while the job was {row['state']}; start the job again"
        if now - row["heartbeat"] > STALE_S:
            return (
                f"no sign of life for {now - row['heartbeat']:.0f} s: the process running the job "
                f"(pid {row['pid']} on {row['host']}) stopped or hung; start the job again"
            )
        return None

    def _reap(self, db: sqlite3.Connection) -> None:
        now = time.time()
        for row in db.execute("SELECT * FROM jobs WHERE state IN (?, ?)", ACTIVE).fetchall():
            reason = self._dead_reason(row, now)
            if reason:
                db.execute(
                    "UPDATE jobs SET state='failed', error=?, finished=? WHERE id=? AND state IN (?, ?)",
                    (reason, now, row["id"], *ACTIVE),
                )

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job with this id (see the module docstring for the fields), or None."""
        with self._transaction() as db:
            self._reap(db)
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._public(row) if row else None

    def running(self) -> dict[str, Any] | None:
        """The queued or running job, if any."""
        with self._transaction() as db:
            self._reap(db)
            row = db.execute(
                "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY created DESC LIMIT 1", ACTIVE
            ).fetchone()
        return self._public(row) if row else None

    def current(self) -> dict[str, Any] | None:
        """The running job, else the most recent one, else None."""
        return self.running() or next(iter(self.list(1)), None)

    def list(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest jobs first."""
        with self._transaction() as db:
            self._reap(db)
            rows = db.execute(
                "SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._public(r) for r in rows]

    def wait(self, job_id: str, timeout: float = 600.0, poll: float = 0.05) -> dict[str, Any]:
        """Block until the job finishes (for the CLI and tests); TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(job_id)
            if job is None:
                raise KeyError(job_id)
            if job["state"] not in ACTIVE:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['state']} after {timeout} s")
            time.sleep(poll)

    # -- starting --------------------------------------------------------------------------------
    def start(self, kind: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Queue a job and start its thread; raises JobConflict while another job is active."""
        if kind not in self.kinds:
            raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(sorted(self.kinds))}")
        params = dict(params or {})
        job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{uuid.uuid4().hex[:6]}"
        now = time.time()
        lock: WorkspaceLock | None = None
        try:
            with self._transaction() as db:
                self._reap(db)
                active = db.execute(
                    "SELECT id FROM jobs WHERE state IN (?, ?) LIMIT 1", ACTIVE
                ).fetchone()
                if active:
                    raise JobConflict(active["id"])
                # Taken here, in the request, so that a busy workspace is refused at once; the job's
                # thread releases it when the job ends, whatever the outcome.
                lock = WorkspaceLock(self.root, f"job {job_id}").acquire()
                db.execute(
                    "INSERT INTO jobs (id, kind, state, params, created, host, pid, owner, heartbeat)"
                    " VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                    (
                        job_id,
                        kind,
                        json.dumps(params),
                        now,
                        socket.gethostname(),
                        os.getpid(),
                        self._owner,
                        now,
                    ),
                )
                # Registered before the commit: a reader in this process must never see the job
                # without its thread and take it for dead.
                thread = threading.Thread(
                    target=self._run,
                    args=(job_id, kind, params, lock),
                    name=f"job-{job_id}",
                    daemon=True,
                )
                self._threads[job_id] = thread
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        try:
            thread.start()
        except BaseException:
            lock.release()
            raise
        job = self.get(job_id)
        assert job is not None
        return job

    def _update(self, job_id: str, **fields: Any) -> None:
        names = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as db:
            db.execute(f"UPDATE jobs SET {names} WHERE id = ?", (*fields.values(), job_id))

    def _run(
        self, job_id: str, kind: str, params: dict[str, Any], lock: WorkspaceLock | None = None
    ) -> None:
        # Released before the final state is recorded (and again, harmlessly, on the way out):
        # whoever sees the job finished may start the next writer at once.
        release = lock.release if lock is not None else (lambda: None)
        try:
            self._execute(job_id, kind, params, release)
        finally:
            release()

    def _execute(
        self, job_id: str, kind: str, params: dict[str, Any], release: Callable[[], None]
    ) -> None:
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                self._update(job_id, heartbeat=time.time())

        last = {"step": None, "t": 0.0}

        def on_progress(step: str, fraction: float) -> None:
            now = time.monotonic()
            fraction = min(max(float(fraction), 0.0), 1.0)
            if step == last["step"] and fraction < 1.0 and now - last["t"] < _PROGRESS_EVERY_S:
                return
            last.update(step=step, t=now)
            self._update(job_id, step=str(step), progress=fraction, heartbeat=time.time())

        heart = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
        self._update(job_id, state="running", started=time.time(), heartbeat=time.time())
        heart.start()
        try:
            value = self.kinds[kind](self.root, params, on_progress)
            result, message = _as_result(value)
        except BaseException as exc:  # a job must record why it failed, whatever it raised
            error = str(exc) if isinstance(exc, BridgeError) else f"{type(exc).__name__}: {exc}"
            release()
            self._update(
                job_id,
                state="failed",
                error=error or type(exc).__name__,
                finished=time.time(),
                trace=traceback.format_exc(),
                heartbeat=time.time(),
            )
            if not isinstance(exc, Exception):
                raise
        else:
            release()
            self._update(
                job_id,
                state="done",
                progress=1.0,
                result=json.dumps(result),
                message=message,
                finished=time.time(),
                heartbeat=time.time(),
            )
        finally:
            stop.set()
