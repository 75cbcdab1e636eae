"""The ``labridge`` command: a thin shell over the workflows.

Each command builds its settings (flags, then environment, then ``labridge.toml``, then defaults),
calls one workflow, renders the result, and maps errors to exit codes:
0 ok; 1 some records failed; 2 usage or configuration error; 3 LA unreachable or credentials
refused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from . import console, store
from .client import AsyncClient
from .config import CONFIG_FILE, Settings, load_settings, render_config
from .errors import (
    AuthenticationError,
    ConfigurationError,
    LabridgeError,
    ProtocolError,
    RefusedError,
    TransportError,
)
from .workflows import sync as sync_workflow

EXIT_OK, EXIT_FAILED_RECORDS, EXIT_CONFIG, EXIT_LA = 0, 1, 2, 3
#: The sandbox's documented demo login; it guards nothing but local test data.
SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox"  # noqa: S105

app = typer.Typer(
    name="labridge",
    help="Connect your MIS to Learning Assistant: sync reference data, enrol learners, push "
    "changes and pull progress. Try it all offline first with [bold]labridge demo[/bold].",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
sandbox_app = typer.Typer(
    help="Run the offline Learning Assistant sandbox (same SOAP services, seeded data).",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox")

P = ParamSpec("P")
R = TypeVar("R")

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
        help="Store: a SQLAlchemy URL or a SQLite file path. Env: LABRIDGE_DATABASE_URL. "
        "Default: sqlite:///labridge.db",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of tables.")]
VerboseOpt = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Log more (-v info, -vv debug).")
]


def database_url(value: str) -> str:
    """A bare path means a SQLite file; anything with ``://`` is a SQLAlchemy URL."""
    return value if "://" in value else f"sqlite:///{value}"


def settings_from(
    config: Path | None, url: str | None = None, username: str | None = None, db: str | None = None
) -> Settings:
    flags = {
        "la": {"url": url, "username": username},
        "store": {"database_url": db and database_url(db)},
    }
    return load_settings(flags, os.environ, config)


def _exit_code(exc: LabridgeError) -> int:
    if isinstance(exc, ConfigurationError):
        return EXIT_CONFIG
    if isinstance(exc, (TransportError, AuthenticationError, ProtocolError)):
        return EXIT_LA
    if isinstance(exc, RefusedError):
        return EXIT_FAILED_RECORDS
    return EXIT_LA


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn labridge's errors into one clear message on stderr and the documented exit code."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except LabridgeError as exc:
            console.err.print(f"[bold red]error:[/bold red] {exc.args[0] if exc.args else exc}")
            if exc.hint:
                console.err.print(f"[yellow]what to do:[/yellow] {exc.hint}")
            raise typer.Exit(_exit_code(exc)) from None

    return wrapper


def _logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run(coro: Coroutine[Any, Any, R]) -> R:
    return asyncio.run(coro)


def make_client(settings: Settings) -> AsyncClient:
    la = settings.require_la()
    return AsyncClient(la.url, la.username, la.password.get_secret_value(), timeout=la.timeout)


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
    text = render_config(url or "", username or "", database_url(db) if db else None)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    console.err.print(
        f"Wrote [bold]{path}[/bold]. Fill in [la] url and username, and set "
        "LABRIDGE_PASSWORD in the environment."
    )


@app.command("sync")
@handles_errors
def sync_command(
    config: ConfigOpt = None,
    url: UrlOpt = None,
    username: UserOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Pull LA's reference data (courses and units, trainers, companies, nationalities,
    ethnicities) and its candidates into the local store.

    Upserts by natural key; rows that vanished from LA are marked removed, not deleted. Run it
    again with nothing changed and it writes nothing.
    """
    _logging(verbose)
    settings = settings_from(config, url, username, db)
    report = run_sync(settings, quiet=as_json)
    if as_json:
        console.print_json(report.as_dict())
    else:
        console.out.print(console.sync_table(report))
        if not report.changed:
            console.out.print("Nothing changed since the last sync.")


def run_sync(settings: Settings, *, quiet: bool = False) -> sync_workflow.SyncReport:
    """The sync workflow with a progress bar: shared by ``sync``, ``demo`` and later ``run``."""
    names = sync_workflow.fetch_names()
    db = store.open_store(settings.store.database_url)

    async def go() -> sync_workflow.SyncReport:
        with console.progress("Fetching from LA", total=len(names) + 1, quiet=quiet) as bar:

            def fetched(name: str) -> None:
                bar.advance(f"Fetched {name}")

            async with make_client(settings) as client:
                report = await sync_workflow.sync(client, db, on_fetched=fetched)
            bar.advance("Stored")
            return report

    try:
        return run(go())
    finally:
        db.close()


@app.command()
@handles_errors
def status(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show what the local store holds and when it last synced."""
    settings = settings_from(config, db=db)
    data = read_status(settings)
    if as_json:
        console.print_json(data)
    else:
        console.out.print(console.status_table(data))
        console.out.print(console.last_sync_line(data))


def read_status(settings: Settings) -> dict[str, Any]:
    db = store.open_store(settings.store.database_url)
    try:
        with db.session() as session:
            return store.status(session)
    finally:
        db.close()


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
    password: Annotated[str, typer.Option(help="Its password.")] = SANDBOX_PASSWORD,
) -> None:
    """Serve the LA sandbox: every .cfc service of the contract, WSDLs at ?wsdl, and
    /_sandbox/stats. Point labridge at it with LABRIDGE_URL=http://HOST:PORT."""
    from .sandbox.server import serve

    console.err.print(
        f"LA sandbox on [bold]http://{host}:{port}[/bold] (user {username!r}); Ctrl+C stops it.\n"
        f"Try: LABRIDGE_URL=http://{host}:{port} LABRIDGE_USERNAME={username} "
        "LABRIDGE_PASSWORD=... labridge sync"
    )
    serve(host, port, database_url(db) if db else "sqlite://", username, password)


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
