"""Split rebalancing: every style cluster in both train and val, in proportion.

The DCAI release has strong style differences between train and val: some writing styles sit almost
only in train, others only in val, so validation accuracy says little about them. :func:`propose`
suggests the fewest moves that put every style cluster in both splits, at about the dataset's overall
val share, stratified by class and cluster. People accept a suggestion by copying it into ``subset``
in the sheet (:func:`write_suggestions` + :func:`suggestion_text` show them in ``issues``), or all of
them are applied at once with :func:`apply`.

Clusters come from the latest run's ``scores.csv`` (``cluster`` column); without one, k-means runs on
the run's ``embeddings.npy`` (rows in ``predictions.csv`` order).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sheets_bridge.core.errors import WorkspaceError
from sheets_bridge.core.schema import SHEET_SPLITS
from sheets_bridge.store.versions import CHANGE_COLUMNS, Version
from sheets_bridge.store.workspace import Run, Workspace

PROPOSAL_COLUMNS = ["id", "from_split", "to_split", "cluster", "label", "reason"]
#: A (cluster, class) stratum counts as "in proportion" when its val share is within this distance
#: of the overall val share. Without slack every stratum would be nudged by one image to round
#: exactly, which moves many images for no visible gain.
TOLERANCE = 0.1
SUGGESTIONS_FILE = "suggestions.csv"
#: the word the scores use for an image that may not belong to any class: such rows never move
JUNK = "junk?"


def _kmeans_clusters(run: Run, seed: int) -> dict[str, str]:
    """k-means on the run's embeddings; k grows with the data (sqrt(n / 30), between 2 and 10)."""
    from sklearn.cluster import KMeans

    f = run.path / "embeddings.npy"
    if not f.exists():
        return {}
    emb = np.load(f)
    ids = run.predictions()["id"].astype(str).tolist()
    if len(ids) != len(emb):
        raise WorkspaceError(
            f"{f} has {len(emb)} rows but predictions.csv has {len(ids)}; rerun `sheets-bridge train`"
        )
    k = int(min(10, max(2, round(math.sqrt(len(ids) / 30)))))
    if len(ids) < 2 * k:
        return {}
    emb = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(emb)
    return {i: str(c) for i, c in zip(ids, labels, strict=True)}


def clusters(ws: Workspace) -> tuple[dict[str, str], str | None]:
    """Style cluster per image id, and the id of the run they came from."""
    run = ws.latest_run(ws.current.name) or ws.latest_run()
    if run is None:
        return {}, None
    scores = run.scores()
    if scores is not None and "cluster" in scores.columns:
        got = dict(zip(scores["id"].astype(str), scores["cluster"].astype(str), strict=True))
        return {i: c for i, c in got.items() if c != ""}, run.id
    return _kmeans_clusters(run, ws.config.seed), run.id


