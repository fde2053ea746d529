"""Demo wall time, split by step (generate, init, train, embed/UMAP/scores, push).

    .venv/bin/python benchmarks/bench_demo.py [--images 1500] [--dir /tmp/bench-demo]

The demo must finish in under 3 minutes on 2 CPU cores (install excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sheets_bridge.loop.demo import run_demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    t = time.perf_counter()
    report = run_demo(root, n_images=args.images, seed=args.seed, progress=False)
    wall = time.perf_counter() - t
    print(
        f"cores: {os.cpu_count()}  images: {report.images}  val accuracy: {report.val_accuracy:.3f}"
    )
    for step, seconds in report.timings.items():
        print(f"  {step:20} {seconds:7.1f} s  {seconds / wall:6.1%}")
    print(f"  {'total (wall)':20} {wall:7.1f} s  limit 180 s -> {wall / 180:.2f} of the budget")
    print(
        json.dumps(
            {"wall_s": round(wall, 2), **{k: round(v, 2) for k, v in report.timings.items()}}
        )
    )


if __name__ == "__main__":
    main()
