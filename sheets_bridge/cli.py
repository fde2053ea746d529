"""The command line: each command parses options, calls one library function, prints the result."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import click

from sheets_bridge import __version__
from sheets_bridge.core.config import CONFIG_FILE, Config
from sheets_bridge.core.errors import BridgeError
from sheets_bridge.core.schema import DEFAULT_ANNOTATORS
from sheets_bridge.sheets import BACKENDS


class _Group(click.Group):
    """Turns every failure into one clear line instead of a traceback.

    Library errors carry their own message; a full disk or a read-only file says which file; any
    other exception is a bug, shown as one line (``SHEETS_BRIDGE_DEBUG=1`` shows the traceback).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was kept", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except OSError as exc:
            raise click.ClickException(_os_error(exc)) from None
        except Exception as exc:
            if os.environ.get("SHEETS_BRIDGE_DEBUG"):
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (a bug: please report it with the "
                "command; SHEETS_BRIDGE_DEBUG=1 shows the traceback)"
            ) from None


def _os_error(exc: OSError) -> str:
    """One line for a failed file operation: which file, and what to do."""
    import errno

    where = exc.filename if exc.filename is not None else "a file"
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return f"the disk is full while writing {where}: free some space and run the command again"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {where} ({exc.strerror}): this needs write access to it"
    return f"{where}: {exc.strerror or exc}"


def _default_workspace() -> str:
    if os.environ.get("SHEETS_BRIDGE_WORKSPACE"):
        return os.environ["SHEETS_BRIDGE_WORKSPACE"]
    return "." if Path(CONFIG_FILE).exists() else "workspace"


def workspace_option(f):
    return click.option(
        "--workspace",
        "-w",
        type=click.Path(file_okay=False, path_type=Path),
        default=_default_workspace,
        show_default="./workspace, or . when it holds sheets-bridge.toml; env SHEETS_BRIDGE_WORKSPACE",
        help="Workspace folder.",
    )(f)


class PresetType(click.ParamType):
    """A model preset, checked against ``model/presets.py`` (the one list of presets)."""

    name = "preset"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        from sheets_bridge.loop.presets import preset_names

        return "[" + "|".join(preset_names()) + "]"

    def convert(self, value, param, ctx):
        from sheets_bridge.loop.presets import check_preset

        try:
            return check_preset(value)
        except BridgeError as exc:
            self.fail(str(exc), param, ctx)


def preset_option(help: str, default: str | None = None):
    return click.option(
        "--preset", type=PresetType(), default=default, show_default=default is not None, help=help
    )


def writes(f):
    """A command that changes the workspace: it holds the writer lock while it runs.

    Adds ``--wait SECONDS``; another writer (a command or a web job) makes it wait that long, then
    stop with ``busy: <who> since <when> (pid N)``. Readers take no lock.
    """

    @click.option(
        "--wait",
        "wait_s",
        type=click.FloatRange(min=0),
        default=0,
        show_default=True,
        help="Seconds to wait while another command or job writes the workspace (0: stop at once).",
    )
    @functools.wraps(f)
    def wrapper(*args, wait_s: float, **kwargs):
        from sheets_bridge.store.lock import LOCK_FILES, WorkspaceLock

        workspace: Path = kwargs["workspace"]
        name = f"sheets-bridge {click.get_current_context().command_path.split(' ', 1)[-1]}"
        created = not workspace.exists()
        if not (workspace / CONFIG_FILE).exists() and f.__name__ != "init":
            return f(*args, **kwargs)  # not a workspace: the command says so; nothing to lock
        workspace.mkdir(parents=True, exist_ok=True)
        try:
            with WorkspaceLock(workspace, name, wait=wait_s):
                return f(*args, **kwargs)
        finally:
            # a failed init leaves no folder holding only the lock behind
            if (
                created
                and workspace.exists()
                and all(p.name in LOCK_FILES for p in workspace.iterdir())
            ):
                for p in workspace.iterdir():
                    p.unlink(missing_ok=True)
                workspace.rmdir()

    return wrapper


def _open(workspace: Path):
    from sheets_bridge.loop import workspace_or_error

    return workspace_or_error(workspace)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sheets-bridge")