def _order(ids: list[str], seed: int) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def duplicate_groups(pairs: Mapping[str, str]) -> dict[str, str]:
    """Image id -> a group key, joining every ``id -> duplicate_of`` link (union-find)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs.items():
        if a and b:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def _keep_together(m: pd.DataFrame, group_of: Mapping[str, str]) -> list[tuple]:
    """Moves that put each near-duplicate group on one side: the val members go to train (a copy
    of a training image in val only measures memory)."""
    out = []
    grouped = m[m["id"].isin(list(group_of))].copy()
    grouped["group"] = [group_of[i] for i in grouped["id"]]
    for _, g in grouped.groupby("group", sort=True):
        if g["split"].nunique() < 2:
            continue
        anchor = sorted(g[g["split"] == "train"]["id"])[0]
        for r in g[g["split"] == "val"].itertuples(index=False):
            why = f"near-duplicate of {anchor} in train: the pair stays on one side"
            out.append((r.id, "val", "train", r.cluster, r.label, why))
    return out


def plan_moves(
    manifest: pd.DataFrame,
    cluster_of: Mapping[str, str],
    *,
    tolerance: float = TOLERANCE,
    seed: int = 0,
    duplicate_of: Mapping[str, str] | None = None,
    frozen: set[str] | frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """The moves (pure): a frame with :data:`PROPOSAL_COLUMNS`, ordered by cluster, class, id.

    Only source images in train/val with a known cluster take part. Augmented images stay with
    their parents in train; a train image with augmented children is not moved to val (its copies
    would leak into training), nor is an image whose bytes also occur elsewhere in the dataset.
    Near-duplicates (``duplicate_of``: id -> the image it nearly copies) are never separated: a
    group split across train and val is joined in train, and no member moves for balance.
    ``frozen`` images (flagged as junk, say) never move.
    """
    m = manifest[manifest["split"].isin(SHEET_SPLITS) & (manifest["origin"] != "augmented")]
    m = m[m["id"].isin(list(cluster_of))].copy()
    if m.empty:
        return pd.DataFrame(columns=PROPOSAL_COLUMNS)
    m["cluster"] = [str(cluster_of[i]) for i in m["id"]]
    group_of = duplicate_groups(dict(duplicate_of or {}))
    together = _keep_together(m[~m["id"].isin(frozen)], group_of)
    for i, _src, dst, *_ in together:  # later balancing sees the joined pairs where they land
        m.loc[m["id"] == i, "split"] = dst
    share = float((m["split"] == "val").mean())
    parents = set(manifest["parent_id"][manifest["parent_id"] != ""])
    dup = set(manifest["sha256"][manifest["sha256"].duplicated(keep=False)])
    movable = ~m["sha256"].isin(dup) & ~m["id"].isin(list(group_of)) & ~m["id"].isin(frozen)
    to_val_ok = movable & ~m["id"].isin(parents)
    out: list[tuple] = []
    for cluster, group in m.groupby("cluster", sort=True):
        n_c = len(group)
        strata = {lab: g for lab, g in group.groupby("label", sort=True)}
        cur = {lab: int((g["split"] == "val").sum()) for lab, g in strata.items()}
        # how far each stratum's val count can move with the images allowed to move
        up = {
            lab: int(((g["split"] == "train") & to_val_ok.loc[g.index]).sum())
            for lab, g in strata.items()
        }
        down = {
            lab: int(((g["split"] == "val") & movable.loc[g.index]).sum())
            for lab, g in strata.items()
        }
        want = {}
        for lab, g in strata.items():
            n = len(g)
            lo = max(0, math.floor((share - tolerance) * n), cur[lab] - down[lab])
            hi = min(n, math.ceil((share + tolerance) * n), cur[lab] + up[lab])
            want[lab] = min(max(cur[lab], lo), hi) if lo <= hi else cur[lab]
        lo_c, hi_c = _cluster_band(n_c, share, tolerance)
        # then bring the cluster as a whole into its band, one image at a time where the
        # stratum is furthest from proportion (ties: class order)
        while sum(want.values()) < lo_c:
            can = [c for c in strata if want[c] < cur[c] + up[c]]
            if not can:
                break
            lab = max(can, key=lambda c: (len(strata[c]) * share - want[c], -list(strata).index(c)))
            want[lab] += 1
        while sum(want.values()) > hi_c:
            can = [c for c in strata if want[c] > cur[c] - down[c]]
            if not can:
                break
            lab = max(can, key=lambda c: (want[c] - len(strata[c]) * share, -list(strata).index(c)))
            want[lab] -= 1
        train_pct = round(100 * (1 - sum(cur.values()) / n_c))
        for lab, g in strata.items():
            delta = want[lab] - cur[lab]
            if delta == 0:
                continue
            src, dst = ("train", "val") if delta > 0 else ("val", "train")
            ok = to_val_ok if dst == "val" else movable
            pool = g[(g["split"] == src) & ok.loc[g.index]]["id"].tolist()
            why = (
                f"cluster {cluster} is {train_pct}% train "
                f"(target {round(100 * (1 - share))}%; class {lab}: {cur[lab]} of {len(g)} in val)"
            )
            out += [(i, src, dst, cluster, lab, why) for i in _order(pool, seed)[: abs(delta)]]
    df = pd.DataFrame(together + out, columns=PROPOSAL_COLUMNS)
    return df.sort_values(["cluster", "label", "id"], kind="stable").reset_index(drop=True)


def _cluster_band(n: int, share: float, tolerance: float) -> tuple[int, int]:
    """The val counts a cluster of ``n`` images may have: within ``tolerance`` of ``share``, and at
    least one image in each split when it has two or more."""
    if n < 2 or not 0 < share < 1:
        return 0, n
    lo, hi = math.ceil((share - tolerance) * n), math.floor((share + tolerance) * n)
    if lo > hi:  # too small for the band: the nearest count to the share
        lo = hi = round(share * n)
    return max(1, lo), min(n - 1, hi)


def propose(ws: Workspace, *, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Moves for the current version (see :func:`plan_moves`); empty when no clusters are known.

    >>> propose(ws).head(1).to_dict("records")  # doctest: +SKIP
    [{'id': 'b1d3', 'from_split': 'train', 'to_split': 'val', 'cluster': '3', 'label': 'vii',
      'reason': 'cluster 3 is 95% train (target 72%; class vii: 0 of 14 in val)'}]
    """
    cluster_of, run_id = clusters(ws)
    duplicate_of: dict[str, str] = {}
    frozen: set[str] = set()
    run = ws.latest_run(ws.current.name) or ws.latest_run()
    scores = run.scores() if run is not None else None
    if scores is not None:
        ids = scores["id"].astype(str)
        if "duplicate_of" in scores.columns:
            duplicate_of = {
                i: str(d) for i, d in zip(ids, scores["duplicate_of"], strict=True) if str(d)
            }
        if "issues" in scores.columns:
            frozen = {
                i for i, t in zip(ids, scores["issues"].astype(str), strict=True) if JUNK in t
            }
        if "junk" in scores.columns:  # the flag behind "junk?", whatever words show it
            frozen |= {
                i
                for i, j in zip(ids, scores["junk"].astype(str).str.lower(), strict=True)
                if j in ("true", "1")
            }
        elif "outlier" in scores.columns:  # runs written before the flag was a column
            from model.scores import JUNK_CONFIDENCE, JUNK_OUTLIER

            preds = run.predictions()
            conf = dict(zip(preds["id"].astype(str), preds["confidence"], strict=True))
            outlier = pd.to_numeric(scores["outlier"], errors="coerce").fillna(0.0)
            frozen |= {
                i
                for i, o in zip(ids, outlier, strict=True)
                if o >= JUNK_OUTLIER and float(conf.get(i, 1.0)) < JUNK_CONFIDENCE
            }
    return plan_moves(
        ws.current.manifest(),
        cluster_of,
        tolerance=tolerance,
        seed=ws.config.seed,
        duplicate_of=duplicate_of,
        frozen=frozen,
    )


