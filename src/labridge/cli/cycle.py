"""``labridge run``: the whole cycle, unattended, on a schedule (APScheduler).

A cycle is a list of named steps (sync; enrol and update from each configured source; progress
pull). Each step logs one line with its counts when it ends, at INFO when all went well, WARNING
when some records need a person (invalid, refused, uncertain), ERROR when it failed; the cycle
carries on with the next step either way, and ends with one summary line and its duration.
Cycles never overlap: the scheduler runs at most one at a time (a cycle still running when the
next is due makes the next one wait, then run once), and a lock held in the store keeps a second
``labridge run`` on the same store from starting.

A ``[run] cron`` line is read in ``[run] timezone`` (default Europe/London): ``0 6 * * *`` is
06:00 on the office clock all year, 06:00 UTC in winter and 05:00 UTC in summer (BST).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .. import stopping, store
from ..config import RunSettings, Settings, SourceSettings
from ..errors import ConfigurationError, LabridgeError
from ..store import locks
from .cycle_report import CycleReport, Outcome, Step, StepResult
from .local_store import forget

if TYPE_CHECKING:  # the steps import what they run when they run: `labridge status` needs none
    from .operations import SourceSpec

log = logging.getLogger("labridge.run")


def run_cycle(steps: Sequence[Step]) -> CycleReport:
    """Run every step in order; a failing step is logged and the next one runs anyway. A stop
    request (:mod:`.stopping`) ends the cycle after the current step: StopRequested names the
    steps left."""
    report = CycleReport(datetime.now(UTC))
    started = time.perf_counter()
    log.info("cycle started: %s", ", ".join(name for name, _ in steps))
    for position, (name, work) in enumerate(steps):
        stopping.check(f"steps not run: {_names(steps[position:])}")
        try:
            report.steps.append(_run_step(name, work))
        except stopping.StopRequested as stop:
            left = f"step {name} stopped early; steps not run: {_names(steps[position + 1 :])}"
            raise stopping.StopRequested(f"{stop.args[0]} ({left})", stop.signum) from None
    report.finished_at = datetime.now(UTC)
    level = logging.INFO if report.ok else logging.WARNING
    how = "ok" if report.ok else "with failed steps" if _failed(report) else "with warnings"
    log.log(level, "cycle finished %s in %.1f s (%s)", how, time.perf_counter() - started,
            report.summary())  # fmt: skip
    return report


def _failed(report: CycleReport) -> bool:
    return any(s.status == "failed" for s in report.steps)


def _names(steps: Sequence[Step]) -> str:
    return ", ".join(name for name, _ in steps) or "none"


def _run_step(name: str, work: Callable[[], str | Outcome]) -> StepResult:
    """Run one step; log its one line: INFO when ok, WARNING when some records need a person,
    ERROR when it failed."""
    started = time.perf_counter()
    log.debug("%s: started", name)
    try:
        done = work()
    except stopping.StopRequested:
        raise  # not a failure of the step: the whole run is stopping
    except LabridgeError as exc:  # expected failures: say what to do, carry on
        log.error("%s: failed: %s", name, exc)  # str() of a labridge error holds its hint
        return StepResult(name, False, str(exc), time.perf_counter() - started, "failed")
    except Exception as exc:  # a bug must not stop the schedule either, but is logged in full
        log.exception("%s: failed unexpectedly", name)
        summary = f"{type(exc).__name__}: {exc}"
        return StepResult(name, False, summary, time.perf_counter() - started, "failed")
    outcome = done if isinstance(done, Outcome) else Outcome(done)
    log.log(logging.WARNING if outcome.warning else logging.INFO, "%s: %s", name, outcome.summary)
    status = "warning" if outcome.warning else "ok"
    return StepResult(name, not outcome.warning, outcome.summary,
                      time.perf_counter() - started, status)  # fmt: skip


def zone(run: RunSettings) -> ZoneInfo:
    """The time zone ``[run] cron`` is read in. A name the time zone database lacks is a
    configuration error: a schedule silently read in UTC would run an hour out half the year."""
    try:
        return ZoneInfo(run.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"[run] timezone {run.timezone!r} is not a known time zone",
            hint='give an IANA time zone name in labridge.toml, e.g. timezone = "Europe/London" '
            'or "UTC"',
        ) from None


#: crontab(5) numbers the days of the week from Sunday (0, and 7 too).
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def crontab_weekdays(line: str) -> str:
    """``line`` with the numbers of its day-of-week field written as day names.

    APScheduler 3 numbers the days from Monday (0 = Monday) and its ``from_crontab`` passes
    crontab numbers straight through, so ``0 6 * * 1-5`` would run Tuesday to Saturday
    (agronholm/apscheduler#286, fixed only in 4.x). Names mean the same to both. A field that is
    not plain numbers, ranges and steps is left as it is, for APScheduler to judge."""
    fields = line.split()
    if len(fields) != 5 or not any(ch.isdigit() for ch in fields[4]):
        return line
    names = [_day_names(item) for item in fields[4].split(",")]
    if any(n is None for n in names):
        return line
    return " ".join([*fields[:4], ",".join(n for n in names if n)])


def _day_names(item: str) -> str | None:
    """One comma item of a crontab day-of-week field (``3``, ``1-5``, ``*/2``, ``0-6/2``) as
    names, or the item itself when it holds no number; ``None`` when it is not crontab syntax."""
    if not any(ch.isdigit() for ch in item):
        return item
    span, _, step_text = item.partition("/")
    first_text, _, last_text = span.partition("-")
    try:
        step = int(step_text) if step_text else 1
        first, last = (0, 7) if span == "*" else (int(first_text), int(last_text or first_text))
    except ValueError:
        return None
    if not (0 <= first <= last <= 7) or step < 1:
        return None
    days = sorted({day % 7 for day in range(first, last + 1, step)}, key=lambda d: (d + 6) % 7)
    return ",".join(_CRON_DAYS[day] for day in days)


def _refuse_day_or_weekday(line: str) -> None:
    """crontab(5) runs a line that names both a day of the month and a day of the week on
    either; APScheduler only on days that are both. Rather than run on other days than cron
    would, such a line is refused."""
    fields = line.split()
    if len(fields) == 5 and fields[2] != "*" and fields[4] != "*":
        raise ConfigurationError(
            f"[run] cron {line!r} names both a day of the month and a day of the week, which "
            "crontab reads as either and labridge's scheduler as both",
            hint='make one of the two fields *, e.g. cron = "0 6 1 * *" (the 1st of each '
            'month) or "0 6 * * 1" (Mondays)',
        )


def trigger(run: RunSettings) -> CronTrigger | IntervalTrigger:
    """The schedule of ``[run]``; a bad cron line or time zone is a
    :class:`~labridge.errors.ConfigurationError` naming the setting (``run --once`` checks it
    too, so that a cron deployment finds a typo on its first run)."""
    tz = zone(run)
    if run.cron:
        _refuse_day_or_weekday(run.cron)
        try:
            return CronTrigger.from_crontab(crontab_weekdays(run.cron), timezone=tz)
        except ValueError as exc:
            raise ConfigurationError(
                f"[run] cron {run.cron!r} is not a crontab line: {exc}",
                hint="five fields: minute hour day-of-month month day-of-week, e.g. cron = "
                '"0 6 * * 1-5" (06:00 on weekdays)',
            ) from None
    return IntervalTrigger(minutes=run.every_minutes, timezone=tz)


def next_cycle(run: RunSettings, now: datetime | None = None) -> datetime | None:
    """When the cron schedule next fires after ``now``, in ``[run] timezone``; ``None`` for an
    ``every_minutes`` schedule, whose cycles count from the start of ``labridge run``."""
    schedule = trigger(run)
    if not isinstance(schedule, CronTrigger):
        return None
    fire: datetime | None = schedule.get_next_fire_time(None, now or datetime.now(UTC))
    return fire


def describe(run: RunSettings, now: datetime | None = None) -> str:
    """One line for ``status`` and the log: the schedule and, for cron, the next cycle's time
    on the office clock (with its zone abbreviation, GMT or BST)."""
    if not run.cron:
        trigger(run)  # validates the time zone all the same
        return f"every {run.every_minutes:g} minutes, the first cycle when `labridge run` starts"
    fire = next_cycle(run, now)
    when = fire.strftime("%Y-%m-%d %H:%M %Z") if fire else "never"
    return f"cron {run.cron!r} in {run.timezone}; next cycle {when}"


def status(run: RunSettings, now: datetime | None = None) -> dict[str, object]:
    """The schedule for ``labridge status``: the settings, the next cron cycle (ISO 8601 with its
    UTC offset) and a line to show; a wrong setting is shown, not raised, so that ``status``
    still reports on the store."""
    out: dict[str, object] = {"cron": run.cron or None, "timezone": run.timezone,
                              "every_minutes": None if run.cron else run.every_minutes}  # fmt: skip
    try:
        fire = next_cycle(run, now)
        out["next_cycle"] = fire.isoformat() if fire else None
        out["line"] = describe(run, now)
    except ConfigurationError as exc:
        out["next_cycle"] = None
        out["error"] = exc.args[0]
        out["line"] = f"wrong: {exc}"
    return out


def run_forever(run: RunSettings, make_steps: Callable[[], Sequence[Step]]) -> None:
    """Run a cycle now, then on the schedule, until a stop is requested (SIGTERM or SIGINT,
    :mod:`.stopping`): the cycle under way stops after its current step, then
    :class:`~.stopping.StopRequested` says so. ``make_steps`` is called per cycle so that each
    cycle reads the settings and sources afresh."""
    stopped: list[stopping.StopRequested] = []

    def one_cycle() -> None:
        try:
            run_cycle(make_steps())
        except stopping.StopRequested as stop:
            stopped.append(stop)

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        one_cycle,
        trigger(run),
        id="labridge-cycle",
        max_instances=1,  # never two cycles at once
        coalesce=True,  # cycles missed while one ran collapse into one
        misfire_grace_time=None,
        next_run_time=datetime.now(UTC),
    )
    log.info("scheduled: %s", describe(run))
    scheduler.start()
    try:
        while stopping.requested() is None:
            time.sleep(0.1)  # the signal handler sets the flag; this thread only watches it
    except BaseException:  # a second signal (KeyboardInterrupt): do not wait for the cycle
        scheduler.shutdown(wait=False)
        raise
    scheduler.shutdown(wait=True)  # the cycle under way ends after its current step
    if stopped:
        raise stopped[0]
    signum = stopping.requested() or 0
    raise stopping.StopRequested(stopping.stopped_message(signum, "no cycle was running"), signum)


#: The name of ``labridge run``'s lock in the store (:mod:`labridge.store.locks`).
RUN_LOCK = "run"


@contextmanager
def single_instance(database_url: str) -> Iterator[None]:
    """Hold the store's run lock while ``labridge run`` runs; a second one on the same store
    refuses to start, whichever machine it runs on and however the store's URL is spelled
    (:mod:`labridge.store.locks`). A holder that dies releases it at once."""
    with store.open_store(database_url) as db:
        try:
            with locks.hold(db.engine, RUN_LOCK):
                yield
        except locks.LockHeld:
            raise ConfigurationError(
                "another `labridge run` is already running on this store",
                hint="stop it first (it may run on another machine sharing this store), or give "
                "this one another store",
            ) from None


# -- the steps of labridge run ---------------------------------------------------------------


def steps(settings: Settings) -> list[Step]:
    """The steps of one unattended cycle (``labridge run``): sync; with ``[store]
    retention_days``, erase the learners gone from LA that long; enrol and update from each
    configured source; pull progress. Each step returns a one-line summary for the log, flagged
    when some records need a person. The cycle syncs first and the source steps reuse that; the
    progress pull syncs again, so that the learners just enrolled are pulled too."""
    steps: list[Step] = [("sync", lambda: _sync_line(settings))]
    if settings.store.retention_days is not None:
        steps.append(("retention", lambda: _retention_line(settings)))
    for source in settings.run.sources:
        label = source.path.name if source.path else "SQL query"
        if source.enrol:
            steps.append((f"enrol {label}", partial(_enrol_line, settings, source)))
        if source.update:
            steps.append((f"update {label}", partial(_update_line, settings, source)))
    steps.append(("progress pull", lambda: _pull_line(settings)))
    return steps


def _spec(settings: Settings, source: SourceSettings) -> SourceSpec:
    from .operations import SourceSpec

    return SourceSpec.build(source.path, source.sql, source.source_db, source.mapping,
                            defaults=settings.source, encoding=source.encoding)  # fmt: skip


def _sync_line(settings: Settings) -> str:
    from .operations import sync

    counts = sync(settings, quiet=True).as_dict()
    added, changed, removed = (sum(c[k] for c in counts.values()) for k in _SYNC_KEYS)
    return f"{added} added, {changed} changed, {removed} removed"


_SYNC_KEYS = ("added", "changed", "removed")
#: Where a person finds the records a step could not do, named at the end of its log line.
PROBLEMS_HINT = "see labridge enrolments --problems"


def _retention_line(settings: Settings) -> str:
    """Erase the learners gone from LA for ``[store] retention_days``, as the last sync saw."""
    days = settings.store.retention_days
    assert days is not None
    cutoff = datetime.now(UTC) - timedelta(days=days)
    report = forget(settings, gone_before=cutoff, why_gone="retention")
    return f"{report.summary()}: gone from LA over {days} days"


def _enrol_line(settings: Settings, source: SourceSettings) -> Outcome:
    from ..workflows import enrol as enrol_workflow
    from .operations import enrol

    options = enrol_workflow.Options(
        send_login_details=source.send_login_details, settle_seconds=settings.la.settle_seconds
    )
    report, _ = enrol(settings, _spec(settings, source), options, quiet=True, fresh=False)
    line = report.counts_line()
    if report.duplicates:
        line += f", {len(report.duplicates)} held twice in LA (labridge duplicates)"
    return _flagged(line, report.failed, PROBLEMS_HINT)


def _update_line(settings: Settings, source: SourceSettings) -> Outcome:
    from ..workflows import update as update_workflow
    from .operations import update

    spec = _spec(settings, source)
    report, _ = update(settings, spec, update_workflow.Options(), quiet=True, fresh=False)
    line = report.counts_line()
    what = str(spec.path) if spec.path is not None else "--sql ..."
    return _flagged(line, report.failed, f"see labridge update {what} --dry-run")


def _pull_line(settings: Settings) -> Outcome:
    from .operations import progress_pull

    run = settings.run
    report = progress_pull(
        settings, full=run.progress_full, concurrency=run.progress_concurrency, quiet=True
    )
    line = (
        f"{report.learners} learners: {report.changed} changed, {report.unchanged} unchanged, "
        f"{report.failed} failed"
    )
    return _flagged(line, bool(report.failed), "labridge progress pull lists them")


def _flagged(line: str, warning: bool, hint: str) -> Outcome:
    """The step's line, with where to look when some records need a person."""
    return Outcome(f"{line} — {hint}" if warning else line, warning=warning)
