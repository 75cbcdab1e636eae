"""The fleet (docs/fleet.md): ``labridge tenants list|check``, ``labridge worker``,
``labridge schedule`` and ``labridge fleet status|report``. They need ``pip install
'labridge[fleet]'`` (procrastinate); single-centre use (``labridge run``) never loads them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .. import console
from ..options import JsonOpt, VerboseOpt
from ..shell import EXIT_FAILED_RECORDS, handles_errors, log_verbosity

if TYPE_CHECKING:
    from ..fleet.tenants import Fleet

TenantsOpt = Annotated[
    Path | None,
    typer.Option(
        "--tenants",
        envvar="LABRIDGE_TENANTS",
        help="The tenants file (default: ./tenants.toml): the fleet's database and one "
        "[[tenants]] table per LA centre (docs/fleet.md).",
        show_default=False,
    ),
]


def _fleet(path: Path | None) -> Fleet:
    """The tenants file, read and checked; first, that the fleet's extra is installed."""
    import importlib.util

    from ...errors import ConfigurationError
    from ..fleet.tenants import load_fleet

    if importlib.util.find_spec("procrastinate") is None:
        raise ConfigurationError(
            "the fleet needs procrastinate, which this labridge was installed without",
            hint="pip install 'labridge[fleet]'",
        )
    return load_fleet(path)


@handles_errors
def tenants_list(tenants: TenantsOpt = None, as_json: JsonOpt = False) -> None:
    """List the tenants of the tenants file, checked: each one's LA site and user, where its
    password comes from (never the password), its store, queue and schedule."""
    fleet = _fleet(tenants)
    rows = [_described(t) for t in fleet.tenants]
    if as_json:
        console.print_json({"tenants_file": str(fleet.path), "tenants": rows})
        return
    console.out.print(console.rows_table(
        f"{len(rows)} tenants in {fleet.path}", rows,
        ("name", "la_url", "username", "password_from", "store", "queue", "schedule", "sources"),
    ))  # fmt: skip


def _described(tenant: Any) -> dict[str, Any]:
    from ... import dburl
    from ...logmask import mask

    settings = tenant.settings
    run = settings.run
    every = f"every {run.every_minutes:g} min"
    return {
        "name": tenant.name,
        "la_url": mask(settings.la.url),
        "la_host": tenant.la_host,
        "username": settings.la.username,
        "password_from": tenant.password_from,
        "store": dburl.shown(tenant.store_url),
        "queue": tenant.queue,
        "schedule": f"cron {run.cron!r} ({run.timezone})" if run.cron else every,
        "sources": len(settings.run.sources),
    }


@handles_errors
def tenants_check(
    tenants: TenantsOpt = None,
    create: Annotated[
        bool,
        typer.Option(
            "--create", help="Make each missing store (a PostgreSQL database per tenant)."
        ),
    ] = False,
    doctor: Annotated[
        bool,
        typer.Option(
            "--doctor/--no-doctor", help="Run `labridge doctor`'s checks against each tenant's LA."
        ),
    ] = True,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = 0,
) -> None:
    """Check every tenant: its settings, its store (made with --create), and `labridge doctor`'s
    checks of its LA site (reachable, TLS, clock, the web-service user's login, the WSDLs held
    against the contract). Exit code 1 when a tenant fails a check."""
    from ..fleet import checks

    log_verbosity(verbose)
    fleet = _fleet(tenants)
    if create:
        checks.prepare_fleet(fleet)
    results = checks.check_all(fleet, create=create, doctor=doctor)
    if as_json:
        console.print_json({"tenants_file": str(fleet.path), "tenants": results})
    else:
        console.out.print(console.rows_table(f"{len(results)} tenants checked", results,
                                             ("name", "status", "store", "la")))  # fmt: skip
    if any(r["status"] != "ok" for r in results):
        raise typer.Exit(EXIT_FAILED_RECORDS)


