"""Near-duplicate detection against the planted pairs of a demo dataset (ground_truth.csv).

    .venv/bin/python benchmarks/bench_near_dup.py DATA_DIR --workspace WS
    .venv/bin/python benchmarks/bench_near_dup.py DATA_DIR --workspace COPY --rewrite

DATA_DIR is a folder written by ``sheets-bridge make-demo-data`` (numerals or shapes; rows with
``problem = near_duplicate`` name their original in ``duplicate_of``); WS a workspace with a saved
run over it. Without retraining, from the run's embeddings and the image files, printed for the
old rule (same bytes, or the nearest neighbour at embedding cosine >= ``NEAR_DUPLICATE``) and
the new one (same bytes, or a neighbour confirmed in pixels, :mod:`model.near_dup`):

- planted pairs found: the two images end up joined (directly or through other links, as
  rebalance joins them);
- false pairs: reported links between two images that are not a planted pair;
- the new rule's pairs checked, cut, and seconds.

``--rewrite`` replaces the ``duplicate_of`` column of the run's ``scores.csv`` with the new
rule's (use it on a copy of a workspace, e.g. before ``sheets-bridge rebalance --apply``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.data import load_images  # noqa: E402
from model.embed import neighbours  # noqa: E402
from model.near_dup import THUMB, near_duplicates  # noqa: E402
from model.scores import OUTLIER_K, duplicates  # noqa: E402


def _groups(links: dict[int, int], n: int) -> np.ndarray:
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in links.items():
        parent[find(a)] = find(b)
    return np.array([find(i) for i in range(n)])


def _score(dup: np.ndarray, planted: set[frozenset[int]]) -> tuple[int, int]:
    links = {i: int(j) for i, j in enumerate(dup) if j >= 0}
    group = _groups(links, len(dup))
    found = sum(1 for p in planted if len({group[i] for i in p}) == 1)
    false = {frozenset((i, j)) for i, j in links.items()} - planted
    return found, len(false)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path)
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--rewrite", action="store_true", help="write the new duplicate_of column")
    args = ap.parse_args()
    ws = args.workspace
    runs = sorted(p for p in (ws / "runs").iterdir() if (p / "scores.csv").is_file())
    if not runs:
        raise SystemExit(f"{ws} holds no run with scores.csv; train first")
    run = runs[-1]
    preds = pd.read_csv(run / "predictions.csv", dtype=str, keep_default_na=False)
    emb = np.load(run / "embeddings.npy")
    ids = list(preds["id"])
    pos = {i: k for k, i in enumerate(ids)}
    manifests = [
        pd.read_csv(m, dtype=str, keep_default_na=False)
        for m in sorted((ws / "versions").glob("*/manifest.csv"))
    ]
    files = pd.concat(manifests).drop_duplicates("id").set_index("id")
    paths = [str(ws / files.at[i, "path"]) for i in ids]
    shas = [files.at[i, "sha256"] for i in ids]
    families = [
        files.at[i, "parent_id"]
        if files.at[i, "origin"] == "augmented" and files.at[i, "parent_id"]
        else i
        for i in ids
    ]
    truth = pd.read_csv(args.data / "ground_truth.csv", dtype=str, keep_default_na=False)
    planted = {
        frozenset((pos[r.id], pos[r.duplicate_of]))
        for r in truth.itertuples()
        if r.problem == "near_duplicate" and r.id in pos and r.duplicate_of in pos
    }
    knn = neighbours(emb, max(16, OUTLIER_K + 1), seed=0)
    old = duplicates(ids, shas, knn[0], knn[1], families)
    t = time.perf_counter()
    thumbs = load_images(paths, shas, size=THUMB, channels=3)
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    near, summary = near_duplicates(knn[0], lambda idx: thumbs[idx], families)
    t_check = time.perf_counter() - t
    new = duplicates(ids, shas, knn[0], knn[1], families, near)
    print(f"\n== {args.data} (run {run.name}, {len(ids)} images, {len(planted)} planted pairs)")
    for name, dup in (("old: cosine >= 0.995", old), ("new: pixel-confirmed", new)):
        found, false = _score(dup, planted)
        print(f"  {name}: planted pairs found {found} of {len(planted)}, false pairs {false}")
    print(
        f"  new rule: {int(summary['pairs_checked'])} pairs checked, cut {summary['cut']:.4f}, "
        f"{int(summary['pairs_kept'])} kept; thumbnails {t_load:.1f} s, check {t_check:.1f} s"
    )
    missed = [sorted(ids[i] for i in p) for p in planted if new[min(p)] < 0 and new[max(p)] < 0]
    print(f"  planted pairs the new rule leaves unlinked: {missed}")
    if args.rewrite:
        scores = pd.read_csv(run / "scores.csv", dtype=str, keep_default_na=False)
        by_id = dict(
            zip(
                ids,
                np.where(new >= 0, np.asarray(ids, dtype=object)[np.maximum(new, 0)], ""),
                strict=True,
            )
        )
        scores["duplicate_of"] = scores["id"].map(by_id).fillna("")
        scores.to_csv(run / "scores.csv", index=False)
        print(f"  wrote duplicate_of of {run / 'scores.csv'}")


if __name__ == "__main__":
    main()
