"""Loop: operations on a workspace (init, train, push, pull, retrain; jobs, demo, augment,
rebalance, report, CSV round trips).

``from sheets_bridge import loop; loop.push(ws)`` works: the step functions live in
:mod:`sheets_bridge.loop.steps` and are found here on first use (so that importing a light module
of this package, such as ``loop.presets``, loads no pandas).
"""

from __future__ import annotations

import importlib
from typing import Any

_STEPS = (
    "PullReport",
    "PushReport",
    "RetrainReport",
    "init",
    "pull",
    "push",
    "retrain",
    "train",
    "workspace_or_error",
)
_HISTORY = ("VersionDiff", "describe_versions", "diff_versions", "versions_table")
__all__ = [*_STEPS, *_HISTORY]


def __getattr__(name: str) -> Any:
    if name in _STEPS:
        return getattr(importlib.import_module("sheets_bridge.loop.steps"), name)
    if name in _HISTORY:
        return getattr(importlib.import_module("sheets_bridge.loop.history"), name)
    raise AttributeError(f"module 'sheets_bridge.loop' has no attribute {name!r}")