@handles_errors
def worker(
    tenants: TenantsOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64,
                           help="Steps this worker runs at once (each its own tenant).")] = 4,
    queues: Annotated[str | None, typer.Option("--queues", help="Only these queues, comma "
                      "separated (a tenant's queue is [fleet] queue or its own).")] = None,
    schedule: Annotated[bool, typer.Option("--schedule/--no-schedule", help="Also defer the "
                        "due cycles (any number of workers may: each cycle is deferred once)."
                        )] = True,
    name: Annotated[str | None, typer.Option("--name", help="This worker's name in the log "
                    "(default: host-pid).")] = None,
    until_empty: Annotated[bool, typer.Option("--until-empty", help="Stop when no job is "
                           "left (for tests and catch-up runs).")] = False,
    verbose: VerboseOpt = 0,
) -> None:  # fmt: skip
    """Run the fleet's jobs: each tenant's cycle steps, from the queue in PostgreSQL.

    The steps are those of `labridge run` (sync, enrol and update per source, progress pull),
    one job each. Start as many workers as you like, on as many machines:
    a tenant's steps never run two at once, a failed step is retried with backoff, a worker
    killed mid-step loses nothing (another runs the step again, and the enrolment journal keeps
    it exactly-once). SIGTERM or Ctrl+C: the steps under way finish, then it stops."""
    from ..fleet.worker import work

    log_verbosity(verbose, run=True)
    fleet = _fleet(tenants)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] if queues else None
    asyncio.run(work(fleet, concurrency=concurrency, queues=chosen, schedule=schedule,
                     name=name, wait=not until_empty))  # fmt: skip


@handles_errors
def schedule_command(
    tenants: TenantsOpt = None,
    once: Annotated[bool, typer.Option("--once", help="Defer the cycles due now, then exit "
                    "(for cron).")] = False,
    now: Annotated[bool, typer.Option("--now", help="Defer a cycle of every tenant (or of "
                   "--tenant) now, due or not, then exit.")] = False,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    verbose: VerboseOpt = 0,
) -> None:  # fmt: skip
    """Defer each tenant's cycle as jobs when its schedule says.

    A tenant's schedule is its [run] cron (in its time zone) or every_minutes. Workers schedule
    too unless --no-schedule; this is for a fleet whose workers do not, or for a cycle now
    (--now). Each due cycle is deferred once, however many schedulers run."""
    from ..fleet.worker import schedule, schedule_forever

    log_verbosity(verbose, run=True)
    fleet = _fleet(tenants)
    if not (once or now):
        asyncio.run(schedule_forever(fleet))
        return
    done = asyncio.run(schedule(fleet, force=now, only=tenant))
    for name, steps in done.items():
        console.out.print(
            f"{name}: deferred {', '.join(steps) or 'nothing (its steps still wait)'}"
        )
    if not done:
        console.out.print("no cycle was due")


@handles_errors
def fleet_status(tenants: TenantsOpt = None, as_json: JsonOpt = False) -> None:
    """The queue's health per tenant: the last successful cycle and the next, jobs waiting,
    running and failed with the last error, learners enrolled and records needing attention;
    and the limits of calls per LA host. Exit code 1 when a tenant has failed jobs."""
    from ..fleet.status import fleet_status as read

    fleet = _fleet(tenants)
    status = asyncio.run(read(fleet))
    if as_json:
        console.print_json(status)
    else:
        console.out.print(console.fleet_table(status))
        console.out.print(console.fleet_summary_line(status))
    if any(t["failed"] for t in status["tenants"]):
        raise typer.Exit(EXIT_FAILED_RECORDS)


@handles_errors
def fleet_report(
    tenants: TenantsOpt = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the page.")] = Path(
        "fleet.html"
    ),
) -> None:
    """Write the queue's health as one self-contained HTML page (no network needed to read it)."""
    from ...reports import fleet_html
    from ..fleet.status import fleet_status as read
    from ..local_store import write_report

    fleet = _fleet(tenants)
    status = asyncio.run(read(fleet))
    write_report(output, fleet_html(status))
    console.out.print(f"wrote {output}: {console.fleet_summary_line(status)}")
