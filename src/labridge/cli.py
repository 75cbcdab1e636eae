"""The ``labridge`` command: a thin shell over the workflows.

Each command builds its settings (flags, then environment, then ``labridge.toml``, then defaults),
calls one workflow, renders the result, and maps errors to exit codes:
0 ok; 1 some records failed; 2 usage or configuration error; 3 LA unreachable or credentials
refused; 70 internal error (a bug: one line naming the exception's type, the traceback only at
-vv); 143 or 130 stopped by SIGTERM or SIGINT (the calls in flight finished first; run the same
command again to resume).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import click
import typer
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from . import console, contract, logs, overrides, reports, runner, schedule, stopping
from .config import CONFIG_FILE, Settings, load_settings, render_config
from .dburl import anchor_sqlite
from .errors import (
    AuthenticationError,
    ConfigurationError,
    LabridgeError,
    ProtocolError,
    RefusedError,
    TransportError,
    internal_error_line,
)
from .sandbox.dialects import Dialect
from .store.engine import store_failure
from .workflows import enrol as enrol_workflow
from .workflows import pull as progress_workflow
from .workflows import update as update_workflow

EXIT_OK, EXIT_FAILED_RECORDS, EXIT_CONFIG, EXIT_LA = 0, 1, 2, 3
#: An exception labridge did not expect (sysexits.h EX_SOFTWARE): a bug to report.
EXIT_INTERNAL = 70
#: The sandbox's documented demo login; it guards nothing but local test data.
SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox"  # noqa: S105

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
        from . import __version__

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
    global _log_format
    _log_format = log_format
    # Every command logs its warnings to its own stderr (the file-mode warnings, say), those
    # without -v too; a command with -v/-vv sets its level again.
    logs.configure(0, log_format)


sandbox_app = typer.Typer(
    help="Run the offline Learning Assistant sandbox (same SOAP services, seeded data).",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")
progress_app = typer.Typer(
    help="Pull learners' progress from LA into a history of changes, and report on it.",
    no_args_is_help=True,
)
app.add_typer(progress_app, name="progress")
contract_app = typer.Typer(
    help="LA's wire contract as labridge speaks it: names, namespaces, and your overrides.",
    no_args_is_help=True,
)
app.add_typer(contract_app, name="contract")
store_app = typer.Typer(
    help="The local store itself: back it up (docs/deploy.md says how to restore).",
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")

P = ParamSpec("P")
R = TypeVar("R")
#: ``--log-format``, set by the main callback before each command runs.
_log_format = logs.LogFormat.text

# -- shared options ------------------------------------------------------------------------------

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=f"Settings file (default: ./{CONFIG_FILE} if present)."),
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="LA base URL. Env: LABRIDGE_URL.", show_default=False)
]
UserOpt = Annotated[
    str | None,
    typer.Option(
        "--username", help="LA web-service user. Env: LABRIDGE_USERNAME.", show_default=False
    ),
]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a SQLAlchemy URL or a SQLite file path (relative to this directory). Env: "
        "LABRIDGE_DATABASE_URL. Default: [store] database_url, else labridge.db beside "
        "labridge.toml (or here when there is none).",
        show_default=False,
    ),
]
ContractOpt = Annotated[
    Path | None,
    typer.Option(
        "--contract",
        help="TOML of [contract...] overrides of LA's wire names (as `labridge doctor "
        "--write-overrides` writes), over labridge.toml's [contract].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]
VerboseOpt = Annotated[
    int,
    typer.Option(
        "--verbose", "-v", count=True,
        help="Log more (-v info, -vv debug and the libraries' lines: HTTP requests, migrations).",
    ),
]  # fmt: skip
CreateOpt = Annotated[
    bool,
    typer.Option(
        "--create",
        help="Make a new store if there is none at the store's path or URL (without it, a "
        "missing store is an error: a mistyped path must not start an empty one).",
    ),
]


SourceArg = Annotated[
    Path | None,
    typer.Argument(help="A CSV export or an ILR XML file. Omit it with --sql.", show_default=False),
]
SqlOpt = Annotated[
    str | None,
    typer.Option("--sql", help="A SELECT on the MIS database, columns named as in a CSV."),
]
SourceDbOpt = Annotated[
    str | None,
    typer.Option("--source-db", help="SQLAlchemy URL of the MIS database for --sql."),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="The CSV file's text encoding (default: [source] encoding, else utf-8); cp1252 for "
        "Windows exports.",
        show_default=False,
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML: renames, value maps, defaults, ILR mappings."),
]


def database_url(value: str) -> str:
    """A bare path means a SQLite file; anything with ``://`` is a SQLAlchemy URL."""
    return value if "://" in value else f"sqlite:///{value}"


