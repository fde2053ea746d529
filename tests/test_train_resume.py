"""`sheets-bridge train` after an interrupted run resumes it: the models the run kept are reused
and only the missing ones train.

The first run is a real subprocess that kills itself (SIGKILL) at the fault point
``train.saved.N``, passed when its N-th model is saved, so the interruption does not depend on
timing. The rerun goes through the CLI in this process (a warm model library).
"""

from __future__ import annotations

import signal

import pytest

from sheets_bridge import loop
from sheets_bridge.core import config as config_mod
from sheets_bridge.store.faults import ENV
from sheets_bridge.store.workspace import Workspace
from tests.conftest import make_image_folder
from tests.test_faults import cli, run_killed


@pytest.fixture
def small(tmp_path):
    data = make_image_folder(tmp_path / "data", {"train": 5, "val": 2})
    ws = loop.init(data, tmp_path / "ws")
    config_mod.save(ws.root, ws.config.replace(folds=2))  # final, fold0, fold1: seconds
    return ws.root


def test_train_after_a_kill_resumes_the_missing_fold_models(small, tmp_path, monkeypatch):
    killed = run_killed(small, ["train", "--epochs", "1"], "kill=train.saved.2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run,) = Workspace(small).runs()
    assert run.info()["state"] == "failed"
    assert sorted(p.stem for p in (run.path / "partial").glob("*.pt")) == ["final", "fold0"]

    trace = tmp_path / "trace.txt"
    monkeypatch.setenv(ENV, f"trace={trace}")
    out = cli("train", "--epochs", "1", "-w", str(small), "--no-progress")
    assert "resuming run-0001: 1 of 2 fold models done, the final model" in out
    # only the missing model trained: the third save is the first this process saw
    assert [p for p in trace.read_text().split() if p.startswith("train.saved")] == [
        "train.saved.3"
    ]
    (again,) = Workspace(small).runs()  # the same run folder, finished
    assert again.id == run.id and again.complete
    assert not (again.path / "partial").exists()
    assert len(again.predictions()) == len(Workspace(small).current.manifest())

    out = cli("train", "--epochs", "1", "-w", str(small), "--no-progress")
    assert "resuming" not in out  # a finished run is never resumed: a new one starts
    assert len(Workspace(small).runs()) == 2


def test_a_run_killed_before_any_model_finished_starts_over(small):
    killed = run_killed(small, ["train", "--epochs", "1"], "kill=train.started")
    assert killed.returncode == -signal.SIGKILL
    out = cli("train", "--epochs", "1", "-w", str(small), "--no-progress")
    assert "resuming" not in out
    assert [r.complete for r in Workspace(small).runs()] == [False, True]
