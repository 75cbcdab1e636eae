"""Rendering for the CLI: Rich tables and progress, and JSON. No business logic here."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
)
from rich.table import Table

from .workflows.sync import SyncReport

#: Human output goes to stderr when stdout carries JSON, so that ``--json | jq`` always works.
out = Console()
err = Console(stderr=True)


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


class Steps:
    """One task of a progress bar, advanced by name."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def advance(self, description: str, by: int = 1) -> None:
        self._bar.update(self._task, advance=by, description=description)


@contextmanager
def progress(description: str, total: int, *, quiet: bool = False) -> Iterator[Steps]:
    """A progress bar on stderr (hidden with ``quiet``)."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=quiet,
        transient=True,
    )
    with bar:
        yield Steps(bar, bar.add_task(description, total=total))


def sync_table(report: SyncReport) -> Table:
    table = Table(title="Sync with Learning Assistant", title_justify="left")
    table.add_column("set")
    for col in ("added", "changed", "removed", "total"):
        table.add_column(col, justify="right")
    for name, counts in report.as_dict().items():
        table.add_row(name, *(_num(counts[k]) for k in ("added", "changed", "removed", "total")))
    return table


def _num(n: int) -> str:
    return f"[bold]{n}[/bold]" if n else "[dim]0[/dim]"


def status_table(status: Mapping[str, Any]) -> Table:
    table = Table(title="What the store holds", title_justify="left")
    table.add_column("set")
    table.add_column("present", justify="right")
    table.add_column("removed in LA", justify="right")
    for name, counts in status["sets"].items():
        table.add_row(name, str(counts["present"]), str(counts["removed"]))
    return table


def last_sync_line(status: Mapping[str, Any]) -> str:
    run = status.get("last_sync")
    if not run:
        return "Never synced: run [bold]labridge sync[/bold]."
    finished = run.get("finished_at") or "not finished"
    return f"Last sync: started {run['started_at']}, finished {finished}, {run['status']}."


def calls_table(stats: Mapping[str, Any]) -> Table:
    """The sandbox's call counters: proof of what went over the wire."""
    table = Table(title="Calls the sandbox answered", title_justify="left")
    table.add_column("operation")
    table.add_column("calls", justify="right")
    for op, n in sorted(stats.get("calls", {}).items()):
        table.add_row(op, str(n))
    return table
