"""How each step's time and memory grow with the dataset: 3k images against 30k (and more).

    .venv/bin/python benchmarks/bench_scale.py [DATA_SIZES] [--embeddings 100000] [--epochs 1]
        [--workdir DIR] [--skip-images] [--skip-embeddings]

``DATA_SIZES`` is a comma-separated list (default ``3000,30000``). For each size, in a fresh
subprocess so that peak memory is that size's alone:

1. ``sheets-bridge make-demo-data DIR --images N`` (its own process; time and peak RSS);
2. ``loop.init`` (register the images as v0001, hashing every file);
3. ``loop.train`` with ``--epochs`` epochs, split by the run's own timings into decode (load),
   train (K fold models + final model; per epoch), embed, neighbours+UMAP, scores;
4. predict: the final checkpoint over every image (the cost of out-of-fold prediction, which
   the run does inside its fold training);
5. push to the local sheet, then pull (no edits: the cost of reading and merging every row).

Each step reports wall seconds and the peak resident memory while it ran (sampled every 20 ms
from /proc/self/status), then the time per image and RSS against the smallest size.

Separately, ``--embeddings N`` times the scores and the map alone on N synthetic 96-d embeddings
(the ``fast`` preset's width) with planted near-duplicates: neighbours, UMAP, ``score_table``.
Goal: under 2 minutes for 100k on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# run_training's overall progress fraction at the end of each step (model/progress.py STEP_SHARE)
_TRAIN_STEP_ENDS = [("load", 0.05), ("train", 0.85), ("embed", 0.87), ("umap", 0.95)]


def _cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _rss_mb() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepMeter:
    """Wall time, CPU time and peak RSS per named step; a thread samples RSS while a step runs.

    CPU seconds (all threads) tell the work apart from waiting on a machine shared with others.
    """

    def __init__(self) -> None:
        self.step = "start"
        self.peak: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._since, self._cpu_since = time.perf_counter(), _cpu_s()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._note()

    def _note(self) -> None:
        step, rss = self.step, _rss_mb()
        self.peak[step] = max(self.peak.get(step, 0.0), rss)

    def enter(self, step: str) -> None:
        """End the current step and start ``step``."""
        if step == self.step:
            return
        now, cpu = time.perf_counter(), _cpu_s()
        self._note()
        self.seconds[self.step] = self.seconds.get(self.step, 0.0) + now - self._since
        self.cpu[self.step] = self.cpu.get(self.step, 0.0) + cpu - self._cpu_since
        self.step, self._since, self._cpu_since = step, now, cpu
        self._note()

    def close(self) -> None:
        self.enter("end")
        self._stop.set()
        self._thread.join()


def _train_progress(meter: StepMeter):
    def on_progress(step: str, done: float) -> None:
        for name, end in _TRAIN_STEP_ENDS:
            if done < end - 1e-9:
                meter.enter(name)
                return
        meter.enter("scores" if done < 1.0 - 1e-9 else "write")

    return on_progress


def measure_images(n: int, workdir: Path, epochs: int) -> dict:
    """One dataset size, every step; runs in its own process (see ``--one``)."""
    data, ws_dir = workdir / f"data-{n}", workdir / f"ws-{n}"
    t = time.perf_counter()
    if not (data / "ground_truth.csv").exists():
        subprocess.run(
            [sys.executable, "-m", "sheets_bridge.cli", "make-demo-data", str(data)]
            + ["--images", str(n)],
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    generate = time.perf_counter() - t
    generate_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    from model.predict import predict_paths
    from sheets_bridge import loop

    meter = StepMeter()
    meter.enter("init")
    ws = loop.init(data, ws_dir, seed=0)
    meter.enter("load")
    run = loop.train(ws, epochs=epochs, progress=False, on_progress=_train_progress(meter))
    meter.enter("predict")
    manifest = ws.current.manifest()
    paths = [str(ws.root / p) for p in manifest["path"]]
    predict_paths(run.path / "model.pt", paths, cache_dir=ws.media_dir / "cache")
    meter.enter("push")
    loop.push(ws, run=run)
    meter.enter("pull")
    loop.pull(ws)
    meter.close()
    metrics = run.metrics()
    timings = metrics["timings"]
    seconds, cpu = dict(meter.seconds), dict(meter.cpu)
    # the run's own clock for its steps; the meter's boundaries come from progress events
    seconds["load"] = timings["load"]
    seconds["train"] = timings["folds"] + timings["final"]
    seconds["embed"], seconds["umap"], seconds["scores"] = (
        timings["embed"],
        timings["umap"],
        timings["scores"],
    )
    steps = ["init", "load", "train", "embed", "umap", "scores", "predict", "push", "pull"]
    return {
        "images": n,
        "pool": metrics["n_train"] + metrics["n_val"],
        "epochs": metrics["epochs"],
        "folds": metrics["folds"],
        "generate": {"s": round(generate, 2), "rss_mb": round(generate_rss, 1)},
        "steps": {
            s: {
                "s": round(seconds.get(s, 0.0), 2),
                "cpu_s": round(cpu.get(s, 0.0), 2),
                "rss_mb": round(meter.peak.get(s, 0.0), 1),
            }
            for s in steps
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def synthetic_embeddings(n: int, dim: int = 96, seed: int = 0) -> dict:
    """Clustered embeddings, 10 classes, noisy probabilities, 1% planted near-duplicates."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(60, dim))
    which = rng.integers(0, 60, n)
    emb = (centres[which] + 0.8 * rng.normal(size=(n, dim))).astype(np.float32)
    copies = rng.choice(n, n // 100, replace=False)
    emb[copies[: len(copies) // 2]] = emb[copies[len(copies) // 2 :]] + 1e-3
    labels = which % 10
    logits = 3.0 * np.eye(10)[labels] + rng.normal(size=(n, 10))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return {
        "ids": [f"img-{i:07d}" for i in range(n)],
        "labels": labels,
        "splits": np.where(rng.random(n) < 0.3, "val", "train").tolist(),
        "sha256s": [f"{i:064x}" for i in range(n)],
        "probs": probs.astype(np.float32),
        "embeddings": emb,
    }


def measure_embeddings(n: int) -> dict:
    """Neighbours, map and scores on ``n`` synthetic embeddings; runs in its own process."""
    from model.embed import neighbours, umap_2d
    from model.scores import OUTLIER_K, score_table

    d = synthetic_embeddings(n)
    meter = StepMeter()
    meter.enter("neighbours")
    knn = neighbours(d["embeddings"], max(16, OUTLIER_K + 1), seed=0)
    meter.enter("umap")
    umap_2d(d["embeddings"], seed=0, knn=knn)
    meter.enter("scores")
    table = score_table(
        ids=d["ids"],
        labels=d["labels"],
        splits=d["splits"],
        sha256s=d["sha256s"],
        families=d["ids"],
        probs=d["probs"],
        embeddings=d["embeddings"],
        knn=knn,
        classes=[str(c) for c in range(10)],
        seed=0,
    )
    meter.close()
    steps = {
        s: {
            "s": round(meter.seconds[s], 2),
            "cpu_s": round(meter.cpu[s], 2),
            "rss_mb": round(meter.peak[s], 1),
        }
        for s in ("neighbours", "umap", "scores")
    }
    total = sum(v["s"] for v in steps.values())
    return {
        "embeddings": n,
        "steps": steps,
        "total_s": round(total, 2),
        "total_cpu_s": round(sum(v["cpu_s"] for v in steps.values()), 2),
        "duplicates_found": int((table["duplicate_of"] != "").sum()),
        "planted_duplicate_pairs": n // 200,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _in_subprocess(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _print_images(results: list[dict]) -> None:
    base = results[0]
    print(f"\ncores: {os.cpu_count()}  epochs: {base['epochs']}  folds: {base['folds']}")
    print("per size: wall s / CPU s / peak RSS MB; then, per larger size against the first:")
    print("time per image (wall, CPU) and peak RSS as ratios")
    head = f"{'step':8}" + "".join(f"{r['images']:>26,}" for r in results)
    print(head + "".join(f"{'ratios ' + format(r['images'], ','):>27}" for r in results[1:]))
    for step in base["steps"]:
        line = f"{step:8}"
        for r in results:
            v = r["steps"][step]
            line += f"{v['s']:>9.1f} {v['cpu_s']:>7.1f} {v['rss_mb']:>7.0f} MB"
        b = base["steps"][step]
        for r in results[1:]:
            v, scale = r["steps"][step], base["images"] / r["images"]
            wall = v["s"] * scale / b["s"] if b["s"] > 0 else float("nan")
            cpu = v["cpu_s"] * scale / b["cpu_s"] if b["cpu_s"] > 0 else float("nan")
            line += f"   {wall:>6.2f}x {cpu:>6.2f}x {v['rss_mb'] / max(b['rss_mb'], 1):>6.2f}x"
        print(line)
    per_epoch = [r["steps"]["train"]["s"] / r["epochs"] / r["images"] * 1000 for r in results]
    print(
        "train per epoch (all K+1 models), ms per image: "
        + ", ".join(f"{v:.2f}" for v in per_epoch)
    )
    for r in results:
        g = r["generate"]
        print(
            f"{r['images']:,} images: generate {g['s']:.1f} s ({g['rss_mb']:.0f} MB), "
            f"peak RSS {r['peak_rss_mb']:.0f} MB "
            f"({r['peak_rss_mb'] / base['peak_rss_mb']:.2f}x the first)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("sizes", nargs="?", default="3000,30000", help="DATA_SIZES, comma-separated")
    ap.add_argument("--embeddings", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--skip-images", action="store_true")
    ap.add_argument(
        "--reuse", action="store_true", help="take a size's result from an earlier run in --workdir"
    )
    ap.add_argument("--skip-embeddings", action="store_true")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # worker: one image size
    ap.add_argument("--one-embeddings", type=int, help=argparse.SUPPRESS)  # worker
    args = ap.parse_args()

    if args.one:
        print(json.dumps(measure_images(args.one, args.workdir, args.epochs)))
        return
    if args.one_embeddings:
        print(json.dumps(measure_embeddings(args.one_embeddings)))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    if not args.skip_images:
        for n in [int(s) for s in args.sizes.split(",") if s]:
            saved = workdir / f"result-{n}-epochs{args.epochs}.json"
            if args.reuse and saved.exists():
                results.append(json.loads(saved.read_text()))
                continue
            print(f"{n:,} images ...", flush=True)
            extra = ["--workdir", str(workdir), "--epochs", str(args.epochs)]
            results.append(_in_subprocess(["--one", str(n), *extra]))
            saved.write_text(json.dumps(results[-1]))
            print(json.dumps(results[-1]), flush=True)
        _print_images(results)
    if not args.skip_embeddings:
        print(f"\nscores + UMAP alone on {args.embeddings:,} synthetic embeddings ...", flush=True)
        emb = _in_subprocess(["--one-embeddings", str(args.embeddings)])
        for step, v in emb["steps"].items():
            print(f"  {step:11} {v['s']:7.1f} s  {v['cpu_s']:7.1f} s CPU  {v['rss_mb']:6.0f} MB")
        print(
            f"  total {emb['total_s']:.1f} s, {emb['total_cpu_s']:.1f} s CPU "
            f"(goal: under 120 s on 2 cores); "
            f"{emb['duplicates_found']} images flagged as duplicates "
            f"({emb['planted_duplicate_pairs']} planted pairs)"
        )
        print(json.dumps(emb))


if __name__ == "__main__":
    main()
