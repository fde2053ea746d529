"""The dataset's history: the versions table, what changed between two versions.

The command line and the web app show these; notebooks use them as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sheets_bridge.store.versions import diff as diff_manifests
from sheets_bridge.store.workspace import Workspace


def versions_table(ws: Workspace) -> list[dict]:
    """One dict per version: counts, changes, and the accuracy of its latest run."""
    runs = ws.runs_by_version()
    current = ws.current.name
    out = []
    for v in ws.versions():
        meta = v.meta()
        counts = meta.get("counts", {})
        run = runs.get(v.name)
        metrics = run.metrics() if run else {}
        out.append(
            {
                "version": v.name,
                "current": v.name == current,
                "parent": meta.get("parent"),
                "created": meta.get("created"),
                "images": counts.get("images"),
                "train": counts.get("splits", {}).get("train", 0),
                "val": counts.get("splits", {}).get("val", 0),
                # images = train + val + label_book + test: the columns add up
                "label_book": counts.get("splits", {}).get("label_book", 0),
                "test": counts.get("splits", {}).get("test", 0),
                "changes": meta.get("changes", 0),
                "message": meta.get("message", ""),
                "run": run.id if run else None,
                "val_accuracy": metrics.get("val_accuracy"),
                # the same images in every version (see loop.training.fixed_eval_set)
                "fixed_val_accuracy": metrics.get("eval", {}).get("fixed_val"),
                "label_book_accuracy": metrics.get("eval", {}).get("label_book"),
                "eval": metrics.get("eval", {}),
            }
        )
    return out


def describe_versions(rows: list[dict]) -> str:
    """The versions table as text (``*`` marks the current version)."""

    def pct(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "-"

    lines = [
        f"{'':2}{'version':8} {'images':>7} {'train':>6} {'val':>5} {'l.book':>6} {'test':>5} "
        f"{'changes':>8} {'val acc':>8} {'fixed':>7} {'book':>7}  message"
    ]
    for r in rows:
        mark = "* " if r["current"] else "  "
        lines.append(
            f"{mark}{r['version']:8} {r['images']:>7} {r['train']:>6} {r['val']:>5} "
            f"{r.get('label_book', 0):>6} {r.get('test', 0):>5} "
            f"{r['changes']:>8} {pct(r['val_accuracy']):>8} {pct(r.get('fixed_val_accuracy')):>7} "
            f"{pct(r.get('label_book_accuracy')):>7}  {r['message']}"
        )
    lines.append(
        "(images = train + val + l.book (label book) + test; val acc: this version's val set; "
        "fixed: the first version's val images still in val, the same yardstick for every "
        "version; book: accuracy on the label book)"
    )
    return "\n".join(lines)


@dataclass
class VersionDiff:
    """What changed from one version to another: one row per ``id, field, old, new``."""

    old: str
    new: str
    table: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in sorted(self.table["field"].value_counts().items())}

    def describe(self) -> str:
        head = f"{self.old} -> {self.new}: " + (
            ", ".join(f"{v} {k}" for k, v in self.counts().items()) or "no changes"
        )
        body = [
            f"  {r.field:8} {r.id}  {r.old or '-'} -> {r.new or '-'}"
            for r in self.table.itertuples(index=False)
        ]
        return "\n".join([head, *body])

    def to_csv(self) -> str:
        return self.table.to_csv(index=False)


def diff_versions(ws: Workspace, old: str, new: str | None = None) -> VersionDiff:
    """What changed from version ``old`` to ``new`` (default: the current version)."""
    a = ws.version(old)
    b = ws.version(new) if new else ws.current
    return VersionDiff(a.name, b.name, diff_manifests(a.manifest(), b.manifest()))
