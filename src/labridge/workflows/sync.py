"""Sync: pull every reference set and the candidates from LA into the store (docs/contract.md §4
step 2).

The reads go out concurrently (the client logs in once for all of them); the store is then
brought in line in one transaction, by natural key, marking what vanished from LA. A run with
nothing changed writes no reference row; only the run itself is logged in ``sync_runs``.

Candidates are listed in every status LA holds (docs/contract.md §3.3: no single GetCandidates call
lists them all, so the calls are unioned and de-duplicated by CandidateUUID): a learner LA holds
as Withdrawn is still enrolled as far as labridge is concerned, even when the store is lost.

They are listed course by course (GetCandidates' CourseQAN), a bounded number of calls in flight,
so that no answer holds a whole centre: a centre of 100,000 learners over 300 courses answers 600
lists of a few hundred. Only when a course has no QAN (LA cannot be asked for its candidates
alone) are they listed for every course at once. Each answer's digest is kept with what it stored
(:mod:`labridge.store.answer_digests`): an answer LA gives again unchanged is neither decoded nor
compared, so a sync that finds nothing new costs little more than its round trips.

An empty answer never empties a set the store holds silently (a wrong contract or a hiccup of
LA's would otherwise mark every row removed): the run is refused, with nothing written, unless
the caller accepts that set's emptying (``labridge sync --accept-empty companies``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import client as client_mod
from .. import contract, stopping, store
from .._version import __version__
from ..client import AsyncClient
from ..clock import Clock, utc_now
from ..errors import AnswerTooBig, ConfigurationError
from ..models import Candidate, Framework, LAModel
from ..store import answer_digests, erase
from .tasks import task_group

log = logging.getLogger(__name__)

OnFetched = Callable[[str], None]

#: The reads, in the order of the report, each with the store sets it feeds.
_READS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("frameworks", ("frameworks", "units")),
    ("trainers", ("trainers",)),
    ("companies", ("companies",)),
    ("nationalities", ("nationalities",)),
    ("ethnicities", ("ethnicities",)),
    ("candidates", ("candidates",)),
)
READS: tuple[str, ...] = tuple(name for name, _ in _READS)

#: GetCandidates flags (blnActive, blnCompleted) whose union is every status (docs/contract.md
#: §3.3):
#: in learning (Active, BreakInLearning) and completed; not in learning (Withdrawn) and completed.
_CANDIDATE_CALLS: tuple[tuple[bool, bool], ...] = ((True, True), (False, True))

#: GetCandidates calls in flight during a sync ([sync] concurrency).
SYNC_CONCURRENCY = 16


class EmptyAnswerRefused(ConfigurationError):
    """LA answered an empty list for a set the store holds rows of; nothing was written."""


@dataclass(frozen=True)
class SyncReport:
    run_id: int
    started_at: datetime
    finished_at: datetime
    counts: dict[str, store.SetCounts]

    @property
    def changed(self) -> bool:
        return any(c.added or c.changed or c.removed for c in self.counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """The ``--json`` shape of the issue: ``{"frameworks": {"added": n, ...}, ...}``."""
        return {name: self.counts[name].as_dict() for name in store.SETS}


def _fetchers(client: AsyncClient) -> dict[str, Callable[[], Awaitable[Sequence[LAModel]]]]:
    return {
        "frameworks": client.get_frameworks,
        "trainers": client.get_trainers,
        "companies": client.get_companies,
        "nationalities": client.get_nationalities,
        "ethnicities": client.get_ethnicities,
    }


async def every_candidate(client: AsyncClient, *, include_test: bool = False) -> list[Candidate]:
    """Every candidate LA holds, in any status (test learners with ``include_test``): the union
    of the GetCandidates calls that cover them all, each CandidateUUID once, in LA's order."""
    async with task_group() as group:
        calls = [
            group.create_task(
                client.get_candidates("", active=active, completed=completed, test=include_test)
            )
            for active, completed in _CANDIDATE_CALLS
        ]
    return _union(call.result() for call in calls)


def _union(lists: Iterable[Iterable[Candidate]]) -> list[Candidate]:
    seen: dict[str, Candidate] = {}
    for listed in lists:
        for candidate in listed:
            seen.setdefault(candidate.candidate_uuid, candidate)
    return list(seen.values())


