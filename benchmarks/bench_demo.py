"""The demo, cold and warm, step by step (generate, init, train, embed/UMAP/scores, push).

    .venv/bin/python benchmarks/bench_demo.py [--images 1500] [--epochs N] [--baseline]
                                              [--fresh-bytecode] [--dir /tmp/bench-demo]

Each run is ``sheets-bridge demo --no-serve`` in its own process, into a new workspace.

* cold: the first run on a machine. numba's disk cache (``NUMBA_CACHE_DIR``) starts empty, so
  UMAP and NN-descent compile their code; with ``--fresh-bytecode`` Python's byte-code starts
  empty too (``PYTHONPYCACHEPREFIX``; pip writes it at install time, so this is off by default).
* warm: the next run, in a new process, with the cache the cold run left.

``--baseline`` repeats both with UMAP's functions left uncached, as UMAP itself leaves them (the
behaviour before ``model/jit_cache.py``), for ratios measured in the same invocation. Besides the
wall seconds of each step (from the demo's own report) it prints the CPU seconds of each process
(``getrusage`` of the children), steadier than wall time on a machine others are using.
The demo must finish in under 3 minutes on 2 CPU cores (install excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: run the CLI; "uncached" reproduces UMAP's own behaviour: no disk cache for its functions
RUNNER = """
import sys
if sys.argv[1] == "uncached":
    import model.jit_cache
    model.jit_cache.enable_caching = lambda *a, **k: []
from sheets_bridge.cli import main
sys.argv = ["sheets-bridge", *sys.argv[2:]]
main()
"""
STEPS = ("generate", "init", "train", "embed/umap/scores", "push")


def run_once(mode: str, workspace: Path, env: dict, images: int, epochs: int | None) -> dict:
    """One demo process; its steps' wall seconds, the map's seconds, total wall and CPU."""
    args = ["demo", "--no-serve", "-w", str(workspace), "--images", str(images)]
    if epochs is not None:
        args += ["--epochs", str(epochs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, mode, *args], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"demo failed ({mode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    took = re.search(r"^took [\d.]+s \((.*)\)$", proc.stdout, re.M)
    steps = {k: float(v) for k, v in re.findall(r"([a-z/]+) ([\d.]+)s", took.group(1))}
    metrics = json.loads(next(workspace.glob("**/metrics.json")).read_text())
    return {
        **steps,
        "of which map": float(metrics["timings"]["umap"]),
        "process wall": wall,
        "process CPU": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
    }


def cold_and_warm(mode: str, root: Path, args) -> dict[str, dict]:
    """A fresh numba cache (and byte-code, if asked), then two demo runs in new workspaces."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(root / f"numba-{mode}"))
    if args.fresh_bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(root / f"pycache-{mode}")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # the cold run writes what the warm one reads
    out = {}
    for run in ("cold", "warm"):
        out[run] = run_once(
            mode, root / f"{mode}-{run}" / "workspace", env, args.images, args.epochs
        )
        print(f"  {mode} {run}: {out[run]['process wall']:.1f} s wall", file=sys.stderr)
    return out


def table(title: str, runs: dict[str, dict]) -> None:
    cold, warm = runs["cold"], runs["warm"]
    print(f"\n{title}")
    print(f"  {'step':20} {'cold s':>8} {'warm s':>8} {'warm/cold':>10}")
    for key in (*STEPS, "of which map", "process wall", "process CPU"):
        ratio = warm[key] / cold[key] if cold[key] else float("nan")
        print(f"  {key:20} {cold[key]:8.1f} {warm[key]:8.1f} {ratio:10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--baseline", action="store_true", help="also run with UMAP uncached")
    ap.add_argument("--fresh-bytecode", action="store_true", help="cold runs compile .py files")
    args = ap.parse_args()
    root = (args.dir or Path(tempfile.mkdtemp(prefix="bench-demo-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  images: {args.images}"
        f"  fresh byte-code: {args.fresh_bytecode}\n"
        "cold = first run with an empty numba cache; warm = the next process, same cache"
    )
    results = {"cached": cold_and_warm("cached", root, args)}
    if args.baseline:
        results["uncached"] = cold_and_warm("uncached", root, args)
    table("UMAP's compiled code cached on disk (model/jit_cache.py)", results["cached"])
    if args.baseline:
        table(
            "baseline: UMAP's functions uncached (compiled in every process)", results["uncached"]
        )
        print("\ncached / uncached, same invocation:")
        for run in ("cold", "warm"):
            for key in ("of which map", "process CPU", "process wall"):
                a, b = results["cached"][run][key], results["uncached"][run][key]
                print(f"  {run} {key:14} {a:7.1f} / {b:7.1f} = {a / b:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(
        json.dumps(
            {
                m: {r: {k: round(v, 2) for k, v in d.items()} for r, d in runs.items()}
                for m, runs in results.items()
            }
        )
    )


if __name__ == "__main__":
    main()