def main() -> None:
    """Fix an image dataset together in a spreadsheet.

    The loop: init -> train -> push -> people review the sheet -> pull -> retrain.
    Start with `sheets-bridge demo`.
    """


@main.command("make-demo-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--images", "n_images", default=1500, show_default=True, help="How many images.")
@click.option("--seed", default=0, show_default=True, help="Same seed, same files.")
@click.option(
    "--kind",
    type=click.Choice(["numerals", "shapes"]),
    default="numerals",
    show_default=True,
    help="numerals: gray hand-written Roman numerals; shapes: 96x96 RGB coloured shapes.",
)
def make_demo_data_cmd(directory: Path, n_images: int, seed: int, kind: str) -> None:
    """Write a synthetic dataset with planted problems into DIRECTORY.

    Layout <dir>/<split>/<label>/<id>.png; the planted truth is in <dir>/ground_truth.csv.
    """
    from sheets_bridge.loop.demo_data import make_demo_data
    from sheets_bridge.loop.demo_shapes import make_shapes_data

    make = make_shapes_data if kind == "shapes" else make_demo_data
    try:
        summary = make(directory, n_images=n_images, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


@main.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@workspace_option
@writes
@preset_option("Model preset recorded in the workspace.", default=Config.preset)
@click.option(
    "--annotators",
    default=",".join(DEFAULT_ANNOTATORS),
    show_default=True,
    help="Comma-separated annotator column names.",
)
@click.option(
    "--backend",
    type=click.Choice(list(BACKENDS)),
    default=Config.backend,
    show_default=True,
    help="Where the sheet lives: "
    + "; ".join(f"{b.name} ({b.help})" for b in BACKENDS.values())
    + ".",
)
@click.option("--spreadsheet", default="", help="Google spreadsheet id or URL (backend google).")
def init(
    dataset: Path, workspace: Path, preset: str, annotators: str, backend: str, spreadsheet: str
) -> None:
    """Register DATASET (image folder or CSV path,label,split) as version v0001."""
    from sheets_bridge import loop

    names = tuple(a.strip() for a in annotators.split(",") if a.strip())
    ws = loop.init(
        dataset,
        workspace,
        preset=preset,
        annotators=names,
        backend=backend,
        spreadsheet=spreadsheet,
    )
    counts = ws.current.meta()["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in counts["splits"].items())
    click.echo(f"registered {counts['images']} images ({splits}), classes {' '.join(ws.classes)}")
    click.echo(
        f"workspace {ws.root} at {ws.current.name}; next: sheets-bridge train -w {workspace}"
    )


@main.command()
@workspace_option
@writes
@preset_option("Override the workspace preset.")
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--eval",
    "eval_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also report accuracy on this labelled folder (<label>/<image>).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default=None,
    help="Train here (local) or as Ray tasks (ray); default: the workspace setting.",
)
@click.option(
    "--address",
    "ray_address",
    default=None,
    help="Ray cluster address for --engine ray (e.g. ray://head:10001); default: a local Ray.",
)
def train(
    workspace: Path,
    preset: str | None,
    epochs: int | None,
    eval_dir: Path | None,
    progress: bool,
    engine: str | None,
    ray_address: str | None,
) -> None:
    """Train on the current version: out-of-fold predictions, embeddings, UMAP, scores."""
    from sheets_bridge import loop

    ws = _open(workspace)
    run = loop.train(
        ws,
        preset=preset,
        epochs=epochs,
        eval_dir=eval_dir,
        progress=progress,
        engine=engine,
        ray_address=ray_address,
        on_resume=click.echo,
    )
    m = run.metrics()
    click.echo(
        f"{run.id}: validation accuracy {m.get('val_accuracy', float('nan')):.1%}, "
        f"out-of-fold accuracy {m.get('oof_accuracy', float('nan')):.1%}"
    )
    for name, acc in (m.get("eval") or {}).items():
        click.echo(f"  eval {name}: {acc:.1%}")
    click.echo(f"next: sheets-bridge push -w {workspace}")


@main.command("import-run")
@click.argument("probabilities", type=click.Path(dir_okay=False, path_type=Path))
@workspace_option
@writes
@click.option(
    "--embeddings",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Embeddings: .npy (rows in the order of PROBABILITIES) or .csv (id + one column per dimension).",
)
def import_run_cmd(probabilities: Path, workspace: Path, embeddings: Path | None) -> None:
    """Make a run from your own model's out-of-fold PROBABILITIES (CSV: id + one column per class).

    The sheet, the map and the dashboard then work as after `train`.
    """
    from sheets_bridge.loop.import_run import import_run

    click.echo(import_run(_open(workspace), probabilities, embeddings=embeddings).describe())


@main.command()
@workspace_option
@click.option(
    "--new-sheet",
    is_flag=True,
    help="Start a new local sheet when its file (sheet.db) was lost.",
)
@writes
def push(workspace: Path, new_sheet: bool) -> None:
    """Write one row per image to the sheet, most doubtful first; human cells are kept."""
    from sheets_bridge import loop

    ws = _open(workspace)
    if new_sheet:
        ws.mark_sheet_written(False)
    click.echo(loop.push(ws).describe())


@main.command()
@workspace_option
@writes
@click.option(
    "--augment", "then_augment", is_flag=True, help="Then add augmented images within the budget."
)
@click.option(
    "--dry-run", is_flag=True, help="Show the relabels, removals and moves; write nothing."
)
@click.option("--yes", is_flag=True, help="Confirm a pull that removes more than max_remove_share.")
def pull(workspace: Path, then_augment: bool, dry_run: bool, yes: bool) -> None:
    """Read annotators and overrides; write consensus; build the next dataset version."""
    from sheets_bridge import loop

    result = loop.pull(_open(workspace), dry_run=dry_run, yes=yes)
    click.echo(result.describe())
    if then_augment and not dry_run and not result.nothing:
        from sheets_bridge.loop.augment import augment as run_augment

        click.echo(run_augment(_open(workspace)).describe())


@main.command()
@workspace_option
@writes
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@preset_option("Override the workspace preset.")
@click.option("--yes", is_flag=True, help="Confirm a pull that removes more than max_remove_share.")
def retrain(workspace: Path, epochs: int | None, preset: str | None, yes: bool) -> None:
    """pull + train + push in one step."""
    from sheets_bridge import loop

    click.echo(
        loop.retrain(
            _open(workspace),
            epochs=epochs,
            preset=preset,
            progress=True,
            yes=yes,
            on_resume=click.echo,
        ).describe()
    )


@main.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def versions(workspace: Path, as_json: bool) -> None:
    """List dataset versions with counts, changes and validation accuracy."""
    from sheets_bridge import loop

    rows = loop.versions_table(_open(workspace))
    click.echo(json.dumps(rows, indent=2) if as_json else loop.describe_versions(rows))


@main.command()
@workspace_option
@click.argument("old")
@click.argument("new", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True
)
def diff(workspace: Path, old: str, new: str | None, fmt: str) -> None:
    """What changed from version OLD to NEW (default: the current version)."""
    from sheets_bridge.loop.history import diff_versions

    changes = diff_versions(_open(workspace), old, new)
    click.echo(changes.to_csv() if fmt == "csv" else changes.describe(), nl=fmt != "csv")


@main.command()
@workspace_option
@writes
@click.argument("version")
def checkout(workspace: Path, version: str) -> None:
    """Make VERSION current again (nothing is deleted; later versions stay)."""
    ws = _open(workspace)
    v = ws.set_current(version)
    click.echo(
        f"{v.name} is now current ({v.meta()['counts']['images']} images); push to refresh the sheet"
    )


@main.command()
@workspace_option
@click.argument("version")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["folder", "csv", "hf", "fiftyone"]),
    default="folder",
    show_default=True,
    help="Layout to write (see above).",
)
def export(workspace: Path, version: str, directory: Path, fmt: str) -> None:
    """Write VERSION's images to DIRECTORY for other tools.

    \b
    folder    DIRECTORY/<split>/<label>/<id>.<ext> (FiftyOne directory tree, torchvision ImageFolder)
    csv       DIRECTORY/images/ + manifest.csv (path,label,split) + details.csv (reasons)
    hf        Hugging Face imagefolder with <split>/metadata.csv (version, change reasons)
    fiftyone  FiftyOneImageClassificationDataset (data/ + labels.json)
    """
    from sheets_bridge.loop.export import export as run_export

    click.echo(run_export(_open(workspace), version, directory, format=fmt).describe())


