"""Enrolling and updating learners from a source, and what the journal says of them:
``labridge enrol``, ``update``, ``enrolments`` and ``duplicates``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .. import console
from ..options import (
    ConfigOpt,
    ContractOpt,
    CreateOpt,
    DbOpt,
    EncodingOpt,
    JsonOpt,
    MappingOpt,
    SourceArg,
    SourceDbOpt,
    SqlOpt,
    UrlOpt,
    UserOpt,
    VerboseOpt,
    settings_from,
)
from ..shell import EXIT_FAILED_RECORDS, handles_errors, log_verbosity, stoppable

if TYPE_CHECKING:
    from ...workflows import enrol as enrol_workflow
    from ...workflows import update as update_workflow


@handles_errors
@stoppable
def enrol(
    source: SourceArg = None,
    sql: SqlOpt = None,
    source_db: SourceDbOpt = None,
    mapping: MappingOpt = None,
    encoding: EncodingOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; send no enrolment.")
    ] = False,
    send_login_details: Annotated[
        bool,
        typer.Option(
            "--send-login-details",
            help="Ask LA to e-mail each new learner their login (the link expires in 24 hours).",
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, help="Enrolments in flight at once.")
    ] = 4,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    create: CreateOpt = False,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Enrol learners from a CSV export, an ILR file or a SQL query, exactly once.

    First syncs LA's reference data and candidates, then checks every record before LA sees it
    (mandatory fields, formats, ULN check digit, age, references by name, UUID, e-mail or QAN),
    skips learners already enrolled, and enrols the rest with a progress bar, showing every
    problem LA reports. Interrupted or crashed? Run the same command again: nobody is enrolled
    twice and nobody is lost. SIGTERM or Ctrl+C stops it cleanly: the enrolments in flight
    finish, nothing new starts (exit code 143 or 130). Exit code 1 when any record was invalid
    or refused.
    """
    from ...workflows import enrol as enrol_workflow
    from .. import local_store, operations

    log_verbosity(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    spec = operations.SourceSpec.build(
        source, sql, source_db, mapping, defaults=settings.source, encoding=encoding
    )
    local_store.require_store(settings, create=create)
    options = enrol_workflow.Options(
        dry_run=dry_run,
        send_login_details=send_login_details,
        concurrency=concurrency,
        settle_seconds=settings.la.settle_seconds,
    )
    report, names = operations.enrol(settings, spec, options, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        _show_enrol(report, names)
    if report.duplicates:  # loud, on stderr, with --json too
        console.err.print(console.duplicates_warning(report.duplicates))
    if report.failed:
        raise typer.Exit(EXIT_FAILED_RECORDS)


def _show_enrol(report: enrol_workflow.EnrolReport, names: dict[str, str]) -> None:
    console.out.print(console.enrol_table(report, names))
    console.out.print(console.enrol_summary(report))
    if report.count("invalid") or report.count("refused"):
        console.out.print(
            "Fix the listed fields in the source and run the same command again; "
            "[bold]labridge enrolments --problems[/bold] lists what needs fixing."
        )
    if report.count("uncertain"):
        console.out.print(
            "[bold yellow]Uncertain[/bold yellow]: LA may have enrolled these learners after "
            "their answer was lost; labridge never sends them again before it has looked in LA. "
            "Run the same command again after the time shown."
        )
    if report.duplicates:
        console.out.print(console.duplicates_table(report.duplicates, names))


@handles_errors
@stoppable
def update(
    source: SourceArg = None,
    sql: SqlOpt = None,
    source_db: SourceDbOpt = None,
    mapping: MappingOpt = None,
    encoding: EncodingOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show each learner's changes (old → new); send none.")
    ] = False,
    clear_missing: Annotated[
        bool,
        typer.Option(
            "--clear-missing",
            help="Clear in LA the values the source no longer has (default: LA keeps them).",
        ),
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=32, help="Updates in flight at once.")
    ] = 4,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    create: CreateOpt = False,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Push changes from the same sources as enrol to LA, sending only what changed.

    First syncs LA's reference data and candidates, checks every record as enrol does, finds each
    learner's enrolment (labridge's journal, else LA's candidates), compares the record with what
    labridge last sent and sends UpdateEnrolment with only the changed members. BirthDate,
    Forename and Gender cannot be updated: a change is reported, to make in LA by hand. Exit code
    1 when any record was invalid or refused; learners not enrolled yet are listed with the hint
    to run enrol first.
    """
    from ...workflows import update as update_workflow
    from .. import local_store, operations

    log_verbosity(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    spec = operations.SourceSpec.build(
        source, sql, source_db, mapping, defaults=settings.source, encoding=encoding
    )
    local_store.require_store(settings, create=create)
    options = update_workflow.Options(
        dry_run=dry_run, clear_missing=clear_missing, concurrency=concurrency
    )
    report, names = operations.update(settings, spec, options, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        _show_update(report, names)
    if report.failed:
        raise typer.Exit(EXIT_FAILED_RECORDS)


def _show_update(report: update_workflow.UpdateReport, names: dict[str, str]) -> None:
    from ...workflows import update as update_workflow

    console.out.print(console.update_table(report, names))
    console.out.print(console.update_summary(report))
    if report.count("not_enrolled"):
        console.out.print(
            "Learners not enrolled in LA yet: run [bold]labridge enrol[/bold] with the same "
            "source first, then update again."
        )
    if report.count("invalid") or report.count("refused"):
        console.out.print("Fix the listed fields (in the source, or in LA) and run it again.")
    if report.count("uncertain"):
        console.out.print(f"[bold yellow]Uncertain[/bold yellow]: {update_workflow.UNCERTAIN}.")


@handles_errors
def enrolments(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write the list, one line per problem, to this CSV file."),
    ] = None,
    problems: Annotated[
        bool,
        typer.Option(
            "--problems",
            help="Only the to-do list: invalid, refused and uncertain, one line per problem with "
            "the field, what is wrong and the fix.",
        ),
    ] = False,
) -> None:
    """List every learner's latest enrolment outcome, with LA's messages; with --problems, only
    what needs fixing: the to-do list for whoever fixes the source data."""
    from ... import reports
    from .. import local_store

    settings = settings_from(config, db=db)
    local_store.require_store(settings, create=None)
    if problems:
        items, learners, names = local_store.problems(settings)
        if csv_path is not None:
            reports.write_problems_csv(csv_path, items)
            console.err.print(f"Wrote [bold]{csv_path}[/bold].")
        url = settings.store.database_url
        console.show_problems(items, learners, url, as_json=as_json, names=names)
        return
    entries, names = local_store.enrolments(settings)
    if csv_path is not None:
        reports.write_enrolments_csv(csv_path, entries, names)
        console.err.print(f"Wrote [bold]{csv_path}[/bold].")
    if as_json:
        console.print_json([e.as_dict() for e in entries])
    elif not entries:
        console.out.print(console.no_enrolments_line(settings.store.database_url))
    else:
        settle = timedelta(seconds=settings.la.settle_seconds)
        console.out.print(console.journal_table(entries, names, settle))
    if not entries and as_json:
        console.err.print(console.no_enrolments_line(settings.store.database_url))


@handles_errors
def duplicates(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List learners LA holds more than once (one learner id on one course, several
    CandidateUUIDs), from the last sync and the check after each enrol run, for someone to merge
    in LA. Two separate stores enrolling against one LA cause them: share one store instead.
    Exit code 1 when there are any."""
    from .. import local_store

    settings = settings_from(config, db=db)
    local_store.require_store(settings, create=None)
    found, names = local_store.duplicates(settings)
    if as_json:
        console.print_json([d.as_dict() for d in found])
    elif found:
        console.out.print(console.duplicates_table(found, names))
    else:
        console.out.print("LA holds no learner twice, as far as the last sync and checks show.")
    if found:
        raise typer.Exit(EXIT_FAILED_RECORDS)
