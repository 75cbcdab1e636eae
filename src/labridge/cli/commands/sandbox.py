"""``labridge sandbox serve``: the offline LA."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from ...errors import ConfigurationError
from ...sandbox.defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME, Dialect
from .. import console
from ..options import ContractOpt, database_url
from ..shell import handles_errors


@handles_errors
def sandbox_serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Sandbox database file (default: in memory, gone on exit)."),
    ] = None,
    username: Annotated[str, typer.Option(help="Web-service user to accept.")] = SANDBOX_USERNAME,
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
    seed_candidates: Annotated[
        int,
        typer.Option("--seed-candidates", min=0, metavar="N",
                     help="Add N generated learners to the seed, spread over --seed-courses "
                     "generated courses that each have a QAN: a big centre (e.g. 100000)."),
    ] = 0,
    seed_courses: Annotated[
        int,
        typer.Option("--seed-courses", min=1, metavar="M", help="Courses of --seed-candidates."),
    ] = 300,
    centres: Annotated[
        int,
        typer.Option("--centres", min=0, max=999, metavar="N",
                     help="N separate LA centres on one host, at /centre-01 ... /centre-NN; each "
                     "with its own learners and every other option; for trying the fleet. With "
                     "--db FILE, centre 3's database is FILE-centre-03 beside it "
                     "(sandbox-centre-03.db). 0: one centre at the root."),
    ] = 0,
    contract_file: ContractOpt = None,
) -> None:  # fmt: skip
    """Serve the LA sandbox: every .cfc service of the contract, WSDLs at ?wsdl, and
    /_sandbox/stats. Point labridge at it with LABRIDGE_URL=http://HOST:PORT. With --contract,
    it speaks the overridden names (to try a contract file, or to play an LA that differs).
    The test hooks answer 404 unless --test-hooks is given. It is a test server: a --host that
    is not loopback gets a warning.

    Random faults (--fail-rate, --drop-rate, --slow-rate) meet every operation except
    Authenticate; --latency-ms applies to every call. /_sandbox/stats counts them all under
    faults_fired.

    With --centres N it serves N separate LA centres on one host, at /centre-01 ... each with
    its own learners (and every option above): for trying the fleet against one LA host."""
    from ... import contract, overrides
    from ...sandbox.centres import centre_name
    from ...sandbox.faults import BadFault
    from ...sandbox.seed import Generated
    from ...sandbox.server import NOT_LOOPBACK_WARNING, is_loopback, serve

    faults: dict[str, Any] = {
        "latency_ms": latency_ms, "fail_rate": fail_rate, "drop_rate": drop_rate,
        "slow_rate": slow_rate, "slow_ms": slow_ms, "token_ttl": token_ttl,
        "fault_seed": fault_seed, "test_hooks": test_hooks, "read_timeout": read_timeout,
        "max_body_mib": max_body_mib,
        "generated": Generated(seed_candidates, seed_courses) if seed_candidates else None,
    }  # fmt: skip
    if not is_loopback(host):
        message = NOT_LOOPBACK_WARNING.format(host=host)
        console.err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")

    if contract_file is not None:
        where = f"[contract] ({contract_file})"
        contract.activate(overrides.effective(overrides.load_file(contract_file), where))

    root = f"http://{host}:{port}"
    if centres:
        faults["centres"] = centres
        faults["database_urls"] = _centre_databases(db, centres)
        first, last = centre_name(1, centres), centre_name(centres, centres)
        console.err.print(
            f"{centres} LA centres on one sandbox host: [bold]{root}/{first}[/bold] ... "
            f"[bold]{root}/{last}[/bold] (user {username!r}, {dialect.value} dialect; host "
            f"figures at {root}/_sandbox/stats); Ctrl+C stops it.\n"
            f"Try: LABRIDGE_URL={root}/{first} LABRIDGE_USERNAME={username} "
            "LABRIDGE_PASSWORD=... labridge sync"
        )
    else:
        console.err.print(
            f"LA sandbox on [bold]{root}[/bold] (user {username!r}, "
            f"{dialect.value} dialect); Ctrl+C stops it.\n"
            f"Try: LABRIDGE_URL={root} LABRIDGE_USERNAME={username} "
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


def _centre_databases(db: str | None, centres: int) -> list[str] | None:
    """The database URLs of ``centres`` centres: each in memory, or each a file beside ``db``."""
    if db is None:
        return None
    if "://" in db:
        raise ConfigurationError(
            "--db with --centres takes a file (each centre's database is a file beside it), "
            "not a URL",
            hint="give a path such as --db sandbox.db, or leave --db out (each in memory)",
        )
    from ...sandbox.centres import centre_file

    return [database_url(str(centre_file(db, i, centres))) for i in range(1, centres + 1)]