def settings_from(
    config: Path | None,
    url: str | None = None,
    username: str | None = None,
    db: str | None = None,
    contract_file: Path | None = None,
) -> Settings:
    """Load the settings and make their effective contract the active one (once per command)."""
    flags = {
        "la": {"url": url, "username": username},
        "store": {"database_url": db and database_url(db)},
    }
    settings = load_settings(flags, os.environ, config, contract_file)
    logging.getLogger("labridge.config").info("%s", runner.where(settings))
    for note in settings.la.notes:
        console.err.print(f"[cyan]note:[/cyan] {escape(note)}")
    contract.activate(settings.catalogue())
    return settings


def _exit_code(exc: LabridgeError) -> int:
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, (TransportError, AuthenticationError, ProtocolError)):
        return EXIT_LA
    if isinstance(exc, RefusedError):
        return EXIT_FAILED_RECORDS
    return EXIT_LA


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn labridge's errors into one clear message on stderr and the documented exit code;
    a store failing mid-command is a store error (exit 2); anything else is an internal error
    (exit 70) shown as one line without its message, which may quote personal data."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except stopping.StopRequested as stop:
            logging.getLogger("labridge").warning("%s", stop.args[0])  # the one line
            raise typer.Exit(stop.exit_code) from None
        except LabridgeError as exc:
            _show_error(exc, as_json=bool(kwargs.get("as_json")))
        except SQLAlchemyError as exc:
            _show_error(store_failure(exc), as_json=bool(kwargs.get("as_json")))
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # the command's own exit codes, and usage errors
        except KeyboardInterrupt:
            # Commands without a graceful stop (:func:`stoppable`) end here on Ctrl+C.
            console.err.print("interrupted: run the same command again")
            raise typer.Exit(130) from None
        except Exception as exc:
            # The traceback (masked) only at -vv; the line itself never carries str(exc).
            logging.getLogger("labridge").debug("internal error", exc_info=True)
            line = internal_error_line(exc)
            if kwargs.get("as_json"):
                hint = "run the command again with -vv"
                error = {"message": line, "exit_code": EXIT_INTERNAL, "hint": hint}
                console.print_json({"error": error})
            console.err.print(escape(line), highlight=False)
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def _show_error(exc: LabridgeError, *, as_json: bool = False) -> NoReturn:
    if as_json:  # stdout stays valid JSON: what was done, and the error
        console.print_json(console.error_json(exc, _exit_code(exc)))
    message = escape(str(exc.args[0] if exc.args else exc))
    console.err.print(f"[bold red]error:[/bold red] {message}")
    if exc.hint:
        console.err.print(f"[yellow]what to do:[/yellow] {escape(exc.hint)}")
    raise typer.Exit(_exit_code(exc)) from None


def stoppable(fn: Callable[P, R]) -> Callable[P, R]:
    """Stop gracefully on SIGTERM and SIGINT while the command runs (:mod:`.stopping`)."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with stopping.handling_signals():
            return fn(*args, **kwargs)

    return wrapper


def _logging(verbose: int, *, run: bool = False) -> None:
    logs.configure(verbose, _log_format, run=run)


# -- commands --------------------------------------------------------------------------------------


@app.command()
@handles_errors
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write it.")] = Path(CONFIG_FILE),
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented labridge.toml to fill in."""
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


@app.command("sync")
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
    _logging(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    report = runner.sync(settings, quiet=as_json, accept_empty=accept_empty or ())
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.sync_table(report))
        if not report.changed:
            console.out.print("Nothing changed since the last sync.")


