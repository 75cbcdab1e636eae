"""The ``labridge`` Typer application: the top command, its ``--version`` and ``--log-format``,
and the command groups. The commands themselves register on these from
:mod:`labridge.cli.commands`."""

from __future__ import annotations

from typing import Annotated

import typer

from . import logs, shell

app = typer.Typer(
    name="labridge",
    help="Connect your MIS to Learning Assistant: sync reference data, enrol learners, push "
    "changes and pull progress. Try it all offline first with **labridge demo**.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"labridge {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    log_format: Annotated[
        logs.LogFormat,
        typer.Option(
            "--log-format",
            envvar="LABRIDGE_LOG_FORMAT",
            help="text for people; json: one JSON object per line (time, level, logger, "
            "message) for a log shipper.",
        ),
    ] = logs.LogFormat.text,
) -> None:
    """Connect your MIS to Learning Assistant: sync reference data, enrol learners, push changes
    and pull progress. Try it all offline first with **labridge demo**."""
    shell.set_log_format(log_format)


def group(name: str, help: str) -> typer.Typer:
    """A command group (``labridge NAME ...``) under the top command."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


sandbox_app = group(
    "sandbox", "Run the offline Learning Assistant sandbox (same SOAP services, seeded data)."
)
progress_app = group(
    "progress", "Pull learners' progress from LA into a history of changes, and report on it."
)
contract_app = group(
    "contract", "LA's wire contract as labridge speaks it: names, namespaces, and your overrides."
)
store_app = group(
    "store", "The local store itself: back it up (docs/deploy.md says how to restore)."
)
tenants_app = group(
    "tenants", "The fleet's LA centres (tenants.toml): list them, check them (docs/fleet.md)."
)
fleet_app = group(
    "fleet", "The fleet's queue health: per tenant, cycles, jobs waiting, running and failed."
)
