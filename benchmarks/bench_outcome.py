"""What the recipe buys: the fixed model trained on three versions of the same data.

    .venv/bin/python benchmarks/bench_outcome.py DATA_DIR [--preset fast|dcai] [--epochs N]
        [--seeds 0,1,2] [--budget N] [--review 0.2] [--ablation slant,elastic,...] [--out FILE]

Variants, each on a fresh workspace per seed:

- (a) ``released``: the data as it is;
- (b) ``recipe``: ``sheets-bridge improve`` with nobody reviewing (rebalance + targeted augmentation);
- (c) ``recipe+review``: the top ``--review`` share of the pushed sheet (in its order) reviewed by
  a simulated reviewer who types the true label from ``DATA_DIR/ground_truth.csv`` (``x`` for a
  junk image) into both annotator columns, then ``improve``. Without a ground truth (the DCAI
  release) there is no reviewer and (c) is skipped.

Reported per variant: validation accuracy (on that variant's val split, which rebalancing changes),
``fixed_val`` (the released val images still in val) and label-book accuracy (the same clean
reference set for every variant: the fairest yardstick), as mean and standard deviation over the
seeds. The ablation trains (b) once per op set on the first seed: no augmentation, all ops, and each
op named in ``--ablation`` alone.

The model's hyper-parameters are the preset's; only the data changes. ``dcai`` trains 100 epochs and
needs a GPU; on a CPU use ``fast``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.loop.improve import improve  # noqa: E402
from sheets_bridge.store.workspace import Workspace  # noqa: E402

KEYS = ("val_accuracy", "fixed_val", "label_book")


def _metrics(run) -> dict:
    m = run.metrics()
    ev = m.get("eval") or {}
    return {"val_accuracy": m.get("val_accuracy"), **{k: ev.get(k) for k in KEYS[1:]}}


def simulated_review(ws: Workspace, truth: pd.DataFrame, share: float) -> int:
    """Type the true label (``x`` for junk) for the first ``share`` of the sheet, in sheet order."""
    rows = [r for r in ws.sheet().read().rows if r.get("id")]
    rows.sort(key=lambda r: float(r.get("rank") or 1e9))
    top = rows[: round(share * len(rows))]
    t = truth.set_index("id")
    edits = []
    for r in top:
        if r["id"] not in t.index:
            continue  # an augmented row
        g = t.loc[r["id"]]
        value = "x" if g["problem"] == "junk" else g["true_label"]
        edits += [(r["id"], c, value) for c in ws.config.annotators[:2]]
    ws.sheet().edit(edits)
    return len(edits) // 2


def one_seed(data: Path, tmp: Path, seed: int, args, truth: pd.DataFrame | None) -> dict:
    out: dict[str, dict] = {}
    base = tmp / f"a-{seed}"
    ws = loop.init(data, base, preset=args.preset, seed=seed)
    run = loop.train(ws, epochs=args.epochs, progress=False)
    out["released"] = _metrics(run)
    budget = args.budget or 2 * len(ws.current.manifest())
    shutil.copytree(base, tmp / f"c-{seed}")
    r = improve(Workspace(base), budget=budget, seed=seed, epochs=args.epochs)
    out["recipe"] = r.after
    if truth is not None:
        wc = Workspace(tmp / f"c-{seed}")
        loop.push(wc)
        reviewed = simulated_review(wc, truth, args.review)
        r = improve(Workspace(wc.root), budget=budget, seed=seed, epochs=args.epochs)
        out["recipe+review"] = {**r.after, "reviewed": reviewed}
    return out


def ablation(data: Path, tmp: Path, seed: int, args) -> dict:
    from model.distort import OPS

    base = tmp / "abl"
    ws = loop.init(data, base, preset=args.preset, seed=seed)
    loop.train(ws, epochs=args.epochs, progress=False)
    budget = args.budget or 2 * len(ws.current.manifest())
    sets = {"none": None, "all": list(OPS)} | {o: [o] for o in args.ablation}
    res = {}
    for name, ops in sets.items():
        w = tmp / f"abl-{name}"
        shutil.copytree(base, w)
        b = len(ws.current.manifest()) if ops is None else budget  # "none": no room to augment
        r = improve(Workspace(w), budget=b, seed=seed, epochs=args.epochs, ops=ops)
        res[name] = r.after
    return res


def summarise(per_seed: list[dict]) -> dict:
    table: dict[str, dict] = {}
    for variant in per_seed[0]:
        row = {}
        for k in KEYS:
            vals = [s[variant][k] for s in per_seed if s[variant].get(k) is not None]
            if vals:
                sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
                row[k] = {"mean": round(statistics.mean(vals), 4), "sd": round(sd, 4)}
        table[variant] = row
    return table


def show(table: dict, title: str) -> str:
    lines = [title, f"{'variant':16}" + "".join(f"{k:>22}" for k in KEYS)]
    for variant, row in table.items():
        cells = [f"{row[k]['mean']:.1%} +- {row[k]['sd']:.1%}" if k in row else "n/a" for k in KEYS]
        lines.append(f"{variant:16}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--preset", default="fast", choices=["fast", "dcai"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=None, help="default: twice the released size")
    ap.add_argument("--review", type=float, default=0.2)
    ap.add_argument("--ablation", default="", help="ops to try alone (comma-separated)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.ablation = [o for o in args.ablation.split(",") if o]
    seeds = [int(s) for s in args.seeds.split(",")]
    gt = args.data / "ground_truth.csv"
    truth = pd.read_csv(gt, dtype=str, keep_default_na=False) if gt.exists() else None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        per_seed = []
        for s in seeds:  # each seed's figures as they come: a long run shows progress
            per_seed.append(one_seed(args.data, Path(tmp), s, args, truth))
            print(f"seed {s}: {json.dumps(per_seed[-1])}", flush=True)
        table = summarise(per_seed)
        print(show(table, f"outcome ({args.preset}, seeds {args.seeds}, epochs {args.epochs})"))
        abl = {}
        if args.ablation:
            abl = ablation(args.data, Path(tmp), seeds[0], args)
            print(show(summarise([abl]), f"\nablation (seed {seeds[0]}, recipe without review)"))
    if truth is None:
        print("no ground_truth.csv: no simulated reviewer, recipe+review skipped")
    wall = round(time.perf_counter() - start, 1)
    print(f"wall time {wall}s")
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"data": str(args.data), "out": str(args.out)},
                    "per_seed": per_seed,
                    "table": table,
                    "ablation": abl,
                    "wall_s": wall,
                },
                indent=2,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
