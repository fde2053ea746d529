"""Commands that serve or connect the bridge: demo, serve, apps-script, google setup."""

from __future__ import annotations

from pathlib import Path

import click

from sheets_bridge.cli.options import _open, workspace_option


@click.command()
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


@click.command()
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


@click.command("apps-script")
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
            url = gas.menu_url(_open(workspace).config.public_url)
    if out:
        for p in gas.write(out, url):
            click.echo(f"wrote {p}")
        return
    click.echo(gas.listing(url))


@click.group()
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
        click.echo(gas.listing(report.bridge_url))
        click.echo(PASTE_STEPS.format(folder=report.script_dir))
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(f"open the sheet: {report.sheet_url}")
