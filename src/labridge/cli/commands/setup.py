"""Setting up and checking: ``labridge init``, ``labridge status`` and ``labridge doctor``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ...errors import ConfigurationError
from .. import console
from ..options import (
    CONFIG_FILE,
    ConfigOpt,
    ContractOpt,
    DbOpt,
    JsonOpt,
    UrlOpt,
    UserOpt,
    VerboseOpt,
    database_url,
    settings_from,
)
from ..shell import handles_errors, log_verbosity


@handles_errors
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write it.")] = Path(CONFIG_FILE),
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented labridge.toml to fill in."""
    from ...config import render_config
    from ...dburl import anchor_sqlite

    if path.exists() and not force:
        raise ConfigurationError(f"{path} already exists", hint="use --force to overwrite it")
    # --db is the shell's path, relative to here; the file's paths are relative to the file.
    store_url = anchor_sqlite(database_url(db), Path.cwd()) if db else None
    text = render_config(url or "", username or "", store_url)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_TRUNC: private it is
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    console.err.print(
        f"Wrote [bold]{path}[/bold]. Fill in [la] url and username, and set "
        "LABRIDGE_PASSWORD in the environment."
    )


@handles_errors
def status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show which settings file and store are in use, what the store holds and when it last
    synced."""
    from .. import cycle, local_store

    settings = settings_from(config, db=db)
    local_store.require_store(settings, create=None)
    data = local_store.status(settings)
    data["schedule"] = cycle.status(settings.run)
    if as_json:
        console.print_json(data)
    else:
        console.out.print(console.where_line(data))
        console.out.print(console.status_table(data))
        console.out.print(console.last_sync_line(data))
        for line in console.activity_lines(data):
            console.out.print(line)
        console.out.print(f"Schedule (labridge run): {escape(data['schedule']['line'])}")


@handles_errors
def doctor_command(
    write_overrides: Annotated[
        Path | None,
        typer.Option(
            "--write-overrides",
            help="Write every override the differences call for to this file (for --contract).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check the set-up against the real LA: settings, TLS, clock, credentials, then compare
    each service's live WSDL with labridge's contract and print, for each difference, the
    override line that fixes it. Exit 0 when all matches, 1 when overrides are needed, 3 when LA
    cannot be reached or refuses the credentials."""
    import asyncio

    from ... import doctor

    log_verbosity(verbose)
    settings = settings_from(config, url, username, contract_file=contract_file)
    report = asyncio.run(doctor.diagnose(settings))
    if write_overrides is not None and not report.unreachable:
        doctor.write_overrides(report, write_overrides)
        console.err.print(f"Wrote [bold]{escape(str(write_overrides))}[/bold].")
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.show_doctor(report)
    raise typer.Exit(report.exit_code)
