"""Does moving images between train and val pay? Accuracy on a held-out slice no move touches.

    .venv/bin/python benchmarks/bench_rebalance.py DATA_DIR [--preset fast|dcai] [--epochs N]
        [--seeds 0,1,2] [--holdout 0.5] [--out FILE]

``DATA_DIR`` holds ``train/``, ``val/`` and optionally ``label_book/`` (``<split>/<label>/<image>``,
the DCAI layout and ``make-demo-data``'s). A seeded share (``--holdout``, default half) of the val
images is taken out of the dataset before anything runs: it is the held-out slice, never in the
workspace, so no rebalancing moves it and the model never trains or selects its epoch on it. With a
``ground_truth.csv`` (the demo) the slice carries the true labels, leaves out junk, and leaves out
every image with a near-duplicate elsewhere (a copy of a training image would only measure memory);
without one (DCAI) it keeps the released labels.

Per seed the rest is registered as a workspace, trained once (``none``: no moves), and then each
variant applies its moves to a copy of that workspace and trains again, with the same seed:

- ``tol=T``: the product's :func:`sheets_bridge.loop.rebalance.propose` with tolerance ``T`` (a
  smaller ``T`` moves more images: every style cluster and class closer to the overall val share);
- ``to-train``: the default proposal's moves into train only (styles val has and train lacks join
  train; nothing leaves train).

Reported: accuracy on the held-out slice and on the label book (the same images for every variant),
and the number of moves, as mean and standard deviation over the seeds. The model's
hyper-parameters are the preset's; only the split changes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.loop import rebalance as reb  # noqa: E402
from sheets_bridge.store.dataset import IMAGE_SUFFIXES  # noqa: E402
from sheets_bridge.store.workspace import Workspace  # noqa: E402

KEYS = ("holdout", "label_book", "moves")


def split_holdout(data: Path, out: Path, share: float, seed: int) -> tuple[Path, Path, int]:
    """Copy ``data`` into ``out/data`` without the held-out val images, which go to
    ``out/holdout/<label>/``; returns both folders and the slice's size."""
    gt_file = data / "ground_truth.csv"
    truth = (
        pd.read_csv(gt_file, dtype=str, keep_default_na=False).set_index("id")
        if gt_file.exists()
        else None
    )
    dup_ids: set[str] = set()
    if truth is not None:
        d = truth[truth["duplicate_of"] != ""]
        dup_ids = set(d.index) | set(d["duplicate_of"])
    kept, held = out / "data", out / "holdout"
    n = 0
    for p in sorted(data.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        rel = p.relative_to(data)
        split, label = rel.parts[0], rel.parts[-2]
        h = int(hashlib.sha256(f"{seed}:{p.stem}".encode()).hexdigest()[:8], 16) / 16**8
        if split == "val" and h < share and p.stem not in dup_ids:
            if truth is not None and p.stem in truth.index:
                g = truth.loc[p.stem]
                if g["problem"] == "junk" or not g["true_label"]:
                    continue  # junk: no right answer; out of the workspace too
                label = g["true_label"]
            target = held / label / p.name
            n += 1
        else:
            target = kept / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    return kept, held, n


def write_results(args, **figures: object) -> None:
    """``--out``: the command line's arguments and the figures, as JSON (``--summarise`` reads
    ``per_seed`` back)."""
    if args.out:
        given = vars(args) | {"data": str(args.data), "out": str(args.out)}
        args.out.write_text(json.dumps({"args": given, **figures}, indent=2, default=str))


def set_folds(root: Path, folds: int) -> None:
    """K of a workspace's later runs: the final model, which gives every figure here, trains on
    the same images whatever K is; the fold models only score the images."""
    f = root / "sheets-bridge.toml"
    f.write_text(re.sub(r"(?m)^folds = \d+$", f"folds = {folds}", f.read_text()))


def _acc(run) -> dict:
    ev = run.metrics().get("eval") or {}
    return {"holdout": ev.get("holdout"), "label_book": ev.get("label_book")}


def one_seed(data: Path, holdout: Path, tmp: Path, seed: int, args) -> dict:
    base = tmp / f"ws-{seed}"
    ws = loop.init(data, base, preset=args.preset, seed=seed)
    out = {"none": {**_acc(loop.train(ws, epochs=args.epochs, eval_dir=holdout, progress=False))}}
    out["none"]["moves"] = 0
    variants = {f"tol={t:g}": t for t in args.tolerances}
    variants["to-train"] = reb.TOLERANCE
    for name, tol in variants.items():
        w = tmp / f"ws-{seed}-{name}"
        shutil.copytree(base, w)
        set_folds(w, args.after_folds)
        wv = Workspace(w)
        moves = reb.propose(wv, tolerance=tol)
        if name == "to-train":
            moves = moves[moves["to_split"] == "train"]
        if not moves.empty:
            reb.apply(wv, moves)
            wv = Workspace(w)
        run = loop.train(wv, epochs=args.epochs, eval_dir=holdout, progress=False)
        to_val = int((moves["to_split"] == "val").sum())
        out[name] = {**_acc(run), "moves": len(moves), "to_val": to_val}
        print(f"seed {seed} {name}: {json.dumps(out[name])}", flush=True)
    return out


def summarise(per_seed: list[dict], keys: tuple[str, ...] = KEYS) -> dict:
    """Mean and sd over the seeds of each variant's ``keys`` (a key no seed has is left out)."""
    table: dict[str, dict] = {}
    for variant in per_seed[0]:
        row = {}
        for k in keys:
            vals = [s[variant][k] for s in per_seed if s[variant].get(k) is not None]
            if vals:
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                row[k] = {"mean": round(statistics.mean(vals), 4), "sd": round(sd, 4)}
        table[variant] = row
    return table


def show(table: dict, title: str) -> str:
    lines = [title, f"{'variant':12}{'holdout':>20}{'label_book':>20}{'moves':>14}"]
    for variant, row in table.items():
        cells = [
            f"{row[k]['mean']:.1%} +- {row[k]['sd']:.1%}" if k in row else "n/a" for k in KEYS[:2]
        ]
        mv = row.get("moves", {"mean": 0, "sd": 0})
        cells.append(f"{mv['mean']:.0f} +- {mv['sd']:.0f}")
        lines.append(f"{variant:12}{cells[0]:>20}{cells[1]:>20}{cells[2]:>14}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--preset", default="fast", choices=["fast", "dcai"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--holdout", type=float, default=0.5, help="share of val held out")
    ap.add_argument("--tolerances", default="0.2,0.1,0", help="propose() tolerances to try")
    ap.add_argument(
        "--after-folds",
        type=int,
        default=4,
        help="K for the runs after the moves (2 halves their cost)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.tolerances = [float(t) for t in args.tolerances.split(",") if t]
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data, holdout, n = split_holdout(args.data, Path(tmp), args.holdout, seed=0)
        print(f"held-out slice: {n} val images (the same for every seed and variant)", flush=True)
        per_seed = [one_seed(data, holdout, Path(tmp), s, args) for s in seeds]
    table = summarise(per_seed)
    print(show(table, f"rebalance ({args.preset}, seeds {args.seeds}, epochs {args.epochs})"))
    wall = round(time.perf_counter() - start, 1)
    print(f"wall time {wall}s")
    write_results(args, per_seed=per_seed, table=table, wall_s=wall, holdout_images=n)


if __name__ == "__main__":
    main()
