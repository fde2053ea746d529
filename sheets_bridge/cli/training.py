"""Commands that train or grow a version: train, import-run, retrain, augment, rebalance, improve."""

from __future__ import annotations

from pathlib import Path

import click

from sheets_bridge.cli.options import _open, preset_option, workspace_option, writes


@click.command()
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


@click.command("import-run")
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


@click.command()
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


@click.command()
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


@click.command()
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


@click.command()
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