@app.command()
@handles_errors
def status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show which settings file and store are in use, what the store holds and when it last
    synced."""
    settings = settings_from(config, db=db)
    runner.require_store(settings, create=None)
    data = runner.status(settings)
    data["schedule"] = schedule.status(settings.run)
    if as_json:
        console.print_json(data)
    else:
        console.out.print(console.where_line(data))
        console.out.print(console.status_table(data))
        console.out.print(console.last_sync_line(data))
        for line in console.activity_lines(data):
            console.out.print(line)
        console.out.print(f"Schedule (labridge run): {escape(data['schedule']['line'])}")


@app.command()
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
    _logging(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    spec = runner.SourceSpec.build(
        source, sql, source_db, mapping, defaults=settings.source, encoding=encoding
    )
    runner.require_store(settings, create=create)
    options = enrol_workflow.Options(
        dry_run=dry_run,
        send_login_details=send_login_details,
        concurrency=concurrency,
        settle_seconds=settings.la.settle_seconds,
    )
    report, names = runner.enrol(settings, spec, options, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        _show_enrol(report, names)
    if report.duplicates:  # loud, on stderr, with --json too
        console.err.print(console.duplicates_warning(report.duplicates))
    if report.failed:
        raise typer.Exit(EXIT_FAILED_RECORDS)


def _show_enrol(report: enrol_workflow.EnrolReport, names: dict[str, str]) -> None:
    for table in console.enrol_tables(report, names):
        console.out.print(table)
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


@app.command()
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
    _logging(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    spec = runner.SourceSpec.build(
        source, sql, source_db, mapping, defaults=settings.source, encoding=encoding
    )
    runner.require_store(settings, create=create)
    options = update_workflow.Options(
        dry_run=dry_run, clear_missing=clear_missing, concurrency=concurrency
    )
    report = runner.update(settings, spec, options, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        _show_update(report, runner.reference_names(settings))
    if report.failed:
        raise typer.Exit(EXIT_FAILED_RECORDS)


def _show_update(report: update_workflow.UpdateReport, names: dict[str, str]) -> None:
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


@app.command()
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
    settings = settings_from(config, db=db)
    runner.require_store(settings, create=None)
    if problems:
        items, learners, names = runner.problems(settings)
        if csv_path is not None:
            reports.write_problems_csv(csv_path, items)
            console.err.print(f"Wrote [bold]{csv_path}[/bold].")
        url = settings.store.database_url
        console.show_problems(items, learners, url, as_json=as_json, names=names)
        return
    entries, names = runner.enrolments(settings)
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


@app.command()
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
    settings = settings_from(config, db=db)
    runner.require_store(settings, create=None)
    found, names = runner.duplicates(settings)
    if as_json:
        console.print_json([d.as_dict() for d in found])
    elif found:
        console.out.print(console.duplicates_table(found, names))
    else:
        console.out.print("LA holds no learner twice, as far as the last sync and checks show.")
    if found:
        raise typer.Exit(EXIT_FAILED_RECORDS)


@app.command()
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
    _logging(verbose)
    settings = settings_from(config, db=db)
    if not learners and gone_before is None:
        raise ConfigurationError(
            "say whom to forget: learner ids, or --gone-from-la-before DATE",
            hint="e.g. `labridge forget MIS-200100 --dry-run` or "
            "`labridge forget --gone-from-la-before 2026-01-01`",
        )
    runner.require_store(settings, create=None)
    cutoff = gone_before.replace(tzinfo=UTC) if gone_before else None
    report = runner.forget(settings, learners or [], cutoff, dry_run=dry_run)
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.erasure_table(report))
    if report.count("not_found"):
        raise typer.Exit(EXIT_FAILED_RECORDS)


@progress_app.command("pull")
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
            "--concurrency", min=1, max=16, help="Learners asked for at once (calls in flight)."
        ),
    ] = progress_workflow.DEFAULT_CONCURRENCY,
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
    _logging(verbose)
    settings = settings_from(config, url, username, db, contract_file)
    runner.require_store(settings, create=create)
    report = runner.progress_pull(settings, full=full, concurrency=concurrency, quiet=as_json)
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


def _show_pull(report: progress_workflow.PullReport) -> None:
    if not report.learners:
        console.out.print("No learners enrolled in LA yet: enrol some with labridge enrol.")
        return
    console.out.print(console.pull_table(report))
    if report.failures:
        console.out.print(console.pull_failures_table(report))


@progress_app.command("report")
@handles_errors
def progress_report(
    fmt: Annotated[
        reports.ReportFormat,
        typer.Option(
            "--format",
            help="html: one self-contained page with charts, readable offline; csv: one line per "
            "learner; json: everything, on stdout unless --output is given.",
        ),
    ] = reports.ReportFormat.html,
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
    settings = settings_from(config, db=db)
    runner.require_store(settings, create=None)
    report = runner.progress_report(settings, date.today())
    if not report.summary()["learners"]:
        console.err.print(console.no_progress_line(settings.store.database_url))
    text = reports.render_progress(report, fmt)
    if output is None and fmt is reports.ReportFormat.json:
        typer.echo(text, nl=False)
        return
    path = output or Path(f"progress-report.{fmt.value}")
    runner.write_report(path, text)
    console.err.print(f"Wrote [bold]{path}[/bold]: {escape(report.headline())}.")


@app.command("run")
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
    _logging(verbose, run=True)  # an unattended run logs each step, even at the default level
    settings = settings_from(config, url, username, db, contract_file)
    schedule.trigger(settings.run)  # with --once too: a cron deployment finds a typo at once
    settings.require_la()
    runner.require_store(settings, create=create)
    with schedule.single_instance(settings.store.database_url):
        if not once:
            schedule.run_forever(settings.run, lambda: runner.cycle(settings))
            return
        report = schedule.run_cycle(runner.cycle(settings))
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.cycle_table(report))
    if not report.ok:
        raise typer.Exit(EXIT_FAILED_RECORDS)


@store_app.command("backup")
@handles_errors
def store_backup(
    path: Annotated[Path, typer.Argument(help="The backup file to write (mode 0600).")],
    force: Annotated[bool, typer.Option("--force", help="Replace PATH if it exists.")] = False,
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy a SQLite store to PATH, safely while `labridge run` is writing to it (SQLite's
    online backup). Restore: stop labridge, copy the file back in place of the store. A
    PostgreSQL store: exit code 2 and the pg_dump command to run instead."""
    from .store import backup

    settings = settings_from(config, db=db)
    done = backup.backup(settings.store.database_url, path, force=force)
    if as_json:
        console.print_json(done.as_dict())
        return
    console.err.print(
        f"Backed up the store {escape(str(done.source))} to [bold]{escape(str(done.path))}"
        f"[/bold] ({done.size / 1_048_576:.1f} MiB, schema revision {done.revision})."
    )


