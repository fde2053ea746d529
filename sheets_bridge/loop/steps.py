"""The data-centric loop: init -> train -> push -> people review -> pull -> new version -> retrain.

Each step is one function over a :class:`~sheets_bridge.store.workspace.Workspace`; the CLI, the web
app's jobs and the tests call these. ``on_progress(step, fraction)`` reports progress to a job view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from sheets_bridge.core import config as config_mod
from sheets_bridge.core.cells import SheetTable
from sheets_bridge.core.config import Config
from sheets_bridge.core.consensus import Decision
from sheets_bridge.core.errors import ConfigError, WorkspaceError
from sheets_bridge.core.pull_plan import PullPlan, plan_pull
from sheets_bridge.core.rows import model_cells
from sheets_bridge.loop.presets import check_preset
from sheets_bridge.loop.sheet_io import pull_table, push_rows, reads_part
from sheets_bridge.loop.training import (  # noqa: F401  (train lives there, found here too)
    FIXED_EVAL,
    Progress,
    fixed_eval_set,
    train,
)
from sheets_bridge.sheets import Sheet, check_config
from sheets_bridge.store.dataset import register
from sheets_bridge.store.faults import faultpoint
from sheets_bridge.store.lock import LOCK_FILES
from sheets_bridge.store.versions import CHANGE_COLUMNS
from sheets_bridge.store.workspace import Run, Workspace


def _noop(step: str, fraction: float) -> None:
    pass


class _Report:
    def as_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


# -- init --------------------------------------------------------------------------------------
def init(dataset: Path | str, workspace: Path | str, **settings: object) -> Workspace:
    """Register ``dataset`` as version v0001 of a new workspace and return it.

    ``settings`` are :class:`~sheets_bridge.core.config.Config` fields (e.g. ``preset="dcai"``).
    """
    root = Path(workspace)
    if (root / config_mod.CONFIG_FILE).exists():
        raise WorkspaceError(f"{root} is already a workspace; use another --workspace or delete it")
    if root.exists() and any(p.name not in LOCK_FILES for p in root.iterdir()):
        raise WorkspaceError(f"{root} exists and is not empty; choose an empty or new folder")
    unknown = sorted(set(settings) - set(Config.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown}")
    probe = Config(**settings).validate()  # type: ignore[arg-type]
    check_preset(probe.preset)  # settings are checked before anything is written
    check_config(probe)
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    try:
        manifest, classes = register(Path(dataset), root)
        cfg = Config(dataset=str(Path(dataset).resolve()), classes=classes, **settings).validate()  # type: ignore[arg-type]
        config_mod.save(root, cfg)
        ws = Workspace(root)
        ws.add_version(manifest, parent=None, message=f"registered {dataset}")
    except BaseException:
        _remove_partial(root, created)  # leave nothing half-made: init can simply be run again
        raise
    return ws


def _remove_partial(root: Path, created: bool) -> None:
    """Undo a failed init: the folder was new or empty when it started."""
    import shutil

    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.name in LOCK_FILES:  # the writer's lock stays until the writer lets go
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


# -- push --------------------------------------------------------------------------------------
@dataclass
class PushReport(_Report):
    version: str
    run: str | None
    rows: int
    appended: int
    updated: int
    gone: list[str] = field(default_factory=list)
    sheet_url: str = ""
    #: Cells a person changed while the push ran: they keep the person's value. Entries with a
    #: ``row`` key are whole rows: ``restored`` (a delete hit it because people moved rows
    #: meanwhile; it was put back) or ``stayed`` (it was to leave; it leaves at the next push).
    kept: list[dict[str, str]] = field(default_factory=list)
    outside: int = 0  # rows left out of a remote sheet's review window

    @property
    def restored(self) -> list[str]:
        """Rows a delete hit by mistake and the push put back."""
        return [k["id"] for k in self.kept if k.get("row") == "restored"]

    def describe(self) -> str:
        src = (
            f"predictions of {self.run}"
            if self.run
            else "no predictions yet (run `sheets-bridge train`)"
        )
        gone = f", {len(self.gone)} marked as no longer in the dataset" if self.gone else ""
        typed = [k for k in self.kept if "row" not in k]
        if typed:
            gone += f", {len(typed)} cell(s) typed during the push kept"
        local = self.sheet_url.startswith("/")
        where = (
            f"the local sheet (grid at {self.sheet_url} under `sheets-bridge serve`)"
            if local
            else self.sheet_url
        )
        window = (
            f"; {self.outside} rows outside the review window (setting sheet_rows)"
            if self.outside
            else ""
        )
        warning = ""
        if self.restored:
            warning = (
                f"\nwarning: rows were sorted, inserted or deleted in the sheet while the push took "
                f"rows out, so its delete hit other rows; put back {len(self.restored)} with their "
                f"cells: {', '.join(self.restored)} (at the end, then sorted; check them, and "
                "delete again any of them a person had deleted meanwhile)"
            )
        return (
            f"pushed {self.rows - self.outside} rows of {self.version} ({src}): {self.appended} new, "
            f"{self.updated} refreshed{gone}{window}; human cells untouched. Sheet: {where}{warning}"
        )


def _image_url(ws: Workspace) -> Callable[[str], str]:
    """Image URLs for the sheet; a Google sheet's =IMAGE() cannot send the token, so each URL
    carries a signature that opens that one image only."""
    cfg = ws.config
    if cfg.image_url_template:
        return cfg.image_url
    if not ws.remote_sheet:
        # the local sheet is read through the web app itself: a path works on whatever host and
        # port it is served (``serve --port 8001`` included)
        return lambda image_id: "/images/" + quote(image_id, safe="")
    from sheets_bridge.core.signing import image_signature

    token = config_mod.ensure_token(ws.root)
    return lambda image_id: f"{cfg.image_url(image_id)}?sig={image_signature(token, image_id)}"


def push(
    ws: Workspace,
    *,
    sheet: Sheet | None = None,
    run: Run | None = None,
    on_progress: Progress | None = None,
) -> PushReport:
    """Write one row per image, ordered by label quality, keeping every human cell."""
    report = on_progress or _noop
    sheet_given, sheet = sheet, sheet or ws.sheet()
    version = ws.current
    manifest = version.manifest()
    run = run or ws.latest_run(version.name) or ws.latest_run()
    preds = run.predictions() if run else None
    scores = run.scores() if run else None
    report("push: building rows", 0.1)
    from sheets_bridge.loop.rebalance import suggestion_text

    # rebalancing proposals people accept by typing the split go into the issues cell
    rows = model_cells(manifest, preds, scores, _image_url(ws), suggestion_text(ws))
    report("push: reading the sheet", 0.3)
    limit = ws.config.sheet_rows if ws.remote_sheet else 0
    plan, kept, outside = push_rows(
        sheet,
        rows,
        ws.schema,
        version.name,
        ws.classes,
        limit=limit,
        on_write=lambda: report("push: writing the sheet", 0.6),
    )
    if not ws.remote_sheet and sheet_given is None:
        ws.mark_sheet_written()
    faultpoint("push.written")
    report("push: done", 1.0)
    return PushReport(
        version.name,
        run.id if run else None,
        len(rows),
        plan.appended,
        plan.updated,
        plan.gone,
        sheet.url,
        kept,
        outside,
    )


# -- pull --------------------------------------------------------------------------------------
@dataclass
class PullReport(_Report):
    base: str
    version: str | None
    relabelled: int = 0
    removed: int = 0
    moved: int = 0
    conflicts: int = 0
    invalid: list[str] = field(default_factory=list)
    reviewed: int = 0
    annotator_quality: dict[str, float] = field(default_factory=dict)
    blocked: int = 0
    removes_by_annotator: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    nothing: str = ""  # why nothing was read (a sheet without rows)
    preview: dict = field(default_factory=dict)  # relabel/remove/move lists of a dry run

    def describe(self) -> str:
        if self.nothing:
            return self.nothing
        would = "would be " if self.dry_run else ""
        head = (
            f"pull: {self.relabelled} {would}relabelled, {self.removed} {would}removed, "
            f"{self.moved} {would}moved, {self.conflicts} conflicts, {self.blocked} blocked by a "
            f"typo, {len(self.invalid)} invalid cells (skipped), {self.reviewed} rows reviewed"
        )
        if self.dry_run:
            made = "dry run: nothing written (no version, no sheet cells)"
        elif self.version:
            made = f"created {self.version} from {self.base}"
        else:
            made = f"no changes; {self.base} stays current"
        lines = [head, made]
        for r in self.preview.get("relabel", []):
            lines.append(f"  relabel {r['id']}: {r['old']} -> {r['new']} ({r['source']})")
        for r in self.preview.get("remove", []):
            lines.append(f"  remove {r['id']} from {r['split']} ({r['source']})")
        for r in self.preview.get("move", []):
            lines.append(f"  move {r['id']}: {r['from']} -> {r['to']}")
        lines += [f"  invalid: {i}" for i in self.invalid[:20]]
        if len(self.invalid) > 20:
            lines.append(f"  ... and {len(self.invalid) - 20} more")
        return "\n".join(lines)


def plan(ws: Workspace, table: SheetTable) -> tuple[PullPlan, dict[str, object]]:
    """Pull's plan for ``table`` on the current version, and what the version's meta records."""
    base = ws.current
    manifest = base.manifest()
    extra: dict[str, object] = {"rule": ws.config.consensus}
    crowd: dict[str, Decision] = {}
    if ws.config.consensus == "crowdlab" and table.rows:
        from sheets_bridge.core.crowd import crowdlab

        run = ws.latest_run(base.name) or ws.latest_run()
        labels = dict(zip(manifest["id"], manifest["label"], strict=True))
        preds = run.predictions() if run else None
        res = crowdlab(table.rows, labels, preds, ws.config.annotators, ws.classes)
        crowd, extra["crowdlab"] = res.decisions, res.as_dict()
    p = plan_pull(table, manifest, crowd, ws.schema, ws.classes, base=base.name)
    extra["pull"] = p.counts.summary()
    return p, extra


def pull(
    ws: Workspace,
    *,
    sheet: Sheet | None = None,
    on_progress: Progress | None = None,
    dry_run: bool = False,
    yes: bool = False,
) -> PullReport:
    """Read people's decisions, write consensus/agreement/status, build the next version.

    ``dry_run`` plans only: the report lists the relabels, removals and moves and nothing is
    written. A pull that would remove more than ``max_remove_share`` of the images stops with
    :class:`~sheets_bridge.core.errors.ConfirmationNeeded` unless ``yes``. A sheet without rows
    (no push yet) is left as it is.
    """
    report = on_progress or _noop
    sheet = sheet or ws.sheet()
    report("pull: reading the sheet", 0.1)
    table = pull_table(sheet, ws.schema)
    faultpoint("pull.read")
    p, extra = plan(ws, table)
    c = p.counts
    crowd = extra.get("crowdlab")
    quality = dict(crowd["quality"]) if isinstance(crowd, dict) else {}
    rep = PullReport(
        p.base,
        None,
        c.relabelled,
        c.removed,
        c.moved,
        c.conflicts,
        list(c.invalid),
        c.reviewed,
        quality,
        c.blocked,
        dict(c.removes_by_annotator),
        dry_run,
        p.nothing,
    )
    if p.nothing:
        if table.header and reads_part(sheet) and sheet.row_count():  # type: ignore[attr-defined]
            rep.nothing = ""  # rows were pushed; none holds anything people typed
        return rep
    if dry_run:
        rep.preview = p.preview()
        return rep
    p.check_removals(ws.config.max_remove_share, yes)
    version = None
    if p.changed:
        report("pull: building the new version", 0.5)
        msg = f"pull: {c.relabelled} relabelled, {c.removed} removed, {c.moved} moved"
        log = pd.DataFrame(p.changes, columns=CHANGE_COLUMNS)
        version = ws.add_version(p.manifest, log, parent=p.base, message=msg, extra=extra)
        rep.version = version.name
    report("pull: writing consensus to the sheet", 0.8)
    sheet.write(p.write(version.name if version else None))
    faultpoint("pull.written")
    report("pull: done", 1.0)
    return rep


# -- retrain -----------------------------------------------------------------------------------
@dataclass
class RetrainReport(_Report):
    pull: dict
    run: str
    val_accuracy: float | None
    push: dict

    def describe(self) -> str:
        acc = f"{self.val_accuracy:.1%}" if self.val_accuracy is not None else "n/a"
        return f"retrain: pulled ({self.pull.get('version') or 'no new version'}), trained {self.run} (val accuracy {acc}), pushed {self.push['rows']} rows"


def retrain(
    ws: Workspace,
    *,
    sheet: Sheet | None = None,
    epochs: int | None = None,
    progress: bool = False,
    on_progress: Progress | None = None,
    preset: str | None = None,
    yes: bool = False,
    on_resume: Callable[[str], None] | None = None,
) -> RetrainReport:
    """pull + train + push as one step (what the sheet menu's "Retrain model" runs).

    Before the first push the sheet has nothing to pull: the pull is skipped (and says so) and the
    model trains on the current version. ``yes`` confirms a large removal (see :func:`pull`).
    """
    report = on_progress or _noop
    check_preset(preset or ws.config.preset)  # a typo must not cost a pull
    sheet = sheet or ws.sheet()
    p = pull(ws, sheet=sheet, on_progress=lambda s, f: report(s, 0.1 * f), yes=yes)
    ws = Workspace(ws.root)  # the current version may have changed
    run = train(
        ws,
        preset=preset,
        epochs=epochs,
        progress=progress,
        on_progress=lambda s, f: report(s, 0.1 + 0.8 * f),
        on_resume=on_resume,
    )
    q = push(ws, sheet=sheet, run=run, on_progress=lambda s, f: report(s, 0.9 + 0.1 * f))
    return RetrainReport(p.as_dict(), run.id, run.metrics().get("val_accuracy"), q.as_dict())


def workspace_or_error(path: Path | str) -> Workspace:
    root = Path(path)
    if not (root / config_mod.CONFIG_FILE).exists():
        raise WorkspaceError(
            f"{root} is not a workspace (no {config_mod.CONFIG_FILE}); run `sheets-bridge init DATASET --workspace {root}`"
        )
    return Workspace(root)