def write_suggestions(ws: Workspace, proposals: pd.DataFrame) -> Path:
    """Store the proposals as ``<workspace>/suggestions.csv`` (replacing earlier ones) for push."""
    path = ws.root / SUGGESTIONS_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    df = proposals[PROPOSAL_COLUMNS].copy()
    df.insert(0, "version", ws.current.name)
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def suggestion_text(ws: Workspace) -> dict[str, str]:
    """``{id: "suggest: move to val (cluster 3 is 95% train): type val in subset to accept"}`` for
    the stored suggestions that still apply (the image is still in the split the suggestion moves it from)."""
    path = ws.root / SUGGESTIONS_FILE
    if not path.exists():
        return {}
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    split = dict(zip(*(ws.current.manifest()[c] for c in ("id", "split")), strict=True))
    out = {}
    for r in df.itertuples(index=False):
        if split.get(r.id) == r.from_split:
            reason = r.reason.split(" (")[0]
            out[r.id] = (
                f"suggest: move to {r.to_split} ({reason}): type {r.to_split} in subset to accept"
            )
    return out


def apply(ws: Workspace, proposals: pd.DataFrame) -> Version:
    """Create the next version with the moves and make it current.

    Proposals whose image is no longer in the current version, or no longer in ``from_split``
    (for example accepted in the sheet and pulled already), are skipped.
    """
    base = ws.current
    manifest = base.manifest().set_index("id", drop=False)
    changes = []
    for r in proposals.itertuples(index=False):
        if r.id in manifest.index and manifest.at[r.id, "split"] == r.from_split:
            manifest.at[r.id, "split"] = r.to_split
            changes.append((r.id, "split", r.from_split, r.to_split, r.reason, "rebalance"))
    if not changes:
        raise WorkspaceError(f"no proposed move applies to {base.name}; nothing to rebalance")
    to_val = sum(1 for c in changes if c[3] == "val")
    version = ws.add_version(
        manifest.reset_index(drop=True),
        pd.DataFrame(changes, columns=CHANGE_COLUMNS),
        parent=base.name,
        message=f"rebalance: {to_val} moved to val, {len(changes) - to_val} to train",
    )
    return version


