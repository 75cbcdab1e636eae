"""Rendering for the CLI: Rich tables and progress, and JSON. No business logic here."""

from __future__ import annotations

import itertools
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import LabridgeError, Problem
from ..logmask import mask

if TYPE_CHECKING:  # rendering needs the workflows' reports, not their imports (start-up time)
    from rich.progress import Progress, TaskID

    from ..doctor import Report as DoctorReport
    from ..overrides import Item
    from ..reports.problems import Item as TodoItem
    from ..store.duplicates import Duplicate
    from ..store.erase import ErasureReport
    from ..store.journal import Entry
    from ..workflows.enrol import EnrolReport
    from ..workflows.pull import PullReport
    from ..workflows.sync import SyncReport
    from ..workflows.update import UpdateReport
    from .cycle_report import CycleReport

#: Human output goes to stderr when stdout carries JSON, so that ``--json | jq`` always works.
out = Console()
err = Console(stderr=True)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON to stdout, piece by piece: objects laid out a member a line (two
    levels deep), each item of a list (a record, say) on one line by the json module's C
    encoder. No Rich (which took 13 s and 605 MB to highlight 20,000 records), no whole document
    in memory, and ``jq`` or ``grep`` can take it a record a line."""
    stream = sys.stdout
    _write_json(stream, data, 0)
    stream.write("\n")
    stream.flush()


#: Levels of objects laid out a member a line; anything deeper is one compact line.
_LAID_OUT = 2


def _write_json(stream: Any, data: Any, depth: int) -> None:
    if depth >= _LAID_OUT or not isinstance(data, dict | list) or not data:
        stream.write(json.dumps(data, default=str))
        return
    inner = "  " * (depth + 1)
    if isinstance(data, list):  # one item a line
        stream.write("[\n" + inner)
        for i, item in enumerate(data):
            stream.write(f",\n{inner}{json.dumps(item, default=str)}" if i else
                         json.dumps(item, default=str))  # fmt: skip
    else:
        stream.write("{")
        for i, (key, value) in enumerate(data.items()):
            stream.write(f"{',' if i else ''}\n{inner}{json.dumps(str(key))}: ")
            _write_json(stream, value, depth + 1)
    stream.write("\n" + "  " * depth + ("]" if isinstance(data, list) else "}"))


def error_json(exc: LabridgeError, exit_code: int) -> dict[str, Any]:
    """What ``--json`` prints for a command that stopped on ``exc``: the records it finished
    (``exc.partial``, when a workflow set it) and an ``error`` member. The message is labridge's
    own, which names no learner (the hint says what to do)."""
    done: dict[str, Any] = exc.partial.as_dict() if exc.partial is not None else {}
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    return {**done, "error": {"message": message, "exit_code": exit_code, "hint": exc.hint}}


class Steps:
    """One task of a progress bar, advanced by name."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def advance(self, description: str, by: int = 1) -> None:
        # Descriptions name learners from the source: never markup.
        self._bar.update(self._task, advance=by, description=escape(description))


@contextmanager
def progress(description: str, total: int, *, quiet: bool = False) -> Iterator[Steps]:
    """A progress bar on stderr (hidden with ``quiet``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

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


def activity_lines(status: Mapping[str, Any]) -> list[str]:
    """Enrolment states and progress, under the table of sets."""
    states = status.get("enrolments", {})
    found = status.get("enrolled_found_in_la", 0)
    shown = ", ".join(_state_count(s, n, found) for s, n in states.items() if n) or "none yet"
    pulled = status.get("progress", {})
    progress_line = (
        f"Progress: {pulled['learners']} learners, {pulled['history_rows']} history rows, "
        f"last pulled {pulled['last_pull']}"
        + (f", [red]{pulled['failing']} failing[/red]" if pulled.get("failing") else "")
        if pulled.get("last_pull")
        else "Progress: never pulled (labridge progress pull)."
    )
    lines = [f"Enrolments (labridge's journal): {shown}.", progress_line]
    if states.get("uncertain"):
        lines.append(
            f"[bold yellow]{states['uncertain']} uncertain[/bold yellow]: LA may have enrolled "
            "them; labridge looks again after the settle window ([bold]labridge enrolments[/bold]"
            " lists them)."
        )
    return lines


def _state_count(state: str, n: int, found_in_la: int) -> str:
    """ "43 enrolled (42 by labridge, 1 already in LA)": an enrol run counts the last as skipped."""
    if state == "enrolled" and found_in_la:
        return f"{n} enrolled ({n - found_in_la} by labridge, {found_in_la} already in LA)"
    return f"{n} {state}"


def where_line(status: Mapping[str, Any]) -> str:
    """Which settings file and which store ``labridge status`` read."""
    config = status.get("config") or "none (no labridge.toml here)"
    return f"Config: {escape(config)}\nStore: {escape(str(status.get('store', '')))}"


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


_OUTCOME_STYLE = {
    "enrolled": "green",
    "would_enrol": "cyan",
    "skipped": "dim",
    "uncertain": "bold yellow",
    "refused": "red",
    "invalid": "yellow",
}


#: Rows a table shows. Past it, the rows that need a person come first and the caption says how
#: many more there are and where to see them all: 20,000 rows took Rich 40 s to lay out, and a
#: terminal of them helps nobody (``--json`` and ``--csv`` hold every row).
TABLE_ROWS = 300
#: The outcomes a person must act on, shown before the others when a table is cut short.
NEEDS_PERSON = frozenset({"invalid", "refused", "uncertain", "not_enrolled"})

T = TypeVar("T")


def rows_table(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> Table:
    """A plain table of ``rows`` (dicts), one column per key of ``columns``, titled."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(
            *(escape(str(row.get(c, "")) if row.get(c) is not None else "") for c in columns)
        )
    return table


