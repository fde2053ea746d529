"""What the recipe buys: the fixed model trained on several versions of the same data.

    .venv/bin/python benchmarks/bench_outcome.py DATA_DIR [--preset fast|dcai] [--epochs N]
        [--seeds 0,1,2] [--budget N] [--review 0.2] [--ops a,b] [--ablation slant,elastic,...]
        [--variants recipe,review,augment-only,rebalance-only] [--holdout 0.5] [--after-folds K]
        [--out FILE]
    .venv/bin/python benchmarks/bench_outcome.py --summarise s0.json s1.json s2.json

Before anything runs, a seeded share (``--holdout``, default half) of the val images leaves the
dataset (see ``bench_rebalance.split_holdout``): no workspace holds it, so neither rebalancing nor
review touches it, and it is the same slice for every variant and seed (``holdout``). Variants, each
on a fresh copy of the seed's workspace:

- (a) ``released``: the data as it is;
- (b) ``recipe``: ``sheets-bridge improve`` with nobody reviewing (rebalance + targeted augmentation);
- (c) ``recipe+review``: the top ``--review`` share of the pushed sheet (in its order) reviewed by
  a simulated reviewer who types the true label from ``DATA_DIR/ground_truth.csv`` (``x`` for a
  junk image) into both annotator columns, then ``improve``. Without a ground truth (the DCAI
  release) there is no reviewer and (c) is skipped;
- ``augment only`` (the recipe with ``rebalance=False``) and ``rebalance only`` (no room to
  augment): which half of the recipe pays.

Reported per variant: validation accuracy (on that variant's val split, which rebalancing changes),
``fixed_val`` (the released val images still in val: a different set per variant once images move),
label-book accuracy and ``holdout`` (the same images for every variant: the fair yardsticks), as
mean and standard deviation over the seeds. The ablation trains (b) once per op named in
``--ablation`` (that op alone) and seed, beside ``none`` (rebalance only) and the recipe's ops.
One process per seed (``--seeds 1``) and ``--summarise`` over their ``--out`` files gives the same
tables as one process for all seeds. ``--after-folds 2`` halves the cost of the runs after the
recipe: every figure comes from the final model, which trains on the same images whatever K is
(its random initialisation does depend on K: the released runs keep the workspace's K).

The model's hyper-parameters are the preset's; only the data changes. ``dcai`` trains 100 epochs and
needs a GPU; on a CPU use ``fast``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_rebalance import set_folds, split_holdout, write_results  # noqa: E402
from bench_rebalance import summarise as rebalance_summarise  # noqa: E402

from sheets_bridge import loop  # noqa: E402
from sheets_bridge.loop.improve import improve  # noqa: E402
from sheets_bridge.store.workspace import Workspace  # noqa: E402

KEYS = ("val_accuracy", "fixed_val", "label_book", "holdout")


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


def one_seed(data: Path, tmp: Path, seed: int, args, truth, holdout: Path | None) -> dict:
    """(a), (b), (c) for one seed, then the ablation's op sets from copies of (a)'s workspace."""
    from model.distort import OPS

    out: dict[str, dict] = {}
    ev = str(holdout) if holdout else None
    base = tmp / f"a-{seed}"
    ws = loop.init(data, base, preset=args.preset, seed=seed)
    run = loop.train(ws, epochs=args.epochs, progress=False, eval_dir=ev)
    out["released"] = _metrics(run)
    size = len(ws.current.manifest())
    budget = args.budget or 2 * size
    sets = {o: [o] for o in args.ablation}
    copies = [*sets, *(v for v in args.variants if v != "recipe")]
    for name in copies:
        shutil.copytree(base, tmp / f"{name}-{seed}")
    for root in [base, *(tmp / f"{name}-{seed}" for name in copies)]:
        set_folds(root, args.after_folds)

    def recipe(root: Path, ops=None, b=budget, rebalance=True) -> dict:
        ws = Workspace(root)
        r = improve(
            ws, budget=b, seed=seed, epochs=args.epochs, ops=ops, eval_dir=ev, rebalance=rebalance
        )
        return r.after

    out["recipe"] = recipe(base, args.ops)
    print(f"seed {seed} recipe: {json.dumps(out['recipe'])}", flush=True)
    if truth is not None and "review" in args.variants:
        wc = Workspace(tmp / f"review-{seed}")
        loop.push(wc)
        reviewed = simulated_review(wc, truth, args.review)
        out["recipe+review"] = {**recipe(wc.root, args.ops), "reviewed": reviewed}
        print(f"seed {seed} recipe+review: {json.dumps(out['recipe+review'])}", flush=True)
    if "augment-only" in args.variants:  # the recipe without its rebalancing step
        out["augment only"] = recipe(tmp / f"augment-only-{seed}", args.ops, rebalance=False)
        print(f"seed {seed} augment only: {json.dumps(out['augment only'])}", flush=True)
    if "rebalance-only" in args.variants:  # the recipe without room to augment
        out["rebalance only"] = recipe(tmp / f"rebalance-only-{seed}", b=size)
        print(f"seed {seed} rebalance only: {json.dumps(out['rebalance only'])}", flush=True)
    for name, ops in sets.items():
        got = recipe(tmp / f"{name}-{seed}", ops)
        out[f"ablation:{name}"] = got
        print(f"seed {seed} ablation {name}: {json.dumps(got)}", flush=True)
    if sets:
        out["ablation:(recipe's ops)"] = out["recipe"]
        if "rebalance only" in out:
            out["ablation:none"] = out["rebalance only"]
        assert set(OPS) >= set(args.ablation)
    return out


def summarise(per_seed: list[dict]) -> dict:
    return rebalance_summarise(per_seed, KEYS)


def show(table: dict, title: str) -> str:
    lines = [title, f"{'variant':16}" + "".join(f"{k:>22}" for k in KEYS)]
    for variant, row in table.items():
        cells = [f"{row[k]['mean']:.1%} +- {row[k]['sd']:.1%}" if k in row else "n/a" for k in KEYS]
        lines.append(f"{variant:16}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def tables(per_seed: list[dict], title: str) -> tuple[dict, dict]:
    """Print and return the outcome table and the ablation table over ``per_seed``."""
    table = summarise(
        [{k: v for k, v in s.items() if not k.startswith("ablation:")} for s in per_seed]
    )
    abl = {}
    print(show(table, f"outcome ({title})"))
    if any(k.startswith("ablation:") for k in per_seed[0]):
        abl = summarise(
            [{k[9:]: v for k, v in s.items() if k.startswith("ablation:")} for s in per_seed]
        )
        print(show(abl, f"\nablation ({title}; recipe without review, one op at a time)"))
    return table, abl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, nargs="?")
    ap.add_argument(
        "--variants",
        default="recipe,review,augment-only,rebalance-only",
        help="besides released: recipe, review (recipe+review), augment-only, rebalance-only",
    )
    ap.add_argument(
        "--summarise", nargs="+", type=Path, default=None, help="only the tables from --out files"
    )
    ap.add_argument("--preset", default="fast", choices=["fast", "dcai"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=None, help="default: twice the released size")
    ap.add_argument("--review", type=float, default=0.2)
    ap.add_argument("--ops", default=None, help="the recipe's ops (default: the product's)")
    ap.add_argument("--ablation", default="", help="ops to try alone (comma-separated)")
    ap.add_argument("--holdout", type=float, default=0.5, help="share of val held out (0: none)")
    ap.add_argument(
        "--after-folds",
        type=int,
        default=4,
        help="K for the runs after the recipe (2 halves their cost)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    args.ablation = [o for o in args.ablation.split(",") if o]
    args.variants = [v for v in args.variants.split(",") if v]
    if args.summarise:
        per_seed = [s for f in args.summarise for s in json.loads(f.read_text())["per_seed"]]
        tables(per_seed, f"{len(per_seed)} seeds from {', '.join(map(str, args.summarise))}")
        return
    args.ops = args.ops.split(",") if args.ops else None
    seeds = [int(s) for s in args.seeds.split(",")]
    gt = args.data / "ground_truth.csv"
    truth = pd.read_csv(gt, dtype=str, keep_default_na=False) if gt.exists() else None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        data, holdout = args.data, None
        if args.holdout > 0:
            data, holdout, n = split_holdout(args.data, Path(tmp), args.holdout, seed=0)
            print(f"held-out slice: {n} val images, outside every workspace", flush=True)
        per_seed = []
        for s in seeds:  # each seed's figures as they come: a long run shows progress
            per_seed.append(one_seed(data, Path(tmp), s, args, truth, holdout))
    table, abl = tables(per_seed, f"{args.preset}, seeds {args.seeds}, epochs {args.epochs}")
    if truth is None:
        print("no ground_truth.csv: no simulated reviewer, recipe+review skipped")
    wall = round(time.perf_counter() - start, 1)
    print(f"wall time {wall}s")
    write_results(args, per_seed=per_seed, table=table, ablation=abl, wall_s=wall)


if __name__ == "__main__":
    main()
