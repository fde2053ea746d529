"""Augmentation within a budget: new versions with extra training images made from the train split.

The competition allowed 10,000 images in all; :func:`augment` fills the room left under the budget
with distorted copies of training images (small rotations, affine and perspective distortion,
elastic warps, thicker or thinner strokes, noise, crops), giving the most to the smallest classes
first and, inside a class, to the style clusters it has fewest of (when the latest run's
``scores.csv`` has a ``cluster`` column).

Every augmented image is a new PNG, content-addressed under ``<workspace>/media/<sha[:2]>/<sha>.png``,
with its own manifest row (``origin="augmented"``, ``parent_id`` = the source image, ``id`` =
``aug-<sha[:12]>``, split ``train``, the parent's label) and a change-log row. A push shows them in the
sheet like any row ("augmented from <parent>"), where ``x`` removes them. The same seed gives
byte-identical images.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import math
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.store.versions import CHANGE_COLUMNS, MANIFEST_COLUMNS, Version
from sheets_bridge.store.workspace import Workspace

#: No parent gets more than this many times the class's average number of augmented copies, so a
#: small style cluster is boosted without filling the class with copies of two images.
PER_PARENT_FACTOR = 3
#: ... but any parent may get at least this many.
MIN_PER_PARENT = 4


@dataclass
class AugmentReport:
    """What :func:`augment` did."""

    base: str
    version: str | None
    budget: int
    seed: int
    before: int  # images in the base version
    added: int
    after: int
    train_before: dict[str, int] = field(default_factory=dict)  # per class
    train_after: dict[str, int] = field(default_factory=dict)
    clusters: str | None = None  # the run whose clusters guided the choice of parents
    seconds: float = 0.0
    reason: str = ""  # why nothing was added

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if not self.version:
            return f"augment: nothing added to {self.base} ({self.reason})"
        per = ", ".join(
            f"{c} {self.train_before.get(c, 0)}->{n}" for c, n in self.train_after.items()
        )
        guide = f"; style clusters from {self.clusters}" if self.clusters else ""
        return (
            f"augment: added {self.added} images to {self.base} -> {self.version} "
            f"({self.after} of {self.budget} images, seed {self.seed}, {self.seconds:.1f}s{guide})\n"
            f"  train per class: {per}"
        )


# -- allocation (pure) -------------------------------------------------------------------------
def water_fill(
    counts: Mapping[Hashable, int],
    n: int,
    capacity: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, int]:
    """Hand out ``n`` items one at a time to the key with the fewest (count + given so far).

    Ties go to the key that comes first in ``counts``. Keys at their ``capacity`` get no more; the
    result may sum to less than ``n`` when every key is full.

    >>> water_fill({"a": 5, "b": 1, "c": 2}, 4)
    {'a': 0, 'b': 3, 'c': 1}
    """
    keys = list(counts)
    given = dict.fromkeys(keys, 0)
    cap = capacity or {}
    heap = [(counts[k], i) for i, k in enumerate(keys) if cap.get(k, n) > 0]
    heapq.heapify(heap)
    left = n
    while left > 0 and heap:
        c, i = heapq.heappop(heap)
        k = keys[i]
        given[k] += 1
        left -= 1
        if given[k] < cap.get(k, n):
            heapq.heappush(heap, (c + 1, i))
    return given


def _stable_order(ids: Sequence[str], seed: int) -> list[str]:
    """A seeded shuffle that does not depend on numpy's or torch's global state."""
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def plan(
    manifest: pd.DataFrame,
    classes: Sequence[str],
    n_new: int,
    clusters: Mapping[str, str] | None = None,
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Which parents to augment: ``[(parent id, cluster), ...]`` (a parent repeats for more copies).

    Classes are balanced first (water-filling the train counts, augmented rows included); inside a
    class the copies go to the clusters with the fewest train images, and round-robin over each
    cluster's parents in a seeded order.
    """
    clusters = clusters or {}
    train = manifest[manifest["split"] == "train"]
    parents = train[train["origin"] != "augmented"]
    cluster_of = {i: str(clusters.get(i, "")) for i in train["id"]}
    for rid, pid in zip(train["id"], train["parent_id"], strict=True):
        if pid:  # an augmented image belongs to its parent's style
            cluster_of[rid] = str(clusters.get(pid, ""))
    by_class = {c: parents[parents["label"] == c]["id"].tolist() for c in classes}
    counts = Counter(train["label"])
    per_class = water_fill({c: counts.get(c, 0) for c in classes if by_class[c]}, n_new)
    out: list[tuple[str, str]] = []
    for c, k in per_class.items():
        if k == 0:
            continue
        pids = by_class[c]
        cap_each = max(MIN_PER_PARENT, PER_PARENT_FACTOR * math.ceil(k / len(pids)))
        members: dict[str, list[str]] = defaultdict(list)
        for p in _stable_order(pids, seed):
            members[cluster_of[p]].append(p)
        in_class = Counter(cluster_of[i] for i in train[train["label"] == c]["id"])
        order = sorted(members)
        share = water_fill(
            {g: in_class[g] for g in order}, k, {g: cap_each * len(members[g]) for g in order}
        )
        for g in order:
            ps = members[g]
            out += [(ps[j % len(ps)], g) for j in range(share[g])]
    return out