def table_rows(rows: Sequence[T], outcome: Callable[[T], str]) -> tuple[list[T], int]:
    """The rows a table shows, at most :data:`TABLE_ROWS`, those that need a person first (in
    source order within each kind), and how many it leaves out."""
    if len(rows) <= TABLE_ROWS:
        return list(rows), 0
    first = list(itertools.islice((r for r in rows if outcome(r) in NEEDS_PERSON), TABLE_ROWS))
    room = TABLE_ROWS - len(first)
    rest = list(itertools.islice((r for r in rows if outcome(r) not in NEEDS_PERSON), room))
    return first + rest, len(rows) - len(first) - len(rest)


def _cut(table: Table, hidden: int, everything: str) -> Table:
    if hidden:
        table.caption = f"… and {hidden:,} more rows not shown: {everything} lists every row."
        table.caption_justify = "left"
    return table


def enrol_table(report: EnrolReport, course_names: Mapping[str, str]) -> Table:
    """One line per record: outcome, course, candidate, and every problem (or the skip reason);
    past :data:`TABLE_ROWS`, those to fix first and a caption pointing to ``--json``."""
    title = "Enrolment plan (dry run: nothing sent)" if report.dry_run else "Enrolment"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("learner")
    table.add_column("where")
    table.add_column("outcome")
    table.add_column("course")
    table.add_column("details")
    shown, hidden = table_rows(report.records, lambda r: r.outcome)
    for rec in shown:
        style = _OUTCOME_STYLE.get(rec.outcome, "")
        details = problems_text(rec.problems) or escape(rec.reason or rec.candidate_uuid)
        table.add_row(
            escape(rec.source_id),
            escape(rec.origin),
            f"[{style}]{rec.outcome}[/{style}]",
            escape(course_names.get(rec.course, rec.course)),
            details,
        )
    return _cut(table, hidden, "the same command with --json (or labridge enrolments --csv FILE)")


def problems_text(problems: Sequence[Problem], names: Mapping[str, str] | None = None) -> str:
    """One line per problem for a table cell. Messages quote the source's own values, which may
    hold anything, brackets included: they are escaped so Rich never reads them as markup. A
    UUID the store can name (``names``) is named."""
    return "\n".join(
        f"[bold]{escape(p.field)}[/bold] ({escape(p.code)}): "
        f"{escape(name_uuids(p.message, names or {}))}"
        for p in problems
    )


_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


def name_uuids(text: str, names: Mapping[str, str]) -> str:
    """``text`` with each UUID ``names`` knows written as ``Name (3f2a1b2c…)``; LA's messages
    quote UUIDs (a CompanyUUID it refused, say), which a person cannot read."""
    if not names:
        return text
    return _UUID.sub(lambda m: named(names.get(m.group(0), ""), m.group(0)), text)


def enrol_summary(report: EnrolReport) -> str:
    return "Records: " + report.counts_line(empty="none")


