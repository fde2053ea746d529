"""Augmentation within a budget: new versions with extra training images made from the train split.

The competition allowed 10,000 images in all; :func:`augment` fills the room left under the budget
with distorted copies of training images (the named ops of ``model.distort.OPS``). With a run's
out-of-fold predictions the budget goes where the model is weak (:func:`plan` with a
:class:`Weakness`): classes and style clusters with the lowest out-of-fold accuracy, styles val has
and train lacks, the most confused class pairs. Without one it balances classes and, inside a class,
the style clusters. Images people flagged (sheet status conflict / blocked / invalid) or the scores
flag (suspect, junk, duplicate) are never copied (:func:`held_back`).

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
    targeted: bool = False  # the budget followed the run's weakness (else: plain balancing)
    held: int = 0  # images never copied (flagged in the sheet or by the scores)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if not self.version:
            return f"augment: nothing added to {self.base} ({self.reason})"
        per = ", ".join(
            f"{c} {self.train_before.get(c, 0)}->{n}" for c, n in self.train_after.items()
        )
        how = "targeted at weak classes and styles" if self.targeted else "style clusters"
        guide = f"; {how} from {self.clusters}" if self.clusters else ""
        guide += f"; {self.held} flagged images never copied" if self.held else ""
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
    weights: Mapping[Hashable, float] | None = None,
) -> dict[Hashable, int]:
    """Hand out ``n`` items one at a time to the key with the fewest (count + given so far), divided
    by its weight (default 1: plain balancing; weight 2 fills a key to twice the others' level).

    Ties go to the key that comes first in ``counts``. Keys at their ``capacity`` get no more; the
    result may sum to less than ``n`` when every key is full.

    >>> water_fill({"a": 5, "b": 1, "c": 2}, 4)
    {'a': 0, 'b': 3, 'c': 1}
    >>> water_fill({"a": 2, "b": 2}, 4, weights={"a": 1.0, "b": 3.0})
    {'a': 0, 'b': 4}
    """
    keys = list(counts)
    given = dict.fromkeys(keys, 0)
    cap = capacity or {}
    w = {k: max(float((weights or {}).get(k, 1.0)), 1e-9) for k in keys}
    heap = [(counts[k] / w[k], i) for i, k in enumerate(keys) if cap.get(k, n) > 0]
    heapq.heapify(heap)
    left = n
    while left > 0 and heap:
        _, i = heapq.heappop(heap)
        k = keys[i]
        given[k] += 1
        left -= 1
        if given[k] < cap.get(k, n):
            heapq.heappush(heap, ((counts[k] + given[k]) / w[k], i))
    return given


def _stable_order(ids: Sequence[str], seed: int) -> list[str]:
    """A seeded shuffle that does not depend on numpy's or torch's global state."""
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


#: sheet statuses (pull writes them) that keep an image from being copied: people disagree about
#: it, or typed something that could not be read, or it is held back
HELD_STATUS = ("conflict", "blocked", "invalid")
#: a weight's floor, so that a class or style the model already gets right still gets a little
FLOOR = 0.05
#: how much more a class in one of the most confused pairs, or a style val has and train lacks, gets
CONFUSED_BOOST, VAL_ONLY_BOOST = 1.5, 2.0
#: how many of the most confused class pairs get the boost
TOP_PAIRS = 3


@dataclass(frozen=True)
class Weakness:
    """Where the model is weak, from a run's out-of-fold predictions (``predictions.csv``) and
    style clusters (``scores.csv``)."""

    class_accuracy: dict[str, float]
    cluster_accuracy: dict[str, float]
    val_only: frozenset[str]
    pairs: tuple[tuple[str, str, int], ...]  # (a, b, images of a predicted b or b predicted a)

    def class_weight(self, c: str) -> float:
        w = FLOOR + 1.0 - self.class_accuracy.get(c, 1.0)
        return w * (CONFUSED_BOOST if any(c in p[:2] for p in self.pairs) else 1.0)

    def cluster_weight(self, g: str) -> float:
        w = FLOOR + 1.0 - self.cluster_accuracy.get(g, 1.0)
        return w * (VAL_ONLY_BOOST if g in self.val_only else 1.0)

    def class_reason(self, c: str) -> str:
        acc = self.class_accuracy.get(c)
        why = f"class {c} out-of-fold {acc:.0%}" if acc is not None else f"class {c}"
        partners = [f"{b if a == c else a} ({n})" for a, b, n in self.pairs if c in (a, b)]
        return why + (f", confused with {', '.join(partners)}" if partners else "")

    def cluster_reason(self, g: str) -> str:
        acc = self.cluster_accuracy.get(g)
        words = [f"{acc:.0%}"] if acc is not None else []
        words += ["val-only style"] if g in self.val_only else []
        return f"cluster {g}" + (f" ({', '.join(words)})" if words else "")


def weakness(predictions: pd.DataFrame, scores: pd.DataFrame | None = None) -> Weakness:
    """Out-of-fold accuracy per class and per style cluster, val-only clusters, the most confused
    class pairs. Rows of ``predictions``: ``id, label, pred`` (augmented copies are left out: they
    are scored by their parents).

    >>> p = pd.DataFrame({"id": ["a", "b", "c"], "label": ["i", "i", "v"], "pred": ["i", "v", "v"]})
    >>> weakness(p).class_accuracy
    {'i': 0.5, 'v': 1.0}
    """
    p = predictions[~predictions["id"].astype(str).str.startswith("aug-")]
    if "split" in p.columns:
        p = p[p["split"].isin(["train", "val"])]
    ok = (p["label"].astype(str) == p["pred"].astype(str)).to_numpy()
    labels = p["label"].astype(str).to_numpy()
    class_acc = {c: float(ok[labels == c].mean()) for c in sorted(set(labels))}
    cluster_acc: dict[str, float] = {}
    val_only: set[str] = set()
    if scores is not None and "cluster" in scores.columns:
        cl = dict(zip(scores["id"].astype(str), scores["cluster"].astype(str), strict=True))
        g = np.array([cl.get(i, "") for i in p["id"].astype(str)])
        cluster_acc = {k: float(ok[g == k].mean()) for k in sorted(set(g)) if k}
        if "cluster_split" in scores.columns:
            val_only = {
                str(k)
                for k, s in zip(scores["cluster"], scores["cluster_split"], strict=True)
                if s == "val-only"
            }
    confused = Counter(
        tuple(sorted((a, b))) for a, b in zip(labels, p["pred"].astype(str), strict=True) if a != b
    )
    pairs = tuple((a, b, n) for (a, b), n in confused.most_common(TOP_PAIRS))
    return Weakness(class_acc, cluster_acc, frozenset(val_only), pairs)


def held_back(
    statuses: Mapping[str, str] | None = None,
    scores: pd.DataFrame | None = None,
    *,
    trust_model: bool = True,
) -> dict[str, str]:
    """Images never to copy, with why: the sheet's ``status`` says conflict / blocked / invalid, or
    the scores call them suspect (label?), junk or a duplicate (copying a wrong label or junk
    multiplies the damage; copying a duplicate weights one image twice over).

    ``trust_model=False`` keeps only the flags that do not come from the model (sheet statuses,
    byte-identical duplicates): a model near chance calls most labels suspect and most images
    near-duplicates of each other.
    """
    out: dict[str, str] = {}
    for rid, st in (statuses or {}).items():
        hit = next((w for w in HELD_STATUS if w in str(st).lower()), None)
        if hit:
            out[rid] = f"sheet status {hit}"
    if scores is None:
        return out
    ids = scores["id"].astype(str)
    issues = scores["issues"].astype(str) if "issues" in scores.columns else ids.map(lambda _: "")
    # "duplicate: the same file as ..." (older runs: "duplicate of ...")
    exact = issues.str.contains(r"(?:^|; )duplicate(?::| of)", regex=True)
    flags = [(exact, "duplicate")]
    if trust_model:
        if "suspect" in scores.columns:
            flags.append((scores["suspect"].astype(str).str.lower().isin(["true", "1"]), "suspect"))
        if "duplicate_of" in scores.columns:
            flags.append((scores["duplicate_of"].astype(str).str.len() > 0, "duplicate"))
        junk = issues.str.contains("junk?", regex=False)
        if "junk" in scores.columns:
            junk |= scores["junk"].astype(str).str.lower().isin(["true", "1"])
        flags.append((junk, "junk?"))
    for flag, why in flags:
        out.update({i: out.get(i, why) for i in ids[flag.to_numpy()]})
    return out


def plan(
    manifest: pd.DataFrame,
    classes: Sequence[str],
    n_new: int,
    clusters: Mapping[str, str] | None = None,
    seed: int = 0,
    *,
    held: Mapping[str, str] | set[str] | frozenset[str] = frozenset(),
    weak: Weakness | None = None,
) -> list[tuple[str, str]]:
    """Which parents to augment, and why: ``[(parent id, reason), ...]`` (a parent repeats for
    more copies). Images in ``held`` (see :func:`held_back`) are never parents.

    Without ``weak``, classes are balanced (water-filling the train counts, augmented rows
    included) and inside a class the copies go to the clusters with the fewest train images. With
    it, the filling is weighted by weakness: a class with twice the out-of-fold error (or in one of
    the most confused pairs) is filled to about twice the level, and inside it a style cluster
    likewise by its error, doubled for a style val has and train lacks. Copies go round-robin over
    a cluster's parents in a seeded order, at most a few per parent.
    """
    clusters = clusters or {}
    train = manifest[manifest["split"] == "train"]
    parents = train[(train["origin"] != "augmented") & ~train["id"].isin(list(held))]
    cluster_of = {i: str(clusters.get(i, "")) for i in train["id"]}
    for rid, pid in zip(train["id"], train["parent_id"], strict=True):
        if pid:  # an augmented image belongs to its parent's style
            cluster_of[rid] = str(clusters.get(pid, ""))
    by_class = {c: parents[parents["label"] == c]["id"].tolist() for c in classes}
    counts = Counter(train["label"])
    live = [c for c in classes if by_class[c]]
    per_class = water_fill(
        {c: counts.get(c, 0) for c in live},
        n_new,
        weights={c: weak.class_weight(c) for c in live} if weak else None,
    )
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
            {g: in_class[g] for g in order},
            k,
            {g: cap_each * len(members[g]) for g in order},
            {g: weak.cluster_weight(g) for g in order} if weak else None,
        )
        head = weak.class_reason(c) if weak else f"balances class {c}"
        for g in order:
            ps = members[g]
            why = (
                head + (f", {weak.cluster_reason(g)}" if weak else f", cluster {g}") if g else head
            )
            out += [(ps[j % len(ps)], why) for j in range(share[g])]
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


@dataclass
class Guide:
    """What steers the choice of parents: the latest run's clusters and weakness, the held images."""

    run: str | None = None
    clusters: dict[str, str] = field(default_factory=dict)
    weak: Weakness | None = None
    held: dict[str, str] = field(default_factory=dict)


def guide(ws: Workspace, version: Version, statuses: Mapping[str, str] | None = None) -> Guide:
    """The guide for ``version`` from its latest run (or the workspace's) and the sheet's statuses
    (read from the sheet when not given)."""
    if statuses is None:
        statuses = {i: r.get("status", "") for i, r in ws.sheet().read().by_id().items()}
    run = ws.latest_run(version.name) or ws.latest_run()
    scores = run.scores() if run else None
    weak = None
    if run is not None and (run.path / "predictions.csv").exists():
        weak = weakness(run.predictions(), scores)
    out = Guide(weak=weak, held=held_back(statuses, scores, trust_model=_useful(weak, ws)))
    if run is None:
        return out
    if scores is not None and "cluster" in scores.columns:
        out.clusters = dict(
            zip(scores["id"].astype(str), scores["cluster"].astype(str), strict=True)
        )
        out.run = run.id
    if weak is not None:
        out.run = run.id
    return out


def _useful(weak: Weakness | None, ws: Workspace) -> bool:
    """Whether a run's flags mean anything: its out-of-fold accuracy is at least twice chance."""
    if weak is None or not weak.class_accuracy:
        return True
    mean = sum(weak.class_accuracy.values()) / len(weak.class_accuracy)
    return mean >= 2 / max(len(ws.classes), 2)


def _make(
    ws: Workspace,
    manifest: pd.DataFrame,
    picks: list[tuple[str, str]],
    seed: int,
    ops: Sequence[str] | None = None,
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
        for parent, reason in picks:
            if parent not in cache:
                cache[parent] = load_gray(ws.root / rows.at[parent, "path"])
            for _ in range(3):  # a blank or tiny parent can give an image that exists already
                k = children[parent]
                children[parent] += 1
                arr, applied = distort(cache[parent], _seed_for(seed, parent, k), ops)
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
            why = f"augmented from {parent} ({', '.join(applied)}); {reason}"
            changes.append((aid, "added", "", label, why, "augment"))
    return new_rows, changes


# -- the step ----------------------------------------------------------------------------------
def augment(
    ws: Workspace,
    *,
    budget: int | None = None,
    seed: int = 0,
    parent_version: str | None = None,
    ops: Sequence[str] | None = None,
    targeted: bool = True,
    statuses: Mapping[str, str] | None = None,
) -> AugmentReport:
    """Add augmented training images up to ``budget`` images in all, as a new current version.

    ``budget`` defaults to the workspace's ``augment_budget``; ``parent_version`` (a version name)
    defaults to the current version. Nothing is written when there is no room under the budget.
    ``ops`` picks the distortions (default: all of ``model.distort.OPS``). With ``targeted`` and a
    run with predictions, the budget goes where the model is weak (see :func:`plan`); images the
    sheet or the scores flag are never copied (``statuses``: id -> sheet status, read from the
    sheet when not given).

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
    g = guide(ws, base, statuses)
    report.clusters = g.run
    report.held = len(g.held)
    weak = g.weak if targeted else None
    report.targeted = weak is not None
    picks = plan(manifest, classes, room, g.clusters, seed, held=g.held, weak=weak)

    new_rows, changes = _make(ws, manifest, picks, seed, ops)
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
                "clusters": g.run,
                "targeted": report.targeted,
                "held_back": len(g.held),
                "ops": list(ops) if ops is not None else "all",
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
