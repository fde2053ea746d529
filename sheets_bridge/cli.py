"""The command line: each command parses options, calls one library function, prints the result."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from sheets_bridge import __version__
from sheets_bridge.core.config import CONFIG_FILE
from sheets_bridge.core.errors import BridgeError


class _Group(click.Group):
    """Turns library errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted; nothing half-written was kept", err=True)
            sys.exit(130)


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
def make_demo_data_cmd(directory: Path, n_images: int, seed: int) -> None:
    """Write a synthetic Roman-numerals dataset with planted problems into DIRECTORY.

    Layout <dir>/<split>/<label>/<id>.png; the planted truth is in <dir>/ground_truth.csv.
    """
    from sheets_bridge.loop.demo_data import make_demo_data

    try:
        summary = make_demo_data(directory, n_images=n_images, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())


@main.command()
@click.argument("dataset", type=click.Path(path_type=Path))
@workspace_option
@click.option(
    "--preset",
    type=click.Choice(["fast", "dcai"]),
    default="fast",
    show_default=True,
    help="Model preset recorded in the workspace.",
)
@click.option(
    "--annotators",
    default="annotator_1,annotator_2",
    show_default=True,
    help="Comma-separated annotator column names.",
)
@click.option(
    "--backend", type=click.Choice(["local", "google"]), default="local", show_default=True
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
@click.option(
    "--preset",
    type=click.Choice(["fast", "dcai"]),
    default=None,
    help="Override the workspace preset.",
)
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--eval",
    "eval_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Also report accuracy on this labelled folder (<label>/<image>).",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def train(
    workspace: Path, preset: str | None, epochs: int | None, eval_dir: Path | None, progress: bool
) -> None:
    """Train on the current version: out-of-fold predictions, embeddings, UMAP, scores."""
    from sheets_bridge import loop

    ws = _open(workspace)
    run = loop.train(ws, preset=preset, epochs=epochs, eval_dir=eval_dir, progress=progress)
    m = run.metrics()
    click.echo(
        f"{run.id}: validation accuracy {m.get('val_accuracy', float('nan')):.1%}, "
        f"out-of-fold accuracy {m.get('oof_accuracy', float('nan')):.1%}"
    )
    for name, acc in (m.get("eval") or {}).items():
        click.echo(f"  eval {name}: {acc:.1%}")
    click.echo(f"next: sheets-bridge push -w {workspace}")


@main.command()
@workspace_option
def push(workspace: Path) -> None:
    """Write one row per image to the sheet, most doubtful first; human cells are kept."""
    from sheets_bridge import loop

    click.echo(loop.push(_open(workspace)).describe())


@main.command()
@workspace_option
@click.option(
    "--augment", "then_augment", is_flag=True, help="Then add augmented images within the budget."
)
def pull(workspace: Path, then_augment: bool) -> None:
    """Read annotators and overrides; write consensus; build the next dataset version."""
    from sheets_bridge import loop

    click.echo(loop.pull(_open(workspace)).describe())
    if then_augment:
        from sheets_bridge.loop.augment import augment as run_augment

        click.echo(run_augment(_open(workspace)).describe())


@main.command()
@workspace_option
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--preset",
    type=click.Choice(["fast", "dcai"]),
    default=None,
    help="Override the workspace preset.",
)
def retrain(workspace: Path, epochs: int | None, preset: str | None) -> None:
    """pull + train + push in one step."""
    from sheets_bridge import loop

    click.echo(
        loop.retrain(_open(workspace), epochs=epochs, preset=preset, progress=True).describe()
    )


@main.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def versions(workspace: Path, as_json: bool) -> None:
    """List dataset versions with counts, changes and validation accuracy."""
    from sheets_bridge import loop

    rows = loop.versions_table(_open(workspace))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(
        f"{'':2}{'version':8} {'images':>7} {'train':>6} {'val':>5} {'changes':>8} {'val acc':>8}  message"
    )
    for r in rows:
        acc = f"{r['val_accuracy']:.1%}" if r["val_accuracy"] is not None else "-"
        mark = "* " if r["current"] else "  "
        click.echo(
            f"{mark}{r['version']:8} {r['images']:>7} {r['train']:>6} {r['val']:>5} {r['changes']:>8} {acc:>8}  {r['message']}"
        )


