"""One writer at a time per workspace: a file lock at ``<workspace>/.lock``.

Every command that changes the workspace (CLI commands, web jobs) holds it for the whole operation;
readers never take it and never wait. The holder writes who it is to ``.lock.json`` so that a
second writer can say what it waits for::

    busy: pull (sheets-bridge) since 2026-12-01T04:20:00+0000 (pid 4242); wait for it or try again

The lock is ``filelock``'s (an OS lock on an open file): a killed holder releases it with its last
file descriptor, so no stale lock is ever left to clear by hand.

>>> with WorkspaceLock(root, "push"):      # doctest: +SKIP
...     loop.push(ws)
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from sheets_bridge.core.errors import WorkspaceBusy, WorkspaceError

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock.json"
#: Files the lock leaves in a workspace folder (an otherwise empty folder is still "empty").
LOCK_FILES = (LOCK_FILE, HOLDER_FILE)

# Workspaces whose lock this process holds (by resolved root). Opening a workspace consults it:
# only a writer may finish another writer's interrupted work.
_held: dict[Path, int] = {}
_held_guard = threading.Lock()


def held_here(root: Path | str) -> bool:
    """Whether this process holds the writer lock of the workspace at ``root``."""
    with _held_guard:
        return _held.get(Path(root).resolve(), 0) > 0


def holder(root: Path | str) -> dict:
    """Who holds (or last held) the lock: ``{"holder", "pid", "since"}``; ``{}`` when unknown."""
    try:
        return json.loads((Path(root) / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def busy_message(root: Path | str) -> str:
    info = holder(root)
    if not info:
        return "busy: another command or job is writing this workspace; wait for it or try again"
    return (
        f"busy: {info.get('holder', '?')} since {info.get('since', '?')} (pid {info.get('pid', '?')}); "
        "wait for it or try again"
    )


class WorkspaceLock:
    """The writer lock of one workspace, held by ``name`` (a command or a job id).

    ``wait`` is how many seconds to wait for another writer (0: fail at once). Raises
    :class:`~sheets_bridge.core.errors.WorkspaceBusy` with :func:`busy_message`. The lock may be
    released from another thread than the one that took it (a web job takes it in the request
    and releases it in the job's thread).
    """

    def __init__(self, root: Path | str, name: str, *, wait: float = 0.0):
        self.root = Path(root).resolve()
        self.name = name
        self.wait = max(float(wait), 0.0)
        self._lock = FileLock(self.root / LOCK_FILE, thread_local=False)

    def acquire(self) -> WorkspaceLock:
        try:
            self._lock.acquire(timeout=self.wait, poll_interval=0.05)
        except Timeout:
            raise WorkspaceBusy(busy_message(self.root)) from None
        except OSError as exc:  # a read-only or vanished folder: say so, no traceback
            raise WorkspaceError(
                f"cannot take the writer lock {self.root / LOCK_FILE} ({exc.strerror or exc}); "
                "this command changes the workspace: run it where the folder is writable"
            ) from None
        try:
            info = {
                "holder": self.name,
                "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            tmp = self.root / f".{HOLDER_FILE}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(info) + "\n", encoding="utf-8")
            os.replace(tmp, self.root / HOLDER_FILE)
        except OSError:
            pass  # a read-only or full disk: the lock still works, the message says less
        with _held_guard:
            _held[self.root] = _held.get(self.root, 0) + 1
        return self

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        with _held_guard:
            _held[self.root] = _held.get(self.root, 1) - 1
            if _held[self.root] <= 0:
                del _held[self.root]
        # removed while still held, so that it never names a writer that has finished
        with contextlib.suppress(OSError):
            (self.root / HOLDER_FILE).unlink(missing_ok=True)
        self._lock.release()

    def __enter__(self) -> WorkspaceLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def try_lock(root: Path | str, name: str) -> WorkspaceLock | None:
    """The lock if no one holds it right now, else None (never waits)."""
    try:
        return WorkspaceLock(root, name).acquire()
    except (WorkspaceError, OSError):
        return None