def journal_table(
    entries: Sequence[Entry],
    course_names: Mapping[str, str],
    settle: timedelta | None = None,
) -> Table:
    """The journal, a row per learner; ``settle``: how long an uncertain enrolment waits before
    labridge looks in LA (default: the workflow's)."""
    if settle is None:
        from ..workflows.enrol import SETTLE_SECONDS

        settle = timedelta(seconds=SETTLE_SECONDS)
    table = Table(title="Latest enrolment outcome per learner", title_justify="left")
    for col in ("learner", "course", "state", "candidate", "where", "what to fix"):
        table.add_column(col)
    shown, hidden = table_rows(entries, lambda e: e.state)
    for e in shown:
        style = _OUTCOME_STYLE.get(e.state, "")
        table.add_row(
            escape(e.source_id),
            escape(course_names.get(e.course, e.course)),
            f"[{style}]{e.state}[/{style}]",
            escape(e.candidate_uuid or ""),
            escape(e.origin),
            _to_check(e, settle) or problems_text(e.problems),
        )
    return _cut(table, hidden, "labridge enrolments --json (or --csv FILE)")


def problems_table(items: Sequence[TodoItem], names: Mapping[str, str] | None = None) -> Table:
    """The to-do list: one line per problem, with the field, what is wrong and the fix."""
    names = names or {}
    table = Table(title=f"What needs fixing: {len(items)} problems", title_justify="left")
    for col in ("learner", "course", "state", "where", "field", "problem", "fix"):
        table.add_column(col)
    for i in items:
        style = _OUTCOME_STYLE.get(i.state, "")
        table.add_row(
            escape(i.source_id),
            escape(course_label(i.course, i.course_name, i.course_qan)),
            f"[{style}]{i.state}[/{style}]",
            escape(i.origin),
            escape(i.field),
            escape(name_uuids(i.message, names)),
            escape(name_uuids(i.fix, names)),
        )
    return table


def course_label(course: str, name: str, qan: str) -> str:
    """``Business Administrator Level 3 (ST0070), 603/1234/5 (3f2a1b2c…)``: the course by name
    and code, with the start of its UUID; the source's text when it did not resolve."""
    if not name:
        return course
    return named(name, course) if not qan else f"{name}, {named(qan, course)}"


def named(name: str, uuid: str) -> str:
    """``Jane Smith (3f2a1b2c…)``: a name a person reads, and enough of the UUID to find it."""
    if not name or name == uuid:
        return uuid
    return f"{name} ({uuid[:8]}…)" if len(uuid) > 8 else f"{name} ({uuid})"


def store_label(database_url: str) -> str:
    """The store's URL as it may be shown: any password in it masked."""
    return mask(database_url)


def no_enrolments_line(database_url: str) -> str:
    return (
        f"No enrolments in store {escape(store_label(database_url))} yet — run "
        "[bold]labridge enrol FILE[/bold] ([bold]--dry-run[/bold] first to check the records)."
    )


def no_progress_line(database_url: str) -> str:
    return (
        f"No progress in store {escape(store_label(database_url))} yet — run [bold]labridge "
        "progress pull[/bold] (it pulls the learners enrolled with labridge enrol)."
    )


def nothing_to_fix_line(learners: int, database_url: str) -> str:
    return (
        f"Nothing to fix: none of the {learners} learners in store "
        f"{escape(store_label(database_url))} is invalid, refused or uncertain."
    )


def show_problems(
    items: Sequence[TodoItem],
    learners: int,
    database_url: str,
    *,
    as_json: bool,
    names: Mapping[str, str] | None = None,
) -> None:
    """The to-do list as a table (or JSON on stdout); an empty one says why on stderr with JSON,
    so that ``--json | jq`` still reads ``[]``."""
    if as_json:
        print_json([i.as_dict() for i in items])
    elif items:
        out.print(problems_table(items, names))
    if not items:
        why = (
            nothing_to_fix_line(learners, database_url)
            if learners
            else no_enrolments_line(database_url)
        )
        (err if as_json else out).print(why)


def _to_check(entry: Entry, settle: timedelta) -> str:
    """What to check for an uncertain row (or one with an update whose outcome is unknown)."""
    if entry.state == "uncertain" and entry.uncertain_since is not None:
        from ..workflows.enrol import uncertain_reason

        return escape(uncertain_reason(entry.source_id, entry.uncertain_since + settle))
    if entry.update_sent is not None:
        return escape(
            "an update's outcome is unknown: the next labridge update compares LA's values and "
            f"sends it again only if they differ (learner id {entry.source_id})"
        )
    return ""


