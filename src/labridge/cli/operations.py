"""Running the workflows for a person: the glue between settings and the workflows.

Each function opens the store and the client from the settings, shows a progress bar on stderr
(hidden with ``quiet``), runs one workflow and returns its report. The commands, the demo and the
unattended cycle all run through here, so that they share one code path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from .. import stopping, store
from ..client import AsyncClient, call_gate
from ..clock import Clock, utc_now
from ..config import Settings, SourceDefaults
from ..errors import ConfigurationError, LabridgeError
from ..models import Candidate
from ..soap import Limits
from ..sources import SourceRow
from ..sources.csv import DEFAULT_ENCODING, check_encoding
from ..sources.mapping import SourceMapping, load_mapping
from ..sources.open import open_source
from ..sources.records import MANDATORY, SourceRecord
from ..sources.sql import DEFAULT_TIMEOUT as DEFAULT_STATEMENT_TIMEOUT
from ..sources.sql import read_sql
from ..store import names as names_store
from ..validate.lookups import LookupProblem, ReferenceData
from ..workflows import enrol as enrol_workflow
from ..workflows import pull as progress_workflow
from ..workflows import sync as sync_workflow
from ..workflows import update as update_workflow
from ..workflows.records import PULL_CONCURRENCY, RunOptions
from . import console
from .local_store import course_names

log = logging.getLogger(__name__)

R = TypeVar("R")
OptionsT = TypeVar("OptionsT", bound=RunOptions)
R_co = TypeVar("R_co", covariant=True)
OptionsT_contra = TypeVar("OptionsT_contra", bound=RunOptions, contravariant=True)


class _Workflow(Protocol[OptionsT_contra, R_co]):
    """A run over source records: :func:`labridge.workflows.enrol.enrol` or ``update.update``."""

    def __call__(
        self,
        client: AsyncClient,
        db: store.Store,
        rows: Iterable[SourceRow],
        options: OptionsT_contra,
        *,
        on_record: Callable[[Any], None] | None = ...,
    ) -> Awaitable[R_co]: ...


#: Connections of a command that only syncs (the sync fetches its sets side by side).
SYNC_CONNECTIONS = 16


def make_client(settings: Settings, *, connections: int = SYNC_CONNECTIONS) -> AsyncClient:
    """The command's one client; its pool holds ``connections``: one per call in flight. Its
    gate is the context's (:func:`labridge.client.using_gate`: a fleet's limit per LA host)."""
    la = settings.require_la()
    return AsyncClient(
        la.url,
        la.username,
        la.password.get_secret_value(),
        timeout=la.timeout,
        deadline=la.deadline,
        limits=Limits.for_answers(la.max_answer_bytes, la.max_answer_elements),
        max_connections=connections,
        gate=call_gate.get(),
    )


def sync(
    settings: Settings, *, quiet: bool = False, accept_empty: Collection[str] = ()
) -> sync_workflow.SyncReport:
    """Sync; ``accept_empty`` names the sets LA may empty (``labridge sync --accept-empty``)."""

    async def go(db: store.Store) -> sync_workflow.SyncReport:
        async with make_client(settings) as client:
            return await _synced(settings, client, db, quiet=quiet, accept_empty=accept_empty)

    with store.open_store(settings.store.database_url) as db:
        report = asyncio.run(go(db))
    stopping.check(SYNC_STORED)  # a stop asked for while the client closed
    return report


#: How far a sync stopped by a signal got: it is one transaction, stored whole or not at all.
SYNC_STORED = "the sync was finished and stored, nothing after it was started"


async def _synced(
    settings: Settings,
    client: AsyncClient,
    db: store.Store,
    *,
    quiet: bool,
    accept_empty: Collection[str] = (),
) -> sync_workflow.SyncReport:
    """One sync with the command's own client and store, behind a progress bar."""
    names = sync_workflow.fetch_names()
    with console.progress("Fetching from LA", total=len(names) + 1, quiet=quiet) as bar:
        report = await sync_workflow.sync(
            client,
            db,
            on_fetched=lambda name: bar.advance(f"Fetched {name}"),
            include_test=settings.sync.include_test,
            accept_empty=accept_empty,
            concurrency=settings.sync.concurrency,
        )
        bar.advance("Stored")
    # One transaction: a sync is stored whole or not at all, so a stop asked for during it takes
    # effect here, before whatever would have come next.
    stopping.check(SYNC_STORED)
    return report


async def _synced_unless_young(
    settings: Settings, client: AsyncClient, db: store.Store
) -> sync_workflow.SyncReport | None:
    """Sync before a command, unless the last sync is younger than ``[sync] max_age_minutes``
    (then ``None``: the command refreshes the candidates of the courses it touches instead)."""
    age = last_sync_age(db)
    limit = settings.sync.max_age_minutes
    if age is not None and age < limit:
        log.info(
            "the last sync was %.0f min ago, younger than [sync] max_age_minutes = %g: "
            "not synced again",
            age,
            limit,
        )
        return None
    return await _synced(settings, client, db, quiet=True)