@main.command()
@workspace_option
@click.argument("old")
@click.argument("new", required=False)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True
)
def diff(workspace: Path, old: str, new: str | None, fmt: str) -> None:
    """What changed from version OLD to NEW (default: the current version)."""
    from sheets_bridge.store.versions import diff as diff_manifests

    ws = _open(workspace)
    a, b = ws.version(old), ws.version(new) if new else ws.current
    table = diff_manifests(a.manifest(), b.manifest())
    if fmt == "csv":
        click.echo(table.to_csv(index=False), nl=False)
        return
    counts = table["field"].value_counts().to_dict()
    click.echo(
        f"{a.name} -> {b.name}: "
        + (", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no changes")
    )
    for r in table.itertuples(index=False):
        click.echo(f"  {r.field:8} {r.id}  {r.old or '-'} -> {r.new or '-'}")


@main.command()
@workspace_option
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
def export(workspace: Path, version: str, directory: Path) -> None:
    """Copy VERSION's images to DIRECTORY/<split>/<label>/<id>.<ext>."""
    from sheets_bridge.store.dataset import copy_tree_images

    ws = _open(workspace)
    if directory.exists() and any(directory.iterdir()):
        raise click.ClickException(f"{directory} is not empty; choose a new folder")
    n = copy_tree_images(ws.version(version).manifest(), ws.root, directory)
    click.echo(f"exported {n} images of {version} to {directory}")


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
@click.option(
    "--apply",
    "apply_now",
    is_flag=True,
    help="Build a version with the moves instead of suggesting them.",
)
def rebalance(workspace: Path, apply_now: bool) -> None:
    """Propose train/val moves so every style cluster is in both splits, in proportion."""
    from sheets_bridge.loop import rebalance as rb

    ws = _open(workspace)
    proposals = rb.propose(ws)
    if proposals.empty:
        click.echo("no moves needed (or no style clusters yet: run `sheets-bridge train` first)")
        return
    if apply_now:
        v = rb.apply(ws, proposals)
        click.echo(f"moved {len(proposals)} images; {v.name} is now current")
        return
    path = rb.write_suggestions(ws, proposals)
    click.echo(proposals.to_string(index=False, max_rows=30))
    click.echo(
        f"\n{len(proposals)} suggestions saved to {path}; the next push shows them in the issues column.\n"
        "Accept one by typing the split into its subset cell, or run `sheets-bridge rebalance --apply`."
    )


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

    text = render(_open(workspace).sheet().read(), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@sheet.command("update")
@workspace_option
@click.option(
    "--from-csv",
    "csv_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option("--author", default=None, help="Who made these edits (kept in the edit log).")
def sheet_update(workspace: Path, csv_path: Path, author: str | None) -> None:
    """Apply the human columns of a CSV (matched by id) to the sheet."""
    from sheets_bridge.loop.sheet_csv import update_from_csv

    ws = _open(workspace)
    click.echo(
        update_from_csv(
            ws.sheet(), ws.schema, csv_path, author=author or os.environ.get("USER")
        ).describe()
    )


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default="sheets-bridge-demo",
    show_default=True,
    help="Where data/ and workspace/ go.",
)
@click.option("--images", "n_images", default=1500, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--epochs", type=int, default=None, help="Override the preset's epochs.")
@click.option(
    "--serve/--no-serve", default=True, show_default=True, help="Serve the web app at the end."
)
@click.option("--port", default=8000, show_default=True)
def demo(
    directory: Path, n_images: int, seed: int, epochs: int | None, serve: bool, port: int
) -> None:
    """Make synthetic data, init, train, push; then serve the web app."""
    from sheets_bridge.loop.demo import run_demo

    report = run_demo(
        directory,
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
@click.option("--port", default=8000, show_default=True)
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


if __name__ == "__main__":  # pragma: no cover
    main()
