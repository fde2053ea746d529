"""numba's compiled code on disk: the second process loads what the first compiled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from model.jit_cache import cache_dir, default_cache_dir

ROOT = Path(__file__).resolve().parents[1]

#: a module with a plain function and one Python function compiled serial and parallel (as UMAP's
#: layout epoch is): only the plain one and the serial twin may use the disk cache
JIT_MODULE = """
import numba

@numba.njit()
def add(a, b):
    return a + b

def _twice(x):
    return 2 * x

twice = numba.njit(_twice)
twice_parallel = numba.njit(_twice, parallel=True)
"""

PROBE = """
import json, sys
from model.jit_cache import enable_caching, use_disk_cache
where = use_disk_cache()
import jitmod
changed = enable_caching(["jitmod"])
out = {"where": str(where), "changed": changed, "add": jitmod.add(2, 3), "twice": jitmod.twice(4)}
for name in ("add", "twice"):
    f = getattr(jitmod, name)
    out[name + "_hits"] = sum(f._cache_hits.values())
    out[name + "_misses"] = sum(f._cache_misses.values())
print(json.dumps(out))
"""

UMAP_PROBE = """
import json, sys
import numpy as np
from model.embed import umap_2d
import umap.layouts, umap.umap_
from model.jit_cache import cache_dir
rng = np.random.default_rng(0)
centres = rng.normal(size=(3, 8))
emb = (centres[np.arange(45) % 3] + 0.2 * rng.normal(size=(45, 8))).astype(np.float32)
xy = umap_2d(emb, seed=0)
fns = {
    "smooth_knn_dist": umap.umap_.smooth_knn_dist,
    "compute_membership_strengths": umap.umap_.compute_membership_strengths,
    "layout_epoch": umap.layouts._nb_optimize_layout_euclidean_single_epoch,
}
print(json.dumps({
    "where": str(cache_dir()),
    "xy": xy.tolist(),
    "hits": {k: sum(f._cache_hits.values()) for k, f in fns.items()},
    "misses": {k: sum(f._cache_misses.values()) for k, f in fns.items()},
}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(extra)
    return env


def _run(code: str, env: dict, cwd: Path) -> dict:
    paths = [str(cwd), str(ROOT), env.get("PYTHONPATH", "")]
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in paths if p))
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_cache_dir_is_numba_cache_dir_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_cache_dir_defaults_to_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == default_cache_dir() == tmp_path / "xdg" / "sheets-bridge" / "numba"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "sheets-bridge" / "numba"


def test_a_second_process_loads_the_compiled_code_from_numba_cache_dir(tmp_path):
    (tmp_path / "jitmod.py").write_text(textwrap.dedent(JIT_MODULE))
    env = _env(NUMBA_CACHE_DIR=str(tmp_path / "numba"), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    first = _run(PROBE, env, tmp_path)
    assert first["where"] == str(tmp_path / "numba")
    assert first["changed"] == ["jitmod.add", "jitmod.twice"]  # never the parallel twin
    assert (first["add"], first["twice"]) == (5, 8)
    assert first["add_misses"] == first["twice_misses"] == 1  # compiled, then written
    assert list((tmp_path / "numba").rglob("jitmod.add-*.nbi"))
    assert not (tmp_path / "xdg").exists()  # the setting wins over the default folder

    second = _run(PROBE, env, tmp_path)
    assert (second["add"], second["twice"]) == (5, 8)
    assert second["add_hits"] == second["twice_hits"] == 1
    assert second["add_misses"] == second["twice_misses"] == 0


def test_without_numba_cache_dir_the_code_goes_to_the_users_cache_folder(tmp_path):
    (tmp_path / "jitmod.py").write_text(textwrap.dedent(JIT_MODULE))
    env = _env(XDG_CACHE_HOME=str(tmp_path / "xdg"))
    first = _run(PROBE, env, tmp_path)
    where = tmp_path / "xdg" / "sheets-bridge" / "numba"
    assert first["where"] == str(where)
    assert list(where.rglob("jitmod._twice-*.nbi"))  # named after the Python function
    assert _run(PROBE, env, tmp_path)["twice_hits"] == 1


def test_umap_functions_a_fit_runs_are_loaded_from_disk_in_the_next_process():
    # the user's cache folder, as a real run uses it: the first process compiles only if no
    # earlier run on this machine did; the second one must load all three
    env = dict(os.environ)
    first = _run(UMAP_PROBE, env, ROOT)
    second = _run(UMAP_PROBE, env, ROOT)
    assert second["where"] == first["where"]
    assert second["misses"] == {k: 0 for k in first["misses"]}
    assert all(n >= 1 for n in second["hits"].values()), second["hits"]
    assert second["xy"] == first["xy"]  # cached code draws the same map