@dataclass
class RebalanceReport:
    """What :func:`rebalance` proposed, and where it went (a new version, or suggestions)."""

    proposals: pd.DataFrame
    version: str | None = None
    suggestions: Path | None = None
    #: per style cluster: train/val counts now and after the moves, and its most typical images
    #: (the dashboard's "Style clusters" card shows the images)
    clusters: list[dict] = field(default_factory=list)

    def _clusters(self) -> str:
        if not self.clusters:
            return ""
        lines = ["style clusters (train / val now -> after the moves; most typical images):"]
        lines += [
            f"  {c['cluster']:>3}: {c['train']:>4} / {c['val']:<4} -> "
            f"{c['train_after']:>4} / {c['val_after']:<4} e.g. {', '.join(c['examples'])}"
            for c in self.clusters
        ]
        return "\n".join(lines) + "\n\n"

    def describe(self) -> str:
        if self.proposals.empty:
            return self._clusters() + (
                "no moves needed (or no style clusters yet: run `sheets-bridge train` first)"
            )
        if self.version:
            return (
                self._clusters()
                + f"moved {len(self.proposals)} images; {self.version} is now current"
            )
        return (
            self._clusters()
            + self.proposals.to_string(index=False, max_rows=30)
            + f"\n\n{len(self.proposals)} suggestions saved to {self.suggestions}; the next push "
            "shows them in the issues column.\nAccept one by typing the split into its subset cell, "
            "or run `sheets-bridge rebalance --apply`."
        )


def rebalance(ws: Workspace, *, apply_now: bool = False) -> RebalanceReport:
    """Propose train/val moves; build a version with them (``apply_now``) or save them as
    suggestions the next push shows in the sheet."""
    proposals = propose(ws)
    shown = cluster_table(ws, proposals)
    if proposals.empty:
        return RebalanceReport(proposals, clusters=shown)
    if apply_now:
        return RebalanceReport(proposals, version=apply(ws, proposals).name, clusters=shown)
    return RebalanceReport(proposals, suggestions=write_suggestions(ws, proposals), clusters=shown)


def cluster_table(ws: Workspace, proposals: pd.DataFrame) -> list[dict]:
    """Each style cluster's train/val counts in the current version and after ``proposals``,
    with its most typical images (see :func:`sheets_bridge.loop.audit.cluster_overview`)."""
    from sheets_bridge.loop.audit import cluster_overview

    cluster_of, _ = clusters(ws)
    if not cluster_of:
        return []
    run = ws.latest_run(ws.current.name) or ws.latest_run()  # the run clusters() read
    scores = run.scores() if run else None
    if scores is None or "cluster" not in scores:
        scores = pd.DataFrame({"id": list(cluster_of), "cluster": list(cluster_of.values())})
    manifest = ws.current.manifest()
    after = manifest.copy()
    to = dict(zip(proposals["id"], proposals["to_split"], strict=True)) if len(proposals) else {}
    after["split"] = [to.get(i, s) for i, s in zip(after["id"], after["split"], strict=True)]
    later = {c["cluster"]: c for c in cluster_overview(scores, after)}
    return [
        {**c, "train_after": later[c["cluster"]]["train"], "val_after": later[c["cluster"]]["val"]}
        for c in cluster_overview(scores, manifest)
    ]