def duplicates_table(found: Sequence[Duplicate], course_names: Mapping[str, str]) -> Table:
    table = Table(title="Learners LA holds more than once: merge them in LA", title_justify="left")
    for col in ("learner", "course", "candidates"):
        table.add_column(col)
    for d in found:
        table.add_row(
            escape(d.source_id),
            escape(course_names.get(d.course_uuid, d.course_uuid)),
            escape("\n".join(d.candidate_uuids)),
        )
    return table


def erasure_table(report: ErasureReport) -> Table:
    """Per learner (by the id given, never a name): the outcome and the rows per table."""
    verb = "Would erase (dry run)" if report.dry_run else "Erased"
    table = Table(title=f"{verb}: {report.summary()}", title_justify="left")
    for col in ("learner", "outcome", "rows erased"):
        table.add_column(col)
    for e in report.learners:
        rows = ", ".join(f"{name} {n}" for name, n in e.tables.items() if n)
        if e.forgotten_on is not None:
            rows = f"erased on {e.forgotten_on.date().isoformat()}"
        table.add_row(escape(e.learner), e.outcome.replace("_", " "), rows or "-")
    return table


def duplicates_warning(found: Sequence[Duplicate]) -> str:
    """The loud line an enrol run prints on stderr when LA now holds learners twice."""
    learners = ", ".join(escape(d.source_id) for d in found[:10])
    more = f" and {len(found) - 10} more" if len(found) > 10 else ""
    return (
        f"[bold red]warning: LA holds {len(found)} learner(s) more than once[/bold red] "
        f"({learners}{more}). Another labridge with its own store is enrolling against this LA: "
        "share one store between machines (docs/reliability.md). [bold]labridge duplicates"
        "[/bold] lists every CandidateUUID to merge in LA."
    )


def pull_table(report: PullReport) -> Table:
    """The counts of a progress pull: learners asked, changed, unchanged, failed."""
    level = "outcomes" if report.full else "units"
    table = Table(title=f"Progress pulled from LA (down to {level})", title_justify="left")
    for col in ("learners", "changed", "unchanged", "failed"):
        table.add_column(col, justify="right")
    counts = report.as_dict()
    failed = f"[red]{report.failed}[/red]" if report.failed else "[dim]0[/dim]"
    table.add_row(str(report.learners), _num(counts["changed"]), str(report.unchanged), failed)
    return table


def pull_failures_table(report: PullReport) -> Table:
    """One line per learner whose pull failed, with the reason; they are pulled again next run."""
    table = Table(title="Learners not pulled (tried again on the next pull)", title_justify="left")
    for col in ("learner", "candidate", "why"):
        table.add_column(col)
    for failure in report.failures:
        why = f"[red]{escape(failure.error)}[/red]"
        table.add_row(escape(failure.source_id), escape(failure.candidate_uuid), why)
    return table


_UPDATE_STYLE = {
    "updated": "green",
    "would_update": "cyan",
    "unchanged": "dim",
    "uncertain": "bold yellow",
    "refused": "red",
    "invalid": "yellow",
    "not_enrolled": "magenta",
}


def update_table(report: UpdateReport, names: Mapping[str, str] | None = None) -> Table:
    """One line per record: outcome, each changed member (old → new), and every problem. A
    value that is a trainer's, company's, course's or unit's UUID (``names``, from the store's
    reference data) is shown as ``Sarah Whitfield (a54d83c9…)``."""
    names = names or {}
    title = "Changes to push (dry run: nothing sent)" if report.dry_run else "Update"
    table = Table(title=title, title_justify="left")
    for col in ("learner", "where", "outcome", "changes (old → new)", "problems and notices"):
        table.add_column(col)
    shown, hidden = table_rows(report.records, lambda r: r.outcome)
    for rec in shown:
        style = _UPDATE_STYLE.get(rec.outcome, "")
        changes = "\n".join(
            f"[bold]{name}[/bold]: {_shown(old, names)} → {_shown(new, names)}"
            for name, (old, new) in rec.changes.items()
        )
        outcome = f"[{style}]{rec.outcome}[/{style}]"
        notes = problems_text(rec.problems, names)
        table.add_row(escape(rec.source_id), escape(rec.origin), outcome, changes, notes)
    return _cut(table, hidden, "the same command with --json")


def _shown(value: str | None, names: Mapping[str, str]) -> str:
    if value is None:
        return "[dim](unknown)[/dim]"
    if not value:
        return "[dim](empty)[/dim]"
    # Units are a comma-separated list of UnitUUIDs (workflows/changes.py): each is named.
    return escape(", ".join(named(names.get(part, ""), part) for part in value.split(", ")))