@main.command()
@workspace_option
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (what the dashboard reads)."
)
def report(workspace: Path, as_json: bool) -> None:
    """Where people disagree: class-pair confusions, per-annotator agreement, unreviewed rows."""
    from sheets_bridge.loop.report import describe, disagreement_report

    data = disagreement_report(_open(workspace))
    click.echo(json.dumps(data, indent=2) if as_json else describe(data))


@main.command()
@workspace_option
@writes
@click.option(
    "--budget",
    type=int,
    default=None,
    help="Most images the version may hold [default: augment_budget].",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same augmented images.")
def augment(workspace: Path, budget: int | None, seed: int) -> None:
    """Add augmented train images (balancing classes and style clusters) as a new version."""
    from sheets_bridge.loop.augment import augment as run_augment

    click.echo(run_augment(_open(workspace), budget=budget, seed=seed).describe())


@main.command()
@workspace_option
@writes
@click.option(
    "--apply",
    "apply_now",
    is_flag=True,
    help="Build a version with the moves instead of suggesting them.",
)
def rebalance(workspace: Path, apply_now: bool) -> None:
    """Propose train/val moves so every style cluster is in both splits, in proportion."""
    from sheets_bridge.loop.rebalance import rebalance as run_rebalance

    click.echo(run_rebalance(_open(workspace), apply_now=apply_now).describe())


@main.command()
@workspace_option
@click.option(
    "--budget",
    type=int,
    default=None,
    help="Most images the final version may hold [default: augment_budget].",
)
@click.option("--seed", default=0, show_default=True, help="Same seed, same augmented images.")
@preset_option("Override the workspace preset.")
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--ops", default=None, help="Augmentation ops, comma-separated [default: all of them]."
)
@click.option("--no-rebalance", is_flag=True, help="Keep the train/val split as it is.")
@click.option(
    "--eval",
    "eval_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also report accuracy on this labelled folder (<label>/<image>).",
)
@click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")
def improve(
    workspace: Path,
    budget: int | None,
    seed: int,
    preset: str | None,
    epochs: int | None,
    ops: str | None,
    no_rebalance: bool,
    eval_dir: Path | None,
    dry_run: bool,
) -> None:
    """Pull the sheet's decisions, rebalance, augment where the model is weak, train; before/after."""
    from sheets_bridge.loop.improve import improve as run_improve

    report = run_improve(
        _open(workspace),
        budget=budget,
        seed=seed,
        preset=preset,
        epochs=epochs,
        ops=[o.strip() for o in ops.split(",") if o.strip()] if ops else None,
        rebalance=not no_rebalance,
        dry_run=dry_run,
        eval_dir=eval_dir,
    )
    click.echo(report.describe())


