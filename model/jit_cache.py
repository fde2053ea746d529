"""numba's compiled code kept on disk, so only the first map on a machine pays for compiling it.

UMAP and NN-descent are numba code, compiled on first call in every new process. pynndescent
marks most of its functions ``cache=True`` (numba then writes the machine code to disk and later
processes load it), but UMAP 0.5 does not for the ones a fit runs (``smooth_knn_dist``,
``compute_membership_strengths``, the layout optimiser's epoch): on 2 shared cores they took about
half a minute to compile in every run. :func:`import_umap` turns numba's disk cache on for every
compiled function of UMAP's modules before any of them is first called.

Where the code goes: ``NUMBA_CACHE_DIR`` when it is set, else ``$XDG_CACHE_HOME/sheets-bridge/numba``
(``~/.cache/sheets-bridge/numba``), so it works where the installed packages are read-only and one
folder can be removed to start cold. numba checks each entry against the source file's time stamp,
its own version and the CPU, so an upgraded package or another machine compiles afresh.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

CACHE_ENV = "NUMBA_CACHE_DIR"
#: UMAP modules whose numba functions a fit calls (directly or through one another)
UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sheets-bridge/numba``, ``~/.cache/...`` when XDG_CACHE_HOME is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sheets-bridge" / "numba"


def cache_dir() -> Path:
    """Where numba keeps compiled code: ``NUMBA_CACHE_DIR`` if set, else :func:`default_cache_dir`."""
    given = os.environ.get(CACHE_ENV, "").strip()
    return Path(given).expanduser() if given else default_cache_dir()


def use_disk_cache() -> Path:
    """Point numba at :func:`cache_dir` (creating it); returns the folder.

    Call before numba-compiled libraries are imported: numba fixes each function's cache folder
    when the function is defined. A folder that cannot be created leaves numba's own choice.
    """
    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return path
    os.environ[CACHE_ENV] = str(path)
    if "numba" in sys.modules:  # imported already (by another library): it read the variable then
        from numba.core import config

        config.CACHE_DIR = str(path)
    return path


def enable_caching(modules=UMAP_MODULES) -> list[str]:
    """Turn numba's disk cache on for every compiled function of ``modules`` that lacks it.

    Returns the qualified names changed. Functions compiled already (eager signatures) keep their
    code; the cache serves their later compilations and every lazily compiled function.
    """
    import importlib

    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    changed = []
    for name in modules:
        module = importlib.import_module(name)
        found = [
            (attr, obj)
            for attr, obj in sorted(vars(module).items())
            if isinstance(obj, CPUDispatcher) and getattr(obj.py_func, "__module__", None) == name
        ]  # a function imported from another module is that module's to change
        # one Python function compiled twice (UMAP's serial and parallel layout epoch): numba
        # keys its cache on the function, not the options, so only one of them may use it (the
        # serial one, which a seeded map runs); a pair of serial ones stays uncached
        serial = Counter(
            id(obj.py_func) for _, obj in found if not obj.targetoptions.get("parallel")
        )
        for attr, obj in found:
            if not isinstance(obj._cache, NullCache):
                continue
            if obj.targetoptions.get("parallel") and _shared(obj, found):
                continue
            if serial[id(obj.py_func)] > 1:
                continue
            try:
                obj.enable_caching()
            except RuntimeError:  # no file to key the cache on (numba says why): compile
                continue
            changed.append(f"{name}.{attr}")
    return changed


def _shared(obj, found) -> bool:
    return any(o is not obj and o.py_func is obj.py_func for _, o in found)


def import_umap():
    """``import umap`` with numba's code cached on disk (:func:`use_disk_cache`,
    :func:`enable_caching`); returns the module."""
    use_disk_cache()
    import umap

    if not getattr(umap, "_sheets_bridge_cached", False):
        enable_caching()
        umap._sheets_bridge_cached = True
    return umap