def update_summary(report: UpdateReport) -> str:
    return "Records: " + report.counts_line(empty="none")


_STEP_STATUS = {
    "ok": "[green]ok[/green]", "warning": "[yellow]warning[/yellow]", "failed": "[red]failed[/red]"
}  # fmt: skip


def cycle_table(report: CycleReport) -> Table:
    table = Table(title="labridge run: one cycle", title_justify="left")
    table.add_column("step")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    table.add_column("summary")
    for step in report.steps:
        result = _STEP_STATUS.get(step.status, step.status)
        table.add_row(escape(step.name), result, f"{step.seconds:.1f}", escape(step.summary))
    return table


_MARK_STYLE = {"DOC": "green", "INF": "yellow", "overridden": "bold cyan"}


def contract_table(items: Sequence[Item]) -> Table:
    """The effective contract, one item a row, with its mark."""
    table = Table(title="LA contract (DOC: LA's samples; INF: inferred; overridden: yours)")
    for col in ("item", "value", "mark"):
        table.add_column(col)
    for item in items:
        value = ", ".join(item.value) if isinstance(item.value, list) else str(item.value)
        style = _MARK_STYLE.get(item.mark, "")
        table.add_row(escape(item.key), escape(value), f"[{style}]{item.mark}[/{style}]")
    return table


_STATUS = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]fail[/red]"}
_LEVEL = {"fix": "[red]differs[/red]", "problem": "[red]problem[/red]", "note": "[dim]note[/dim]"}


def show_doctor(report: DoctorReport) -> None:
    """The checks, then each difference with the override line that fixes it."""
    table = Table(title="labridge doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for check in report.checks:
        table.add_row(check.name, _STATUS[check.status], escape(check.message))
    out.print(table)
    for f in report.findings:
        out.print(f"{_LEVEL[f.level]} {escape(f.service)}: {escape(f.message)}")
        if f.override:
            out.print(f"    fix: {escape(f.override)}")
    out.print(_doctor_summary(report))


def _doctor_summary(report: DoctorReport) -> str:
    if report.unreachable:
        return "LA could not be reached or refused the credentials: see the failed check."
    fixes = [f for f in report.findings if f.level in ("fix", "problem")]
    if not fixes:
        return "LA's WSDLs match labridge's contract."
    return (
        f"{len(fixes)} differences. Put the fix lines in labridge.toml, or run "
        "`labridge doctor --write-overrides overrides.toml` and pass --contract overrides.toml."
    )


def fleet_table(status: Mapping[str, Any]) -> Table:
    """``labridge fleet status``: one row per tenant, failing tenants first."""
    from ..reports.fleet_report import failing, ranked, when

    table = Table(title=f"Fleet health, {when(status.get('generated_at'))}", title_justify="left")
    for column in ("tenant", "state", "last success", "next cycle", "waiting", "running",
                   "failed", "enrolled", "attention", "last error"):  # fmt: skip
        numeric = column in ("waiting", "running", "failed", "enrolled", "attention")
        table.add_column(column, justify="right" if numeric else "left")
    for t in ranked(status.get("tenants", [])):
        state = (
            "[red]failing[/red]"
            if failing(t)
            else "ok"
            if t.get("last_cycle_ok")
            else "no cycle yet"
        )
        error = t.get("last_error")
        table.add_row(
            escape(str(t["name"])), state, when(t.get("last_success")), when(t.get("next_cycle")),
            str(t.get("waiting", 0)), str(t.get("running", 0)), str(t.get("failed", 0)),
            str(t.get("learners_enrolled", 0)), str(t.get("needing_attention", 0)),
            escape(f"{error['step']}: {error['error']}") if error else "",
        )  # fmt: skip
    return table


def fleet_summary_line(status: Mapping[str, Any]) -> str:
    """One line: tenants, jobs waiting, running and failed, workers."""
    queue = status.get("queue", {})
    tenants = status.get("tenants", [])
    from ..reports.fleet_report import failing

    bad = sum(failing(t) for t in tenants)
    return (
        f"{len(tenants)} tenants ({bad} failing): {queue.get('waiting', 0)} jobs waiting, "
        f"{queue.get('running', 0)} running, {queue.get('failed', 0)} failed; "
        f"{queue.get('workers', 0)} workers"
    )