def last_sync_age(db: store.Store, clock: Clock = utc_now) -> float | None:
    """Minutes since the last sync finished, when it finished well."""
    with db.session() as session:
        last = store.last_sync(session)
    if last is None or last.status != "ok" or last.finished_at is None:
        return None
    return max(0.0, (clock() - last.finished_at).total_seconds() / 60)


async def _refresh(
    settings: Settings, client: AsyncClient, db: store.Store, course_uuids: Collection[str]
) -> None:
    """The candidates of these courses listed again (when the command did not sync)."""
    await sync_workflow.refresh_courses(
        client,
        db,
        course_uuids,
        include_test=settings.sync.include_test,
        concurrency=settings.sync.concurrency,
    )


@dataclass(frozen=True)
class SourceSpec:
    """Where learners come from: a file (CSV or ILR) or a SQL query, and the mapping."""

    path: Path | None
    sql: str | None
    source_db: str | None
    mapping: SourceMapping
    #: A CSV file's text encoding, and a SQL statement's time limit ([source] in labridge.toml).
    encoding: str = DEFAULT_ENCODING
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT

    @classmethod
    def build(
        cls,
        path: Path | None,
        sql: str | None = None,
        source_db: str | None = None,
        mapping: Path | None = None,
        *,
        defaults: SourceDefaults | None = None,
        encoding: str | None = None,
    ) -> SourceSpec:
        if (path is None) == (sql is None):
            raise ConfigurationError(
                "give either a SOURCE file or --sql (with --source-db), not both or neither",
                hint="e.g. `labridge enrol learners.csv` or "
                '`labridge enrol --sql "SELECT ..." --source-db postgresql://...`',
            )
        if sql is not None and not source_db:
            raise ConfigurationError("--sql needs --source-db, the MIS database URL")
        given = defaults or SourceDefaults()
        return cls(
            path,
            sql,
            source_db,
            load_mapping(mapping) if mapping else SourceMapping(),
            check_encoding(encoding or given.encoding),
            given.statement_timeout,
        )

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else "SQL query"

    def rows(self, course_qans: Collection[str]) -> tuple[int, Iterable[SourceRow], set[str]]:
        """How many records the source holds, the records, and the courses they name (as
        given). A file is read twice: once to count and check it whole (a broken row stops the
        run before anything is sent), then streamed, so that its records are never all in
        memory (40,000 learners' rows take hundreds of MB); a query's rows are fetched once and
        held."""
        if self.sql is not None and self.source_db is not None:
            rows = list(
                read_sql(self.sql, self.source_db, self.mapping, timeout=self.statement_timeout)
            )
            return len(rows), rows, _courses_named(rows)
        count, named = 0, set()
        for row in self._file(course_qans):
            count += 1
            named |= _courses_named((row,))
        return count, self._file(course_qans), named

    def _file(self, course_qans: Collection[str]) -> Iterator[SourceRow]:
        assert self.path is not None
        return open_source(
            self.path, self.mapping, course_qans, required=MANDATORY, encoding=self.encoding
        )


async def _refresh_after(
    settings: Settings, client: AsyncClient, db: store.Store, course_uuids: Collection[str]
) -> None:
    """:func:`_refresh` after a run: a failure is a warning, the run's report stands."""
    try:
        await _refresh(settings, client, db, course_uuids)
    except LabridgeError as exc:
        log.warning("could not list the run's courses again after it: %s (%s)", exc, exc.hint)


def _courses_named(rows: Iterable[SourceRow]) -> set[str]:
    return {
        row.fields["course"]
        for row in rows
        if isinstance(row, SourceRecord) and row.fields.get("course")
    }


def _touched(db: store.Store, named: Collection[str]) -> set[str]:
    """The CourseUUIDs of the courses a source names (those that name none known are left out:
    validation reports them)."""
    with db.session() as session:
        ref = ReferenceData.load(session)
    found: set[str] = set()
    for value in named:
        try:
            found.add(ref.course(value).course_uuid)
        except LookupProblem:
            continue
    return found


