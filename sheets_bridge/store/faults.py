"""Named fault points: a no-op unless ``SHEETS_BRIDGE_FAULTS`` is set (the fault tests set it).

Operations that write the workspace call :func:`faultpoint` at the moments a crash could hurt
(before and after a rename, a state write, a sheet write). The variable holds comma-separated
``key=value`` pairs:

- ``trace=FILE``  append each point's name to FILE (how a test learns the points a command passes);
- ``kill=N``      the process kills itself (SIGKILL, no clean-up) at the N-th point it passes
                  (``kill=NAME``: at the first point called NAME);
- ``enospc=NAME`` raise ``OSError(ENOSPC)`` at the point NAME, as a full disk would.

Killing at every N in turn tests every crash point deterministically, without timing.
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "SHEETS_BRIDGE_FAULTS"
# How many points this process has passed; only read when the variable is set.
_passed = [0]


def _settings() -> dict[str, str]:
    spec = os.environ.get(ENV, "")
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)


def faultpoint(name: str) -> None:
    """Mark a point where a crash or a full disk is worth testing."""
    if not os.environ.get(ENV):
        return
    settings = _settings()
    _passed[0] += 1
    if "trace" in settings:
        with open(settings["trace"], "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
    if settings.get("enospc") == name:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    kill = settings.get("kill", "")
    if (kill.isdigit() and int(kill) == _passed[0]) or kill == name:
        os.kill(os.getpid(), signal.SIGKILL)
