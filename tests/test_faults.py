"""Kill `pull`, `push` and `retrain` at every named fault point; the workspace must survive each kill.

Each command runs in a real subprocess with ``SHEETS_BRIDGE_FAULTS=kill=N`` and kills itself
(SIGKILL, no clean-up) at the N-th fault point it passes, so every crash point is hit exactly,
without timing. An untraced run of the same command first lists the points and gives the expected
end state. After each kill: the workspace opens, ``versions`` works, the current version is
complete; re-running the command finishes the job with the same versions as the run that was not
killed (no duplicate version). A full disk while a version is written is a one-line error.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.core import config as config_mod
from sheets_bridge.store.faults import ENV
from sheets_bridge.store.workspace import JOURNAL_FILE, STOPPED, Workspace
from tests.conftest import make_image_folder

REPO = Path(__file__).resolve().parents[1]
FIGURES: dict[str, dict[str, int]] = {}


def run_killed(ws_dir: Path, args: list[str], faults: str) -> subprocess.CompletedProcess:
    env = {**os.environ, ENV: faults}
    return subprocess.run(
        [sys.executable, "-m", "sheets_bridge.cli", *args, "-w", str(ws_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=300,
    )


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def state(ws_dir: Path) -> tuple[list[str], str, pd.DataFrame]:
    """Versions, the current one, and its manifest; fails if the workspace is damaged."""
    ws = Workspace(ws_dir)
    table = loop.versions_table(ws)  # what `versions` shows
    current = ws.current
    meta = current.meta()
    assert meta["name"] == current.name and meta["counts"]["images"] == len(current.manifest())
    current.changes()
    assert meta["parent"] in {None, *(v.name for v in ws.versions())}
    manifest = current.manifest().sort_values("id").reset_index(drop=True)
    return [r["version"] for r in table], current.name, manifest


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory) -> Path:
    """A pushed workspace whose sheet holds decisions: relabels, a removal, a move."""
    root = tmp_path_factory.mktemp("faults")
    data = make_image_folder(root / "data", {"train": 5, "val": 2})
    ws = loop.init(data, root / "ws")
    config_mod.save(ws.root, ws.config.replace(folds=2))  # training in seconds
    ws = Workspace(ws.root)
    loop.push(ws)
    ids = sorted(r["id"] for r in ws.sheet().read().rows)
    train_ids = [i for i in ids if i.startswith("train-")]
    edits = [
        (train_ids[0], "annotator_1", "ii"),
        (train_ids[0], "annotator_2", "ii"),
        (train_ids[7], "override", "iv"),
        (train_ids[12], "override", "x"),
        (train_ids[3], "subset", "val"),
    ]
    ws.sheet().edit(edits, author="tester")
    return ws.root


def sweep(template: Path, tmp_path: Path, args: list[str], points: list[str] | None = None):
    """Kill ``args`` at each fault point (all of them, or those named); check and re-run each."""
    ref_dir = tmp_path / "reference"
    shutil.copytree(template, ref_dir)
    if points is None:  # all of them: a traced run lists them
        trace = tmp_path / "trace.txt"
        done = run_killed(ref_dir, args, f"trace={trace}")
        assert done.returncode == 0, done.stderr
        passed = trace.read_text().split()
        kills = [f"kill={n}" for n in range(1, len(passed) + 1)]
    else:  # in this process: a warm model library makes training seconds, not a minute
        cli(*args, "-w", str(ref_dir))
        passed, kills = list(points), [f"kill={p}" for p in points]
    expected = state(ref_dir)
    damaged: list[str] = []
    for spec in kills:
        ws_dir = tmp_path / f"ws-{spec.split('=')[1]}"
        shutil.copytree(template, ws_dir)
        killed = run_killed(ws_dir, args, spec)
        assert killed.returncode == -signal.SIGKILL, (spec, killed.stderr)
        try:
            state(ws_dir)  # opens, lists versions, current complete
            cli(*args, "-w", str(ws_dir))  # re-running finishes the job
            after = state(ws_dir)
            assert after[0] == expected[0], f"versions {after[0]} != {expected[0]}"
            assert after[1] == expected[1]
            pd.testing.assert_frame_equal(after[2], expected[2])
            ws = Workspace(ws_dir)
            assert all(r.info()["state"] != "running" for r in ws.runs())
        except Exception as exc:  # counted, then reported all at once
            damaged.append(f"{spec}: {exc}")
        shutil.rmtree(ws_dir)
    FIGURES[" ".join(args)] = {"points": len(passed), "kills": len(kills), "damaged": len(damaged)}
    print(
        f"\n{' '.join(args)}: {len(kills)} kills at {len(passed)} fault points, {len(damaged)} damaged"
    )
    assert damaged == [], "\n".join(damaged)
    return passed


def test_pull_killed_at_every_point_leaves_a_usable_workspace_and_no_duplicate(reviewed, tmp_path):
    passed = sweep(reviewed, tmp_path, ["pull"])
    assert {"version.renamed", "state.written", "pull.written"} <= set(passed)


def test_push_killed_at_every_point_leaves_a_usable_workspace(reviewed, tmp_path):
    template = tmp_path / "pulled"
    shutil.copytree(reviewed, template)
    cli("pull", "-w", str(template))
    passed = sweep(template, tmp_path, ["push"])
    assert passed == ["push.read", "push.written"]


def test_retrain_killed_in_pull_train_and_push_finishes_when_run_again(reviewed, tmp_path):
    sweep(
        reviewed,
        tmp_path,
        ["retrain", "--epochs", "1"],
        # the points before training: a killed subprocess that trained would spend most of a
        # minute compiling UMAP; the points after it are those of the push sweep
        points=["version.renamed", "pull.written", "train.started"],
    )


def test_a_kill_between_rename_and_state_write_is_finished_when_the_workspace_opens(
    reviewed, tmp_path
):
    ws_dir = tmp_path / "ws"
    shutil.copytree(reviewed, ws_dir)
    killed = run_killed(ws_dir, ["pull"], "kill=version.renamed")
    assert killed.returncode == -signal.SIGKILL
    assert (ws_dir / "versions" / "v0002").is_dir()  # complete, not yet current
    ws = Workspace(ws_dir)
    assert ws.current.name == "v0002" and not (ws_dir / JOURNAL_FILE).exists()
    out = cli("pull", "-w", str(ws_dir))
    assert "no changes; v0002 stays current" in out
    assert [v.name for v in Workspace(ws_dir).versions()] == ["v0001", "v0002"]


def test_a_killed_training_run_shows_as_failed_not_running(reviewed, tmp_path):
    ws_dir = tmp_path / "ws"
    shutil.copytree(reviewed, ws_dir)
    killed = run_killed(ws_dir, ["train", "--epochs", "1"], "kill=train.started")
    assert killed.returncode == -signal.SIGKILL
    (run,) = Workspace(ws_dir).runs()
    info = run.info()
    assert info["state"] == "failed" and info["error"] == STOPPED
    assert not run.complete
    rows = loop.versions_table(Workspace(ws_dir))
    assert rows[0]["run"] is None  # a failed run is no version's accuracy


@pytest.mark.parametrize("point", ["version.write", "version.manifest-written", "journal.written"])
def test_a_full_disk_while_writing_a_version_is_one_line_and_changes_nothing(
    reviewed, tmp_path, monkeypatch, point
):
    ws_dir = tmp_path / "ws"
    shutil.copytree(reviewed, ws_dir)
    monkeypatch.setenv(ENV, f"enospc={point}")
    result = CliRunner().invoke(main, ["pull", "-w", str(ws_dir)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no space left on the device")
    assert "free some space and run the command again" in lines[0]
    assert sorted(p.name for p in (ws_dir / "versions").iterdir()) == ["v0001"]
    assert not (ws_dir / JOURNAL_FILE).exists()
    monkeypatch.delenv(ENV)
    assert Workspace(ws_dir).current.name == "v0001"
    assert "created v0002 from v0001" in cli("pull", "-w", str(ws_dir))


def test_a_full_disk_while_switching_to_the_new_version_is_one_line_and_finished_later(
    reviewed, tmp_path, monkeypatch
):
    ws_dir = tmp_path / "ws"
    shutil.copytree(reviewed, ws_dir)
    monkeypatch.setenv(ENV, "enospc=state.write")
    result = CliRunner().invoke(main, ["pull", "-w", str(ws_dir)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "no space left on the device while making v0002 current" in lines[0]
    monkeypatch.delenv(ENV)
    assert Workspace(ws_dir).current.name == "v0002"  # finished on open, in this same process
    assert "no changes; v0002 stays current" in cli("pull", "-w", str(ws_dir))
    assert [v.name for v in Workspace(ws_dir).versions()] == ["v0001", "v0002"]