@dataclass(frozen=True)
class CourseListing:
    """What LA lists under one CourseQAN ("": every course): the CourseUUIDs it covers (``None``:
    every course) and the candidates, ``None`` when every answer was the one already stored."""

    qan: str
    courses: frozenset[str] | None
    digests: dict[str, str]
    #: As the store keeps them (:func:`labridge.store.reference_sets.record_rows`).
    candidates: list[dict[str, Any]] | None


def listing_units(frameworks: Sequence[LAModel]) -> list[tuple[str, frozenset[str] | None]]:
    """The GetCandidates CourseQANs to ask, each with the CourseUUIDs it covers: one per QAN of
    LA's courses, or ``("", None)`` (every course at once) when a course has no QAN or there is
    no course."""
    by_qan: dict[str, set[str]] = defaultdict(set)
    for framework in frameworks:
        assert isinstance(framework, Framework)
        qan = framework.qan.strip()
        if not qan:
            return [("", None)]
        by_qan[qan].add(framework.course_uuid)
    if not by_qan:
        return [("", None)]
    return [(qan, frozenset(uuids)) for qan, uuids in sorted(by_qan.items())]


def call_key(qan: str, active: bool, completed: bool, test: bool) -> str:
    """The name a GetCandidates call's answer digest is kept under."""
    return f"GetCandidates|{qan}|{int(active)}{int(completed)}{int(test)}"


async def list_candidates(
    client: AsyncClient,
    units: Sequence[tuple[str, frozenset[str] | None]],
    *,
    include_test: bool = False,
    known: Mapping[str, str] | None = None,
    concurrency: int = SYNC_CONCURRENCY,
) -> list[CourseListing]:
    """The candidates of each unit (:func:`listing_units`) in every status, at most
    ``concurrency`` calls in flight. A unit whose answers all have the digest ``known`` gives
    its call has ``candidates=None``: the store already holds what they say."""
    known = known or {}
    slots = asyncio.Semaphore(max(1, concurrency))
    shared: dict[str, str] = {}

    async def call(qan: str, active: bool, completed: bool) -> tuple[str, client_mod.Listing]:
        key = call_key(qan, active, completed, include_test)
        async with slots:
            listing = await client.list_candidates(
                qan, active=active, completed=completed, test=include_test,
                unless=known.get(key, ""),
            )  # fmt: skip
        return key, listing

    async def unit(qan: str, courses: frozenset[str] | None) -> CourseListing:
        async with task_group() as group:
            calls = [group.create_task(call(qan, a, c)) for a, c in _CANDIDATE_CALLS]
        answers = [task.result() for task in calls]
        digests = {key: listing.digest for key, listing in answers}
        if all(listing.unchanged for _, listing in answers):
            return CourseListing(qan, courses, digests, None)
        listed = _union(x.records() for _, x in answers)
        return CourseListing(qan, courses, digests, store.record_rows("candidates", listed, shared))

    async with task_group() as group:
        tasks = [group.create_task(unit(qan, courses)) for qan, courses in units]
    return [task.result() for task in tasks]


async def sync(
    client: AsyncClient,
    db: store.Store,
    *,
    clock: Clock = utc_now,
    on_fetched: OnFetched | None = None,
    include_test: bool = False,
    accept_empty: Collection[str] = (),
    concurrency: int = SYNC_CONCURRENCY,
) -> SyncReport:
    """Pull everything, then upsert. A failed read or write marks the run failed and re-raises;
    the store is left as it was (one transaction). ``accept_empty`` names the reads (see
    :data:`READS`) whose empty answer may empty the store's set; ``concurrency`` bounds the
    GetCandidates calls in flight."""
    _check_names(accept_empty)
    stopping.check("sync had not started")
    started = clock()
    with db.begin() as session:
        run_id = store.start_sync_run(session, started)
        basis = _basis(session, include_test)
        known = answer_digests.load(session, basis)
    try:
        fetched, listings = await _fetch_all(client, on_fetched, include_test, known, concurrency)
        with db.begin() as session:
            _refuse_empty(session, fetched, listings, accept_empty)
            counts = _upsert_all(session, fetched, clock())
            # A learner erased on request is not mirrored again while LA still lists them.
            forgotten = erase.Forgotten.load(session)
            counts["candidates"] = _upsert_candidates(session, listings, forgotten, clock())
            answer_digests.save(
                session, basis, {k: v for x in listings for k, v in x.digests.items()}
            )
            finished = clock()
            store.finish_sync_run(session, run_id, finished, "ok", counts)
    except BaseException:
        with db.begin() as session:
            store.finish_sync_run(session, run_id, clock(), "failed", {})
        raise
    return SyncReport(run_id, started, finished, counts)


