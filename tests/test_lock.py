"""One writer at a time per workspace: CLI commands and web jobs share a file lock; readers never wait.

The other writer is a real second process (it takes the lock, says so, and holds it until its
stdin closes), or a real web job thread; no sleeps synchronise anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core.errors import WorkspaceBusy
from sheets_bridge.loop.jobs import Jobs
from sheets_bridge.store.lock import WorkspaceLock, busy_message
from sheets_bridge.store.workspace import Workspace
from sheets_bridge.web import create_app

REPO = Path(__file__).resolve().parents[1]

_HOLDER = """
import sys
from sheets_bridge.store.lock import WorkspaceLock
with WorkspaceLock(sys.argv[1], sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


class Holder:
    """A second process holding the workspace's writer lock."""

    def __init__(self, root: Path, name: str = "sheets-bridge pull"):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(root), name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def __enter__(self) -> Holder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def sheets_bridge(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sheets_bridge.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        **kw,
    )


@pytest.fixture
def pushed(workspace: Workspace) -> Workspace:
    loop.push(workspace)
    return workspace


def test_a_second_writer_process_fails_fast_with_who_holds_the_lock(pushed):
    root = str(pushed.root)
    with Holder(pushed.root) as holder:
        done = sheets_bridge("pull", "-w", root)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr  # one line, no traceback
        assert lines[0].startswith("Error: busy: sheets-bridge pull since ")
        assert f"(pid {holder.proc.pid}); wait for it or try again" in lines[0]
        assert [v.name for v in Workspace(root).versions()] == ["v0001"]
        for args in (
            ("push",),
            ("train",),
            ("retrain",),
            ("checkout", "v0001"),
            ("augment",),
            ("rebalance",),
            ("sheet", "update", "--from-csv", __file__),
        ):
            result = cli(*args, "-w", root)
            assert result.exit_code == 1, args
            assert "busy: sheets-bridge pull since" in result.output, result.output
        holder.release()
    assert cli("pull", "-w", root).exit_code == 0


def test_readers_never_wait_for_the_writer(pushed):
    root = str(pushed.root)
    with Holder(pushed.root):
        for args in (("versions",), ("sheet", "show"), ("report",), ("diff", "v0001")):
            result = cli(*args, "-w", root)
            assert result.exit_code == 0, result.output


def test_wait_lets_a_writer_queue_behind_another(pushed):
    root = str(pushed.root)
    with Holder(pushed.root) as holder:
        waiting = subprocess.Popen(
            [sys.executable, "-m", "sheets_bridge.cli", "push", "-w", root, "--wait", "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        holder.release()
        out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "pushed" in out


def test_a_killed_holder_leaves_no_stale_lock(pushed):
    with Holder(pushed.root) as holder:
        holder.kill()
    result = cli("push", "-w", str(pushed.root))
    assert result.exit_code == 0, result.output


def test_a_web_job_is_refused_with_409_while_a_command_writes(pushed):
    client = create_app(pushed.root, token="t0ken-for-tests", testing=True).test_client()
    with Holder(pushed.root, "sheets-bridge retrain"):
        response = client.post(
            "/api/push", json={}, headers={"Authorization": "Bearer t0ken-for-tests"}
        )
        assert response.status_code == 409
        message = response.get_json()["error"]
        assert message.startswith("busy: sheets-bridge retrain since ")
        assert message.endswith("wait for it or try again")
        assert Jobs(pushed.root).list() == []  # nothing was queued


def test_a_command_is_refused_while_a_web_job_runs_and_runs_after_it(pushed):
    release = threading.Event()

    def slow_pull(root, params, on_progress):
        release.wait(60)
        return loop.pull(Workspace(root))

    jobs = Jobs(pushed.root, kinds={"pull": slow_pull})
    job = jobs.start("pull")
    try:
        result = cli("push", "-w", str(pushed.root))
        assert result.exit_code == 1
        assert f"busy: job {job['id']} since" in result.output
        assert f"(pid {os.getpid()})" in result.output
    finally:
        release.set()
    assert jobs.wait(job["id"], timeout=60)["state"] == "done"
    assert cli("push", "-w", str(pushed.root)).exit_code == 0  # the job let go of the lock


def test_a_failed_job_releases_the_lock(pushed):
    def broken(root, params, on_progress):
        raise RuntimeError("boom")

    jobs = Jobs(pushed.root, kinds={"push": broken})
    assert jobs.wait(jobs.start("push")["id"], timeout=60)["state"] == "failed"
    with WorkspaceLock(pushed.root, "test"):
        pass


def test_the_lock_says_who_holds_it_and_forgets_on_release(tmp_path):
    lock = WorkspaceLock(tmp_path, "sheets-bridge train").acquire()
    try:
        with pytest.raises(WorkspaceBusy, match=r"busy: sheets-bridge train since .* \(pid \d+\)"):
            WorkspaceLock(tmp_path, "sheets-bridge push").acquire()
    finally:
        lock.release()
    assert "another command or job" in busy_message(tmp_path)


def test_init_takes_the_lock_and_leaves_no_folder_when_it_fails(image_folder, tmp_path):
    ws_dir = tmp_path / "new"
    result = cli("init", str(tmp_path / "missing"), "-w", str(ws_dir))
    assert result.exit_code == 1
    assert not ws_dir.exists()
    result = cli("init", str(image_folder), "-w", str(ws_dir))
    assert result.exit_code == 0, result.output
    assert cli("versions", "-w", str(ws_dir)).exit_code == 0


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, (*prefix, name))
        else:
            yield " ".join((*prefix, name)), cmd


WRITERS = {
    "init",
    "import-run",
    "train",
    "push",
    "pull",
    "retrain",
    "checkout",
    "augment",
    "rebalance",
    "sheet update",
    "sheet undo",
    "sheet repair",
}


def test_every_command_that_writes_the_workspace_takes_the_lock():
    locked = {name for name, cmd in _commands(main) if any(p.name == "wait_s" for p in cmd.params)}
    assert locked == WRITERS


def test_a_lock_that_cannot_be_taken_is_one_line_not_a_traceback(pushed):
    (pushed.root / ".lock").mkdir()  # as unusable as a read-only folder, even for root
    result = cli("push", "-w", str(pushed.root))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot take the writer lock" in lines[0]
    assert cli("versions", "-w", str(pushed.root)).exit_code == 0  # readers still read


def test_the_python_api_writes_under_the_same_lock(pushed):
    import sheets_bridge.api as sb

    bridge = sb.open(pushed.root)
    with Holder(pushed.root), pytest.raises(WorkspaceBusy, match="busy: sheets-bridge pull since"):
        bridge.push()
    assert bridge.push().rows > 0
    assert bridge.version == "v0001"  # readers need no lock
