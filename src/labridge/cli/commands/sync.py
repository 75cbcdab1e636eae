"""``labridge sync``: LA's reference data and candidates into the store."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import console
from ..options import (
    ConfigOpt,
    ContractOpt,
    DbOpt,
    JsonOpt,
    UrlOpt,
    UserOpt,
    VerboseOpt,
    settings_from,
)
from ..shell import handles_errors, log_verbosity, stoppable


@handles_errors
@stoppable
def sync_command(
    accept_empty: Annotated[
        list[str] | None,
        typer.Option(
            "--accept-empty",
            metavar="SET",
            help="LA really has none of SET now (frameworks, trainers, companies, "
            "nationalities, ethnicities or candidates): let this sync empty it in the store. "
            "Repeatable. Without it an empty answer for a set the store holds is refused.",
        ),
    ] = None,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Pull LA's reference data (courses and units, trainers, companies, nationalities,
    ethnicities) and its candidates into the local store.

    Upserts by natural key; rows that vanished from LA are marked removed, not deleted. Run it
    again with nothing changed and it writes nothing. Candidates of every status are listed
    (test learners too with [sync] include_test = true). An empty answer for a set the store
    holds is refused, unless --accept-empty names it.
    """
    from .. import operations

    log_verbosity(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    report = operations.sync(settings, quiet=as_json, accept_empty=accept_empty or ())
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.sync_table(report))
        if not report.changed:
            console.out.print("Nothing changed since the last sync.")
