"""What the commands do with the local store alone, without LA: which settings and store are in
use, the status, the listings (enrolments, problems, duplicates), the progress report, and
erasure. Importing this loads the store, not the client or the workflows."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy.orm import Session

from .. import dburl, reports, store
from ..config import CONFIG_FILE, Settings
from ..errors import ConfigurationError
from ..models import Framework
from ..store import duplicates as duplicates_store
from ..store import erase, journal, repeats
from ..store import names as names_store
from ..store import progress_history as progress_store
from ..store.engine import exists as store_exists

if TYPE_CHECKING:
    from ..reports import problems as problems_report

R = TypeVar("R")


def config_text(settings: Settings) -> str:
    """The settings file used, for a message: its path, or that there was none."""
    return str(settings.config_file) if settings.config_file else f"none (no ./{CONFIG_FILE})"


def where(settings: Settings) -> str:
    """ "config /etc/labridge/labridge.toml, store sqlite:////etc/labridge/labridge.db": every
    command's first log line, so that a log says which store a run used (password masked)."""
    return f"config {config_text(settings)}, store {dburl.shown(settings.store.database_url)}"


def require_store(settings: Settings, *, create: bool | None) -> None:
    """Refuse a store that does not exist yet unless ``create``: a mistyped ``--db``, or a run
    from cron in another directory, would otherwise make a new empty store, and enrol and update
    again all that the real one knows was sent. ``create=None``: the command only reads a store,
    so ``labridge sync`` is the way to make one."""
    url = settings.store.database_url
    if create or store_exists(url):
        return
    path = dburl.sqlite_file(url)
    fix = "give --create to make a new one" if create is not None else "run `labridge sync` first"
    raise ConfigurationError(
        f"no store at {path or dburl.shown(url)} (config {config_text(settings)})",
        hint=f"{fix}, or give --db or [store] database_url for the existing one",
    )


def status(settings: Settings) -> dict[str, Any]:
    """What the store holds: reference sets and the last sync, enrolment states (invalid counts
    the rows that repeat a learner in one input too; ``enrolled_found_in_la`` says how many of
    the enrolled were in LA before labridge sent anything), progress; and which settings file
    and store these are."""
    with _reading(settings) as session:
        states = journal.counts(session)
        # A row repeating a learner in one input is invalid with no journal row of its own.
        states["invalid"] += repeats.count(session)
        return {
            "config": str(settings.config_file) if settings.config_file else None,
            "store": dburl.shown(settings.store.database_url),
            **store.status(session),
            "enrolments": states,
            "enrolled_found_in_la": journal.found_in_la(session),
            "progress": progress_store.summary(session),
        }


@contextmanager
def _reading(settings: Settings) -> Iterator[Session]:
    """A session on the settings' store, opened for one read and closed after it."""
    with store.open_store(settings.store.database_url) as db, db.session() as session:
        yield session


def course_names(session: Session) -> dict[str, Framework]:
    courses = cast(list[Framework], store.list_set(session, "frameworks"))
    return {f.course_uuid: f for f in courses}


def enrolments(settings: Settings) -> tuple[list[journal.Entry], dict[str, str]]:
    return _listing(settings, journal.entries)


def problems(settings: Settings) -> tuple[list[problems_report.Item], int, dict[str, str]]:
    """The to-do list (:mod:`labridge.reports.problems`); how many learners the journal holds,
    so that an empty list can say whether nothing is wrong or nothing was enrolled yet; and
    names by UUID (:mod:`labridge.store.names`) for the UUIDs LA's messages quote."""
    from ..reports import problems as problems_report  # it reads the workflows' wording

    settle = timedelta(seconds=settings.la.settle_seconds)
    with _reading(settings) as session:
        items = problems_report.listing(session, settle)
        return items, sum(journal.counts(session).values()), names_store.by_uuid(session)


def duplicates(settings: Settings) -> tuple[list[duplicates_store.Duplicate], dict[str, str]]:
    """Learners LA holds more than once, by the last sync and the checks after enrol runs."""
    return _listing(settings, duplicates_store.listing)


def _listing(settings: Settings, read: Callable[[Any], list[R]]) -> tuple[list[R], dict[str, str]]:
    """What ``read`` lists from the store, with course names by CourseUUID for display."""
    with _reading(settings) as session:
        names = {uuid: f.name for uuid, f in course_names(session).items()}
        return read(session), names


def progress_report(settings: Settings, today: date) -> reports.ProgressReport:
    with store.open_store(settings.store.database_url) as db, db.engine.connect() as conn:
        return reports.build_progress_report(conn, today)


def forget(
    settings: Settings,
    learner_ids: Collection[str] = (),
    gone_before: datetime | None = None,
    *,
    dry_run: bool = False,
    why_gone: str = "gone",
) -> erase.ErasureReport:
    """Erase the named learners, and those gone from LA since before ``gone_before``, in one
    transaction; then vacuum the store so that their data leaves its files too
    (:mod:`labridge.store.erase`)."""
    now = datetime.now(UTC)
    with store.open_store(settings.store.database_url) as db:
        with db.begin() as session:
            report = erase.forget(session, list(learner_ids), now, dry_run=dry_run)
            if gone_before is not None:
                gone = [k for k in erase.gone_before(session, gone_before) if k not in learner_ids]
                more = erase.forget(session, gone, now, why=why_gone, dry_run=dry_run)
                report.learners += more.learners
        if not dry_run and report.count("erased"):
            erase.vacuum(db.engine)
            report.vacuumed = True
        return report


def write_report(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the report to {path}: {exc.strerror or exc}",
            hint="give a writable file with --output",
        ) from None