@main.group()
def sheet() -> None:
    """Read or edit the sheet from the command line (CSV/JSON)."""


@sheet.command("show")
@workspace_option
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def sheet_show(workspace: Path, fmt: str, output: Path | None) -> None:
    """Print the whole sheet."""
    from sheets_bridge.loop.sheet_csv import render

    ws = _open(workspace)
    text = render(ws.sheet().read(), fmt, ws.schema)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@sheet.command("update")
@workspace_option
@writes
@click.option(
    "--from-csv",
    "csv_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--author", default=None, help="Who made these edits (kept in the edit log).")
@click.option("--dry-run", is_flag=True, help="Show what would change and every conflict.")
def sheet_update(workspace: Path, csv_path: Path, author: str | None, dry_run: bool) -> None:
    """Apply the human columns of a CSV (matched by id) to the sheet.

    Export with `sheet show --format csv`, edit, import: only the cells you edited are written,
    and a cell a teammate changed after your export is reported and left alone.
    """
    from sheets_bridge.loop.sheet_csv import update_from_csv

    ws = _open(workspace)
    report = update_from_csv(
        ws.sheet(), ws.schema, csv_path, author=author or _user(), dry_run=dry_run
    )
    click.echo(report.describe())


@sheet.command("undo")
@workspace_option
@writes
@click.option("--author", default=None, help="Whose last action to undo (default: $USER).")
@click.option("--dry-run", is_flag=True, help="Show what would be undone.")
def sheet_undo(workspace: Path, author: str | None, dry_run: bool) -> None:
    """Undo a person's last edit action (a CSV import, a grid edit, a UMAP action).

    Cells changed since that action keep their value and are listed.
    """
    from sheets_bridge.sheets import EditLog

    ws = _open(workspace)
    sheet = ws.sheet()
    if not isinstance(sheet, EditLog):
        raise click.ClickException(
            "undo needs the local sheet's edit log; in Google Sheets use Edit > Undo or the "
            "version history"
        )
    who = author or _user()
    result = sheet.undo(who, dry_run=dry_run)
    verb = "would restore" if dry_run else "restored"
    click.echo(f"{verb} {result.changed} cell(s) of {who}'s last action")
    for a in result.applied:
        click.echo(f"  {a['id']} {a['column']}: {a['old']!r} -> {a['new']!r}")
    for c in result.conflicts:
        click.echo(
            f"  kept {c['id']} {c['column']}: changed since to {c['current']!r} (undo would set "
            f"{c['value']!r})"
        )


