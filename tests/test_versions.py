"""Versions are immutable, atomic, comparable and reversible."""

import os
import signal
import subprocess
import sys
import textwrap

from click.testing import CliRunner

from sheets_bridge import loop
from sheets_bridge.cli import main
from sheets_bridge.store.versions import diff
from sheets_bridge.store.workspace import Workspace


def _relabel_and_remove(ws):
    loop.push(ws)
    ws.sheet().edit(
        [
            ("train-i-000", "override", "ii"),
            ("val-iv-000", "override", "x"),
            ("val-i-000", "subset", "train"),
        ]
    )
    return loop.pull(ws)


def test_diff_lists_relabels_removals_and_moves(workspace):
    _relabel_and_remove(workspace)
    ws = Workspace(workspace.root)
    d = diff(ws.version("v0001").manifest(), ws.current.manifest())
    assert list(zip(d["field"], d["id"], d["old"], d["new"], strict=True)) == [
        ("label", "train-i-000", "i", "ii"),
        ("removed", "val-iv-000", "val/iv", ""),
        ("split", "val-i-000", "val", "train"),
    ]
    out = CliRunner().invoke(main, ["diff", "v0001", "v0002", "-w", str(ws.root)])
    assert out.exit_code == 0 and "v0001 -> v0002: 1 label, 1 removed, 1 split" in out.output


def test_checkout_then_pull_builds_on_the_checked_out_version_and_deletes_nothing(workspace):
    _relabel_and_remove(workspace)
    runner = CliRunner()
    out = runner.invoke(main, ["checkout", "v0001", "-w", str(workspace.root)])
    assert out.exit_code == 0 and "v0001 is now current" in out.output
    ws = Workspace(workspace.root)
    assert ws.current.name == "v0001" and [v.name for v in ws.versions()] == ["v0001", "v0002"]
    loop.push(ws)
    ws.sheet().edit(
        [("train-ii-000", "annotator_1", "iii"), ("train-ii-000", "annotator_2", "iii")]
    )
    report = loop.pull(ws)
    v3 = Workspace(ws.root).current
    assert report.version == "v0003" and v3.meta()["parent"] == "v0001"
    m = v3.manifest().set_index("id")
    assert m.at["train-ii-000", "label"] == "iii"
    # the override typed before the checkout is still in the sheet, so it is applied again
    assert m.at["train-i-000", "label"] == "ii" and "val-iv-000" not in m.index


def test_export_then_init_gives_the_same_manifest(workspace, tmp_path):
    _relabel_and_remove(workspace)
    out = CliRunner().invoke(
        main, ["export", "v0002", str(tmp_path / "exported"), "-w", str(workspace.root)]
    )
    assert out.exit_code == 0, out.output
    again = loop.init(tmp_path / "exported", tmp_path / "ws2").current.manifest()
    original = Workspace(workspace.root).current.manifest()
    key = ["id", "label", "split", "sha256", "path", "origin"]
    assert (
        again.sort_values("id")[key].to_numpy().tolist()
        == original.sort_values("id")[key].to_numpy().tolist()
    )


def test_export_refuses_a_non_empty_folder(workspace, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("mine")
    out = CliRunner().invoke(
        main, ["export", "v0001", str(tmp_path / "busy"), "-w", str(workspace.root)]
    )
    assert out.exit_code == 1 and "not empty" in out.output


def test_a_version_build_killed_mid_way_leaves_the_workspace_at_the_previous_version(workspace):
    # killed at a named point inside the build (after the manifest is written, before the
    # rename): the same moment every time, whatever the machine's load
    script = textwrap.dedent(f"""
        from sheets_bridge.store.versions import create_version
        from sheets_bridge.store.workspace import Workspace
        ws = Workspace({str(workspace.root)!r})
        create_version(ws.versions_dir, ws.current.manifest(), parent="v0001", message="killed")
    """)
    env = {**os.environ, "SHEETS_BRIDGE_FAULTS": "kill=version.manifest-written"}
    proc = subprocess.run([sys.executable, "-c", script], env=env)
    assert proc.returncode == -signal.SIGKILL
    assert any(p.name.startswith(".v0002") for p in workspace.versions_dir.iterdir()), (
        "the half-built version is there before the workspace is opened"
    )
    ws = Workspace(workspace.root)
    assert [v.name for v in ws.versions()] == ["v0001"] and ws.current.name == "v0001"
    assert len(ws.current.manifest()) == 40
    assert not any(p.name.startswith(".v") for p in ws.versions_dir.iterdir())


def test_opening_the_workspace_leaves_a_version_build_in_progress_alone(workspace):
    """The web app opens the workspace on every request, also while a pull job builds a version."""
    building = workspace.versions_dir / f".v0002-{os.getpid()}-abc"
    building.mkdir()
    Workspace(workspace.root)
    assert building.exists()
