"""Near-duplicate detection against the planted pairs of a demo dataset (ground_truth.csv).

    .venv/bin/python benchmarks/bench_near_dup.py DATA_DIR --workspace WS
    .venv/bin/python benchmarks/bench_near_dup.py DATA_DIR --workspace COPY --rewrite
    .venv/bin/python benchmarks/bench_near_dup.py D1 D2 --workspace WS1 WS2
    .venv/bin/python benchmarks/bench_near_dup.py --synthetic 3000 30000 100000

DATA_DIR is a folder written by ``sheets-bridge make-demo-data`` (numerals or shapes; rows with
``problem = near_duplicate`` name their original in ``duplicate_of``); WS a workspace with a saved
run over it. Without retraining, from the run's embeddings and the image files, printed for the
old rule (same bytes, or the nearest neighbour at embedding cosine >= ``NEAR_DUPLICATE``) and
the new one (same bytes, or a neighbour confirmed in pixels, :mod:`model.near_dup`):

- planted pairs found: the two images end up joined (directly or through other links, as
  rebalance joins them);
- false pairs: reported links between two images that are not a planted pair;
- the new rule's pairs checked, compared in full (past the prefilter or in the sample), cut,
  seconds, and the prefilter's z-score of each planted pair (how much room its loose cut has).

``--synthetic N ...``: scale, without a data set: N random smooth 64-px RGB thumbnails with 3%
planted copies (shifted up to 4 px, re-exposed, re-noised) and random embeddings that put each
copy among its original's neighbours; prints, per N, the seconds of the signatures, the prefilter
and the full comparisons, the copies found, and the time per image against the smallest N.

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
from model.embed import neighbours, normalize  # noqa: E402
from model.near_dup import (  # noqa: E402
    PREFILTER_Z,
    THUMB,
    candidate_pairs,
    near_duplicates,
    outlier_cut,
    quick_similarity,
    signatures,
)
from model.robust import robust_spread  # noqa: E402
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


def _synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, set]:
    """``n`` smooth random thumbnails (3% planted copies), their embeddings, the planted pairs."""
    n_copy = max(1, n * 3 // 100)
    n_orig = n - n_copy
    coarse = rng.uniform(30, 225, (n, 3, 8, 8)).astype(np.float32)
    thumbs = np.empty((n, 3, THUMB, THUMB), dtype=np.uint8)
    step = 2048
    for s in range(0, n, step):
        up = np.kron(coarse[s : s + step], np.ones((THUMB // 8, THUMB // 8), np.float32))
        thumbs[s : s + step] = np.clip(up + rng.normal(0, 6, up.shape), 0, 255)
    # embeddings: a few hundred "classes" so neighbours are look-alikes of one class
    centres = normalize(rng.normal(size=(max(4, n // 50), 64)))
    emb = centres[rng.integers(0, len(centres), n)] + 0.3 * normalize(rng.normal(size=(n, 64)))
    src = rng.choice(n_orig, n_copy, replace=False)
    planted = set()
    for c, o in zip(range(n_orig, n), src, strict=True):
        dy, dx = rng.integers(-4, 5, 2)
        arr = np.roll(thumbs[o].astype(np.float32), (dy, dx), axis=(1, 2)) * rng.uniform(0.9, 1.1)
        arr += rng.normal(0, 4, arr.shape)
        thumbs[c] = np.clip(np.rint(arr), 0, 255)
        emb[c] = emb[o] + 0.1 * normalize(rng.normal(size=(1, 64)))[0]
        planted.add(frozenset((int(o), int(c))))
    return thumbs, normalize(emb).astype(np.float32), planted


def synthetic(sizes: list[int]) -> None:
    base = None
    for n in sorted(sizes):
        thumbs, emb, planted = _synthetic(n, np.random.default_rng(0))
        knn = neighbours(emb, 16, seed=0)[0]
        fam = [str(i) for i in range(n)]
        t = time.perf_counter()
        near, summary = near_duplicates(knn, thumbs.__getitem__, fam)
        secs = time.perf_counter() - t
        found, false = _score(near, planted)
        base = base or secs / n
        print(
            f"N={n}: {secs:.1f} s ({secs / n * 1e6:.0f} us/image, {secs / n / base:.2f}x of "
            f"N={min(sizes)}); {int(summary['pairs_checked'])} pairs, "
            f"{int(summary['pairs_compared'])} compared in full; copies found {found} of "
            f"{len(planted)}, false pairs {false}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data", type=Path, nargs="*")
    ap.add_argument("--workspace", type=Path, nargs="*", default=[])
    ap.add_argument("--rewrite", action="store_true", help="write the new duplicate_of column")
    ap.add_argument("--synthetic", type=int, nargs="*", help="scale run at these image counts")
    args = ap.parse_args()
    if args.synthetic:
        synthetic(args.synthetic)
    if len(args.data) != len(args.workspace):
        raise SystemExit("give one --workspace per data folder")
    for data, ws in zip(args.data, args.workspace, strict=True):
        one(data, ws, args.rewrite)


def one(data: Path, ws: Path, rewrite: bool) -> None:
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
    truth = pd.read_csv(data / "ground_truth.csv", dtype=str, keep_default_na=False)
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
    pairs = candidate_pairs(knn[0], families)
    sig = signatures(lambda idx: thumbs[idx], len(ids))
    quick = quick_similarity(sig[pairs[:, 0]], sig[pairs[:, 1]])
    d = -np.log1p(-np.clip(quick, -1, 1 - 1e-6))
    med, mad = robust_spread(d)
    zs = sorted(
        round(float((d[k] - med) / mad), 1)
        for k, (a, b) in enumerate(pairs)
        if frozenset((int(a), int(b))) in planted
    )
    print(
        f"  prefilter z of the planted pairs among the candidates (cut {outlier_cut(quick, PREFILTER_Z):.3f}): {zs}"
    )
    new = duplicates(ids, shas, knn[0], knn[1], families, near)
    print(f"\n== {data} (run {run.name}, {len(ids)} images, {len(planted)} planted pairs)")
    for name, dup in (("old: cosine >= 0.995", old), ("new: pixel-confirmed", new)):
        found, false = _score(dup, planted)
        print(f"  {name}: planted pairs found {found} of {len(planted)}, false pairs {false}")
    print(
        f"  new rule: {int(summary['pairs_checked'])} pairs checked, cut {summary['cut']:.4f}, "
        f"{int(summary['pairs_kept'])} kept, {int(summary['pairs_compared'])} compared in full; thumbnails {t_load:.1f} s, check {t_check:.1f} s"
    )
    missed = [sorted(ids[i] for i in p) for p in planted if new[min(p)] < 0 and new[max(p)] < 0]
    print(f"  planted pairs the new rule leaves unlinked: {missed}")
    if rewrite:
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
