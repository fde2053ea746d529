"""Commands on the dataset and its versions: make-demo-data, init, versions, diff, checkout, export."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sheets_bridge.cli.options import _open, preset_option, workspace_option, writes
from sheets_bridge.core.config import Config
from sheets_bridge.core.schema import DEFAULT_ANNOTATORS
from sheets_bridge.sheets import BACKENDS


@click.command("make-demo-data")
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


@click.command()
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


@click.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def versions(workspace: Path, as_json: bool) -> None:
    """List dataset versions with counts, changes and validation accuracy."""
    from sheets_bridge import loop

    rows = loop.versions_table(_open(workspace))
    click.echo(json.dumps(rows, indent=2) if as_json else loop.describe_versions(rows))


@click.command()
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


@click.command()
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


@click.command()
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
