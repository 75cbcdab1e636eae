"""``labridge progress pull`` and ``labridge progress report``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from ...errors import TransportError
from ...reports.formats import ReportFormat
from ...workflows.records import PULL_CONCURRENCY
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
    from ...workflows.pull import PullReport


@handles_errors
@stoppable
def progress_pull(
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Down to each unit's outcomes (GetProgressFull), not units only."
        ),
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            max=64,
            help="Learners asked for at once (calls in flight; one HTTP connection each).",
        ),
    ] = PULL_CONCURRENCY,
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    create: CreateOpt = False,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Pull every enrolled learner's progress from LA and keep a history of what changed.

    First syncs LA's candidates, then asks LA for each learner's progress (overall, per unit, and
    per outcome with --full) and stores a history row only when something changed. A learner LA
    cannot answer for is listed with the reason and pulled again next time; the others carry on.
    Exit code 1 when some learners failed, 3 when LA answered for none of them.
    """
    from .. import local_store, operations

    log_verbosity(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    local_store.require_store(settings, create=create)
    report = operations.progress_pull(settings, full=full, concurrency=concurrency, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        _show_pull(report)
    if report.unreachable:
        first = report.failures[0]
        raise TransportError(
            f"LA answered for none of the {report.learners} learners: {first.error}",
            hint=first.hint or TransportError.hint,
        )
    if report.failed:
        raise typer.Exit(EXIT_FAILED_RECORDS)


def _show_pull(report: PullReport) -> None:
    if not report.learners:
        console.out.print("No learners enrolled in LA yet: enrol some with labridge enrol.")
        return
    console.out.print(console.pull_table(report))
    if report.failures:
        console.out.print(console.pull_failures_table(report))


@handles_errors
def progress_report(
    fmt: Annotated[
        ReportFormat,
        typer.Option(
            "--format",
            help="html: one self-contained page with charts, readable offline; csv: one line per "
            "learner; json: everything, on stdout unless --output is given.",
        ),
    ] = ReportFormat.html,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default: progress-report.html or progress-report.csv here).",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
) -> None:
    """Report on learners' progress from the local store (filled by **labridge progress
    pull**): per learner the overall %, units done, last activity and whether they are on
    track against their planned dates; per course the spread; the learners most behind."""
    from ... import reports
    from .. import local_store

    settings = settings_from(config, db=db)
    local_store.require_store(settings, create=None)
    report = local_store.progress_report(settings, date.today())
    if not report.summary()["learners"]:
        console.err.print(console.no_progress_line(settings.store.database_url))
    text = reports.render_progress(report, fmt)
    if output is None and fmt is ReportFormat.json:
        typer.echo(text, nl=False)
        return
    path = output or Path(f"progress-report.{fmt.value}")
    local_store.write_report(path, text)
    console.err.print(f"Wrote [bold]{path}[/bold]: {escape(report.headline())}.")