def _basis(session: Session, include_test: bool) -> str:
    """What turns a GetCandidates answer into stored rows: an answer digest kept under another
    basis is not trusted (:mod:`labridge.store.answer_digests`)."""
    op = contract.operation("GetCandidates")
    forgotten = len(erase.Forgotten.load(session).since)
    shape = f"{__version__}|{op!r}|{contract.type_of_model(Candidate)!r}|{forgotten}|{include_test}"
    return hashlib.sha256(shape.encode()).hexdigest()[:16]


def _check_names(accept_empty: Collection[str]) -> None:
    unknown = sorted(set(accept_empty) - set(READS))
    if unknown:
        raise ConfigurationError(
            f"--accept-empty {', '.join(unknown)}: not a set sync reads",
            hint=f"the sets are {', '.join(READS)}",
        )


def _refuse_empty(
    session: Session,
    fetched: Mapping[str, Sequence[LAModel]],
    listings: Sequence[CourseListing],
    accept_empty: Collection[str],
) -> None:
    """Refuse the run when LA answered nothing for a set the store holds, or for a course whose
    candidates the store holds: an empty answer is never taken to mean that every record of the
    set (or of the course) is gone."""
    held = store.status(session)["sets"] if fetched else {}
    listed = {read: bool(records) for read, records in fetched.items()}
    listed["candidates"] = any(x.candidates is None or x.candidates for x in listings)
    for read, sets in _READS:
        if read not in fetched:
            continue
        present = held[sets[0]]["present"]
        if listed[read] or not present or read in accept_empty:
            continue
        raise EmptyAnswerRefused(
            f"LA returned no {read}, the store holds {present}: sync refused to mark them all "
            "removed, and wrote nothing",
            hint="an empty answer is often a wrong LA URL or contract, or a passing fault of LA's: "
            f"check LA and run sync again; if LA really has no {read} now, run "
            f"`labridge sync --accept-empty {read}`",
        )
    if "candidates" in accept_empty:
        return
    for x in listings:
        if x.candidates == [] and x.courses is not None:
            present = store.present_count(session, "candidates", courses=x.courses)
            if present:
                raise EmptyAnswerRefused(
                    f"LA listed no candidates for the course(s) of QAN {x.qan}, the store holds "
                    f"{present}: sync refused to mark them all removed, and wrote nothing",
                    hint="check the course in LA and run sync again; if it really has no "
                    "learners now, run `labridge sync --accept-empty candidates`",
                )


async def _fetch_all(
    client: AsyncClient,
    on_fetched: OnFetched | None,
    include_test: bool,
    known: Mapping[str, str],
    concurrency: int,
) -> tuple[dict[str, Sequence[LAModel]], list[CourseListing]]:
    """The reference sets, and the candidates listed course by course once the courses are
    known, all side by side."""
    fetchers = _fetchers(client)

    def fetched(name: str) -> None:
        if on_fetched is not None:
            on_fetched(name)

    async def one(name: str) -> Sequence[LAModel]:
        records = await fetchers[name]()
        fetched(name)
        return records

    async def candidates(frameworks: asyncio.Task[Sequence[LAModel]]) -> list[CourseListing]:
        courses = await frameworks
        units = listing_units(courses)
        try:
            listings = await list_candidates(
                client, units, include_test=include_test, known=known, concurrency=concurrency
            )
        except AnswerTooBig as exc:
            raise _too_big(exc, units, courses) from None
        fetched("candidates")
        return listings

    async with task_group() as group:
        tasks = {name: group.create_task(one(name)) for name in fetchers}
        listed = group.create_task(candidates(tasks["frameworks"]))
    return {name: task.result() for name, task in tasks.items()}, listed.result()


