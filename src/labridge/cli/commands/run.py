"""``labridge run``: the unattended cycle, once or on the schedule (:mod:`labridge.cli.cycle`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .. import console
from ..options import (
    ConfigOpt,
    ContractOpt,
    CreateOpt,
    DbOpt,
    JsonOpt,
    UrlOpt,
    UserOpt,
    VerboseOpt,
    settings_from,
)
from ..shell import EXIT_FAILED_RECORDS, handles_errors, log_verbosity, stoppable

if TYPE_CHECKING:
    pass


@handles_errors
@stoppable
def run_command(
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle now and exit (for cron or a test).")
    ] = False,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    create: CreateOpt = False,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Run the whole cycle unattended, on the schedule in labridge.toml ([run]): sync, then
    enrol and update from each [[run.sources]], then pull progress.

    Every cycle logs (stderr) the settings file and store, one line per step with its counts (a
    WARNING when records need fixing, an ERROR when the step failed; the cycle carries on), and
    one summary line with its duration. Cycles never overlap, and a second `labridge run` on the
    same store refuses to start. A missing store is an error unless --create. A [run] cron line
    is read in [run] timezone (default Europe/London); `labridge status` shows the next cycle.
    With --once: one cycle, a table of its steps, exit code 1 if a step failed or had records to
    fix (the schedule is checked all the same: exit code 2 if it is wrong).
    SIGTERM or Ctrl+C stops it after the current step, the calls in flight finished (exit code
    143 or 130); the next run resumes.
    """
    from .. import cycle, local_store

    log_verbosity(verbose, run=True)  # an unattended run logs each step, even at the default level
    settings = settings_from(config, url, username, db, contract_file)
    cycle.trigger(settings.run)  # with --once too: a cron deployment finds a typo at once
    settings.require_la()
    local_store.require_store(settings, create=create)
    with cycle.single_instance(settings.store.database_url):
        if not once:
            cycle.run_forever(settings.run, lambda: cycle.steps(settings))
            return
        report = cycle.run_cycle(cycle.steps(settings))
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.cycle_table(report))
    if not report.ok:
        raise typer.Exit(EXIT_FAILED_RECORDS)
