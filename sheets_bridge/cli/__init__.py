"""The command line: each command parses options, calls one library function, prints the result.

The commands live by what they work on: ``data`` (the dataset and its versions), ``training``,
``review`` (the sheet people review), ``serving`` (the web app and the Google connection); ``options``
holds what they share. This module is the ``sheets-bridge`` group that gathers them.
"""

from __future__ import annotations

import os
import sys

import click

from sheets_bridge import __version__
from sheets_bridge.cli.data import checkout, diff, export, init, make_demo_data_cmd, versions
from sheets_bridge.cli.options import _os_error
from sheets_bridge.cli.review import annotator, pull, push, report, sheet
from sheets_bridge.cli.serving import apps_script, demo, google, serve
from sheets_bridge.cli.training import augment, import_run_cmd, improve, rebalance, retrain, train
from sheets_bridge.core.errors import BridgeError


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sheets-bridge")
def main() -> None:
    """Fix an image dataset together in a spreadsheet.

    The loop: init -> train -> push -> people review the sheet -> pull -> retrain.
    Start with `sheets-bridge demo`.
    """


for _command in (
    make_demo_data_cmd,
    init,
    train,
    import_run_cmd,
    push,
    pull,
    retrain,
    versions,
    diff,
    checkout,
    export,
    report,
    augment,
    rebalance,
    improve,
    sheet,
    demo,
    serve,
    apps_script,
    google,
    annotator,
):
    main.add_command(_command)