@sandbox_app.command("serve")
@handles_errors
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Sandbox database file (default: in memory, gone on exit)."),
    ] = None,
    username: Annotated[str, typer.Option(help="Web-service user to accept.")] = SANDBOX_USER,
    password: Annotated[
        str,
        typer.Option(
            envvar="LABRIDGE_SANDBOX_PASSWORD",
            help="Its password (a --password on a command line shows in ps: prefer the variable).",
        ),
    ] = SANDBOX_PASSWORD,
    test_hooks: Annotated[
        bool,
        typer.Option("--test-hooks", help="Serve /_sandbox/faults, /_sandbox/last-request and "
                     "/_sandbox/clock (for tests: anyone reaching them can break calls)."),
    ] = False,
    read_timeout: Annotated[
        float,
        typer.Option("--read-timeout", min=0.1, metavar="SECONDS",
                     help="A request's headers, and its body, must arrive within this time."),
    ] = 30.0,
    dialect: Annotated[
        Dialect,
        typer.Option(help="Answer as LA's samples do, or as a real ColdFusion server does."),
    ] = Dialect.SAMPLES,
    latency_ms: Annotated[
        float, typer.Option("--latency-ms", min=0, help="Every call waits this long first.")
    ] = 0,
    fail_rate: Annotated[
        float,
        typer.Option("--fail-rate", min=0, max=1, help="Share of calls answered HTTP 503, undone."),
    ] = 0,
    drop_rate: Annotated[
        float,
        typer.Option(
            "--drop-rate", min=0, max=1,
            help="Share of calls done and committed, then their connection dropped.",
        ),
    ] = 0,
    slow_rate: Annotated[
        float,
        typer.Option(
            "--slow-rate", min=0, max=1,
            help="Share of calls that wait --slow-ms before doing the work (a client with a "
            "shorter timeout gives up while the work is still to happen).",
        ),
    ] = 0,
    slow_ms: Annotated[
        float, typer.Option("--slow-ms", min=0, help="How long a slow call waits.")
    ] = 0,
    token_ttl: Annotated[
        float | None,
        typer.Option(
            "--token-ttl", min=0.001, metavar="SECONDS",
            help="Session lifetime (default: 30 minutes, as LA).",
        ),
    ] = None,
    fault_seed: Annotated[
        int | None,
        typer.Option("--fault-seed", help="Seed of the random faults: the same seed, the same "
                     "sequence of faults."),
    ] = None,
    max_body_mib: Annotated[
        float, typer.Option("--max-body-mib", min=0.001, help="Largest request body read (MiB).")
    ] = 1.0,
    contract_file: ContractOpt = None,
) -> None:  # fmt: skip
    """Serve the LA sandbox: every .cfc service of the contract, WSDLs at ?wsdl, and
    /_sandbox/stats. Point labridge at it with LABRIDGE_URL=http://HOST:PORT. With --contract,
    it speaks the overridden names (to try a contract file, or to play an LA that differs).
    The test hooks answer 404 unless --test-hooks is given. It is a test server: a --host that
    is not loopback gets a warning.

    Random faults (--fail-rate, --drop-rate, --slow-rate) meet every operation except
    Authenticate; --latency-ms applies to every call. /_sandbox/stats counts them all under
    faults_fired."""
    from .sandbox.faults import BadFault
    from .sandbox.server import NOT_LOOPBACK_WARNING, is_loopback, serve

    faults: dict[str, Any] = {
        "latency_ms": latency_ms, "fail_rate": fail_rate, "drop_rate": drop_rate,
        "slow_rate": slow_rate, "slow_ms": slow_ms, "token_ttl": token_ttl,
        "fault_seed": fault_seed, "test_hooks": test_hooks, "read_timeout": read_timeout,
        "max_body_mib": max_body_mib,
    }  # fmt: skip
    if not is_loopback(host):
        message = NOT_LOOPBACK_WARNING.format(host=host)
        console.err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")

    if contract_file is not None:
        where = f"[contract] ({contract_file})"
        contract.activate(overrides.effective(overrides.load_file(contract_file), where))

    console.err.print(
        f"LA sandbox on [bold]http://{host}:{port}[/bold] (user {username!r}, "
        f"{dialect.value} dialect); Ctrl+C stops it.\n"
        f"Try: LABRIDGE_URL=http://{host}:{port} LABRIDGE_USERNAME={username} "
        "LABRIDGE_PASSWORD=... labridge sync"
    )
    try:
        serve(
            host,
            port,
            database_url(db) if db else "sqlite://",
            username,
            password,
            dialect=dialect,
            **faults,
        )
    except BadFault as exc:
        raise ConfigurationError(f"sandbox faults: {exc}") from None


@contract_app.command("show")
@handles_errors
def contract_show(
    config: ConfigOpt = None,
    contract_file: ContractOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the effective contract: every service path, namespace, operation, parameter, type
    and member name labridge puts on the wire, each marked DOC (in LA's published samples), INF
    (inferred) or overridden (by [contract] or --contract)."""
    settings_from(config, contract_file=contract_file)
    items = overrides.items(contract.active())
    if as_json:
        console.print_json([item.as_dict() for item in items])
        return
    console.out.print(console.contract_table(items))


@app.command("doctor")
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

    from . import doctor

    _logging(verbose)
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


@app.command()
@handles_errors
def demo(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep", help="Keep the demo's store in this directory instead of a temp one."
        ),
    ] = None,
) -> None:
    """Run the whole workflow against the embedded sandbox: start it on a free port with a
    temporary database, then sync and show the store's status, with the same code paths a real
    run uses."""
    from .demo import run_demo

    run_demo(keep)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        console.err.print("interrupted")
        sys.exit(130)
