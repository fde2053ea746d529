"""Loop: operations on a workspace (init, train, push, pull, retrain; jobs, demo, augment,
rebalance, report, CSV round trips).

``from sheets_bridge import loop; loop.push(ws)`` keeps working: the step functions live in
:mod:`sheets_bridge.loop.steps` and are re-exported here.
"""

from sheets_bridge.loop.steps import (
    PullReport,
    PushReport,
    RetrainReport,
    init,
    pull,
    push,
    retrain,
    train,
    versions_table,
    workspace_or_error,
)

__all__ = [
    "PullReport",
    "PushReport",
    "RetrainReport",
    "init",
    "pull",
    "push",
    "retrain",
    "train",
    "versions_table",
    "workspace_or_error",
]
