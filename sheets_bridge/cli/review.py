"""Commands around the sheet people review: push, pull, report, sheet ..., annotator ...."""

from __future__ import annotations

import json
from pathlib import Path

import click

from sheets_bridge.cli.options import _open, _user, workspace_option, writes


@click.command()
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


@click.command()
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


@click.command()
@workspace_option
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (what the dashboard reads)."
)
def report(workspace: Path, as_json: bool) -> None:
    """Where people disagree: class-pair confusions, per-annotator agreement, unreviewed rows."""
    from sheets_bridge.loop.report import describe, disagreement_report

    data = disagreement_report(_open(workspace))
    click.echo(json.dumps(data, indent=2) if as_json else describe(data))


@click.group()
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


@click.group()
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