def _user() -> str | None:
    return os.environ.get("USER") or os.environ.get("USERNAME")


@sheet.command("repair")
@workspace_option
@writes
@click.option("--dry-run", is_flag=True, help="Say what would be repaired; write nothing.")
def sheet_repair(workspace: Path, dry_run: bool) -> None:
    """Rebuild a damaged sheet's header and ids from the current version; keep every human cell.

    Fixes a missing or misspelled `id` header, repeated columns, rows copied twice (merged) and
    rows whose id was cleared (found again by their image URL). Says what it did.
    """
    from sheets_bridge.loop.repair import repair

    click.echo(repair(_open(workspace), dry_run=dry_run).describe())


@main.command()
@click.option(
    "--workspace",
    "-w",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Workspace folder  [default: sheets-bridge-demo/workspace; the data goes beside it, in data/].",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    hidden=True,  # older spelling: DIR/workspace and DIR/data
)
@click.option("--images", "n_images", default=1500, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--serve/--no-serve", default=True, show_default=True, help="Serve the web app at the end."
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def demo(
    workspace: Path | None,
    directory: Path | None,
    n_images: int,
    seed: int,
    epochs: int | None,
    serve: bool,
    port: int,
) -> None:
    """Make synthetic data, init, train, push; then serve the web app."""
    from sheets_bridge.loop.demo import run_demo

    if workspace is not None and directory is not None:
        raise click.UsageError("give -w/--workspace (or the older --dir), not both")
    if workspace is None:
        workspace = (directory or Path("sheets-bridge-demo")) / "workspace"
    report = run_demo(
        workspace.parent,
        workspace_dir=workspace,
        n_images=n_images,
        seed=seed,
        epochs=epochs,
        on_step=lambda m: click.echo(f"-> {m}"),
    )
    click.echo(report.describe())
    ws = report.workspace
    click.echo(
        "\nwhat next:\n"
        f"  review the sheet     sheets-bridge sheet show -w {ws} | head\n"
        f"  edit it as CSV       sheets-bridge sheet update -w {ws} --from-csv edits.csv\n"
        f"  apply the decisions  sheets-bridge retrain -w {ws}\n"
        f"  see the history      sheets-bridge versions -w {ws}"
    )
    if serve:
        _serve(ws, "127.0.0.1", port)


def _serve(workspace: Path, host: str, port: int) -> None:
    try:
        from sheets_bridge.web import serve as serve_app
    except ImportError as exc:  # pragma: no cover - the web app ships with the package
        raise click.ClickException(f"the web app is not available: {exc}") from None

    def ready(urls: dict[str, str]) -> None:
        click.echo("serving (Ctrl-C to stop):")
        click.echo("\n".join(f"  {k:9s} {v}" for k, v in urls.items()))

    serve_app(workspace, host=host, port=port, open_browser=False, on_ready=ready)


@main.command()
@workspace_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Any address but 127.0.0.1 requires the token.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def serve(workspace: Path, host: str, port: int) -> None:
    """Serve the dashboard, the UMAP view, the local sheet grid and the JSON API."""
    _open(workspace)
    _serve(workspace, host, port)


@main.command("apps-script")
@workspace_option
@click.option(
    "--url",
    default=None,
    help="The bridge's public HTTPS URL [default: the workspace's public_url when it is HTTPS].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the files here instead of printing them.",
)
def apps_script(workspace: Path, url: str | None, out: Path | None) -> None:
    """Print (or write) the sheet's custom-menu script with the bridge URL filled in."""
    from sheets_bridge.core.config import CONFIG_FILE as _cfg
    from sheets_bridge.loop import apps_script as gas

    if url is None:
        url = gas.PLACEHOLDER_URL
        if (workspace / _cfg).exists():
            public = _open(workspace).config.public_url
            url = public if public.startswith("https://") else url
    if out:
        for p in gas.write(out, url):
            click.echo(f"wrote {p}")
        return
    for name, text in gas.render(url).items():
        click.echo(f"// ===== {name} =====")
        click.echo(text)


@main.group()
def google() -> None:
    """Work in a Google spreadsheet instead of the local sheet."""


@google.command("setup")
@workspace_option
@click.option(
    "--spreadsheet", default=None, help="The spreadsheet's URL or id [default: the workspace's]."
)
@click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Service-account key (JSON) [default: the workspace's, else GOOGLE_APPLICATION_CREDENTIALS].",
)
@click.option(
    "--worksheet", default=None, help="Worksheet title [default: the workspace's, images]."
)
@click.option(
    "--url",
    "bridge_url",
    default=None,
    help="The bridge's public HTTPS URL for the menu [default: public_url when it is HTTPS].",
)
@click.option(
    "--clasp/--no-clasp",
    "use_clasp",
    default=None,
    help="Install the menu with clasp [default: when clasp is on the PATH].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the menu script [default: <workspace>/apps-script].",
)
def google_setup(
    workspace: Path,
    spreadsheet: str | None,
    credentials: Path | None,
    worksheet: str | None,
    bridge_url: str | None,
    use_clasp: bool | None,
    out: Path | None,
) -> None:
    """Check the credentials, open the spreadsheet, write the settings, push, and print (or
    install with clasp) the sheet's menu script."""
    from sheets_bridge.loop import apps_script as gas
    from sheets_bridge.loop.google_setup import PASTE_STEPS, setup

    report = setup(
        workspace,
        spreadsheet=spreadsheet,
        credentials=credentials,
        worksheet=worksheet,
        bridge_url=bridge_url,
        use_clasp=use_clasp,
        script_dir=out,
        on_step=lambda line: click.echo(f"ok  {line}"),
    )
    if not report.installed:
        for name, text in gas.render(report.bridge_url).items():
            click.echo(f"// ===== {name} =====")
            click.echo(text)
        click.echo(PASTE_STEPS.format(folder=report.script_dir))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"open the sheet: {report.sheet_url}")


@main.group()
def annotator() -> None:
    """The people who vote: one sheet column each, named after the person."""


@annotator.command("add")
@workspace_option
@click.argument("name")
def annotator_add(workspace: Path, name: str) -> None:
    """Give NAME a column (in the settings and the sheet; Google gets it at the next push)."""
    from sheets_bridge.loop.annotators import add_annotator

    click.echo(add_annotator(_open(workspace), name).message)


@annotator.command("list")
@workspace_option
def annotator_list(workspace: Path) -> None:
    """Each annotator column and how many rows hold that person's vote."""
    from sheets_bridge.loop.annotators import progress

    for p in progress(_open(workspace)):
        click.echo(f"{p.name}\t{p.voted} of {p.rows} rows voted")


if __name__ == "__main__":  # pragma: no cover
    main()