def _over_source(
    settings: Settings,
    spec: SourceSpec,
    label: str,
    run: _Workflow[OptionsT, R],
    options: OptionsT,
    *,
    quiet: bool,
    fresh: bool = True,
    names: Callable[[Session], dict[str, str]] | None = None,
) -> tuple[R, dict[str, str]]:
    """Sync (so that reference data and candidates are fresh; ``fresh=False`` when the caller
    just did), read the source, then ``run`` the workflow over its rows with ``options`` behind
    a progress bar: one store, one client (a connection per call in flight) and one event loop
    for all of it. Returns the report and names by UUID for display (``names``; default: course
    names by CourseUUID).

    When the last sync is younger than ``[sync] max_age_minutes`` it is not done again: only
    the candidates of the courses the source names are listed again. After a run that was not a
    dry run they are listed again too, so that the store holds whom the run enrolled (the
    learners a progress pull then asks for)."""
    db = store.open_store(settings.store.database_url)
    done = total = 0
    started = False  # a stop before the first record keeps the sync's or the check's message

    async def go() -> tuple[R, dict[str, str]]:
        nonlocal total, started
        async with make_client(settings, connections=_pool(options.concurrency)) as client:
            reused = fresh and await _synced_unless_young(settings, client, db) is None
            with db.session() as session:
                courses = course_names(session)
                shown = names(session) if names else {u: f.name for u, f in courses.items()}
            total, rows, named = spec.rows([f.qan for f in courses.values() if f.qan])
            touched = _touched(db, named)
            if reused and touched:
                await _refresh(settings, client, db, touched)
            stopping.check(f"{label.lower()}: none of the {total} records started")
            started = True
            with console.progress(label, total=total, quiet=quiet) as bar:

                def tick(who: str) -> None:
                    nonlocal done
                    done += 1
                    bar.advance(f"{label} {who}")

                report = await run(client, db, rows, options, on_record=lambda r: tick(r.source_id))
            if touched and not options.dry_run and stopping.requested() is None:
                await _refresh_after(settings, client, db, touched)
            return report, shown

    try:
        return asyncio.run(go())
    except stopping.StopRequested as stop:
        if not started:
            raise
        raise _stopped(stop, f"{label.lower()}: {done} of {total} records done, "
                       f"{total - done} left") from None  # fmt: skip
    finally:
        db.close()


def _pool(concurrency: int) -> int:
    """Connections for a run of ``concurrency`` calls in flight: the sync before it fetches
    with up to :data:`SYNC_CONNECTIONS`."""
    return max(concurrency, SYNC_CONNECTIONS)


def _stopped(stop: stopping.StopRequested, what_is_left: str) -> stopping.StopRequested:
    """``stop`` again, saying how far the run got (the starter that raised it cannot know)."""
    return stopping.StopRequested(stopping.stopped_message(stop.signum, what_is_left), stop.signum)


def enrol(
    settings: Settings,
    spec: SourceSpec,
    options: enrol_workflow.Options,
    *,
    quiet: bool = False,
    fresh: bool = True,
) -> tuple[enrol_workflow.EnrolReport, dict[str, str]]:
    """Enrol from ``spec``; the report, and course names by CourseUUID for its table."""
    label = "Checking" if options.dry_run else "Enrolling"
    return _over_source(
        settings, spec, label, enrol_workflow.enrol, options, quiet=quiet, fresh=fresh
    )


def update(
    settings: Settings,
    spec: SourceSpec,
    options: update_workflow.Options,
    *,
    quiet: bool = False,
    fresh: bool = True,
) -> tuple[update_workflow.UpdateReport, dict[str, str]]:
    """Update from ``spec``; the report, and reference names by UUID for its diff."""
    label = "Comparing" if options.dry_run else "Updating"
    names = names_store.by_uuid
    return _over_source(
        settings,
        spec,
        label,
        update_workflow.update,
        options,
        quiet=quiet,
        fresh=fresh,
        names=names,
    )


def progress_pull(
    settings: Settings,
    *,
    full: bool = False,
    concurrency: int = PULL_CONCURRENCY,
    quiet: bool = False,
    clock: Clock = utc_now,
) -> progress_workflow.PullReport:
    """Sync (so that the list of enrolled learners is fresh), then pull their progress, with one
    store, one client and one event loop. ``clock`` dates the history rows (default: now)."""
    db = store.open_store(settings.store.database_url)
    done = 0
    learners: list[Candidate] = []
    started = False

    async def go() -> progress_workflow.PullReport:
        nonlocal learners, started
        async with make_client(settings, connections=_pool(concurrency)) as client:
            await _synced_unless_young(settings, client, db)
            learners = progress_workflow.enrolled(db)
            stopping.check(f"progress pulled for none of the {len(learners)} learners yet")
            started = True
            with console.progress("Pulling progress", total=len(learners), quiet=quiet) as bar:

                def tick(who: str) -> None:
                    nonlocal done
                    done += 1
                    bar.advance(who)

                puller = progress_workflow.Puller(
                    client,
                    db,
                    full=full,
                    concurrency=concurrency,
                    clock=clock,
                    on_learner=lambda c, how: tick(f"{how.title()} {c.source_id}"),
                )
                return await puller.run(learners)

    try:
        return asyncio.run(go())
    except stopping.StopRequested as stop:
        if not started:  # during the sync, or before the first learner: that step's own message
            raise
        raise _stopped(stop, f"progress pulled for {done} of {len(learners)} learners, "
                       f"{len(learners) - done} left") from None  # fmt: skip
    finally:
        db.close()
