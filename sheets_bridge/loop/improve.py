"""The recipe: from a reviewed sheet to a better dataset and model in one step.

:func:`improve` pulls the sheet's decisions, rebalances train/val (every style cluster on both
sides, near-duplicates together, junk never moved), augments to the budget where the model is weak
(never copying flagged images), trains, and reports before and after: validation accuracy, the
fixed evaluation set (``fixed_val``: the first version's val images still in val) and the label
book. Each data step is a version whose change log says why each image changed, so the result can
be diffed (``sheets-bridge versions diff``) and rolled back (``checkout``) like any other.

The model's hyper-parameters are the preset's: only the data changes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sheets_bridge.core.errors import ConfigError
from sheets_bridge.store.workspace import Run, Workspace

#: metrics shown before and after; ``eval`` keys of ``metrics.json``
EVAL_KEYS = ("fixed_val", "label_book")


def _scores(run: Run | None) -> dict:
    if run is None:
        return {}
    m = run.metrics()
    ev = m.get("eval") or {}
    return {
        "run": run.id,
        "version": run.info().get("version"),
        "val_accuracy": m.get("val_accuracy"),
        **{k: ev.get(k) for k in EVAL_KEYS},
        **{k: v for k, v in ev.items() if k not in EVAL_KEYS},  # an eval_dir's set
    }


def _pct(x: float | None) -> str:
    return f"{x:.1%}" if isinstance(x, int | float) else "n/a"


@dataclass
class ImproveReport:
    """What :func:`improve` did (or, with ``dry_run``, would do)."""

    start: str  # the version it started from
    dry_run: bool = False
    before: dict = field(default_factory=dict)  # run, version, val_accuracy, fixed_val, label_book
    after: dict = field(default_factory=dict)
    steps: list[dict] = field(default_factory=list)  # {"step", "version", "summary"}

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def final(self) -> str:
        made = [s["version"] for s in self.steps if s.get("version")]
        return made[-1] if made else self.start

    def describe(self) -> str:
        head = "improve (dry run: nothing written)" if self.dry_run else "improve"
        lines = [f"{head}: from {self.start}"]
        for s in self.steps:
            v = f" -> {s['version']}" if s.get("version") else ""
            lines.append(f"  {s['step']}{v}: {s['summary']}")
        if self.before or self.after:
            lines.append(f"  {'':14}{'before':>10}{'after':>10}")
            extra = [k for k in (*self.before, *self.after) if k not in ("run", "version")]
            for key in dict.fromkeys(["val_accuracy", *EVAL_KEYS, *extra]):
                b, a = self.before.get(key), self.after.get(key)
                if b is None and a is None:
                    continue
                lines.append(f"  {key:14}{_pct(b):>10}{_pct(a):>10}")
        if not self.dry_run and self.final != self.start:
            lines.append(
                f"  undo: sheets-bridge checkout {self.start}; "
                f"what changed: sheets-bridge versions diff {self.start} {self.final}"
            )
        return "\n".join(lines)


def _pending(ws: Workspace, table) -> tuple[str, dict[str, str]]:
    """What a pull would decide, counted, and the statuses it would write (the dry run writes
    nothing to the sheet)."""
    from sheets_bridge.core.consensus import decide

    labels = dict(zip(*(ws.current.manifest()[c] for c in ("id", "label")), strict=True))
    decided = {
        r["id"]: decide(r, labels[r["id"]], ws.config.annotators, ws.classes)
        for r in table.rows
        if r.get("id") in labels
    }
    acts = Counter(d.action for d in decided.values())
    summary = (
        f"would apply {acts['relabel']} relabels, {acts['remove']} removals; "
        f"{acts['conflict']} conflicts stay as they are"
    )
    return summary, {i: d.status for i, d in decided.items()}


def improve(
    ws: Workspace,
    *,
    budget: int | None = None,
    seed: int = 0,
    preset: str | None = None,
    epochs: int | None = None,
    ops: Sequence[str] | None = None,
    rebalance: bool = True,
    dry_run: bool = False,
    progress: bool = False,
    eval_dir: str | Path | None = None,
) -> ImproveReport:
    """Pull, rebalance, augment, train; report before and after.

    The "before" figures are the latest run on the starting version (one is trained first when
    there is none, except in a dry run). ``dry_run`` shows the plan and writes nothing: the sheet
    decisions a pull would apply, the rebalancing moves, and where the augmentation budget would go.
    ``eval_dir`` (a labelled folder, see ``train``) is reported by both runs beside the label book.

    >>> print(improve(ws, budget=10_000, epochs=1).describe())  # doctest: +SKIP
    """
    from sheets_bridge.loop import augment as aug
    from sheets_bridge.loop import rebalance as reb
    from sheets_bridge.loop.presets import check_preset
    from sheets_bridge.loop.steps import pull, train

    check_preset(preset or ws.config.preset)  # a typo must not cost a pull
    _check_ops(ops)
    report = ImproveReport(ws.current.name, dry_run=dry_run)
    before = ws.latest_run(ws.current.name)
    if before is None and not dry_run:
        before = train(ws, preset=preset, epochs=epochs, progress=progress, eval_dir=eval_dir)
        report.steps.append({"step": "train (before)", "summary": f"run {before.id}"})
    report.before = _scores(before)

    sheet = ws.sheet()
    statuses: dict[str, str] = {}
    if dry_run:
        summary, statuses = _pending(ws, sheet.read())
        report.steps.append({"step": "pull", "summary": summary})
    else:
        p = pull(ws, sheet=sheet)
        ws = Workspace(ws.root)
        summary = p.describe().splitlines()[0].removeprefix("pull: ")
        report.steps.append({"step": "pull", "version": p.version, "summary": summary})

    if rebalance:
        moves = reb.propose(ws)
        if moves.empty:
            report.steps.append({"step": "rebalance", "summary": "no moves needed"})
        else:
            to_val = int((moves["to_split"] == "val").sum())
            summary = f"{to_val} to val, {len(moves) - to_val} to train"
            version = None
            if not dry_run:
                version = reb.apply(ws, moves).name
                ws = Workspace(ws.root)
            report.steps.append({"step": "rebalance", "version": version, "summary": summary})

    if dry_run:
        report.steps.append(
            {"step": "augment", "summary": _augment_plan(ws, budget, seed, statuses)}
        )
        return report
    statuses = {i: r.get("status", "") for i, r in sheet.read().by_id().items()}
    a = aug.augment(ws, budget=budget, seed=seed, ops=ops, statuses=statuses)
    ws = Workspace(ws.root)
    summary = f"{a.added} images ({a.after} of {a.budget})" if a.version else a.reason
    if a.version:
        summary += "; targeted at weak classes and styles" if a.targeted else "; balancing classes"
        summary += f"; {a.held} flagged images never copied" if a.held else ""
    report.steps.append({"step": "augment", "version": a.version, "summary": summary})

    after = train(ws, preset=preset, epochs=epochs, progress=progress, eval_dir=eval_dir)
    report.steps.append({"step": "train", "summary": f"run {after.id} on {ws.current.name}"})
    report.after = _scores(after)
    (after.path / "improve.json").write_text(json.dumps(report.as_dict(), indent=2, default=str))
    return report


def _check_ops(ops: Sequence[str] | None) -> None:
    from model.distort import OPS, check_ops

    try:
        check_ops(ops)
    except ValueError:
        bad = ", ".join(o for o in ops or () if o not in OPS)
        raise ConfigError(
            f"unknown augmentation op(s): {bad}; choose from {', '.join(OPS)}"
        ) from None


def _augment_plan(ws: Workspace, budget: int | None, seed: int, statuses: dict[str, str]) -> str:
    """Where the augmentation budget would go, per class, without making an image."""
    from sheets_bridge.loop import augment as aug

    budget = ws.config.augment_budget if budget is None else int(budget)
    manifest = ws.current.manifest()
    room = budget - len(manifest)
    if room <= 0:
        return f"no room: {ws.current.name} holds {len(manifest)} images (budget {budget})"
    g = aug.guide(ws, ws.current, statuses)
    picks = aug.plan(manifest, list(ws.classes), room, g.clusters, seed, held=g.held, weak=g.weak)
    label = dict(zip(manifest["id"], manifest["label"], strict=True))
    per = Counter(label[p] for p, _ in picks)
    how = "targeted at weak classes and styles" if g.weak else "balancing classes"
    top = Counter(r for _, r in picks).most_common(3)
    lines = [
        f"would add {len(picks)} images ({how}; {len(g.held)} flagged images never copied)",
        "    per class: " + ", ".join(f"{c} +{n}" for c, n in sorted(per.items())),
    ]
    lines += [f"    {n} x {r}" for r, n in top]
    return "\n".join(lines)
