"""``labridge demo``: the whole workflow against the embedded sandbox.

It starts the sandbox on a free loopback port with a temporary database, points labridge at it
exactly as a user points it at LA (URL, user, password, store), and runs the same functions the
commands run: sync, status, the sample MIS export enrolled (dry run, real run, a repeat that
enrols nobody twice) and the list of what needs fixing, progress pulled as the sandbox's clock
moves on, the HTML progress report, and one learner's changed e-mail pushed with update. The
databases live in a temporary directory (or ``--keep DIR``); the report is written to the current
directory (or DIR).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import httpx
from rich.panel import Panel

from .. import reports
from ..config import LASettings, Settings, StoreSettings
from ..errors import ConfigurationError
from ..sandbox.app import STATS_PATH
from ..sandbox.clock import CLOCK_PATH
from ..sandbox.defaults import SANDBOX_PASSWORD, SANDBOX_USERNAME
from ..sandbox.server import start_background
from ..workflows import enrol, update
from . import console, local_store, operations


def examples_dir() -> Path:
    """The sample files: inside the installed wheel, or ``examples/`` of a source checkout."""
    package = Path(__file__).parents[1]  # labridge/
    packaged = package / "examples"
    return packaged if packaged.is_dir() else package.parents[1] / "examples"


def _enrolment_tour(settings: Settings) -> None:
    out = console.out
    sample = examples_dir() / "learners.csv"
    spec = operations.SourceSpec.build(sample)
    out.rule(f"4. Enrolment plan for the sample MIS export ({sample.name}): a dry run")
    report, names = operations.enrol(settings, spec, enrol.Options(dry_run=True))
    out.print(console.enrol_table(report, names))
    out.print(console.enrol_summary(report))
    out.rule("5. Enrol for real, sending LA's welcome e-mails")
    options = enrol.Options(send_login_details=True)
    report, names = operations.enrol(settings, spec, options)
    out.print(console.enrol_summary(report))
    out.rule("6. The same command again: nobody is enrolled twice")
    report, names = operations.enrol(settings, spec, options)
    out.print(console.enrol_summary(report))
    out.rule("7. What needs fixing in the MIS (labridge enrolments --problems)")
    items, learners, names = local_store.problems(settings)
    url = settings.store.database_url
    console.show_problems(items, learners, url, as_json=False, names=names)


def _progress_tour(settings: Settings, sandbox_url: str, report_dir: Path) -> Path:
    """Pull progress, move the sandbox's clock on a month at a time and pull again, so the
    history has something to show; then write the HTML report as of the sandbox's date."""
    out = console.out

    def pull() -> None:
        # The history is dated by the sandbox's clock, which the demo moves on, not the wall's.
        now = datetime.fromisoformat(httpx.get(f"{sandbox_url}{CLOCK_PATH}").json()["now"])
        out.print(
            console.pull_table(operations.progress_pull(settings, full=True, clock=lambda: now))
        )

    out.rule("8. Pull every learner's progress from LA")
    pull()
    for month in (1, 2, 3):
        out.rule(f"9.{month} A month passes in the sandbox; pull again (only changes are stored)")
        httpx.post(f"{sandbox_url}{CLOCK_PATH}", json={"advance_days": 30}).raise_for_status()
        pull()
    today = date.fromisoformat(httpx.get(f"{sandbox_url}{CLOCK_PATH}").json()["now"][:10])
    report = local_store.progress_report(settings, today)
    path = report_dir / "labridge-demo-report.html"
    local_store.write_report(path, reports.render_progress(report, reports.ReportFormat.html))
    return path


def _update_tour(settings: Settings, workdir: Path) -> None:
    """Update from the export as it is: labridge pushes what LA cannot show it for the learner it
    found already in LA. Then one learner's e-mail changes in the MIS: only that is sent."""
    out = console.out
    sample = examples_dir() / "learners.csv"
    out.rule("10. Update from the same export: only what LA may not have yet is sent")
    _show_updated(
        *operations.update(settings, operations.SourceSpec.build(sample), update.Options())
    )
    changed = workdir / "learners-changed.csv"
    rows = sample.read_text(encoding="utf-8").splitlines(keepends=True)
    learner = rows[1].split(",")
    learner[5] = learner[5].replace("@example.org", "@mail.example.com")
    rows[1] = ",".join(learner)
    changed.write_text("".join(rows), encoding="utf-8")
    out.rule(f"11. {learner[1]} {learner[2]}'s e-mail changed in the MIS: push only that")
    _show_updated(
        *operations.update(settings, operations.SourceSpec.build(changed), update.Options())
    )


def _show_updated(report: update.UpdateReport, names: dict[str, str]) -> None:
    shown = [r for r in report.records if r.outcome == "updated"]
    console.out.print(console.update_table(replace(report, records=shown), names))
    console.out.print(console.update_summary(report))


def run_demo(keep: Path | None = None) -> None:
    if keep is not None:
        try:
            keep.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot use {keep} for the demo's store: {exc.strerror or exc}",
                hint="give --keep a directory (it is created if missing)",
            ) from None
        _tour(keep, keep)
    else:
        with tempfile.TemporaryDirectory(prefix="labridge-demo-") as tmp:
            _tour(Path(tmp), None)


def _tour(workdir: Path, keep_dir: Path | None) -> None:
    out = console.out
    sandbox_db = f"sqlite:///{workdir / 'sandbox.db'}"
    with start_background(
        database_url=sandbox_db,
        username=SANDBOX_USERNAME,
        password=SANDBOX_PASSWORD,
        test_hooks=True,  # the tour moves the sandbox's clock on
    ) as sandbox:
        settings = Settings(
            la=LASettings(url=sandbox.url, username=SANDBOX_USERNAME, password=SANDBOX_PASSWORD),
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
        out.print(console.sync_table(operations.sync(settings)))
        out.rule("2. Sync again: nothing changed, so nothing is written")
        again = operations.sync(settings)
        out.print(console.sync_table(again))
        out.print("Changes on the second run: " + ("[red]some[/red]" if again.changed else "none"))
        out.rule("3. What the store holds")
        status = local_store.status(settings)
        out.print(console.status_table(status))
        out.print(console.last_sync_line(status))
        _enrolment_tour(settings)
        report_path = _progress_tour(settings, sandbox.url, keep_dir or Path.cwd())
        _update_tour(settings, workdir)
        out.rule("What the sandbox saw")
        stats = httpx.get(sandbox.url + STATS_PATH, timeout=10).json()
        out.print(console.calls_table(stats))
        out.print(
            f"Candidates in LA: {stats['candidates']}; learners enrolled twice: "
            f"{stats['duplicate_source_ids']}; welcome e-mails sent: {stats['welcome_emails']}"
        )
    out.print(f"\nProgress report (open it in a browser): [bold]{report_path}[/bold]")
    out.print(
        "Next: [bold]labridge init[/bold] writes a labridge.toml for your real LA site, and "
        "[bold]labridge sandbox serve[/bold] keeps a sandbox running to try commands against."
    )