def _too_big(
    exc: AnswerTooBig,
    units: Sequence[tuple[str, frozenset[str] | None]],
    courses: Sequence[LAModel],
) -> AnswerTooBig:
    """``exc`` with a hint saying why the candidates came in one answer, when they did."""
    if units != [("", None)]:
        return exc
    without = [c.name for c in courses if isinstance(c, Framework) and not c.qan.strip()]
    if not without:
        return exc
    named = ", ".join(repr(n) for n in without[:3]) + (" ..." if len(without) > 3 else "")
    return AnswerTooBig(
        str(exc.args[0]),
        hint=f"{len(without)} of LA's courses have no QAN ({named}), so every candidate came in "
        "one answer; with a QAN on every course in LA, labridge lists them course by course. "
        "Or raise [la] max_answer_mib in labridge.toml",
    )


def _upsert_all(
    session: Session, fetched: Mapping[str, Sequence[LAModel]], now: datetime
) -> dict[str, store.SetCounts]:
    counts: dict[str, store.SetCounts] = {}
    for read, sets in _READS:
        for name in sets:
            if read in fetched:
                counts[name] = store.upsert_set(session, name, fetched[read], now)
    return counts


def _upsert_candidates(
    session: Session,
    listings: Sequence[CourseListing],
    forgotten: erase.Forgotten,
    now: datetime,
    *,
    complete: bool = True,
) -> store.SetCounts:
    """Store what the listings changed: everything when listed for every course at once, else
    the candidates of the courses whose answers changed, and (when the listings are
    ``complete``, every course LA lists) of courses LA no longer lists."""
    changed = [x for x in listings if x.candidates is not None]
    rows = _kept_rows(changed, forgotten)
    if any(x.courses is None for x in changed):
        return store.upsert_rows(session, "candidates", rows, now)
    covered = set().union(*(x.courses or () for x in listings))
    within = set().union(*(x.courses or () for x in changed))
    if complete and all(x.courses is not None for x in listings):
        within |= store.candidate_courses(session) - covered
    if not within:
        return store.SetCounts(total=store.present_count(session, "candidates"))
    return store.upsert_rows(session, "candidates", rows, now, courses=within)


def _kept_rows(
    listings: Sequence[CourseListing], forgotten: erase.Forgotten
) -> Iterator[dict[str, Any]]:
    """The listings' rows, each CandidateUUID once, less the forgotten learners' (a learner
    erased on request is not mirrored again while LA still lists them). Each listing's rows are
    let go as they are given: the store's rows are built from them, not beside them."""
    seen: set[str] = set()
    for listing in listings:
        rows = listing.candidates or []
        rows.reverse()
        while rows:
            row = rows.pop()
            uuid = row["candidate_uuid"]
            if uuid in seen or forgotten.on(row["source_id"] or uuid) is not None:
                continue
            seen.add(uuid)
            yield row


async def refresh_courses(
    client: AsyncClient,
    db: store.Store,
    course_uuids: Collection[str],
    *,
    clock: Clock = utc_now,
    include_test: bool = False,
    concurrency: int = SYNC_CONCURRENCY,
) -> store.SetCounts | None:
    """List again the candidates of the courses ``course_uuids`` only (the courses a command
    touches, when the reference data is young enough not to sync it all) and store what
    changed. A course LA now answers empty for, while the store holds candidates of it, is left
    as the store has it (a warning says so; ``labridge sync`` decides). ``None`` when there was
    nothing to list."""
    wanted = set(course_uuids)
    with db.session() as session:
        frameworks = store.list_set(session, "frameworks")
        basis = _basis(session, include_test)
        known = answer_digests.load(session, basis)
    units = [
        (qan, courses)
        for qan, courses in listing_units(frameworks)
        if courses is None or courses & wanted
    ]
    if not wanted or not units:
        return None
    listings = await list_candidates(
        client, units, include_test=include_test, known=known, concurrency=concurrency
    )
    with db.begin() as session:
        kept = []
        for listing in listings:
            try:
                _refuse_empty(session, {}, [listing], ())
            except EmptyAnswerRefused as refused:
                log.warning("%s; the store keeps them until `labridge sync`", refused.args[0])
                continue
            kept.append(listing)
        forgotten = erase.Forgotten.load(session)
        counts = _upsert_candidates(session, kept, forgotten, clock(), complete=False)
        digests = {key: d for x in kept for key, d in x.digests.items()}
        answer_digests.save(session, basis, digests, complete=False)
    return counts


def fetch_names() -> tuple[str, ...]:
    """The names of the reads, for progress displays."""
    return READS