# -- images ------------------------------------------------------------------------------------
def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr, mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _store(media_dir: Path, data: bytes) -> tuple[str, str]:
    """Write ``data`` content-addressed; returns (sha256, path relative to the workspace)."""
    sha = hashlib.sha256(data).hexdigest()
    target = media_dir / sha[:2] / f"{sha}.png"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return sha, f"{media_dir.name}/{sha[:2]}/{sha}.png"


def _seed_for(seed: int, parent: str, k: int) -> int:
    digest = hashlib.sha256(f"{seed}:{parent}:{k}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _clusters(ws: Workspace, version: Version) -> tuple[dict[str, str], str | None]:
    run = ws.latest_run(version.name) or ws.latest_run()
    scores = run.scores() if run else None
    if scores is None or "cluster" not in scores.columns:
        return {}, None
    return dict(zip(scores["id"].astype(str), scores["cluster"].astype(str), strict=True)), run.id


def _make(
    ws: Workspace, manifest: pd.DataFrame, picks: list[tuple[str, str]], seed: int
) -> tuple[list[tuple], list[tuple]]:
    """Make, store and describe one augmented image per pick: (manifest rows, change-log rows)."""
    from model.distort import distort, load_gray, single_thread

    rows = manifest.set_index("id", drop=False)
    children = Counter(manifest["parent_id"][manifest["parent_id"] != ""])
    known_sha = set(manifest["sha256"])
    cache: dict[str, object] = {}
    new_rows: list[tuple] = []
    changes: list[tuple] = []
    with single_thread():
        for parent, cluster in picks:
            if parent not in cache:
                cache[parent] = load_gray(ws.root / rows.at[parent, "path"])
            for _ in range(3):  # a blank or tiny parent can give an image that exists already
                k = children[parent]
                children[parent] += 1
                arr, ops = distort(cache[parent], _seed_for(seed, parent, k))
                data = _png(arr)
                sha = hashlib.sha256(data).hexdigest()
                if sha not in known_sha:
                    break
            else:
                continue
            known_sha.add(sha)
            sha, rel = _store(ws.media_dir, data)
            label = rows.at[parent, "label"]
            aid = f"aug-{sha[:12]}"
            new_rows.append((aid, rel, label, "train", "augmented", parent, sha))
            why = f"augmented from {parent} ({', '.join(ops)}); balances class {label}"
            if cluster:
                why += f", cluster {cluster}"
            changes.append((aid, "added", "", label, why, "augment"))
    return new_rows, changes


# -- the step ----------------------------------------------------------------------------------
def augment(
    ws: Workspace,
    *,
    budget: int | None = None,
    seed: int = 0,
    parent_version: str | None = None,
) -> AugmentReport:
    """Add augmented training images up to ``budget`` images in all, as a new current version.

    ``budget`` defaults to the workspace's ``augment_budget``; ``parent_version`` (a version name)
    defaults to the current version. Nothing is written when there is no room under the budget.

    >>> report = augment(ws, budget=500, seed=1)  # doctest: +SKIP
    >>> report.version, report.after <= 500  # doctest: +SKIP
    ('v0003', True)
    """
    start = time.perf_counter()
    budget = ws.config.augment_budget if budget is None else int(budget)
    base = ws.version(parent_version) if parent_version else ws.current
    manifest = base.manifest()
    classes = list(ws.classes)
    train = manifest[manifest["split"] == "train"]
    before = Counter(train["label"])
    report = AugmentReport(
        base.name,
        None,
        budget,
        seed,
        len(manifest),
        0,
        len(manifest),
        {c: before.get(c, 0) for c in classes},
        {c: before.get(c, 0) for c in classes},
    )
    room = budget - len(manifest)
    if room <= 0:
        report.reason = f"{base.name} already holds {len(manifest)} images (budget {budget})"
        return report
    if train.empty or (train["origin"] == "augmented").all():
        report.reason = f"{base.name} has no source images in train to augment"
        return report
    clusters, cluster_run = _clusters(ws, base)
    report.clusters = cluster_run
    picks = plan(manifest, classes, room, clusters, seed)

    new_rows, changes = _make(ws, manifest, picks, seed)
    if not new_rows:
        report.reason = "no new images could be made"
        return report
    added = pd.DataFrame(new_rows, columns=MANIFEST_COLUMNS)
    out = pd.concat([manifest, added], ignore_index=True)
    if len(out) > budget:  # cannot happen by construction; the budget is a promise, so check it
        raise WorkspaceError(f"augmentation would exceed the budget ({len(out)} > {budget})")
    version = ws.add_version(
        out,
        pd.DataFrame(changes, columns=CHANGE_COLUMNS),
        parent=base.name,
        message=f"augment: {len(added)} images (budget {budget}, seed {seed})",
        extra={
            "augment": {
                "budget": budget,
                "seed": seed,
                "added": len(added),
                "clusters": cluster_run,
            }
        },
    )
    after = Counter(out[out["split"] == "train"]["label"])
    report.version = version.name
    report.added = len(added)
    report.after = len(out)
    report.train_after = {c: after.get(c, 0) for c in classes}
    report.seconds = round(time.perf_counter() - start, 2)
    return report
