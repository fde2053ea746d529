"""Time of the linear probe (``probe-<arch>``) on CPU: first run (features computed) and a rerun
(features read from the cache, only the heads fit).

    .venv/bin/python benchmarks/bench_probe.py [--images 2000] [--preset probe-resnet18]
        [--weights random] [--folds 4]

The data is the RGB shapes demo. With ``--weights random`` (the default: no pretrained weights
can be downloaded here) the accuracies mean nothing; the times are those of the real network at
its native resolution. Prints the run's timings (seconds) for both runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.train import run_training  # noqa: E402
from sheets_bridge.loop.demo_shapes import SHAPE_CLASSES, make_shapes_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--preset", default="probe-resnet18")
    ap.add_argument("--weights", default="random")
    ap.add_argument("--folds", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "shapes"
        make_shapes_data(root, n_images=args.images, seed=0)
        truth = pd.read_csv(root / "ground_truth.csv", keep_default_na=False, dtype=str)
        manifest = pd.DataFrame(
            {
                "id": truth["id"],
                "path": [
                    str(root / r.split / r.given_label / f"{r.id}.png") for r in truth.itertuples()
                ],
                "label": truth["given_label"],
                "split": truth["split"],
            }
        )
        cache = Path(tmp) / "cache"
        for attempt in ("first run (features computed)", "rerun (features cached)"):
            out = Path(tempfile.mkdtemp(dir=tmp))
            t = time.perf_counter()
            metrics = run_training(
                manifest,
                list(SHAPE_CLASSES),
                out,
                preset=args.preset,
                weights=args.weights,
                folds=args.folds,
                device="cpu",
                cache_dir=cache,
                progress=False,
            )
            wall = time.perf_counter() - t
            print(f"== {args.preset}, {len(manifest)} images, {attempt}: {wall:.1f} s wall")
            print("  timings:", json.dumps(metrics["timings"]))
            print(f"  oof accuracy {metrics['oof_accuracy']:.3f} (weights {args.weights})")


if __name__ == "__main__":
    main()
