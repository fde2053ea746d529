"""Single-flight background jobs persisted in jobs.db: progress, results, failures, dead processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from sheets_bridge.core.errors import JobConflict, SheetError
from sheets_bridge.loop.jobs import JOBS_FILE, Jobs


@dataclass
class Report:
    rows: int

    def as_dict(self) -> dict:
        return {"rows": self.rows, "where": Path("/tmp")}

    def describe(self) -> str:
        return f"wrote {self.rows} rows"


def reporting(root, params, on_progress):
    for k in range(5):
        on_progress(f"step {k}", k / 4)
    return Report(rows=params.get("rows", 3))


def failing(root, params, on_progress):
    on_progress("reading the sheet", 0.3)
    raise SheetError("the sheet has no 'id' column; restore it")


def crashing(root, params, on_progress):
    return {"n": 1 / 0}


def blocking(event: threading.Event):
    def run(root, params, on_progress):
        on_progress("waiting", 0.5)
        assert event.wait(30), "the test never released the job"
        return {"released": True}

    return run


def test_a_job_runs_in_the_background_and_records_progress_result_and_message(tmp_path):
    jobs = Jobs(tmp_path, kinds={"push": reporting})
    job = jobs.start("push", {"rows": 7})
    assert job["kind"] == "push" and job["state"] in ("queued", "running", "done")
    done = jobs.wait(job["id"], timeout=10)
    assert done["state"] == "done" and done["progress"] == 1.0 and done["error"] is None
    assert done["result"] == {"rows": 7, "where": "/tmp"}  # made JSON-able when it finished
    assert done["message"] == "wrote 7 rows"
    assert done["started"] <= done["finished"]
    assert set(done) == {
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
    }


def test_a_second_job_while_one_runs_is_refused_with_the_running_jobs_id(tmp_path):
    release = threading.Event()
    jobs = Jobs(tmp_path, kinds={"retrain": blocking(release), "push": reporting})
    first = jobs.start("retrain")
    try:
        with pytest.raises(JobConflict) as caught:
            jobs.start("push")
        assert caught.value.running_id == first["id"]
        assert jobs.running()["id"] == first["id"]
        # Another process (here: another Jobs object on the same file) is refused too.
        with pytest.raises(JobConflict):
            Jobs(tmp_path, kinds={"push": reporting}).start("push")
    finally:
        release.set()
    assert jobs.wait(first["id"], timeout=10)["result"] == {"released": True}
    assert jobs.wait(jobs.start("push")["id"], timeout=10)["state"] == "done"  # free again


def test_a_failed_job_says_why_and_frees_the_slot(tmp_path):
    jobs = Jobs(tmp_path, kinds={"pull": failing, "push": crashing})
    failed = jobs.wait(jobs.start("pull")["id"], timeout=10)
    assert failed["state"] == "failed"
    assert failed["error"] == "the sheet has no 'id' column; restore it"
    assert failed["step"] == "reading the sheet" and failed["progress"] == pytest.approx(0.3)
    crashed = jobs.wait(jobs.start("push")["id"], timeout=10)
    assert (
        crashed["error"] == "ZeroDivisionError: division by zero"
    )  # unexpected: the type says what


def test_jobs_survive_a_reload_and_list_newest_first(tmp_path):
    jobs = Jobs(tmp_path, kinds={"push": reporting})
    ids = [jobs.wait(jobs.start("push")["id"], timeout=10)["id"] for _ in range(3)]
    fresh = Jobs(tmp_path)  # a restarted server
    assert [j["id"] for j in fresh.list()] == ids[::-1]
    assert fresh.current()["id"] == ids[-1]
    assert fresh.get(ids[0])["state"] == "done"
    assert fresh.get("no-such-job") is None


def test_an_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown job kind 'train'"):
        Jobs(tmp_path).start("train")


_CHILD = """
import sys, time
from sheets_bridge.loop.jobs import Jobs
jobs = Jobs(sys.argv[1], kinds={"retrain": lambda root, params, cb: time.sleep(120)})
print(jobs.start("retrain")["id"], flush=True)
time.sleep(120)
"""


def _start_child(root: Path) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    job_id = child.stdout.readline().strip()
    assert job_id, "the child process did not start its job"
    return child, job_id


def test_a_job_whose_process_died_is_marked_failed_with_the_reason(tmp_path):
    child, job_id = _start_child(tmp_path)
    try:
        jobs = Jobs(tmp_path)
        deadline = time.monotonic() + 120  # generous: a loaded CI machine is slow, not wrong
        while jobs.get(job_id)["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(JobConflict):  # alive: it still holds the slot
            jobs.start("push")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    job = jobs.get(job_id)
    assert job["state"] == "failed"
    assert f"the server process (pid {child.pid}) stopped while the job was running" in job["error"]
    assert job["finished"] is not None


def test_a_job_of_another_host_without_heartbeat_is_marked_failed(tmp_path):
    child, job_id = _start_child(tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with sqlite3.connect(tmp_path / JOBS_FILE) as db:  # as if it ran on another machine, long ago
        db.execute(
            "UPDATE jobs SET host = 'elsewhere', heartbeat = heartbeat - 3600 WHERE id = ?",
            (job_id,),
        )
    job = Jobs(tmp_path).get(job_id)
    assert job["state"] == "failed" and "no sign of life for 36" in job["error"]
