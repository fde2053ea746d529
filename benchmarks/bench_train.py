"""Training speed: the ``fast`` loop against a hand-written PyTorch loop, and whole runs per preset.

    .venv/bin/python benchmarks/bench_train.py [--data /work/shared/data/dcai] [--device cpu]
        [--dcai-epochs 2] [--skip-runs] [--gpu-checks]

1. Throughput of the ``fast`` preset: ``model.fit.fit_group`` (what ``run_training`` runs for each
   model) against a minimal loop over the same net, tensors, batch, optimiser, schedule and
   augmentation, in one process, same number of steps; prints images/s and their ratio.
2. Whole ``run_training`` runs (K-fold + final + embed + UMAP + scores) per preset with their step
   timings. ``dcai`` runs ``--dcai-epochs`` epochs on CPU and the per-epoch time is extrapolated to
   its 100 epochs (said so in the output); on CUDA it runs in full.
3. ``--gpu-checks`` (CUDA only): grouped + CUDA-graph training against plain sequential training
   (same losses), and milliseconds per step of the grouped dcai network with and without graphs/bf16.

The data folder holds ``train/``, ``val/`` and optionally ``label_book/``, each ``<label>/*.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSES = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"]


def dcai_manifest(root: Path) -> pd.DataFrame:
    """Manifest rows (id, path, label, split, origin, parent_id, sha256) of a split/label folder."""
    rows = []
    for split in ("train", "val", "label_book", "test"):
        for path in sorted((root / split).glob("*/*")):
            if path.suffix.lower() in {".png", ".jpg", ".jpeg"}:
                label = path.parent.name
                rows.append(
                    {
                        "id": f"{split}-{label}-{path.stem}",
                        "path": str(path.resolve()),
                        "label": label,
                        "split": split,
                        "origin": "source",
                        "parent_id": "",
                        "sha256": "",
                    }
                )
    if not rows:
        raise SystemExit(f"no images under {root}/<split>/<label>/")
    return pd.DataFrame(rows)


def load_tensors(manifest: pd.DataFrame, cache: Path):
    import torch

    from model.data import load_images

    train = manifest[manifest["split"] == "train"]
    x = torch.from_numpy(load_images(train["path"].tolist(), cache_dir=cache))
    y = torch.tensor([CLASSES.index(v) for v in train["label"]])
    return x, y


def minimal_loop(config, images, labels, steps: int, batch: int, seed: int) -> float:
    """The same training written the plain way; returns images/s."""
    import torch
    from torch.nn import functional as F

    from model.fit import _Augment, lr_schedule
    from model.nets import build_net

    torch.manual_seed(seed)
    net = build_net(config, len(CLASSES)).train()
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    lrs = lr_schedule(config, steps)
    augment = _Augment(config.image_size, images.device) if config.augment else None
    gen = np.random.default_rng(seed)
    order = np.concatenate(
        [gen.permutation(len(images)) for _ in range(math.ceil(steps * batch / len(images)) + 1)]
    )
    start = time.perf_counter()
    for s in range(steps):
        idx = torch.as_tensor(order[s * batch : (s + 1) * batch])
        x = images[idx].float().unsqueeze(1)
        if augment is not None:
            x = augment(x)
        loss = F.cross_entropy(net(x)[:, 0], labels[idx], label_smoothing=config.label_smoothing)
        for group in opt.param_groups:
            group["lr"] = float(lrs[s])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def bench_loop(manifest: pd.DataFrame, cache: Path, epochs: int) -> dict:
    import torch

    from model.fit import Job, cpu_threads, fit_group
    from model.presets import get_preset

    config = get_preset("fast")
    images, labels = load_tensors(manifest, cache)
    job = Job("final", train_idx=np.arange(len(images)))
    batch = config.batch_size
    steps = math.ceil(len(images) / batch) * epochs
    with cpu_threads():
        threads = torch.get_num_threads()
        minimal_loop(config, images, labels, 5, batch, 0)  # warm-up (allocator, oneDNN kernels)
        ours, plain = [], []
        for rep in range(2):  # alternate, so drifting machine load hits both alike
            t = time.perf_counter()
            (res,) = fit_group(config, images, labels, [job], len(CLASSES), epochs=epochs, seed=rep)
            ours.append(res.images_seen / (time.perf_counter() - t))
            plain.append(minimal_loop(config, images, labels, steps, batch, rep))
    result = {
        "images": len(images),
        "epochs": epochs,
        "threads": threads,
        "fit_group_img_s": round(max(ours), 1),
        "minimal_loop_img_s": round(max(plain), 1),
        "ratio": round(max(ours) / max(plain), 3),
    }
    return result


def bench_runs(
    manifest: pd.DataFrame, cache: Path, device: str, dcai_epochs: int, presets: list[str]
) -> dict:
    from model.train import run_training

    out = {}
    for preset in presets:
        epochs = None if (preset == "fast" or device == "cuda") else dcai_epochs
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            m = run_training(
                manifest,
                CLASSES,
                Path(tmp),
                preset=preset,
                device=device,
                epochs=epochs,
                cache_dir=cache,
                progress=False,
            )
            wall = time.perf_counter() - t
        row = {
            "epochs": m["epochs"],
            "wall_s": round(wall, 1),
            "timings": m["timings"],
            "images_per_s": m["images_per_s"],
            "val_accuracy": m["val_accuracy"],
            "oof_accuracy": m["oof_accuracy"],
            "eval": m["eval"],
            "grouped": m["grouped"],
        }
        if epochs is not None and epochs < 100:
            # Sequential CPU path: the final model runs `epochs`, each fold model `fold_epoch`.
            per_epoch = m["timings"]["final"] / epochs + m["timings"]["folds"] / max(
                m["fold_epoch"], 1
            )
            rest = m["timings"]["total"] - m["timings"]["final"] - m["timings"]["folds"]
            row["extrapolated_100_epochs_s"] = round(per_epoch * 100 + rest, 0)
            row["note"] = (
                f"ran {epochs} epochs; 100-epoch time extrapolated per epoch (folds assumed to run all 100)"
            )
        out[preset] = row
    return out


def gpu_checks(manifest: pd.DataFrame, cache: Path, device: str = "cuda", limit: int = 0) -> dict:
    import torch

    from model.fit import Job, fit_group
    from model.presets import get_preset

    dev = torch.device(device)
    images, labels = load_tensors(manifest, cache)
    if limit:  # a quick dry run of this code on a few images
        images, labels = images[:limit], labels[:limit]
    images, labels = images.to(dev), labels.to(dev)
    config = get_preset("dcai")
    out: dict = {"gpu": torch.cuda.get_device_name() if dev.type == "cuda" else "none"}

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    # 1. grouped + graphs against one-at-a-time eager training, fp32 without TF32, 20 steps:
    # the same up to float noise (training amplifies any 1e-6 difference with every step)
    tf32 = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    small = np.arange(200)
    jobs = [
        Job(
            f"j{k}",
            train_idx=np.delete(small, np.s_[k * 40 : k * 40 + 40]),
            holdout_idx=small[k * 40 : k * 40 + 40],
            key=k,
        )
        for k in range(3)
    ]
    together = fit_group(config, images, labels, jobs, 10, epochs=1, amp=False, cuda_graphs=True)
    loss_diff, prob_diff = 0.0, 0.0
    for job, res in zip(jobs, together, strict=True):
        (alone,) = fit_group(
            config, images, labels, [job], 10, epochs=1, amp=False, cuda_graphs=False
        )
        loss_diff = max(loss_diff, abs(res.losses[0] - alone.losses[0]))
        prob_diff = max(
            prob_diff, float(np.abs(res.holdout_probs[1] - alone.holdout_probs[1]).max())
        )
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = tf32
    out["grouped_graph_vs_sequential"] = {
        "loss_max_abs_diff": loss_diff,
        "prob_max_abs_diff": prob_diff,
    }

    # 2. ms per step of the grouped K+1 = 5 network at batch 8
    n = len(images)
    five = [Job(f"m{k}", train_idx=np.arange(n), key=k) for k in range(5)]
    steps = math.ceil(n / 8)
    for label, kw in (
        ("eager_fp32", {"cuda_graphs": False, "amp": False}),
        ("graph_fp32", {"cuda_graphs": True, "amp": False}),
        ("graph_bf16", {"cuda_graphs": True, "amp": True}),
    ):
        fit_group(config, images, labels, five, 10, epochs=1, **kw)  # warm-up
        sync()
        t = time.perf_counter()
        fit_group(config, images, labels, five, 10, epochs=2, **kw)
        sync()
        out[f"dcai_5models_ms_per_step_{label}"] = round(
            (time.perf_counter() - t) / (2 * steps) * 1000, 3
        )
    one = [five[0]]
    fit_group(config, images, labels, one, 10, epochs=1, cuda_graphs=False, amp=False)
    t = time.perf_counter()
    fit_group(config, images, labels, one, 10, epochs=1, cuda_graphs=False, amp=False)
    sync()
    out["dcai_1model_ms_per_step_eager_fp32"] = round((time.perf_counter() - t) / steps * 1000, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/dcai"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--loop-epochs", type=int, default=3)
    parser.add_argument("--dcai-epochs", type=int, default=2)
    parser.add_argument("--presets", default="fast,dcai", help="comma-separated presets to run")
    parser.add_argument("--skip-loop", action="store_true")
    parser.add_argument("--skip-runs", action="store_true")
    parser.add_argument("--gpu-checks", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    import torch

    manifest = dcai_manifest(args.data)
    cache = Path(tempfile.gettempdir()) / "sheets-bridge-bench-cache"
    results: dict = {
        "torch": torch.__version__,
        "device": args.device,
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "load_avg_at_start": os.getloadavg()[0],
    }
    if not args.skip_loop:
        results["fast_loop"] = bench_loop(manifest, cache, args.loop_epochs)
        print(json.dumps({"fast_loop": results["fast_loop"]}), flush=True)
    if args.gpu_checks:
        results["gpu"] = gpu_checks(manifest, cache)
        print(json.dumps({"gpu": results["gpu"]}), flush=True)
    if not args.skip_runs:
        results["runs"] = bench_runs(
            manifest, cache, args.device, args.dcai_epochs, args.presets.split(",")
        )
    results["load_avg_at_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
