"""Every command documents itself; errors are one line, never a traceback."""

import click
import pytest
from click.testing import CliRunner

from sheets_bridge.cli import main


def _commands(group: click.Group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(_commands(main)), ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    cmd = main
    for part in path:
        cmd = cmd.commands[part]
    assert cmd.help and len(cmd.help.strip()) > 15


@pytest.mark.parametrize(
    "args", [["push"], ["pull"], ["versions"], ["sheet", "show"], ["train"], ["checkout", "v0001"]]
)
def test_commands_outside_a_workspace_say_how_to_make_one(tmp_path, args):
    result = CliRunner().invoke(main, [*args, "-w", str(tmp_path / "none")])
    assert (
        result.exit_code == 1
        and "sheets-bridge init" in result.output
        and "Traceback" not in result.output
    )


def test_unknown_version_lists_the_known_ones(workspace):
    result = CliRunner().invoke(main, ["checkout", "v0009", "-w", str(workspace.root)])
    assert result.exit_code == 1 and "no version 'v0009' (versions: v0001)" in result.output


def test_versions_lists_the_current_version(workspace):
    result = CliRunner().invoke(main, ["versions", "-w", str(workspace.root)])
    assert result.exit_code == 0 and "* v0001" in result.output and "registered" in result.output


def test_sheet_show_json_and_update_from_the_cli(workspace, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, ["push", "-w", str(workspace.root)]).exit_code == 0
    edits = tmp_path / "e.csv"
    edits.write_text("id,annotator_1,pred\ntrain-i-000,vii,ii\nnope,i,\n")
    out = runner.invoke(
        main,
        ["sheet", "update", "--from-csv", str(edits), "-w", str(workspace.root), "--author", "ana"],
    )
    assert (
        out.exit_code == 0
        and "updated 1 cell(s)" in out.output
        and "unknown ids (skipped): nope" in out.output
    )
    assert "not editable by people, ignored: pred" in out.output
    shown = runner.invoke(main, ["sheet", "show", "--format", "json", "-w", str(workspace.root)])
    import json

    rows = {r["id"]: r for r in json.loads(shown.output)}
    assert rows["train-i-000"]["annotator_1"] == "vii"
