"""The Ray engine against the local one: the same run, in the same process, as a ratio.

    .venv/bin/python benchmarks/bench_ray.py [DATA_DIR] [--images 1500] [--epochs N]
        [--workers 2] [--address ADDR]

Without ``DATA_DIR`` it writes the synthetic demo data (``make-demo-data --images N``) into a
temporary folder. One workspace is registered; it is trained once with ``engine="local"`` and
once with ``engine="ray"`` on a local Ray instance of ``--workers`` CPUs (or the cluster at
``--address``). Printed: wall and CPU seconds of each (CPU of this process and its children; Ray's
workers are children of its raylet, so their CPU is not in this process's figure), the ratio
ray / local, and how far the two runs' out-of-fold probabilities and embeddings are apart (same
seed: they should agree within float tolerance). Ray's start-up (a few seconds) is timed apart.

Each Ray task runs torch on one thread; the local engine uses the cores it may. With different
thread counts the float sums run in a different order, and over many epochs the two runs drift
apart a little (predictions, not the run's layout); ``--threads 1`` gives the local run the same
single thread, and the two runs then agree exactly.

On one machine Ray does not add cores: its gain is to run the K fold models side by side where
the local engine runs them one after another, and to reach other machines with ``--address``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.loop.demo_data import make_demo_data  # noqa: E402


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn):
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    return result, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path, help="an image folder [default: demo data]")
    ap.add_argument("--images", type=int, default=1500, help="demo size without DATA_DIR")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--address", default=None, help="an existing Ray cluster instead")
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of the local run (Ray's workers use 1 per task): the same count on "
        "both sides makes the float sums run in the same order",
    )
    ap.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = ap.parse_args()
    import ray
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        tmp = Path(tmp)
        data = args.data
        if data is None:
            data = tmp / "data"
            make_demo_data(data, n_images=args.images, seed=0)
        ws = loop.init(data, tmp / "ws")
        local, local_s, local_cpu = _timed(
            lambda: loop.train(ws, engine="local", epochs=args.epochs, progress=False)
        )
        _, start_s, _ = _timed(
            lambda: ray.init(
                address=args.address,
                num_cpus=None if args.address else args.workers,
                include_dashboard=False,
                log_to_driver=False,
            )
        )
        try:
            remote, ray_s, ray_cpu = _timed(
                lambda: loop.train(
                    ws, engine="ray", ray_address=args.address, epochs=args.epochs, progress=False
                )
            )
        finally:
            ray.shutdown()
        a = pd.read_csv(local.path / "predictions.csv")
        b = pd.read_csv(remote.path / "predictions.csv")
        probs = [c for c in a.columns if c.startswith("p_")]
        prob_gap = float(np.abs(a[probs].to_numpy() - b[probs].to_numpy()).max())
        emb_gap = float(
            np.abs(
                np.load(local.path / "embeddings.npy") - np.load(remote.path / "embeddings.npy")
            ).max()
        )
        same_pred = float((a["pred"] == b["pred"]).mean()) if "pred" in a else float("nan")
        same_files = sorted(p.name for p in local.path.iterdir()) == sorted(
            p.name for p in remote.path.iterdir()
        )
        figures = {
            "images": int(len(a)),
            "folds": int(a["fold"].max()) + 1 if "fold" in a else None,
            "local_s": round(local_s, 1),
            "local_cpu_s": round(local_cpu, 1),
            "ray_start_s": round(start_s, 1),
            "ray_s": round(ray_s, 1),
            "ray_driver_cpu_s": round(ray_cpu, 1),
            "ratio_ray_over_local": round(ray_s / local_s, 3),
            "max_prob_gap": prob_gap,
            "max_embedding_gap": emb_gap,
            "same_predicted_class": same_pred,
            "same_files": same_files,
            "local_threads": torch.get_num_threads(),
            "workers": args.workers if not args.address else f"cluster {args.address}",
        }
    print(f"{figures['images']:,} images, {figures['folds']} folds + final model")
    print(f"local engine   {figures['local_s']:8.1f} s  ({figures['local_threads']} torch threads)")
    print(
        f"ray engine     {figures['ray_s']:8.1f} s  ({figures['workers']} workers; "
        f"start-up {figures['ray_start_s']} s apart)"
    )
    print(f"ratio ray / local: {figures['ratio_ray_over_local']:.2f}")
    print(
        f"same run files: {same_files}; largest gap: probabilities {prob_gap:.2e}, "
        f"embeddings {emb_gap:.2e}; same predicted class for {same_pred:.1%} of images"
    )
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
