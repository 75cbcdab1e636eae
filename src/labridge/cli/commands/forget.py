"""``labridge forget``: erase learners' personal data from the store (docs/data-protection.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ...errors import ConfigurationError
from .. import console
from ..options import ConfigOpt, DbOpt, JsonOpt, VerboseOpt, settings_from
from ..shell import EXIT_FAILED_RECORDS, handles_errors, log_verbosity


@handles_errors
def forget(
    learners: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="LEARNER_ID",
            help="Learner ids as the MIS gives them (the id labridge enrols them under, "
            "SourceSystemLearnerUUID), or LA CandidateUUIDs the store holds.",
            show_default=False,
        ),
    ] = None,
    gone_before: Annotated[
        datetime | None,
        typer.Option(
            "--gone-from-la-before",
            formats=["%Y-%m-%d"],
            metavar="DATE",
            help="Also every learner LA stopped listing (as sync saw) before DATE, YYYY-MM-DD "
            "(UTC).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be erased; change nothing.")
    ] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Erase learners' personal data from the store (docs/data-protection.md): the mirror of
    LA's candidates, what was pushed to LA, the enrolment events, LA's duplicates and the
    progress history; then vacuum the store so it leaves the file too.

    An anonymous audit row is kept per learner (their id hashed, what went, when), and their
    journal row stays with nothing personal in it: enrol then reports them "forgotten", never
    enrols them again. LA's own copy is not touched: remove them there too. Exit code 1 when a
    learner given is not in the store.
    """
    from .. import local_store

    log_verbosity(verbose)
    settings = settings_from(config, db=db)
    if not learners and gone_before is None:
        raise ConfigurationError(
            "say whom to forget: learner ids, or --gone-from-la-before DATE",
            hint="e.g. `labridge forget MIS-200100 --dry-run` or "
            "`labridge forget --gone-from-la-before 2026-01-01`",
        )
    local_store.require_store(settings, create=None)
    cutoff = gone_before.replace(tzinfo=UTC) if gone_before else None
    report = local_store.forget(settings, learners or [], cutoff, dry_run=dry_run)
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.erasure_table(report))
    if report.count("not_found"):
        raise typer.Exit(EXIT_FAILED_RECORDS)
