"""The exception family. Every message says what went wrong and how to fix it."""

from __future__ import annotations


class BridgeError(Exception):
    """Base class for errors the command line shows as a one-line message (no traceback)."""


class ConfigError(BridgeError):
    """The workspace configuration is missing or invalid."""


class DatasetError(BridgeError):
    """The input dataset cannot be registered (unreadable images, unknown splits, empty classes)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        if len(self.problems) == 1:  # one problem: one line
            super().__init__(f"the dataset has 1 problem: {self.problems[0]}")
            return
        shown = "\n  ".join(self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"the dataset has {len(self.problems)} problem(s):\n  {shown}{more}")


class WorkspaceError(BridgeError):
    """The workspace is missing, or a version/run it needs does not exist."""


class SheetError(BridgeError):
    """The sheet cannot be read or written (missing columns, duplicate ids, backend failure)."""


class AuthError(SheetError):
    """Credentials for a remote sheet are missing or rejected."""


class JobConflict(BridgeError):
    """A job is already running; only one may run at a time."""

    def __init__(self, running_id: str):
        self.running_id = running_id
        super().__init__(f"job {running_id} is still running; wait for it to finish")


class CsvError(SheetError):
    """A CSV file given to `sheet update` cannot be imported; nothing of it was applied."""

    def __init__(self, path: object, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}, line {line}" if line else f"{path}"
        super().__init__(
            f"{where}: {problem}; fix the file and import it again (nothing was applied)"
        )


class ConfirmationNeeded(BridgeError):
    """An operation would change more than a setting allows; run it again with ``--yes``."""


class StorageError(BridgeError):
    """A workspace file cannot be used: damaged, missing, read-only, or the disk is full."""


class WorkspaceBusy(WorkspaceError):
    """Another command or job holds the workspace's writer lock."""
