"""``labridge demo``: the whole workflow against the embedded sandbox.

It starts the sandbox on a free loopback port with a temporary database, points labridge at it
exactly as a user points it at LA (URL, user, password, store), and runs the same functions the
commands run. Later issues add enrolment, updates and progress to the tour.
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
        out.rule("4. What the sandbox saw")
        stats = httpx.get(sandbox.url + STATS_PATH, timeout=10).json()
        out.print(console.calls_table(stats))
    out.print(
        "\nNext: [bold]labridge init[/bold] writes a labridge.toml for your real LA site, and "
        "[bold]labridge sandbox serve[/bold] keeps a sandbox running to try commands against."
    )
