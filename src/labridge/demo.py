"""``labridge demo``: the whole workflow against the embedded sandbox.

It starts the sandbox on a free loopback port with a temporary database, points labridge at it
exactly as a user points it at LA (URL, user, password, store), and runs the same functions the
commands run: sync, status, then the sample MIS export enrolled (dry run, real run, a repeat
that enrols nobody twice) and the list of what needs fixing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from rich.panel import Panel

from . import cli, console
from .config import LASettings, Settings, StoreSettings
from .sandbox.app import STATS_PATH
from .sandbox.server import start_background
from .workflows import enrol


def examples_dir() -> Path:
    """The sample files: inside the installed wheel, or ``examples/`` of a source checkout."""
    packaged = Path(__file__).parent / "examples"
    return packaged if packaged.is_dir() else Path(__file__).parents[2] / "examples"


def _enrolment_tour(settings: Settings) -> None:
    out = console.out
    sample = examples_dir() / "learners.csv"
    spec = cli.SourceSpec.build(sample, None, None, None)
    out.rule(f"4. Enrolment plan for the sample MIS export ({sample.name}): a dry run")
    report, names = cli.run_enrol(settings, spec, enrol.Options(dry_run=True))
    out.print(console.enrol_table(report, names))
    out.print(console.enrol_summary(report))
    out.rule("5. Enrol for real, sending LA's welcome e-mails")
    options = enrol.Options(send_login_details=True)
    report, names = cli.run_enrol(settings, spec, options)
    out.print(console.enrol_summary(report))
    out.rule("6. The same command again: nobody is enrolled twice")
    report, names = cli.run_enrol(settings, spec, options)
    out.print(console.enrol_summary(report))
    out.rule("7. What needs fixing in the MIS (labridge enrolments)")
    entries, names = cli.read_journal(settings)
    todo = [e for e in entries if e.state in ("invalid", "refused")]
    out.print(console.journal_table(todo, names))


def run_demo(keep: Path | None = None) -> None:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        _tour(keep)
    else:
        with tempfile.TemporaryDirectory(prefix="labridge-demo-") as tmp:
            _tour(Path(tmp))


def _tour(workdir: Path) -> None:
    out = console.out
    sandbox_db = f"sqlite:///{workdir / 'sandbox.db'}"
    with start_background(
        database_url=sandbox_db, username=cli.SANDBOX_USER, password=cli.SANDBOX_PASSWORD
    ) as sandbox:
        settings = Settings(
            la=LASettings(
                url=sandbox.url, username=cli.SANDBOX_USER, password=cli.SANDBOX_PASSWORD
            ),
            store=StoreSettings(database_url=f"sqlite:///{workdir / 'labridge.db'}"),
        )
        out.print(
            Panel.fit(
                f"Learning Assistant sandbox running at [bold]{sandbox.url}[/bold]\n"
                f"labridge store: [bold]{settings.store.database_url}[/bold]",
                title="labridge demo",
            )
        )
        out.rule("1. Sync reference data and candidates from LA")
        out.print(console.sync_table(cli.run_sync(settings)))
        out.rule("2. Sync again: nothing changed, so nothing is written")
        again = cli.run_sync(settings)
        out.print(console.sync_table(again))
        out.print("Changes on the second run: " + ("[red]some[/red]" if again.changed else "none"))
        out.rule("3. What the store holds")
        status = cli.read_status(settings)
        out.print(console.status_table(status))
        out.print(console.last_sync_line(status))
        _enrolment_tour(settings)
        out.rule("What the sandbox saw")
        stats = httpx.get(sandbox.url + STATS_PATH, timeout=10).json()
        out.print(console.calls_table(stats))
        out.print(
            f"Candidates in LA: {stats['candidates']}; learners enrolled twice: "
            f"{stats['duplicate_source_ids']}; welcome e-mails sent: {stats['welcome_emails']}"
        )
    out.print(
        "\nNext: [bold]labridge init[/bold] writes a labridge.toml for your real LA site, and "
        "[bold]labridge sandbox serve[/bold] keeps a sandbox running to try commands against."
    )
