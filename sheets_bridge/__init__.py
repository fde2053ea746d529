"""sheets-bridge: fix an image dataset together in a spreadsheet.

The package is laid out by layer (arrows point down only):

- ``cli/``, ``web/``: the faces (parse, call, show)
- ``loop/``: operations on a workspace (init, train, push, pull, retrain, jobs, demo, augment, ...)
- ``store/``: the workspace on disk (settings file, immutable versions, runs, datasets)
- ``core/``: pure rules over tables and values (settings, schema, labels, consensus, rows, errors)
- ``sheets/``: the ``Sheet`` protocol and its backends (local SQLite, Google)
- ``model/`` (a sibling package): the fixed model, out-of-fold predictions, embeddings, scores

Importing this package is cheap: torch, gspread and Flask load only in the modules that use them.
Modules that lived flat in this package before the layout above (``sheets_bridge.config``,
``sheets_bridge.workspace``, ...) still import under their old names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

#: old module path -> where it lives now (old imports keep working; the README lists the moves)
MOVED: dict[str, str] = {
    f"sheets_bridge.{old}": f"sheets_bridge.{new}"
    for old, new in {
        "config": "core.config",
        "errors": "core.errors",
        "schema": "core.schema",
        "labels": "core.labels",
        "rows": "core.rows",
        "consensus": "core.consensus",
        "crowd": "core.crowd",
        "net": "core.net",
        "db": "core.sqlite",
        "workspace": "store.workspace",
        "dataset": "store.dataset",
        "versions": "store.versions",
        "jobs": "loop.jobs",
        "demo": "loop.demo",
        "demo_data": "loop.demo_data",
        "augment": "loop.augment",
        "rebalance": "loop.rebalance",
        "report": "loop.report",
        "sheet_csv": "loop.sheet_csv",
        "apps_script": "loop.apps_script",
    }.items()
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers an old module path with the module at its new place (the same module object)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def exec_module(self, module) -> None:
        # the import system returns whatever sys.modules holds under the name after this call
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def open(path):  # noqa: A001 - reads as ``sb.open("ws")``
    """Open a workspace for use from Python: ``ws = sheets_bridge.open("ws")``.

    Returns a :class:`sheets_bridge.api.Bridge` (``train``, ``push``, ``pull``, ``sheet_frame``, ...).
    """
    from sheets_bridge.api import open as _open

    return _open(path)


def init(dataset, workspace, **settings):
    """Register ``dataset`` as a new workspace and open it (see :func:`open`)."""
    from sheets_bridge.api import init as _init

    return _init(dataset, workspace, **settings)
