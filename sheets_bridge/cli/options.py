"""What the commands share: the workspace and preset options, the writer lock, one-line file errors."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import click

from sheets_bridge.core.config import CONFIG_FILE
from sheets_bridge.core.errors import BridgeError


def _os_error(exc: OSError) -> str:
    """One line for a failed file operation: which file, and what to do."""
    import errno

    where = exc.filename if exc.filename is not None else "a file"
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return f"the disk is full while writing {where}: free some space and run the command again"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {where} ({exc.strerror}): this needs write access to it"
    return f"{where}: {exc.strerror or exc}"


def _default_workspace() -> str:
    if os.environ.get("SHEETS_BRIDGE_WORKSPACE"):
        return os.environ["SHEETS_BRIDGE_WORKSPACE"]
    return "." if Path(CONFIG_FILE).exists() else "workspace"


def workspace_option(f):
    return click.option(
        "--workspace",
        "-w",
        type=click.Path(file_okay=False, path_type=Path),
        default=_default_workspace,
        show_default="./workspace, or . when it holds sheets-bridge.toml; env SHEETS_BRIDGE_WORKSPACE",
        help="Workspace folder.",
    )(f)


class PresetType(click.ParamType):
    """A model preset, checked against ``model/presets.py`` (the one list of presets)."""

    name = "preset"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        from sheets_bridge.loop.presets import preset_names

        return "[" + "|".join(preset_names()) + "]"

    def convert(self, value, param, ctx):
        from sheets_bridge.loop.presets import check_preset

        try:
            return check_preset(value)
        except BridgeError as exc:
            self.fail(str(exc), param, ctx)


def preset_option(help: str, default: str | None = None):
    return click.option(
        "--preset", type=PresetType(), default=default, show_default=default is not None, help=help
    )


def writes(f):
    """A command that changes the workspace: it holds the writer lock while it runs.

    Adds ``--wait SECONDS``; another writer (a command or a web job) makes it wait that long, then
    stop with ``busy: <who> since <when> (pid N)``. Readers take no lock.
    """

    @click.option(
        "--wait",
        "wait_s",
        type=click.FloatRange(min=0),
        default=0,
        show_default=True,
        help="Seconds to wait while another command or job writes the workspace (0: stop at once).",
    )
    @functools.wraps(f)
    def wrapper(*args, wait_s: float, **kwargs):
        from sheets_bridge.store.lock import LOCK_FILES, WorkspaceLock

        workspace: Path = kwargs["workspace"]
        name = f"sheets-bridge {click.get_current_context().command_path.split(' ', 1)[-1]}"
        created = not workspace.exists()
        if not (workspace / CONFIG_FILE).exists() and f.__name__ != "init":
            return f(*args, **kwargs)  # not a workspace: the command says so; nothing to lock
        workspace.mkdir(parents=True, exist_ok=True)
        try:
            with WorkspaceLock(workspace, name, wait=wait_s):
                return f(*args, **kwargs)
        finally:
            # a failed init leaves no folder holding only the lock behind
            if (
                created
                and workspace.exists()
                and all(p.name in LOCK_FILES for p in workspace.iterdir())
            ):
                for p in workspace.iterdir():
                    p.unlink(missing_ok=True)
                workspace.rmdir()

    return wrapper


def _open(workspace: Path):
    from sheets_bridge.loop import workspace_or_error

    return workspace_or_error(workspace)


def _user() -> str | None:
    return os.environ.get("USER") or os.environ.get("USERNAME")
